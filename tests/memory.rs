//! The memory estimate made before a run (`summary.json`, `timings.memory_estimate_bytes`) against
//! the peak resident memory the kernel measured for the process (`ru_maxrss` of the child, read
//! with `wait4`): within a factor of 2, for shapes from d = 2 to d = 200000 and m up to 100000.

#![cfg(target_os = "linux")]

use std::path::Path;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_meanfield");

/// A scenario of the hypercube XOR without a test set, for the shapes below.
const XOR: &str = r#"name = "memory"
seed = 1
lambda = 0.01
[data]
kind = "xor"
d = 2
n = 20
test_n = 0
[model]
m = 100
[dynamics]
kind = "gd"
eta = 0.1
[run]
steps = 2
log_every = 2
"#;

/// Runs `meanfield run SCENARIO --out DIR --quiet --set ...` and returns (estimate, peak RSS) in
/// bytes, the peak from the kernel's accounting of the child alone.
#[allow(clippy::zombie_processes)] // waited for with wait4, which also gives its resource usage
fn estimate_and_peak(scenario: &Path, out: &Path, sets: &[&str]) -> (f64, f64) {
    let mut cmd = Command::new(BIN);
    cmd.arg("run").arg(scenario).arg("--out").arg(out).arg("--quiet");
    for s in sets {
        cmd.args(["--set", s]);
    }
    let child =
        cmd.current_dir(env!("CARGO_MANIFEST_DIR")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value, and wait4 writes only into the two locals.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4: {}", std::io::Error::last_os_error());
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "{sets:?}: status {status}");
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let estimate = summary["timings"]["memory_estimate_bytes"].as_f64().unwrap();
    (estimate, usage.ru_maxrss as f64 * 1024.0)
}

#[test]
fn the_memory_estimate_is_within_a_factor_of_two_of_the_peak_rss() {
    let dir = tempfile::tempdir().unwrap();
    let xor = dir.path().join("xor.toml");
    std::fs::write(&xor, XOR).unwrap();
    let quickstart = Path::new("scenarios/quickstart.toml");
    let shapes: [(&Path, &[&str]); 4] = [
        // Many particles in d = 2: the cloud, its figure and the test set's kernels.
        (quickstart, &["model.m=100000", "run.steps=10", "run.log_every=5"]),
        // d = 200000 with one particle and one sample: the data and one row of gradient scratch.
        (&xor, &["data.d=200000", "model.m=1", "data.n=1", "run.certify_every=0", "run.plots=false"]),
        // d = 2000 with the certificate's start directions.
        (&xor, &["data.d=2000", "model.m=50", "data.n=20"]),
        // Many samples and particles in d = 100: the kernels' buffers of both sets.
        (&xor, &["data.d=100", "model.m=2000", "data.n=2000", "data.test_n=2000", "run.plots=false"]),
    ];
    let mut report = Vec::new();
    for (k, (scenario, sets)) in shapes.iter().enumerate() {
        let (estimate, peak) = estimate_and_peak(scenario, &dir.path().join(format!("run{k}")), sets);
        report.push(format!("{sets:?}: estimate {:.1} MiB, peak {:.1} MiB", estimate / 1048576.0, peak / 1048576.0));
        let ratio = estimate / peak;
        assert!((0.5..=2.0).contains(&ratio), "estimate / peak = {ratio:.2}\n{}", report.join("\n"));
    }
    eprintln!("{}", report.join("\n"));
}
