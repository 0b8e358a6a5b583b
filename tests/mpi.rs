//! MPI (feature `mpi`): `mpirun -n 2 meanfield run` and `mpirun -n 2 meanfield sweep` give the
//! outputs of one process, bit for bit.
//!
//! The test builds the binary with `--features mpi` (into `target/mpi`) and starts it with
//! Open MPI's `mpirun`. Without `mpirun` on the PATH it is skipped with a message, unless
//! `MEANFIELD_REQUIRE_MPI=1` (set by `.ci/run`, which installs Open MPI), which makes it fail.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use meanfield::engine::Checkpoint;

mod common;

/// The single-process binary of this build (default features).
const PLAIN: &str = env!("CARGO_BIN_EXE_meanfield");

/// A run that exercises everything the processes share: Langevin noise and perturbed re-draws
/// (random streams of global particles), a test set, the exact optimum (broadcast), certificates
/// at every logged step (exact in d = 2; estimated from gathered particle directions in d = 5),
/// checkpoints (gathered) and m = 3000 particles in 6 groups of 512 (3 per process).
fn scenario(d: usize, certificate: &str) -> String {
    format!(
        "name = \"mpi\"\nseed = 4\nlambda = 0.01\n\
         [data]\nkind = \"teacher\"\nd = {d}\nn = 30\ntest_n = 300\n\
         [model]\nm = 3000\ninit = {{ kind = \"gaussian\", s_w = 0.5, s_u = 1.0 }}\n\
         [dynamics]\nkind = \"langevin+perturbed\"\neta = 0.3\ntau = 1e-5\nsigma = 0.01\n\
         [run]\nsteps = 120\nlog_every = 20\nplots = false\nreference = {}\ncertificate = \"{certificate}\"\n\
         checkpoint_every = 50\n",
        d == 2
    )
}

/// The MPI build of the binary, or `None` (with a message) when there is no `mpirun`.
fn mpi_binary() -> Option<PathBuf> {
    let found = Command::new("mpirun").arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("MEANFIELD_REQUIRE_MPI").as_deref() != Ok("1"),
            "MEANFIELD_REQUIRE_MPI=1 but mpirun is not on the PATH (install openmpi-bin and libopenmpi-dev)"
        );
        eprintln!("skipped: mpirun is not on the PATH (install Open MPI to run the MPI test)");
        return None;
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = manifest.join("target").join("mpi");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--features", "mpi", "--bin", "meanfield", "--target-dir"])
        .arg(&target)
        .current_dir(manifest)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building with --features mpi failed");
    Some(target.join("release").join("meanfield"))
}

/// `binary args` under `mpirun -n processes` (or directly when `processes` is 0) with one thread
/// per process.
fn command(binary: &Path, processes: usize, args: &[&str], dir: &Path) -> Command {
    let mut command = if processes == 0 {
        Command::new(binary)
    } else {
        let mut c = Command::new("mpirun");
        c.args(["-n", &processes.to_string(), "--oversubscribe", "--allow-run-as-root"]).arg(binary);
        c
    };
    command
        .args(args)
        .current_dir(dir)
        .env("RAYON_NUM_THREADS", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    command
}

/// Runs [`command`]; panics with stderr on failure.
fn launch(binary: &Path, processes: usize, args: &[&str], dir: &Path) {
    let output = command(binary, processes, args, dir).output().expect("the command starts");
    assert!(output.status.success(), "{processes} processes, {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

/// metrics.csv without wall times, and the bytes of particles.npy.
fn outputs(dir: &Path) -> (Vec<Vec<String>>, Vec<u8>) {
    assert!(dir.join("summary.json").is_file(), "{} is incomplete", dir.display());
    assert!(!dir.join("checkpoint.bin").exists());
    (common::table_without(&dir.join("metrics.csv"), "wall_seconds"), std::fs::read(dir.join("particles.npy")).unwrap())
}

#[test]
fn two_processes_reproduce_one_process_bit_for_bit() {
    let Some(mpi) = mpi_binary() else { return };
    let tmp = tempfile::tempdir().unwrap();
    for (d, certificate) in [(2, "exact"), (5, "estimate")] {
        let file = tmp.path().join(format!("mpi-{d}.toml"));
        std::fs::write(&file, scenario(d, certificate)).unwrap();
        let run = |binary: &Path, processes: usize, name: &str| {
            let out = tmp.path().join(format!("{name}-{d}"));
            let args = ["run", file.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"];
            launch(binary, processes, &args, tmp.path());
            outputs(&out)
        };
        let plain = run(Path::new(PLAIN), 0, "plain");
        let (rows, particles) = &plain;
        assert_eq!(rows.len(), 1 + 7, "header and steps 0, 20, ..., 120");
        let certificate_column = rows[0].iter().position(|h| h == "certificate").unwrap();
        assert!(rows[1..].iter().all(|r| r[certificate_column] == if d == 2 { "exact" } else { "estimated" }));
        assert_eq!(particles.len(), 128 + 3000 * (d + 1) * 8, "an npy header and m (1 + d) float64");
        assert_eq!(run(&mpi, 1, "p1"), plain, "1 process, d = {d}");
        assert_eq!(run(&mpi, 2, "p2"), plain, "2 processes, d = {d}");
        assert_eq!(run(&mpi, 3, "p3"), plain, "3 processes, d = {d}");
    }
}

#[test]
fn a_sweep_is_spread_over_the_processes() {
    let Some(mpi) = mpi_binary() else { return };
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("base.toml"), scenario(2, "exact").replace("reference = true", "reference = false"))
        .unwrap();
    let sweep = "base = \"base.toml\"\nset = [\"run.checkpoint_every=0\", \"run.steps=40\"]\n\
                 [[axis]]\nkey = \"dynamics.sigma\"\nvalues = [0.0, 0.01, 0.1]\n";
    std::fs::write(tmp.path().join("sweep.toml"), sweep).unwrap();
    launch(Path::new(PLAIN), 0, &["sweep", "sweep.toml", "--out", "one", "--quiet"], tmp.path());
    launch(&mpi, 2, &["sweep", "sweep.toml", "--out", "two", "--quiet"], tmp.path());
    let one = common::table_without(&tmp.path().join("one/sweep.csv"), "wall_seconds");
    assert_eq!(one.len(), 1 + 3);
    assert_eq!(common::table_without(&tmp.path().join("two/sweep.csv"), "wall_seconds"), one);
}

#[test]
fn a_checkpoint_of_two_processes_resumes_in_one() {
    let Some(mpi) = mpi_binary() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let long = scenario(2, "exact")
        .replace("steps = 120", "steps = 6000")
        .replace("checkpoint_every = 50", "checkpoint_every = 200");
    std::fs::write(tmp.path().join("long.toml"), long).unwrap();
    let args = |out: &str| ["run", "long.toml", "--out", out, "--quiet"].map(String::from);
    let killed = args("killed");
    let refs: Vec<&str> = killed.iter().map(String::as_str).collect();
    let mut child = command(&mpi, 2, &refs, tmp.path()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let checkpoint = tmp.path().join("killed/checkpoint.bin");
    common::wait_for(&checkpoint, Duration::from_secs(120));
    child.kill().unwrap();
    child.wait().unwrap();
    // Killing mpirun leaves its ranks to die a moment later; the folder lock is free once rank 0 is gone.
    let started = std::time::Instant::now();
    while meanfield::lock::FolderLock::acquire(&tmp.path().join("killed")).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "rank 0 still holds the folder 60 s after mpirun was killed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let step = Checkpoint::<f64>::read(&checkpoint).unwrap().state.step;
    assert!(step > 0 && step.is_multiple_of(200) && step < 6000, "checkpoint at step {step}");
    let resume: Vec<&str> = refs.iter().copied().chain(["--resume"]).collect();
    launch(Path::new(PLAIN), 0, &resume, tmp.path());
    let whole = args("whole");
    launch(Path::new(PLAIN), 0, &whole.iter().map(String::as_str).collect::<Vec<_>>(), tmp.path());
    assert_eq!(outputs(&tmp.path().join("killed")), outputs(&tmp.path().join("whole")));
}
