//! Bad data and init files given to `meanfield run`: each gives one clear message naming the file,
//! the line or field and the value, exits 2, and never panics (exit code 101).

use std::path::Path;
use std::process::Command;

/// Runs the scenario `body` (written to `dir/<name>.toml`, outputs in `dir/<name>`) with a short
/// gd schedule appended; returns (exit code, stderr).
fn run_scenario(dir: &Path, name: &str, body: &str) -> (i32, String) {
    let scenario = dir.join(format!("{name}.toml"));
    let text =
        format!("lambda = 0.01\n{body}\n[dynamics]\nkind = \"gd\"\neta = 0.1\n[run]\nsteps = 2\nplots = false\n");
    std::fs::write(&scenario, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_meanfield"))
        .args(["run", scenario.to_str().unwrap(), "--quiet", "--force", "--out"])
        .arg(dir.join(name))
        .output()
        .unwrap();
    (out.status.code().unwrap(), String::from_utf8(out.stderr).unwrap())
}

/// Runs a scenario that reads `train.csv` (and what `extra` names) from `dir`.
fn run(dir: &Path, extra: &str) -> (i32, String) {
    run_scenario(dir, "s", &format!("[data]\nkind = \"csv\"\npath = \"train.csv\"\n{extra}\n[model]\nm = 10"))
}

/// Like [`run`], with the initial cloud read from `npy`.
fn run_with_init(dir: &Path, npy: &Path) -> (i32, String) {
    let body =
        format!("[data]\nkind = \"csv\"\npath = \"train.csv\"\n[model]\ninit = {{ file = \"{}\" }}", npy.display());
    run_scenario(dir, "init", &body)
}

fn csv_error(train: &str) -> String {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("train.csv"), train).unwrap();
    let (code, stderr) = run(tmp.path(), "");
    assert_eq!(code, 2, "{stderr}");
    let file = tmp.path().join("train.csv");
    stderr
        .strip_prefix(&format!("error: {}", std::fs::canonicalize(&file).unwrap_or(file).display()))
        .unwrap_or(&stderr)
        .trim_end()
        .to_string()
}

#[test]
fn malformed_csv_files_are_rejected_with_the_line_and_value() {
    assert_eq!(csv_error(""), ":1: the file is empty; expected a header `x1,...,xd,y`");
    assert_eq!(csv_error("a,b,y\n1,2,1\n"), ":1: header `a,b,y` is not of the form `x1,...,xd,y` (expected `x1,x2,y`)");
    assert_eq!(csv_error("x1,x2,y\n1,2,1\n3,1\n"), ":3: 2 fields, but the header has 3");
    assert_eq!(csv_error("x1,x2,y\n1,2,1\n1,two,1\n"), ":3: column `x2`: `two` is not a number");
    assert_eq!(csv_error("x1,x2,y\nNaN,2,1\n"), ":2: column `x1`: NaN is not finite; values must be finite numbers");
    assert_eq!(csv_error("x1,x2,y\n1,inf,1\n"), ":2: column `x2`: inf is not finite; values must be finite numbers");
    assert_eq!(csv_error("x1,x2,y\n"), ":2: no samples after the header");
    assert_eq!(
        csv_error("x1,x2,y\n1,2,1\n1,2,0.5\n"),
        ": sample 2: label 0.5 is not -1 or +1, as the logistic loss requires"
    );
}

#[test]
fn missing_and_mismatched_files_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, stderr) = run(tmp.path(), "");
    assert_eq!(code, 2);
    assert!(stderr.ends_with("train.csv\": no such file\n") && stderr.contains("field `data.path`"), "{stderr}");

    std::fs::write(tmp.path().join("train.csv"), "x1,x2,y\n1,2,1\n-1,0,-1\n").unwrap();
    std::fs::write(tmp.path().join("test.csv"), "x1,y\n1,1\n").unwrap();
    let (code, stderr) = run(tmp.path(), "test_path = \"test.csv\"");
    assert_eq!(code, 2);
    assert!(stderr.ends_with("test.csv:1: 1 input columns, but the training file has 2\n"), "{stderr}");

    let npy = tmp.path().join("init.npy");
    meanfield::output::write_npy(&npy, &ndarray::Array2::zeros((4, 5))).unwrap();
    let (code, stderr) = run_with_init(tmp.path(), &npy);
    assert_eq!(code, 2);
    assert!(stderr.ends_with("init.npy:shape: 5 columns, but the data need 1 + d = 3\n"), "{stderr}");
    std::fs::write(&npy, b"not an npy file").unwrap();
    let (code, stderr) = run_with_init(tmp.path(), &npy);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("init.npy:npy: ") && stderr.ends_with("expected a 2-d float64 array (C order)\n"),
        "{stderr}"
    );
}

#[test]
fn command_line_mistakes_exit_two_without_a_panic() {
    let bin = env!("CARGO_BIN_EXE_meanfield");
    for args in [
        vec!["run"],
        vec!["run", "scenarios/quickstart.toml", "--set"],
        vec!["run", "scenarios/quickstart.toml", "--seed", "-3"],
        vec!["bench", "--m", "0"],
        vec!["optimum", "--data", "x.csv"],
        vec!["figure", "no-such-figure"],
        vec!["frobnicate"],
    ] {
        let out = Command::new(bin).args(&args).current_dir(env!("CARGO_MANIFEST_DIR")).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    }
}

#[test]
fn a_run_too_large_for_the_machine_is_refused_before_allocating() {
    let out = Command::new(env!("CARGO_BIN_EXE_meanfield"))
        .args(["validate", "scenarios/quickstart.toml", "--set", "model.m=100000000000"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(out.status.success(), "validate checks values, not the machine");
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_meanfield"))
        .args([
            "run",
            "scenarios/quickstart.toml",
            "--quiet",
            "--set",
            "run.plots=false",
            "--set",
            "model.m=100000000000",
            "--out",
        ])
        .arg(tmp.path().join("big"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let field = "error: --set model.m=100000000000: field `model.m` = 100000000000: the run would need about ";
    assert!(stderr.starts_with(field), "{stderr}");
    assert!(stderr.contains(" for the particles) but only "), "{stderr}");
    assert!(
        stderr.ends_with(" are available; reduce model.m, data.n, data.test_n or data.d, or use precision = \"f32\"\n")
    );
    assert!(!tmp.path().join("big").exists(), "a refused run leaves no folder");
}
