//! Whether an external tool a test needs (valgrind, octave-cli, clang, …)
//! is installed, shared by the integration tests that call such tools.

use std::process::Command;

/// Whether `tool --version` runs and succeeds.
pub fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}
