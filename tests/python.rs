//! The Python package in python/: builds it with `pip install ./python` in a virtual environment
//! (pip fetches maturin, numpy, pytest and pandas from the package index) and runs its pytest
//! suite against this build's `meanfield` binary.
//!
//! Skips with a message when python3 or its venv module is missing, unless
//! MEANFIELD_REQUIRE_PYTHON=1 (CI), which makes that a failure. The environment and the
//! extension's cargo build live under the target folder and are reused, so a second run only
//! rebuilds what changed.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The interpreter: MEANFIELD_PYTHON, else python3.
fn python() -> String {
    std::env::var("MEANFIELD_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn required() -> bool {
    std::env::var("MEANFIELD_REQUIRE_PYTHON").is_ok_and(|v| v == "1")
}

/// Skips the test with `reason`, or fails when Python is required.
fn unavailable(reason: &str) {
    assert!(!required(), "MEANFIELD_REQUIRE_PYTHON=1 but {reason}");
    eprintln!("skipped: {reason} (set MEANFIELD_REQUIRE_PYTHON=1 to make this a failure)");
}

/// Runs `command`, panicking with its output when it fails.
fn check(command: &mut Command, what: &str) {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The virtual environment, created once (a broken one is recreated).
fn venv(dir: &Path) -> Option<PathBuf> {
    let bin = dir.join("bin").join("python");
    if bin.exists() && Command::new(&bin).arg("-c").arg("import pip").output().is_ok_and(|o| o.status.success()) {
        return Some(bin);
    }
    let _ = std::fs::remove_dir_all(dir);
    let created = Command::new(python()).args(["-m", "venv"]).arg(dir).output();
    match created {
        Ok(o) if o.status.success() => Some(bin),
        Ok(o) => {
            unavailable(&format!("`{} -m venv` failed: {}", python(), String::from_utf8_lossy(&o.stderr).trim()));
            None
        }
        Err(e) => {
            unavailable(&format!("{} is not available: {e}", python()));
            None
        }
    }
}

#[test]
fn python_package_installs_with_pip_and_passes_its_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let Some(python) = venv(&scratch.join("python-venv")) else { return };
    let quiet = ["--quiet", "--disable-pip-version-check"];
    check(
        Command::new(&python).args(["-m", "pip", "install"]).args(quiet).args(["pytest", "pandas"]),
        "pip install pytest pandas",
    );
    // The extension's own cargo build, kept between runs (incremental); the release profile.
    check(
        Command::new(&python)
            .args(["-m", "pip", "install"])
            .args(quiet)
            .arg(root.join("python"))
            .env("CARGO_TARGET_DIR", scratch.parent().expect("the target folder").join("python")),
        "pip install ./python",
    );
    let output = Command::new(&python)
        .args(["-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"])
        .arg(root.join("python").join("tests"))
        .current_dir(scratch)
        .env("MEANFIELD_BIN", env!("CARGO_BIN_EXE_meanfield"))
        .env("MEANFIELD_TEST_STRICT", "1")
        .output()
        .expect("pytest starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    // Every exit code but 0 fails, 5 (no tests collected) included.
    assert_eq!(output.status.code(), Some(0), "pytest failed:\n{stdout}");
    let passed: usize = stdout
        .lines()
        .filter_map(|l| l.split(" passed").next().filter(|_| l.contains(" passed")))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .next_back()
        .unwrap_or(0);
    assert!(passed >= 25, "only {passed} pytest tests passed:\n{stdout}");
}
