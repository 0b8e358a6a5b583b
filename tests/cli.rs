//! The command line as a user meets it: runs, overrides, outputs, errors and determinism.

use std::path::Path;
use std::process::{Command, Output};

mod common;

fn meanfield(args: &[&str], threads: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_meanfield"));
    cmd.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    if let Some(t) = threads {
        cmd.env("RAYON_NUM_THREADS", t);
    }
    cmd.output().expect("the binary runs")
}

fn ok(args: &[&str]) -> Output {
    let out = meanfield(args, None);
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// metrics.csv without its header and its wall_seconds column.
fn metrics_without_wall(dir: &Path) -> Vec<Vec<String>> {
    common::table_without(&dir.join("metrics.csv"), "wall_seconds").split_off(1)
}

fn column(rows: &[Vec<String>], dir: &Path, name: &str) -> Vec<f64> {
    let headers = csv::Reader::from_path(dir.join("metrics.csv")).unwrap().headers().unwrap().clone();
    let i = headers.iter().position(|h| h == name).unwrap();
    rows.iter().map(|r| r[i].parse().unwrap()).collect()
}

#[test]
fn quickstart_writes_every_output_and_the_loss_decreases() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("qs");
    ok(&["run", "scenarios/quickstart.toml", "--out", out.to_str().unwrap(), "--quiet", "--set", "run.steps=400"]);
    for file in ["metrics.csv", "particles.npy", "scenario.toml", "summary.json"] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    for figure in ["loss", "errors", "cloud"] {
        let png = std::fs::read(out.join(format!("{figure}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{figure}.png is a PNG");
        let svg = std::fs::read_to_string(out.join(format!("{figure}.svg"))).unwrap();
        assert!(svg.contains("time t") || svg.contains("u1"), "{figure}.svg has labelled axes");
    }
    let header = std::fs::read_to_string(out.join("metrics.csv")).unwrap().lines().next().unwrap().to_string();
    for col in meanfield::metrics::Metrics::COLUMNS {
        assert!(header.split(',').any(|h| h == col), "column {col} missing from {header}");
    }
    let rows = metrics_without_wall(&out);
    let loss = column(&rows, &out, "loss");
    assert!(loss.last().unwrap() < &(0.5 * loss[0]), "loss {} -> {}", loss[0], loss.last().unwrap());
    assert_eq!(column(&rows, &out, "step").last(), Some(&400.0));
    // `train_loss` is an alias of `data_fit` (the metrics table documents it so).
    assert_eq!(column(&rows, &out, "train_loss"), column(&rows, &out, "data_fit"));
    let particles = meanfield::output::read_npy(&out.join("particles.npy")).unwrap();
    assert_eq!(particles.shape(), &[2000, 3]);
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["seed"], 1);
    assert_eq!(summary["m"], 2000);
    assert_eq!(summary["final"]["step"], 400);
    assert_eq!(summary["final"]["loss"].as_f64(), loss.last().copied());

    // The resolved scenario reproduces the run.
    let again = tmp.path().join("again");
    ok(&["run", out.join("scenario.toml").to_str().unwrap(), "--out", again.to_str().unwrap(), "--quiet"]);
    assert_eq!(metrics_without_wall(&again), rows);
    assert_eq!(std::fs::read(again.join("particles.npy")).unwrap(), std::fs::read(out.join("particles.npy")).unwrap());
}

#[test]
fn overrides_and_seed_change_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o");
    let args = ["run", "scenarios/perturbed.toml", "--quiet", "--seed", "5", "--set", "run.steps=30"];
    let set = ["--set", "dynamics.sigma=0.5", "--set", "data.n=25", "--set", "model.m=300", "--out"];
    ok(&[&args[..], &set[..], &[out.to_str().unwrap()]].concat());
    let resolved: toml::Table = toml::from_str(&std::fs::read_to_string(out.join("scenario.toml")).unwrap()).unwrap();
    assert_eq!(resolved["seed"].as_integer(), Some(5));
    assert_eq!(resolved["dynamics"]["sigma"].as_float(), Some(0.5));
    assert_eq!(resolved["data"]["n"].as_integer(), Some(25));
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        (summary["n"].as_u64(), summary["m"].as_u64(), summary["final"]["step"].as_u64()),
        (Some(25), Some(300), Some(30))
    );
}

#[test]
fn validate_reports_a_precise_error_without_panicking() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.toml");
    std::fs::write(
        &bad,
        "lambda = 0.1\n[data]\nkind = \"paper\"\nn = 10\nd = 1\n[model]\nm = 5\n[dynamics]\nkind = \"gd\"\neta = 0.1\n",
    )
    .unwrap();
    let out = meanfield(&["validate", bad.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr,
        format!("error: {}: field `data.d` = 1: must be at least 2 for data.kind = \"paper\"\n", bad.display())
    );

    let out = meanfield(&["validate", "scenarios/quickstart.toml", "--set", "dynamics.eta=-0.5"], None);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "error: --set dynamics.eta=-0.5: field `dynamics.eta` = -0.5: must be a finite number > 0\n"
    );
    let out = meanfield(&["validate", "no/such/file.toml"], None);
    assert_eq!(out.status.code(), Some(1));

    let out = ok(&["validate", "scenarios/quickstart.toml"]);
    let resolved: toml::Table = toml::from_str(&String::from_utf8(out.stdout).unwrap()).unwrap();
    assert_eq!(resolved["name"].as_str(), Some("quickstart"));
}

#[test]
fn every_bundled_scenario_validates() {
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            ok(&["validate", path.to_str().unwrap()]);
        }
    }
}

#[test]
fn outputs_are_identical_for_one_and_two_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |threads: &str, scenario: &str| {
        let out = tmp.path().join(format!("{threads}-{}", scenario.replace('/', "_")));
        let args = [
            "run",
            scenario,
            "--quiet",
            "--set",
            "run.steps=60",
            "--set",
            "run.log_every=7",
            "--out",
            out.to_str().unwrap(),
        ];
        let status = meanfield(&args, Some(threads));
        assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
        (metrics_without_wall(&out), std::fs::read(out.join("particles.npy")).unwrap())
    };
    for scenario in ["scenarios/quickstart.toml", "scenarios/langevin.toml", "scenarios/perturbed.toml"] {
        let one = run("1", scenario);
        let two = run("2", scenario);
        assert_eq!(one.0, two.0, "{scenario}: metrics.csv differs");
        assert!(one.1 == two.1, "{scenario}: particles.npy differs");
    }
}

/// The frames of a GIF file.
fn gif_frames(path: &Path) -> usize {
    let mut decoder = gif::DecodeOptions::new().read_info(std::fs::File::open(path).unwrap()).unwrap();
    let mut frames = 0;
    while decoder.read_next_frame().unwrap().is_some() {
        frames += 1;
    }
    frames
}

/// `run.movie` writes cloud.gif with a frame at step 0, every `movie_every` steps and at the last step, for d = 2
/// (|w| u) and for the `paper` projection (d = 20); `movie_every` without `movie` is refused.
#[test]
fn movie_writes_one_frame_per_recorded_step() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        ("scenarios/quickstart.toml", ["run.steps=250", "run.movie_every=100", "model.m=300"], 4),
        ("scenarios/paper-d.toml", ["run.steps=20", "run.movie_every=10", "model.m=200"], 3),
    ];
    for (k, (scenario, sets, frames)) in cases.into_iter().enumerate() {
        let out = tmp.path().join(format!("movie{k}"));
        let mut args = vec!["run", scenario, "--out", out.to_str().unwrap(), "--quiet", "--set", "run.movie=true"];
        args.extend(sets.iter().flat_map(|s| ["--set", s]));
        args.extend(["--set", "run.reference=false", "--set", "data.test_n=100"]);
        ok(&args);
        assert_eq!(gif_frames(&out.join("cloud.gif")), frames, "{scenario}");
    }
    let out = meanfield(&["validate", "scenarios/quickstart.toml", "--set", "run.movie_every=10"], None);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "error: --set run.movie_every=10: field `run.movie_every` = 10: only applies with run.movie = true; remove it\n"
    );
}
