//! Allocations beyond the machine refused through the binary before anything is allocated or
//! written (exit 2, the file or override, the field, its value and the bytes needed; no output
//! folder left): the exact certificate's search of the hyperplane arrangement, the NTK Gram
//! matrices of the figures `kernel-vs-net` and `sample-complexity`, and the convex program of
//! `meanfield optimum --data`.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_meanfield");
const QS: &str = "scenarios/quickstart.toml";

fn meanfield(args: &[&str]) -> Output {
    Command::new(BIN).args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Checks exit code 2, the start of the message and the part named in it.
fn refused(out: &Output, head: &str, part: &str) {
    let message = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{message}");
    assert!(message.starts_with(head), "expected to start with {head:?}:\n{message}");
    assert!(message.contains(part), "expected {part:?} in:\n{message}");
    assert!(message.contains(" but only ") && message.contains(" are available; "), "{message}");
    assert_eq!(message.lines().count(), 1, "{message}");
}

/// `meanfield run SCENARIO --quiet --out OUT --set S` for each S of `sets`.
fn run(scenario: &str, out: &Path, sets: &[&str]) -> Output {
    let mut args = vec!["run", scenario, "--quiet", "--out", s(out)];
    sets.iter().for_each(|set| args.extend(["--set", set]));
    meanfield(&args)
}

#[test]
fn an_exact_certificate_in_high_dimension_is_refused_before_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("exact");
    // From an override: the message names it.
    let output = run(QS, &out, &["run.reference=false", "data.d=3000", "run.certificate=exact"]);
    refused(
        &output,
        "error: --set run.certificate=exact: field `run.certificate` = \"exact\": the run would need about ",
        " for the exact certificate's search of the arrangement of 20 hyperplanes in d = 3000 \
         (certificate = \"estimate\" needs none)) but only ",
    );
    assert!(!out.exists(), "a refused run leaves no folder");
    // From the scenario file: the message names the file; `validate` checks values, not the
    // machine, and accepts it.
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(QS)).unwrap();
    let text = text.replacen("d = 2 ", "d = 3000 ", 1).replacen("certificate = \"auto\"", "certificate = \"exact\"", 1);
    let file = tmp.path().join("exact.toml");
    std::fs::write(&file, text).unwrap();
    let output = run(s(&file), &out, &["run.reference=false"]);
    refused(
        &output,
        &format!("error: {}: field `run.certificate` = \"exact\": the run would need about ", s(&file)),
        " in d = 3000 ",
    );
    assert!(!out.exists());
    assert_eq!(meanfield(&["validate", s(&file)]).status.code(), Some(0));
    // In d = 3 the same exact certificate is small and runs.
    let sets = ["run.reference=false", "run.plots=false", "data.d=3", "run.steps=2", "run.log_every=1"];
    let output = run(QS, &out, &[&sets[..], &["run.certificate=exact"]].concat());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let metrics = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert_eq!(metrics.lines().count(), 4, "{metrics}");
}

/// A figure's parameter file with `replace` = (from, to) applied.
fn parameters(tmp: &Path, name: &str, replace: &[(&str, &str)]) -> std::path::PathBuf {
    let mut text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/paper/{name}.toml")))
            .unwrap();
    for (from, to) in replace {
        assert!(text.contains(from), "{name}: {from:?}");
        text = text.replacen(from, to, 1);
    }
    let path = tmp.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_ntk_gram_matrices_of_the_figures_are_estimated_before_the_figure_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("figures");
    let config =
        parameters(tmp.path(), "kernel-vs-net", &[("n = [20, 50, 100, 200, 500, 1000, 2000]", "n = [20, 3000000]")]);
    let output = meanfield(&["figure", "kernel-vs-net", "--quiet", "--config", s(&config), "--out", s(&out)]);
    refused(
        &output,
        &format!("error: {}: field `n` = 3000000: the run would need about ", s(&config)),
        " x 3000000 each)) but only ",
    );
    assert!(stderr(&output).contains("for the NTK Gram matrices ("), "{}", stderr(&output));
    assert!(stderr(&output).ends_with("reduce the sizes in the figure's parameter file (--config FILE)\n"));
    assert!(!out.exists(), "a refused figure leaves no folder");
    let config = parameters(tmp.path(), "sample-complexity", &[("n_max = 8192", "n_max = 4000000")]);
    let output = meanfield(&["figure", "sample-complexity", "--quiet", "--config", s(&config), "--out", s(&out)]);
    refused(
        &output,
        &format!("error: {}: field `n_max` = 4000000: the run would need about ", s(&config)),
        " x 4000000 each)) but only ",
    );
    assert!(!out.exists(), "a refused figure leaves no folder");
    // A large test set drives the kernel between test and training inputs.
    let config = parameters(tmp.path(), "kernel-vs-net", &[("test_n = 1000", "test_n = 100000000000")]);
    let output = meanfield(&["figure", "kernel-vs-net", "--quiet", "--config", s(&config), "--out", s(&out)]);
    refused(
        &output,
        &format!("error: {}: field `test_n` = 100000000000: the run would need about ", s(&config)),
        "for the NTK Gram matrices (",
    );
    assert!(!out.exists());
}

#[test]
fn optimum_on_a_large_csv_is_refused_before_the_convex_program() {
    let tmp = tempfile::tempdir().unwrap();
    let (n, d) = (100_000, 30);
    let mut text = (1..=d).map(|j| format!("x{j},")).collect::<String>() + "y\n";
    for i in 0..n {
        for j in 0..d {
            text.push_str(if (i + j) % 3 == 0 { "-1," } else { "1," });
        }
        text.push_str(if i % 2 == 0 { "1\n" } else { "-1\n" });
    }
    let csv = tmp.path().join("big.csv");
    std::fs::write(&csv, text).unwrap();
    let particles = tmp.path().join("p.npy");
    let output =
        meanfield(&["optimum", "--data", s(&csv), "--lambda", "0.01", "--particles", s(&particles), "--quiet"]);
    refused(
        &output,
        "error: meanfield optimum: field `--data` = 100000 samples in d = 30: the run would need about ",
        " for the convex program of L*) but only ",
    );
    assert!(stderr(&output).ends_with("; use fewer samples\n"), "{}", stderr(&output));
    assert!(!particles.exists());
}

#[test]
fn validate_names_the_override_of_a_value_that_overflows() {
    // `validate` reads an init file and checks the initial state it gives.
    let tmp = tempfile::tempdir().unwrap();
    let npy = tmp.path().join("big.npy");
    let mut theta = ndarray::Array2::<f64>::ones((10, 3));
    theta[[0, 0]] = 1e308;
    meanfield::output::write_npy(&npy, &theta).unwrap();
    let init = format!("model.init={{file={:?}}}", s(&npy));
    let output = meanfield(&["validate", QS, "--set", &init, "--unset", "model.m"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        format!(
            "error: --set {init}: field `model.init.file` = {:?}: the initial cloud is too large: a particle's \
             |theta|^2 overflows (f64 precision); use particles of norm below 1e100\n",
            s(&npy)
        )
    );
}
