//! Regenerates `include/hessfree.h` from `src/ffi` with cbindgen.
//!
//! The header is written only when its text changed, and never when the `CI`
//! environment variable is set (CI must detect a stale committed header, not
//! fix it). The generated text is always also written to
//! `$OUT_DIR/hessfree.h`, which `tests/header.rs` compares with the
//! committed file. If cbindgen fails (e.g. a half-written module), the build
//! continues with a warning and the header test fails with cbindgen's error.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=include/hessfree.h");
    println!("cargo:rerun-if-env-changed=CI");

    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    let generated = match generate(&root) {
        Ok(text) => text,
        Err(e) => {
            println!("cargo:warning=hessfree: header generation failed, include/hessfree.h not updated: {e}");
            format!("/* cbindgen failed: {e} */\n")
        }
    };
    write_if_changed(&out_dir.join("hessfree.h"), &generated);
    if generated.starts_with("/* cbindgen failed") {
        return;
    }
    let header = root.join("include").join("hessfree.h");
    if env::var_os("CI").is_some() {
        if fs::read_to_string(&header).ok().as_deref() != Some(generated.as_str()) {
            println!("cargo:warning=hessfree: include/hessfree.h is stale (CI: not rewriting it)");
        }
        return;
    }
    write_if_changed(&header, &generated);
}

/// The header text, from cbindgen.toml plus the version macros.
fn generate(root: &Path) -> Result<String, String> {
    let mut config = cbindgen::Config::from_file(root.join("cbindgen.toml"))?;
    config.after_includes = Some(version_macros());
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src").join("ffi").join("mod.rs"))
        .generate()
        .map_err(|e| e.to_string())?;
    let mut text = Vec::new();
    bindings.write(&mut text);
    String::from_utf8(text).map_err(|e| e.to_string())
}

/// `HF_VERSION_*` macros from Cargo's package version.
fn version_macros() -> String {
    let var = |name: &str| env::var(name).unwrap_or_default();
    format!(
        "\n/** Version of this header; compare with hf_version() at run time. */\n\
         #define HF_VERSION_MAJOR {}\n\
         #define HF_VERSION_MINOR {}\n\
         #define HF_VERSION_PATCH {}\n\
         #define HF_VERSION_STRING \"{}\"\n",
        var("CARGO_PKG_VERSION_MAJOR"),
        var("CARGO_PKG_VERSION_MINOR"),
        var("CARGO_PKG_VERSION_PATCH"),
        var("CARGO_PKG_VERSION"),
    )
}

/// Writes `text` to `path` unless it already holds exactly that, so
/// unchanged builds do not touch the file.
fn write_if_changed(path: &Path, text: &str) {
    if fs::read_to_string(path).ok().as_deref() == Some(text) {
        return;
    }
    if let Some(dir) = path.parent() {
        let _ = fs::create_dir_all(dir);
    }
    if let Err(e) = fs::write(path, text) {
        println!(
            "cargo:warning=hessfree: cannot write {}: {e}",
            path.display()
        );
    }
}
