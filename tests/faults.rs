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
    let without_lock =
        |dir: &Path| names(dir).into_iter().filter(|n| n != meanfield::lock::LOCK_FILE).collect::<Vec<_>>();
    let before = without_lock(&out);

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
    assert_eq!(without_lock(&out), before, "a refused resume writes nothing");
    assert_eq!(std::fs::read(&checkpoint).unwrap(), bytes, "the damaged checkpoint is kept for inspection");
    assert!(!out.join("summary.json").exists());
}

/// Stops a long run with `sig` once it has written a checkpoint; returns (exit code, stderr).
fn stopped_by(sig: &str, out: &Path) -> (Option<i32>, String) {
    let child = long_run(out, &[]);
    common::wait_for(&out.join("checkpoint.bin"), Duration::from_secs(60));
    std::fs::remove_file(out.join("checkpoint.bin")).unwrap();
    signal(&child, sig);
    let output = child.wait_with_output().unwrap();
    (output.status.code(), stderr(&output))
}

#[test]
fn sigterm_and_sigint_stop_a_run_with_a_checkpoint_and_the_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    for (sig, code, word) in [("-TERM", 143, "terminated by SIGTERM"), ("-INT", 130, "interrupted")] {
        let out = tmp.path().join(&sig[1..]);
        let (status, message) = stopped_by(sig, &out);
        assert_eq!(status, Some(code), "{sig}: {message}");
        let step: u64 = message
            .strip_prefix(&format!("error: {word} after step "))
            .and_then(|rest| rest.split(';').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{sig}: unexpected message {message}"));
        assert!(message.ends_with("; the checkpoint and metrics are written: continue with --resume\n"));
        let checkpoint = meanfield::checkpoint::Checkpoint::<f64>::read(&out.join("checkpoint.bin")).unwrap();
        assert_eq!(checkpoint.state.step, step, "{sig}: the checkpoint is of the last step");
        let rows = common::table_without(&out.join("metrics.csv"), "wall_seconds");
        assert_eq!(rows.len() - 1, checkpoint.history.len(), "{sig}: metrics.csv has every logged step");
        assert!(!out.join("summary.json").exists() && !out.join("particles.npy").exists());
        assert!(!out.join(meanfield::lock::LOCK_FILE).exists(), "the lock goes with the run");
    }
}

#[test]
fn a_second_run_into_a_busy_folder_is_refused_naming_the_holder() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("busy");
    let first = long_run(&out, &[]);
    common::wait_for(&out.join("checkpoint.bin"), Duration::from_secs(60));
    let before = std::fs::read(out.join("scenario.toml")).unwrap();
    let second = command(&[
        "run",
        "scenarios/quickstart.toml",
        "--quiet",
        "--force",
        "--set",
        "lambda=0.5",
        "--set",
        "run.steps=5",
        "--out",
        out.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert_eq!(second.status.code(), Some(2), "{}", stderr(&second));
    assert_eq!(
        stderr(&second),
        format!(
            "error: {}: in use by another meanfield run (pid {}); wait for it to finish or choose another --out\n",
            out.display(),
            first.id()
        )
    );
    assert_eq!(std::fs::read(out.join("scenario.toml")).unwrap(), before, "the refused run wrote nothing");
    // kill -9 releases the lock: the next run takes the folder.
    kill9(first);
    let third = command(&["run", "scenarios/quickstart.toml", "--quiet", "--force", "--set", "run.steps=5", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(third.status.success(), "{}", stderr(&third));
    assert!(out.join("summary.json").exists() && !out.join(meanfield::lock::LOCK_FILE).exists());
}

#[test]
fn force_removes_the_outputs_of_the_previous_scenario_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("f");
    let base = ["run", "scenarios/quickstart.toml", "--quiet", "--set", "run.steps=20", "--set", "run.log_every=5"];
    let first = command(&base).args(["--set", "run.movie=true", "--out"]).arg(&out).output().unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    let written = names(&out);
    for name in &written {
        assert!(meanfield::run_files::RUN_FILES.contains(&name.as_str()), "{name} is not listed as a run file");
    }
    assert!(written.contains(&"cloud.gif".to_string()) && written.contains(&"convergence.png".to_string()));
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    std::fs::write(out.join(".particles.npy.tmp99999"), "left by a killed run").unwrap();

    // A forced run of another scenario, killed before it finished: no old output remains.
    let killed = long_run(&out, &["--force", "--set", "lambda=0.5"]);
    common::wait_for(&out.join("checkpoint.bin"), Duration::from_secs(60));
    kill9(killed);
    let left = names(&out);
    assert!(
        left.iter().all(|n| ["scenario.toml", "checkpoint.bin", "notes.txt"].contains(&n.as_str())
            || n.starts_with(".checkpoint.bin.tmp")
            || n == meanfield::lock::LOCK_FILE),
        "{left:?}"
    );
    assert!(std::fs::read_to_string(out.join("scenario.toml")).unwrap().contains("lambda = 0.5"));

    let second = command(&base)
        .args(["--force", "--set", "lambda=0.5", "--set", "run.plots=false", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(names(&out), ["metrics.csv", "notes.txt", "particles.npy", "scenario.toml", "summary.json"]);
    assert_eq!(std::fs::read_to_string(out.join("notes.txt")).unwrap(), "mine");
}

/// A tmpfs of `size` mounted at a fresh folder, unmounted on drop; `None` where mounting is not
/// allowed (not root). The second field keeps the folder alive until the mount is undone.
struct SmallDisk(PathBuf, #[allow(dead_code)] tempfile::TempDir);

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let point = dir.path().join("disk");
        std::fs::create_dir(&point).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&point)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk(point, dir))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_names_the_file_that_failed_and_leaves_no_temporary_file() {
    let Some(disk) = SmallDisk::mount("1m") else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root); write_atomic's cleanup is still unit-tested");
        return;
    };
    // 50000 particles: particles.npy is 1.2 MB, a checkpoint 2.4 MB; metrics.csv a few hundred bytes.
    let cases = [("npy", &[][..], "particles.npy"), ("cp", &["--set", "run.checkpoint_every=2"][..], "checkpoint.bin")];
    for (name, extra, failing) in cases {
        let out = disk.0.join(name);
        let mut args = vec!["run", "scenarios/quickstart.toml", "--quiet", "--set", "model.m=50000"];
        args.extend(["--set", "run.steps=4", "--set", "run.plots=false", "--set", "run.certify_every=0"]);
        args.extend_from_slice(extra);
        let output = command(&args).arg("--out").arg(&out).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        assert_eq!(
            stderr(&output),
            format!("error: {}: No space left on device (os error 28)\n", out.join(failing).display())
        );
        let left = names(&out);
        assert!(left.iter().all(|n| !n.contains(".tmp")), "{name}: temporary files left: {left:?}");
        assert!(left.contains(&"metrics.csv".to_string()) && !left.contains(&"summary.json".to_string()), "{left:?}");
        let _ = std::fs::remove_dir_all(&out);
    }
}

#[test]
fn sizes_beyond_the_machine_are_refused_before_allocating_naming_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        ("data.n=10000000000", "data.n` = 10000000000", "the certificate's products with the inputs"),
        ("data.test_n=10000000000", "data.test_n` = 10000000000", "the test kernels' buffers"),
        ("data.d=1000000000", "data.d` = 1000000000", "the test data"),
        ("data.hidden=10000000000", "data.hidden` = 10000000000", "the teacher's hidden units"),
        ("model.m=9223372036854775807", "model.m` = 9223372036854775807", "the particles"),
    ];
    for (set, field, what) in cases {
        let out = tmp.path().join("big");
        // Without L* first and the figures: the convex program (tests/long_work.rs) or the cloud
        // figure would be the largest part.
        let output = command(&[
            "run",
            "scenarios/quickstart.toml",
            "--quiet",
            "--set",
            "run.reference=false",
            "--set",
            "run.plots=false",
            "--set",
            set,
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{set}: {message}");
        // Each size comes from an override, which the message names.
        let head = format!("error: --set {set}: field `{field}: the run would need about ");
        assert!(message.starts_with(&head), "{set}: {message}");
        assert!(message.contains(&format!(" for {what}) but only ")), "{set}: {message}");
        assert!(!out.exists(), "{set}: a refused run leaves no folder behind");
    }
    // An init file whose header claims 1e12 rows.
    let npy = tmp.path().join("lying.npy");
    meanfield::output::write_npy(&npy, &ndarray::Array2::zeros((4, 3))).unwrap();
    let text = String::from_utf8_lossy(&std::fs::read(&npy).unwrap()).replacen("(4, 3)", "(1000000000000, 3)", 1);
    std::fs::write(&npy, text.as_bytes()).unwrap();
    let init = format!("model.init={{ file = \"{}\" }}", npy.display());
    let out = tmp.path().join("init");
    let output =
        command(&["run", "scenarios/quickstart.toml", "--quiet", "--set", "model.m=4", "--set", &init, "--out"])
            .arg(&out)
            .output()
            .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("lying.npy:npy: the header declares 1000000000000 x 3 values"),
        "{}",
        stderr(&output)
    );
    assert!(!out.exists());
    // bench and sweeps.
    for (args, start) in [
        (
            &["bench", "--m", "1000000000000"][..],
            "error: meanfield bench: field `--m` = 1000000000000: the run would need",
        ),
        (&["bench", "--d", "1000000000"][..], "error: meanfield bench: field `--d` = 1000000000: the run would need"),
    ] {
        let output = command(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        assert!(stderr(&output).starts_with(start), "{}", stderr(&output));
    }
    let sweep = tmp.path().join("s.toml");
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.toml");
    let text = format!(
        "base = \"{}\"\n[[axis]]\nkey = \"lambda\"\nlinspace = {{ start = 0.1, stop = 0.5, num = 100000000 }}\n",
        base.display()
    );
    std::fs::write(&sweep, text).unwrap();
    let output = command(&["sweep", sweep.to_str().unwrap(), "--dry-run"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        format!(
            "error: {}: field `axis[0].linspace.num` = 100000000: must be between 1 and 1000000\n",
            sweep.display()
        )
    );
    std::fs::write(&sweep, format!("base = \"{}\"\nseeds = 1000000000\n", base.display())).unwrap();
    let output = command(&["sweep", sweep.to_str().unwrap(), "--dry-run"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        format!("error: {}: field `seeds` = 1000000000: at most 1000000 seeds\n", sweep.display())
    );
}

#[test]
fn absurd_thread_counts_are_refused() {
    let sweep = "scenarios/sweeps/speed.toml";
    let cores = std::thread::available_parallelism().unwrap().get();
    for (jobs, expected) in [
        ("100000".to_string(), format!("error: --jobs 100000: at most {} (4 per core, {cores} cores here); more threads only add memory, not speed\n", 4 * cores)),
        ("0".to_string(), format!("error: --jobs 0: must be at least 1 (omit it to use all {cores} cores)\n")),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let output = command(&["sweep", sweep, "--quiet", "--jobs", &jobs, "--out"]).arg(tmp.path().join("s")).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        assert_eq!(stderr(&output), expected);
        assert!(!tmp.path().join("s/runs").exists(), "nothing ran");
    }
}
