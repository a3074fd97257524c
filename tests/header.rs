//! The committed `include/hessfree.h` must equal what `build.rs` generates
//! from the current sources (CI sets `CI`, so build.rs does not rewrite the
//! committed file there and a stale header fails this test), and the version
//! macros and `hf_version()` must match Cargo.toml.

use std::ffi::CStr;

const GENERATED: &str = include_str!(concat!(env!("OUT_DIR"), "/hessfree.h"));
const COMMITTED_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/include/hessfree.h");

#[test]
fn committed_header_is_up_to_date() {
    assert!(
        !GENERATED.starts_with("/* cbindgen failed"),
        "build.rs could not generate the header: {GENERATED}"
    );
    let committed = std::fs::read_to_string(COMMITTED_PATH)
        .unwrap_or_else(|e| panic!("cannot read {COMMITTED_PATH}: {e}"));
    if committed != GENERATED {
        let line = committed
            .lines()
            .zip(GENERATED.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(GENERATED.lines().count()));
        panic!(
            "include/hessfree.h differs from the generated header (first at line {}); \
             run `cargo build` without CI set and commit include/hessfree.h",
            line + 1
        );
    }
}

#[test]
fn version_macros_match_cargo() {
    let version = env!("CARGO_PKG_VERSION");
    let expect = [
        format!(
            "#define HF_VERSION_MAJOR {}",
            env!("CARGO_PKG_VERSION_MAJOR")
        ),
        format!(
            "#define HF_VERSION_MINOR {}",
            env!("CARGO_PKG_VERSION_MINOR")
        ),
        format!(
            "#define HF_VERSION_PATCH {}",
            env!("CARGO_PKG_VERSION_PATCH")
        ),
        format!("#define HF_VERSION_STRING \"{version}\""),
    ];
    for line in &expect {
        assert!(
            GENERATED.lines().any(|l| l == line),
            "header lacks `{line}`"
        );
    }
    let lib = unsafe { CStr::from_ptr(hessfree::ffi::version::hf_version()) };
    assert_eq!(lib.to_str().unwrap(), version);
}

#[test]
fn header_declares_every_status_and_basic_function() {
    for (code, name) in (0..=20).map(|c| {
        let p = hessfree::ffi::status::hf_status_str(c);
        (c, unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned())
    }) {
        let decl = format!("    {name} = {code},");
        assert!(GENERATED.contains(&decl), "header lacks `{decl}`");
    }
    for f in [
        "hf_status_str(int code)",
        "hf_last_error_message(char *buf, size_t len)",
        "hf_last_error_length(size_t *out)",
        "hf_version(void)",
        "hf_data_free(struct hf_data *data)",
        "typedef struct hf_data hf_data;",
        "#ifndef HESSFREE_H",
        "extern \"C\" {",
        "calls on one\n * object serialize",
    ] {
        assert!(GENERATED.contains(f), "header lacks `{f}`");
    }
}
