//! Runs the Python binding's pytest suite (`bindings/python/tests`) against
//! the shared library cargo just built, so `cargo test` covers the binding.
//!
//! The library is passed through `HESSFREE_LIB` and the committed header
//! through `HESSFREE_INCLUDE`. If `python3`, `pytest` or `numpy` is missing
//! the test prints a loud `SKIPPED:` line and passes, unless
//! `HESSFREE_REQUIRE_PYTHON=1` (set by `.ci/run`), which makes it fail.
//! The interpreter is `$PYTHON` (default `python3`). The closing line of the
//! shared bad-input table's runner is checked against `tests/bad_input/cases.tsv`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "bad_input/table.rs"]
mod table;

#[path = "support/built_library.rs"]
mod built_library;
use built_library::{built_artifact, crate_dir, shared_library_name};

/// `libhessfree.so` of this build.
fn shared_library() -> PathBuf {
    built_artifact(&shared_library_name())
}

fn python() -> String {
    env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// Whether `python -c code` succeeds.
fn python_ok(code: &str) -> bool {
    Command::new(python())
        .args(["-c", code])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Skips loudly (or fails under `HESSFREE_REQUIRE_PYTHON=1`) when the
/// interpreter or a needed module is missing; returns whether to run.
fn prerequisites_present() -> bool {
    let missing: Vec<&str> = [
        ("python3", "pass"),
        ("pytest", "import pytest"),
        ("numpy", "import numpy"),
    ]
    .iter()
    .filter(|(_, code)| !python_ok(code))
    .map(|(what, _)| *what)
    .collect();
    if missing.is_empty() {
        return true;
    }
    let what = format!(
        "{} missing for `{}` (install with `pip install numpy pytest`)",
        missing.join(", "),
        python()
    );
    assert!(
        env::var("HESSFREE_REQUIRE_PYTHON").as_deref() != Ok("1"),
        "HESSFREE_REQUIRE_PYTHON=1 but {what}"
    );
    eprintln!("SKIPPED: python binding tests: {what}");
    false
}

fn run_pytest(lib: &Path) -> std::process::Output {
    let root = crate_dir();
    Command::new(python())
        .current_dir(&root)
        .env("HESSFREE_LIB", lib)
        .env("HESSFREE_INCLUDE", root.join("include"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "bindings/python/tests",
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python()))
}

#[test]
fn python_binding_pytest_suite() {
    if !prerequisites_present() {
        return;
    }
    let lib = shared_library();
    let out = run_pytest(&lib);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Shown with --nocapture; the last line is pytest's count.
    println!("{stdout}");
    assert!(
        out.status.success(),
        "pytest failed ({}) with HESSFREE_LIB={}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        out.status,
        lib.display()
    );
    assert!(
        stdout.contains(" passed"),
        "pytest ran no tests:\n{stdout}\n{stderr}"
    );
    // The shared bad-input table (test_bad_input_table.py): every row ran or
    // is declared not applicable to Python.
    let (passed, na) = table::check_runner("python", &stdout);
    eprintln!("bad-input table through Python: {passed} rows passed, {na} not applicable");
}
