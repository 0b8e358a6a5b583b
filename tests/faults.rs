//! Faults and hostile use through the binary: damaged checkpoints, signals, concurrent runs into
//! one folder, full disks, `--force`, absurd `--jobs` and sizes. Each test asserts the exit code,
//! the message and what is left on disk.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_meanfield");

fn command<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(env!("CARGO_MANIFEST_DIR")).stdout(Stdio::null()).stderr(Stdio::piped());
    cmd
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The file names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A quickstart run into `out` long enough to be stopped, writing a checkpoint every 20 steps.
fn long_run(out: &Path, extra: &[&str]) -> Child {
    let mut args = vec![
        "run",
        "scenarios/quickstart.toml",
        "--quiet",
        "--set",
        "run.steps=10000000",
        "--set",
        "run.checkpoint_every=20",
        "--set",
        "run.log_every=20",
        "--set",
        "run.certify_every=0",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    command(&args).spawn().unwrap()
}

fn kill9(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Sends `signal` to `child` (the `kill` program, so that no unsafe code is needed here).
fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

#[test]
fn a_damaged_checkpoint_is_refused_and_left_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cp");
    let checkpoint = out.join("checkpoint.bin");
    let child = long_run(&out, &[]);
    common::wait_for(&checkpoint, Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(50));
    kill9(child);
    let mut bytes = std::fs::read(&checkpoint).unwrap();
    let at = bytes.len() - 200; // inside the predictions
    bytes[at] ^= 0x01;
    std::fs::write(&checkpoint, &bytes).unwrap();
    let before = names(&out);

    let resume = ["run", "scenarios/quickstart.toml", "--quiet", "--resume", "--set", "run.steps=10000000"];
    let mut args: Vec<&str> = resume.to_vec();
    args.extend(["--set", "run.checkpoint_every=20", "--set", "run.log_every=20", "--set", "run.certify_every=0"]);
    args.extend(["--out", out.to_str().unwrap()]);
    let output = command(&args).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    let prefix = format!("error: {}:checkpoint: checksum mismatch (CRC-32C stored ", checkpoint.display());
    assert!(message.starts_with(&prefix), "{message}");
    assert!(message.ends_with("): the file is damaged; run without --resume to start afresh\n"), "{message}");
    assert_eq!(names(&out), before, "a refused resume writes nothing");
    assert_eq!(std::fs::read(&checkpoint).unwrap(), bytes, "the damaged checkpoint is kept for inspection");
    assert!(!out.join("summary.json").exists());
}
