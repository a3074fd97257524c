//! The CUDA kernels compile, and every launch passes each kernel as many
//! arguments as it declares — checked on any machine, without a GPU or a
//! CUDA toolkit.
//!
//! The kernels are CUDA C++ compiled by NVRTC on the user's machine at first
//! use, so a typo in them would otherwise surface only there. Here clang
//! compiles the very source the library embeds (`KERNEL_SOURCE`, assembled
//! in `src/backend/cuda/device.rs` from `src/backend/cuda/kernels/`) to PTX,
//! with `tests/support/cuda_shim.h` standing in for NVRTC's built-in
//! declarations. Then:
//! - every name in `KERNEL_NAMES` (looked up at start-up) is a kernel entry
//!   in the PTX, and every entry is listed;
//! - every launch wrapper in `device.rs` pushes exactly as many arguments as
//!   its kernel has parameters (a mismatch is undefined behaviour on the
//!   device).
//!
//! Needs a clang with CUDA support (`clang`, or `clang-14` … `clang-19`);
//! without one the test prints `SKIPPED` and passes, unless
//! `HESSFREE_REQUIRE_CLANG=1` (set by `.ci/run`).

use std::collections::BTreeMap;
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "support/tools.rs"]
mod tools;
use tools::have;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The first clang on PATH that can compile CUDA device code.
fn find_clang() -> Option<String> {
    let mut names = vec!["clang".to_string()];
    names.extend((14..=19).rev().map(|v| format!("clang-{v}")));
    names.into_iter().find(|name| have(name))
}

/// The text between the first `open` after `start` and its closing `close`.
fn between<'a>(text: &'a str, start: &str, open: char, close: char) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("`{start}` not found in device.rs"));
    let rest = &text[from..];
    let a = rest.find(open).expect("opening delimiter") + 1;
    let b = a + rest[a..].find(close).expect("closing delimiter");
    &rest[a..b]
}

/// The kernel files in the order `KERNEL_SOURCE` concatenates them.
fn source_files(device_rs: &str) -> Vec<String> {
    let body = between(device_rs, "pub const KERNEL_SOURCE", '(', ';');
    body.split("include_str!(\"")
        .skip(1)
        .map(|s| s.split('"').next().expect("closing quote").to_string())
        .collect()
}

/// The names in `KERNEL_NAMES` (the list after `= [`, not the type's `[&str; N]`).
fn listed_kernels(device_rs: &str) -> Vec<String> {
    between(device_rs, "const KERNEL_NAMES", '=', ']')
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// Arguments each `launch("name", …)` wrapper pushes: the `.arg(` calls
/// between its `launch("name"` and the next launch (or the end of the file).
fn pushed_arguments(device_rs: &str) -> BTreeMap<String, usize> {
    let parts: Vec<&str> = device_rs.split("self.launch(\"").skip(1).collect();
    parts
        .iter()
        .map(|part| {
            let name = part.split('"').next().expect("kernel name").to_string();
            (name, part.matches(".arg(").count())
        })
        .collect()
}

/// Each PTX entry and its number of parameters.
fn ptx_entries(ptx: &str) -> BTreeMap<String, usize> {
    ptx.split(".entry ")
        .skip(1)
        .map(|part| {
            let name = part
                .split('(')
                .next()
                .expect("entry name")
                .trim()
                .to_string();
            let params = part.split(')').next().expect("parameter list");
            (name, params.matches(".param").count())
        })
        .collect()
}

#[test]
fn kernels_compile_and_every_launch_matches_its_kernel() {
    let Some(clang) = find_clang() else {
        let required = env::var("HESSFREE_REQUIRE_CLANG").as_deref() == Ok("1");
        assert!(
            !required,
            "clang is required (HESSFREE_REQUIRE_CLANG=1) but not installed"
        );
        eprintln!("SKIPPED: no clang on PATH; the CUDA kernels were not compiled");
        return;
    };
    let cuda_dir = Path::new(ROOT).join("src/backend/cuda");
    let device_rs = read(&cuda_dir.join("device.rs"));
    let files = source_files(&device_rs);
    assert!(files.len() >= 2, "KERNEL_SOURCE parts not found: {files:?}");
    let source: String = files
        .iter()
        .map(|f| read(&cuda_dir.join(f)) + "\n")
        .collect();

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cuda_kernels");
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let (cu, ptx) = (dir.join("kernels.cu"), dir.join("kernels.ptx"));
    std::fs::write(&cu, &source).expect("writing the kernel source");
    let shim = Path::new(ROOT).join("tests/support/cuda_shim.h");
    let out = Command::new(&clang)
        .args(["-x", "cuda", "--cuda-device-only", "--cuda-gpu-arch=sm_80"])
        .args(["-nocudainc", "-nocudalib", "-Wall", "-Werror", "-S"])
        // A CUDA installation clang does not know is no error in the kernels.
        .arg("-Wno-unknown-cuda-version")
        .arg("-include")
        .arg(&shim)
        .arg("-o")
        .arg(&ptx)
        .arg(&cu)
        .output()
        .expect("running clang");
    assert!(
        out.status.success(),
        "{clang} could not compile the CUDA kernels ({}):\n{}",
        cu.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let entries = ptx_entries(&read(&ptx));

    let listed = listed_kernels(&device_rs);
    let mut listed_sorted = listed.clone();
    listed_sorted.sort();
    let compiled: Vec<String> = entries.keys().cloned().collect();
    assert_eq!(
        listed_sorted, compiled,
        "KERNEL_NAMES and the kernels in the source differ"
    );

    let pushed = pushed_arguments(&device_rs);
    for (name, &params) in &entries {
        let args = pushed
            .get(name)
            .unwrap_or_else(|| panic!("kernel {name} has no launch wrapper in device.rs"));
        assert_eq!(
            *args, params,
            "kernel {name} declares {params} parameters, its launch pushes {args}"
        );
    }
    eprintln!(
        "compiled {} kernels with {clang}; every launch matches its kernel",
        entries.len()
    );
}
