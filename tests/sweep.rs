//! `meanfield sweep` as a user meets it: resume after a kill, shards and collect, parallel runs,
//! and the errors of bad sweep files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

mod common;

/// A small base scenario (a 2-d teacher problem); `steps` and `m` set how long a run takes.
fn base(m: usize, steps: u64) -> String {
    format!(
        "lambda = 0.01\n[data]\nkind = \"teacher\"\nd = 2\nn = 20\ntest_n = 200\n[model]\nm = {m}\n\
         [dynamics]\nkind = \"langevin\"\neta = 0.5\ntau = 1e-4\n[run]\nsteps = {steps}\nlog_every = 50\nplots = false\n"
    )
}

/// A sweep over lambda and eta with two seeds (8 runs) and a line plot, next to its base scenario.
const SWEEP: &str = r#"
base = "base.toml"
seeds = 2

[[axis]]
key = "lambda"
logspace = { start = 1e-3, stop = 1e-2, num = 2 }

[[axis]]
key = "dynamics.eta"
values = [0.2, 0.5]

[[plot]]
kind = "line"
x = "lambda"
y = "loss"
group = "dynamics.eta"
"#;

/// A temporary folder with `base.toml` and `sweep.toml`.
fn setup(m: usize, steps: u64) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("base.toml"), base(m, steps)).unwrap();
    let file = tmp.path().join("sweep.toml");
    std::fs::write(&file, SWEEP).unwrap();
    (tmp, file)
}

fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_meanfield"));
    cmd.args(args).env_remove("SLURM_ARRAY_TASK_ID").env_remove("SLURM_ARRAY_TASK_COUNT");
    cmd
}

fn meanfield(args: &[&str]) -> Output {
    command(args).output().expect("the binary runs")
}

fn ok(args: &[&str]) -> Output {
    let out = meanfield(args);
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// sweep.csv without its wall_seconds column: header and rows.
fn results(dir: &Path) -> Vec<Vec<String>> {
    common::table_without(&dir.join("sweep.csv"), "wall_seconds")
}

/// The summary.json files under `out/runs`, with their contents and modification times.
fn summaries(out: &Path) -> Vec<(PathBuf, Vec<u8>, std::time::SystemTime)> {
    let Ok(dirs) = std::fs::read_dir(out.join("runs")) else { return Vec::new() };
    let mut found: Vec<_> = dirs
        .map(|d| d.unwrap().path().join("summary.json"))
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            let modified = std::fs::metadata(&p).unwrap().modified().unwrap();
            (p, bytes, modified)
        })
        .collect();
    found.sort();
    found
}

#[test]
fn the_csv_has_one_row_per_run_with_axis_and_metric_columns() {
    let (tmp, file) = setup(200, 200);
    let out = tmp.path().join("out");
    ok(&["sweep", s(&file), "--out", s(&out), "--quiet", "--jobs", "2"]);
    let text = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    let header = text.lines().next().unwrap();
    assert_eq!(
        header,
        "lambda,dynamics.eta,seed,run,loss,gap,certificate,excess,time_to_gap,train_error,test_error,margin,wall_seconds,second_moment,\
         entropy,free_energy,dual_free_energy,gap_free_energy,certificate_free_energy,status"
    );
    let rows = results(&out);
    assert_eq!(rows.len(), 9);
    let axes: Vec<[&str; 3]> = rows[1..].iter().map(|r| [r[0].as_str(), r[1].as_str(), r[2].as_str()]).collect();
    assert_eq!(axes[0], ["0.001", "0.2", "1"]);
    assert_eq!(axes[1], ["0.001", "0.2", "2"]);
    assert_eq!(axes[2], ["0.001", "0.5", "1"]);
    assert_eq!(axes[7], ["0.01", "0.5", "2"]);
    for row in &rows[1..] {
        let summary = std::fs::read_to_string(out.join("runs").join(&row[3]).join("summary.json")).unwrap();
        let json: serde_json::Value = serde_json::from_str(&summary).unwrap();
        assert_eq!(row[4].parse::<f64>().unwrap(), json["final"]["loss"].as_f64().unwrap());
        assert_eq!(json["scenario"]["lambda"].as_f64().unwrap(), row[0].parse::<f64>().unwrap());
        assert_eq!(json["seed"].as_u64().unwrap(), row[2].parse::<u64>().unwrap());
        assert!(row[5].parse::<f64>().unwrap() >= 0.0, "gap {}", row[5]);
        assert_eq!(row[6], "exact");
        assert_eq!(row.last().unwrap(), "ok");
    }
    for ext in ["png", "svg"] {
        assert!(out.join(format!("loss-vs-lambda-by-dynamics_eta.{ext}")).is_file());
    }
    let dry = ok(&["sweep", s(&file), "--out", s(&out), "--dry-run"]);
    let listing = String::from_utf8(dry.stdout).unwrap();
    assert_eq!(listing.lines().filter(|l| l.contains("complete")).count(), 8, "{listing}");
    assert!(listing.contains(&rows[1][3]));
}

#[test]
fn a_killed_sweep_resumes_without_recomputing_and_matches_an_uninterrupted_one() {
    let (tmp, file) = setup(1500, 1500);
    let out = tmp.path().join("killed");
    let mut child = command(&["sweep", s(&file), "--out", s(&out), "--quiet", "--jobs", "1"]).spawn().unwrap();
    let started = Instant::now();
    while summaries(&out).is_empty() {
        assert!(started.elapsed() < Duration::from_secs(30), "no run finished in 30 s");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = summaries(&out);
    assert!(!before.is_empty() && before.len() < 8, "{} runs were complete at the kill", before.len());
    assert!(!out.join("sweep.csv").exists());
    let resumed = ok(&["sweep", s(&file), "--out", s(&out), "--jobs", "1"]);
    let message = String::from_utf8(resumed.stderr).unwrap();
    assert!(
        message.contains(&format!("8 runs, {} complete before, {} run", before.len(), 8 - before.len())),
        "{message}"
    );
    let after = summaries(&out);
    assert_eq!(after.len(), 8);
    for (path, bytes, modified) in &before {
        let (_, now, when) = after.iter().find(|(p, _, _)| p == path).unwrap();
        assert_eq!((now, when), (bytes, modified), "{} was recomputed", path.display());
    }
    let fresh = tmp.path().join("fresh");
    ok(&["sweep", s(&file), "--out", s(&fresh), "--quiet", "--jobs", "2"]);
    assert_eq!(results(&out), results(&fresh));
    assert_eq!(results(&out).len(), 9);
}

#[test]
fn shards_collected_equal_one_sweep_and_jobs_do_not_change_the_numbers() {
    let (tmp, file) = setup(300, 300);
    let one = tmp.path().join("one");
    ok(&["sweep", s(&file), "--out", s(&one), "--quiet", "--jobs", "1"]);
    let two = tmp.path().join("two");
    ok(&["sweep", s(&file), "--out", s(&two), "--quiet", "--jobs", "2"]);
    assert_eq!(results(&one), results(&two));

    let sharded = tmp.path().join("sharded");
    for shard in ["1/3", "2/3"] {
        let out = ok(&["sweep", s(&file), "--out", s(&sharded), "--shard", shard]);
        assert!(String::from_utf8(out.stderr).unwrap().contains(&format!("(shard {shard})")));
    }
    assert!(!sharded.join("sweep.csv").exists(), "a shard does not write sweep.csv");
    let early = meanfield(&["sweep", "collect", s(&sharded)]);
    assert_eq!(early.status.code(), Some(1));
    let message = String::from_utf8(early.stderr).unwrap();
    assert!(message.contains("2 of 8 runs have no summary.json (first: run 2 in runs/"), "{message}");
    let mut slurm = command(&["sweep", s(&file), "--out", s(&sharded), "--quiet"]);
    slurm.env("SLURM_ARRAY_TASK_ID", "3").env("SLURM_ARRAY_TASK_COUNT", "3").env("SLURM_ARRAY_TASK_MIN", "1");
    assert!(slurm.status().unwrap().success());
    assert_eq!(summaries(&sharded).len(), 8);
    ok(&["sweep", "collect", s(&sharded), "--quiet"]);
    assert_eq!(results(&sharded), results(&one));
    assert!(sharded.join("loss-vs-lambda-by-dynamics_eta.png").is_file());
}

#[test]
fn force_redoes_complete_runs() {
    let (tmp, file) = setup(100, 100);
    let out = tmp.path().join("out");
    ok(&["sweep", s(&file), "--out", s(&out), "--quiet"]);
    let first = summaries(&out);
    let again = ok(&["sweep", s(&file), "--out", s(&out), "--force"]);
    assert!(String::from_utf8(again.stderr).unwrap().contains("8 runs, 0 complete before, 8 run"));
    let second = summaries(&out);
    assert_eq!(first.len(), 8);
    assert!(first.iter().zip(&second).all(|(a, b)| a.0 == b.0 && a.2 != b.2));
}

/// The run folder names (hashes) of a sweep, in run order, from its `--dry-run` listing.
fn hashes(file: &Path, out: &Path) -> Vec<String> {
    let dry = ok(&["sweep", s(file), "--out", s(out), "--dry-run"]);
    let listing = String::from_utf8(dry.stdout).unwrap();
    listing
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .filter(|h| h.len() == 12)
        .collect()
}

/// A run that diverges and a run that fails keep their rows in sweep.csv, metrics empty and the last column
/// `status` saying what happened; the complete run's row says `ok`; `collect` writes the same table.
#[test]
fn diverged_and_failed_runs_keep_their_rows_with_a_status() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("base.toml"), base(50, 50)).unwrap();
    let file = tmp.path().join("sweep.toml");
    std::fs::write(&file, "base = \"base.toml\"\n[[axis]]\nkey = \"dynamics.eta\"\nvalues = [0.5, 1e9, 0.2]\n")
        .unwrap();
    let out = tmp.path().join("out");
    let runs = hashes(&file, &out);
    assert_eq!(runs.len(), 3);
    // The third run's folder holds another scenario's outputs: that run fails (without --force).
    std::fs::create_dir_all(out.join("runs").join(&runs[2])).unwrap();
    std::fs::write(out.join("runs").join(&runs[2]).join("scenario.toml"), "lambda = 1\n").unwrap();
    let run = meanfield(&["sweep", s(&file), "--out", s(&out), "--quiet"]);
    let message = String::from_utf8(run.stderr).unwrap();
    assert_eq!(run.status.code(), Some(3), "{message}");
    assert!(message.contains("2 of 3 runs failed; the first: "), "{message}");
    assert!(message.contains("run 1 (dynamics.eta=1000000000.0): diverged at step"), "{message}");
    let rows = results(&out);
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0].last().unwrap(), "status");
    let status: Vec<&str> = rows[1..].iter().map(|r| r.last().unwrap().as_str()).collect();
    assert_eq!(status, ["ok", "diverged", "failed"]);
    assert!(rows[1][2].parse::<f64>().unwrap().is_finite(), "loss {}", rows[1][2]);
    for (row, hash) in rows[2..].iter().zip(&runs[1..]) {
        assert_eq!(&row[1], hash);
        assert!(row[2..row.len() - 1].iter().all(|c| c.is_empty()), "{row:?}");
    }
    let failure = |k: usize| -> serde_json::Value {
        let text = std::fs::read_to_string(out.join("runs").join(&runs[k]).join("failure.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    };
    assert_eq!(failure(1)["status"], "diverged");
    assert!(failure(1)["error"].as_str().unwrap().starts_with("diverged at step"));
    assert_eq!(failure(2)["status"], "failed");
    assert!(failure(2)["error"].as_str().unwrap().contains("holds the outputs of a different scenario"));
    ok(&["sweep", "collect", s(&out), "--quiet"]);
    assert_eq!(results(&out), rows);
    // Run again with --force: the failed run's folder is cleared and it completes; the diverged one diverges again.
    let again = meanfield(&["sweep", s(&file), "--out", s(&out), "--quiet", "--force"]);
    assert_eq!(again.status.code(), Some(3));
    let status: Vec<String> = results(&out)[1..].iter().map(|r| r.last().unwrap().clone()).collect();
    assert_eq!(status, ["ok", "diverged", "ok"]);
    assert!(!out.join("runs").join(&runs[2]).join("failure.json").exists());
}

/// `sweep --set KEY=VALUE` changes the base scenario of every run, exactly as the same override in the
/// sweep file's `set` does; a bad override is refused naming it.
#[test]
fn set_overrides_the_base_scenario_of_every_run() {
    let (tmp, file) = setup(50, 50);
    let out = tmp.path().join("out");
    ok(&["sweep", s(&file), "--out", s(&out), "--quiet", "--set", "run.steps=20", "--set", "model.m=30"]);
    let rows = results(&out);
    assert_eq!(rows.len(), 9);
    for row in &rows[1..] {
        let summary = std::fs::read_to_string(out.join("runs").join(&row[3]).join("summary.json")).unwrap();
        let json: serde_json::Value = serde_json::from_str(&summary).unwrap();
        assert_eq!(json["scenario"]["run"]["steps"].as_u64(), Some(20));
        assert_eq!(json["scenario"]["model"]["m"].as_u64(), Some(30));
    }
    let in_file = tmp.path().join("in-file.toml");
    std::fs::write(&in_file, format!("set = [\"run.steps=20\", \"model.m=30\"]\n{SWEEP}")).unwrap();
    let same = tmp.path().join("same");
    ok(&["sweep", s(&in_file), "--out", s(&same), "--quiet"]);
    assert_eq!(results(&same), rows);
    let plain = tmp.path().join("plain");
    assert!(hashes(&file, &plain).iter().all(|h| !rows.iter().any(|r| &r[3] == h)), "--set must change the runs");
    let bad = meanfield(&["sweep", s(&file), "--set", "model.m=-1", "--dry-run"]);
    assert_eq!(bad.status.code(), Some(2));
    let message = String::from_utf8(bad.stderr).unwrap();
    assert!(message.contains("model.m=-1") && message.contains("field `model.m`"), "{message}");
}

/// The exit code and stderr of a sweep over `text` (with `base.toml` beside it).
fn rejected(text: &str) -> (Option<i32>, String) {
    let (tmp, file) = setup(100, 10);
    std::fs::write(&file, text).unwrap();
    let out = meanfield(&["sweep", s(&file), "--out", s(&tmp.path().join("out")), "--quiet"]);
    assert!(!tmp.path().join("out").exists(), "nothing is written for an invalid sweep");
    (out.status.code(), String::from_utf8(out.stderr).unwrap().replace(s(&file), "SWEEP"))
}

#[test]
fn bad_sweep_files_give_precise_errors() {
    let cases = [
        (
            "base = \"base.toml\"\ncolour = \"red\"",
            "error: SWEEP: field `colour`: unknown field `colour`, expected one of `name`, `base`, `set`, `seeds`, `axis`, `plot`\n",
        ),
        (
            "base = \"base.toml\"\n[[axis]]\nkey = \"lambda\"\nvalues = []",
            "error: SWEEP: field `axis[0].values` = []: an axis needs at least one value\n",
        ),
        (
            "base = \"base.toml\"\n[[axis]]\nkey = \"lambda\"\nvalues = [0.1, 0.2]\nzip = \"p\"\n[[axis]]\nkey = \"dynamics.eta\"\nvalues = [0.1, 0.2, 0.3]\nzip = \"p\"",
            "error: SWEEP: field `axis[1].zip` = \"p\": zipped axes need the same number of values: lambda has 2, dynamics.eta has 3\n",
        ),
        (
            "base = \"base.toml\"\nset = [\"run.steps=20\"]\n[[axis]]\nkey = \"dynamics.sigma\"\nvalues = [0.1]",
            "dynamics.sigma=0.1): ",
        ),
        (
            "base = \"base.toml\"\n[[axis]]\nkey = \"lambda\"\nlinspace = { start = 0.0, stop = 1.0, num = 0 }",
            "error: SWEEP: field `axis[0].linspace.num` = 0: must be between 1 and 1000000\n",
        ),
        (
            "base = \"base.toml\"\n[[axis]]\nkey = \"lambda\"\nvalues = [0.1]\n[[plot]]\nkind = \"heatmap\"\nx = \"lambda\"\ny = \"seed\"\nvalue = \"gap\"",
            "error: SWEEP: field `plot[0].y` = \"seed\": must be an axis: lambda\n",
        ),
    ];
    for (text, expected) in cases {
        let (code, message) = rejected(text);
        assert_eq!(code, Some(2), "{message}");
        assert!(message.ends_with(expected) || message.contains(expected), "{message:?} lacks {expected:?}");
    }
    let (_, message) = rejected(cases[3].0);
    assert!(message.starts_with("error: SWEEP: run 0 (run.steps=20 dynamics.sigma=0.1): "), "{message}");
    assert!(
        message.ends_with("field `dynamics.sigma` = 0.1: only applies to perturbed dynamics; remove it\n"),
        "{message}"
    );
    let shard = meanfield(&["sweep", "x.toml", "--shard", "4/3"]);
    assert_eq!(shard.status.code(), Some(2));
}

#[test]
fn the_bundled_sweep_resolves_to_its_grid() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/sweeps/noise-temperature.toml");
    let tmp = tempfile::tempdir().unwrap();
    let listing = String::from_utf8(ok(&["sweep", s(&file), "--dry-run", "--out", s(tmp.path())]).stdout).unwrap();
    let lines: Vec<&str> = listing.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(header, ["index", "run", "status", "dynamics.sigma", "dynamics.tau", "seed"]);
    assert_eq!(lines.len(), 1 + 48 + 1);
    let first: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!([first[0], first[2], first[3], first[4], first[5]], ["0", "pending", "0.0", "0.0", "1"]);
    let last: Vec<&str> = lines[48].split_whitespace().collect();
    assert_eq!([last[0], last[2], last[3], last[4], last[5]], ["47", "pending", "0.05", "0.0001", "3"]);
    assert_eq!(lines[49], format!("48 of 48 runs; outputs in {}", tmp.path().display()));
}
