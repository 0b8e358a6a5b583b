//! Long solver and certificate work through the binary: `meanfield optimum` says how it solves
//! (the arrangement's pattern count, column generation), stops on Ctrl-C or SIGTERM within seconds
//! with exit code 130 or 143 and writes nothing, honours `--time-limit`; a run whose certificate
//! would cost more than its share spaces certified steps out and says so; the convex program's
//! memory is estimated before anything is allocated.

#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_meanfield");

/// The line `meanfield optimum scenarios/teacher.toml` prints before its first conic solve.
const TEACHER_PATTERNS: &str = "optimum: 200 distinct input directions in d = 20 have up to 3.603e26 activation \
     patterns, more than 400 in one program: sampling patterns and adding more by column generation (at most 40 \
     rounds); the result is exact only if the sphere maximum certifies it";

fn command() -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR")).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

/// Starts `meanfield optimum scenarios/teacher.toml --particles P`, waits for its pattern-count
/// line, sends `signal` and returns (exit code, stderr, seconds from the signal to the exit).
fn signal_optimum(signal: libc::c_int, particles: &Path) -> (Option<i32>, String, f64) {
    let mut child =
        command().args(["optimum", "scenarios/teacher.toml", "--particles"]).arg(particles).spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert_eq!(first, TEACHER_PATTERNS);
    // SAFETY: kill sends a signal to our own child.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
    let sent = Instant::now();
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    (status.code(), rest.join("\n"), sent.elapsed().as_secs_f64())
}

#[test]
fn ctrl_c_and_sigterm_stop_optimum_within_seconds_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let particles = dir.path().join("p.npy");
    for (signal, code, cause) in
        [(libc::SIGINT, 130, "interrupted by Ctrl-C (SIGINT)"), (libc::SIGTERM, 143, "terminated by SIGTERM")]
    {
        let (status, stderr, seconds) = signal_optimum(signal, &particles);
        assert_eq!(status, Some(code), "{stderr}");
        assert!(stderr.ends_with(&format!("error: optimum: {cause}; nothing was written")), "{stderr}");
        // Within one interior-point iteration: 7 s once on a machine with a load of 15 on 2 cores.
        assert!(seconds < 30.0, "stopped {seconds:.1} s after the signal");
        assert!(!particles.exists(), "no particles file after a signal");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}

#[test]
fn a_time_limit_stops_optimum() {
    let dir = tempfile::tempdir().unwrap();
    let particles = dir.path().join("p.npy");
    // Before any solution: exit 1, nothing written.
    let started = Instant::now();
    let out = command()
        .args(["optimum", "scenarios/teacher.toml", "--time-limit", "0.001", "--particles"])
        .arg(&particles)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "{TEACHER_PATTERNS}\nerror: optimum: stopped at the time limit of 0.001 s (--time-limit); nothing was written\n"
        )
    );
    assert!(!particles.exists());
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
    // A limit of 4 s: stopped within it (plus the final certificate and process start on a loaded
    // machine), with either the last round's solution (exit 0) or none yet (exit 1).
    let started = Instant::now();
    let out = command().args(["optimum", "scenarios/teacher.toml", "--time-limit", "4", "--json"]).output().unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(seconds < 4.0 + 15.0, "{seconds:.1} s");
    match out.status.code() {
        Some(0) => {
            assert!(stderr.contains("optimum: time limit of 4 s: keeping the solution of round "), "{stderr}");
            let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(report["status"], "sampled");
            assert!(report["value"].as_f64().unwrap() >= report["dual"].as_f64().unwrap());
        }
        Some(1) => assert!(
            stderr.ends_with("error: optimum: stopped at the time limit of 4 s (--time-limit); nothing was written\n"),
            "{stderr}"
        ),
        other => panic!("exit {other:?}: {stderr}"),
    }
    let bad = command().args(["optimum", "scenarios/teacher.toml", "--time-limit", "0"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr)
        .contains("invalid value '0' for '--time-limit <SECONDS>': `0`: must be a finite number of seconds > 0"));
}

#[test]
fn a_costly_certificate_is_spaced_out_and_the_run_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("wide.toml");
    std::fs::write(
        &scenario,
        "name = \"wide\"\nseed = 1\nlambda = 0.01\n[data]\nkind = \"xor\"\nd = 5000\nn = 5\ntest_n = 0\n\
         [model]\nm = 50\n[dynamics]\nkind = \"gd\"\neta = 0.1\n[run]\nsteps = 100\nlog_every = 20\nplots = false\n",
    )
    .unwrap();
    let out_dir = dir.path().join("out");
    let out = command().arg("run").arg(&scenario).arg("--out").arg(&out_dir).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let expected = "wide: certificate: one certificate is predicted to take 0.141 s against 4.55e-3 s per step: \
                    certifying every 160 steps rather than every 20 keeps it below 25% of the run (predicted 16%); \
                    set run.certify_every to choose another interval";
    assert!(stderr.lines().any(|l| l == expected), "{stderr}");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["timings"]["certify_every"], 160);
    assert_eq!(summary["timings"]["certify_lowered"].as_str().unwrap(), &expected["wide: certificate: ".len()..]);
    // Certified: the first and the last step only.
    let metrics = std::fs::read_to_string(out_dir.join("metrics.csv")).unwrap();
    let header: Vec<&str> = metrics.lines().next().unwrap().split(',').collect();
    let gap = header.iter().position(|c| *c == "gap").unwrap();
    let certified: Vec<&str> = metrics
        .lines()
        .skip(1)
        .filter(|l| !l.split(',').nth(gap).unwrap().is_empty())
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(certified, ["0", "100"]);
    // An explicit interval is kept.
    let out = command()
        .arg("run")
        .arg(&scenario)
        .args(["--quiet", "--set", "run.certify_every=40", "--set", "run.steps=40", "--out"])
        .arg(dir.path().join("explicit"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("explicit/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["timings"]["certify_every"], 40);
    assert!(summary["timings"]["certify_lowered"].is_null());
}

#[test]
fn the_convex_program_is_estimated_before_optimum_allocates() {
    let out = command()
        .args(["optimum", "scenarios/teacher.toml", "--set", "data.n=2000000", "--set", "data.d=100"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let head = "error: --set data.n=2000000: field `data.n` = 2000000: the run would need about ";
    assert!(stderr.starts_with(head), "{stderr}");
    assert!(stderr.contains(" (6.98 TiB for the convex program of L*) but only "), "{stderr}");
}

#[test]
fn sigterm_stops_a_run_inside_its_exact_certificate() {
    // d = 60 and two inputs: above each arc of the search lie 2^58 cells, far more than a run can
    // visit; the search checks the signal flag at every cell.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("exact");
    let child = command()
        .args(["run", "scenarios/quickstart.toml", "--quiet", "--threads", "1", "--out"])
        .arg(&out)
        .args(["--set", "run.reference=false", "--set", "run.plots=false", "--set", "data.d=60"])
        .args(["--set", "data.n=2", "--set", "data.test_n=0", "--set", "model.m=2", "--set", "run.steps=5"])
        .args(["--set", "run.log_every=1", "--set", "run.certificate=exact"])
        .spawn()
        .unwrap();
    // Inside the certificate of step 0 once the folder holds the scenario.
    let started = Instant::now();
    while !out.join("scenario.toml").exists() && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(2));
    // SAFETY: kill sends a signal to our own child.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) }, 0);
    let sent = Instant::now();
    let output = child.wait_with_output().unwrap();
    let seconds = sent.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(143), "{stderr}");
    assert!(stderr.contains("terminated by SIGTERM"), "{stderr}");
    assert!(seconds < 20.0, "stopped {seconds:.1} s after the signal");
}
