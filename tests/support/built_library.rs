//! Finding the library cargo built alongside this test run. Included with
//! `#[path]` by the harnesses that link or load it (`tests/c_api.rs`,
//! `tests/python.rs`, `tests/octave.rs`).
#![allow(dead_code)]

use std::env;
use std::path::PathBuf;

/// The crate root.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What a program linked against the static library needs besides it: the
/// system libraries Rust's std uses (what `rustc --print native-static-libs`
/// lists on Linux).
pub const STATIC_LINK_ARGS: [&str; 7] = [
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];

/// The shared library's file name on this platform (`libhessfree.so`).
pub fn shared_library_name() -> String {
    format!(
        "{}hessfree{}",
        env::consts::DLL_PREFIX,
        env::consts::DLL_SUFFIX
    )
}

/// The path of `file` (one of the library's artifacts) of this build: the
/// test executable lives in `target/<profile>/deps/`, the artifacts in
/// `target/<profile>/` (and `deps/`). Panics when it is in neither, since
/// cargo builds every crate type with the tests and the layout is then not
/// the one expected.
pub fn built_artifact(file: &str) -> PathBuf {
    let exe = env::current_exe().expect("path of the test executable");
    let candidates: Vec<PathBuf> = exe
        .ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join(file))
        .collect();
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "{file} not found at {candidates:?}; cargo builds it with the tests \
                 (crate-types cdylib and staticlib), so the build layout is unexpected"
            )
        })
}
