//! Checkpoints, resumption after kill -9, divergence and output-folder protection.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use meanfield::engine::Checkpoint;

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_meanfield");

fn command<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(env!("CARGO_MANIFEST_DIR")).stdout(Stdio::null()).stderr(Stdio::piped());
    cmd
}

fn metrics_without_wall(dir: &Path) -> Vec<Vec<String>> {
    common::table_without(&dir.join("metrics.csv"), "wall_seconds")
}

#[test]
fn a_run_killed_after_a_checkpoint_resumes_to_identical_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let (killed, whole) = (tmp.path().join("killed"), tmp.path().join("whole"));
    let args = |out: &Path| {
        vec![
            "run".to_string(),
            "scenarios/langevin.toml".into(),
            "--quiet".into(),
            "--set".into(),
            "run.steps=1500".into(),
            "--set".into(),
            "run.checkpoint_every=50".into(),
            "--out".into(),
            out.to_str().unwrap().into(),
        ]
    };
    let killed_args = args(&killed);
    let mut child = command(&killed_args).spawn().unwrap();
    let checkpoint = killed.join("checkpoint.bin");
    common::wait_for(&checkpoint, Duration::from_secs(60));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!killed.join("summary.json").exists(), "a killed run does not look complete");
    let step = Checkpoint::<f64>::read(&checkpoint).unwrap().state.step;
    assert!(step > 0 && step.is_multiple_of(50), "checkpoint at step {step}");

    let mut resume_args = killed_args.clone();
    resume_args.push("--resume".into());
    let out = command(&resume_args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = command(&args(&whole)).output().unwrap();
    assert!(out.status.success());

    assert_eq!(metrics_without_wall(&killed), metrics_without_wall(&whole));
    assert!(
        std::fs::read(killed.join("particles.npy")).unwrap() == std::fs::read(whole.join("particles.npy")).unwrap()
    );
    assert!(!checkpoint.exists(), "a completed run removes its checkpoint");
}

#[test]
fn a_step_size_one_hundred_times_too_large_is_caught_with_the_last_good_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("div");
    let output = command(&[
        "run",
        "scenarios/quickstart.toml",
        "--quiet",
        "--set",
        "dynamics.eta=50",
        "--set",
        "run.checkpoint_every=2",
        "--set",
        "run.log_every=2",
        "--out",
        out.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8(output.stderr).unwrap();
    let step: u64 = stderr
        .strip_prefix("error: diverged at step ")
        .and_then(|rest| rest.split(':').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("unexpected message: {stderr}"));
    assert!(stderr.contains("the step size eta = 50 is too large, try eta = 5\n"), "{stderr}");
    let checkpoint = Checkpoint::<f64>::read(&out.join("checkpoint.bin")).unwrap();
    assert!(checkpoint.state.step < step && step - checkpoint.state.step <= 2);
    assert!(checkpoint.state.predictions.iter().all(|f| f.is_finite()));
    let rows = metrics_without_wall(&out);
    assert!(rows.len() > checkpoint.history.len(), "metrics.csv keeps every logged step up to the divergence");
    assert!(!out.join("summary.json").exists());
}

#[test]
fn a_folder_holding_another_scenario_is_not_overwritten_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "scenarios/quickstart.toml",
            "--quiet",
            "--set",
            "run.steps=20",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        command(&args).output().unwrap()
    };
    assert!(run(&[]).status.success());
    assert!(run(&[]).status.success(), "the same scenario may be re-run in place");
    let refused = run(&["--set", "lambda=0.5"]);
    assert_eq!(refused.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(refused.stderr).unwrap(),
        format!("error: {}: holds the outputs of a different scenario; use --force to overwrite them or choose another --out\n", out.display())
    );
    assert!(run(&["--set", "lambda=0.5", "--force"]).status.success());
    let resumed = run(&["--resume"]);
    assert_eq!(resumed.status.code(), Some(2));
    // The folder now holds a finished run of the lambda = 0.5 scenario: --resume may only extend it.
    let stderr = String::from_utf8(resumed.stderr).unwrap();
    assert!(
        stderr.contains("summary.json:resume: the finished run belongs to a different scenario: `lambda` = 0.5 there")
            && stderr.ends_with(
                "only run.steps may change on --resume (to start afresh, run with --force and without --resume)\n"
            ),
        "{stderr}"
    );
}
