//! What a user meets on the command line beyond the happy path: inputs that overflow, overrides
//! that are wrong, paths that are not files or folders, exit codes, resuming and extending runs,
//! `validate` reading the files, `--unset`, `--threads`, `compare` and `figure` messages. Each case
//! asserts the exit code and the exact message.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

fn meanfield_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meanfield")).args(args).current_dir(dir).output().expect("the binary runs")
}

fn meanfield(args: &[&str]) -> Output {
    meanfield_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

/// (exit code, stderr) of a command that must fail.
fn fails(args: &[&str]) -> (i32, String) {
    let out = meanfield(args);
    assert!(!out.status.success(), "{args:?} succeeded");
    (out.status.code().expect("exited"), String::from_utf8(out.stderr).unwrap())
}

fn ok(args: &[&str]) -> Output {
    let out = meanfield(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const QS: &str = "scenarios/quickstart.toml";
/// The quickstart's teacher keys, removed to give it csv data.
const TEACHER_KEYS: [&str; 12] = [
    "--unset",
    "data.hidden",
    "--unset",
    "data.task",
    "--unset",
    "data.margin",
    "--unset",
    "data.n",
    "--unset",
    "data.d",
    "--unset",
    "data.test_n",
];

fn run_args<'a>(out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run", QS, "--quiet", "--out", s(out), "--set", "run.steps=10", "--set", "run.reference=false"];
    args.extend_from_slice(extra);
    args
}

#[test]
fn inputs_that_overflow_are_named_before_the_first_step() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o");
    let cases: &[(&[&str], String)] = &[
        (
            &["--set", "lambda=1e308"],
            "field `lambda` = 1e308: the penalty lambda * integral |theta|^2 d rho = 1e308 * 2.957 overflows; \
             use a lambda below 1e100"
                .into(),
        ),
        (
            &["--set", "model.init.s_w=1e308"],
            "field `model.init.s_w` = 1e308: the initial cloud is too large: a particle's |theta|^2 overflows \
             (f64 precision); use particles of norm below 1e100"
                .into(),
        ),
        (
            &["--set", "model.init={kind=\"sphere\", radius=1e308}"],
            "field `model.init.radius` = 1e308: the initial cloud is too large: a particle's |theta|^2 overflows \
             (f64 precision); use particles of norm below 1e100"
                .into(),
        ),
    ];
    for (extra, message) in cases {
        // The value came from the override, which the message names (as errors of loading do).
        let (code, stderr) = fails(&run_args(&out, extra));
        assert_eq!(
            (code, stderr.as_str()),
            (2, format!("error: --set {}: {message}\n", extra[1]).as_str()),
            "{extra:?}"
        );
        assert!(!out.exists(), "{extra:?}: nothing is written");
    }
    // The same value written in the scenario file names the file.
    let file = tmp.path().join("huge-lambda.toml");
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(QS)).unwrap();
    std::fs::write(&file, text.replacen("lambda = 0.01", "lambda = 1e308", 1)).unwrap();
    let (code, stderr) = fails(&["run", s(&file), "--quiet", "--out", s(&out), "--set", "run.reference=false"]);
    assert_eq!((code, stderr), (2, format!("error: {}: {}\n", s(&file), cases[0].1)));
    assert!(!out.exists());
    // Inputs of 1e308 in a csv file.
    let csv = tmp.path().join("big.csv");
    std::fs::write(&csv, "x1,x2,y\n1e308,1,1\n0.5,-1,-1\n").unwrap();
    let path = format!("data.path={}", s(&csv));
    let mut extra = vec!["--set", "data.kind=csv", "--set", &path];
    extra.extend_from_slice(&TEACHER_KEYS);
    let (code, stderr) = fails(&run_args(&out, &extra));
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        format!(
            "error: --set {path}: field `data.path` = {:?}: inputs as large as 1e308 give an initial prediction F = NaN \
             (an overflow); rescale them so that the predictions start of order 1\n",
            s(&csv)
        )
    );
    // Particles of 1e308 in an init file.
    let npy = tmp.path().join("big.npy");
    let mut theta = ndarray::Array2::<f64>::ones((10, 3));
    theta[[0, 0]] = 1e308;
    meanfield::output::write_npy(&npy, &theta).unwrap();
    let init = format!("model.init={{file={:?}}}", s(&npy));
    let (code, stderr) = fails(&run_args(&out, &["--set", &init, "--unset", "model.m"]));
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        format!(
            "error: --set {init}: field `model.init.file` = {:?}: the initial cloud is too large: a particle's |theta|^2 \
             overflows (f64 precision); use particles of norm below 1e100\n",
            s(&npy)
        )
    );
    // A huge step size diverges (exit 3) and is printed short.
    let (code, stderr) = fails(&run_args(&out, &["--set", "dynamics.eta=1e308"]));
    assert_eq!(code, 3);
    assert!(stderr.ends_with("the step size eta = 1e308 is too large, try eta = 1e307\n"), "{stderr}");
    // `validate` prints the resolved scenario with such values short too (not 309 digits).
    let shown = meanfield(&["validate", QS, "--set", "dynamics.eta=1e308", "--set", "lambda=1e-300"]);
    assert!(shown.status.success());
    let shown = String::from_utf8(shown.stdout).unwrap();
    assert!(shown.contains("\neta = 1e308\n") && shown.contains("\nlambda = 1e-300\n"), "{shown}");
}

#[test]
fn override_errors_name_the_override() {
    let cases: &[(&[&str], &str)] = &[
        (&["--set", "lambda=0.1=0.2"], "error: --set lambda=0.1=0.2: `0.1=0.2` is not a value; give one KEY=VALUE per --set\n"),
        (
            &["--set", "lambda=1e400"],
            "error: --set lambda=1e400: `1e400` overflows a 64-bit float (the largest is about 1.8e308); write inf if you \
             mean it\n",
        ),
        (&["--set", "data=1"], "error: --set data=1: field `data`: invalid type: integer `1`, expected a table\n"),
        (
            &["--set", "model.m=many"],
            "error: --set model.m=many: field `model.m`: invalid type: string \"many\", expected an integer >= 0\n",
        ),
        (
            &["--set", "dynamics.eta=-0.5"],
            "error: --set dynamics.eta=-0.5: field `dynamics.eta` = -0.5: must be a finite number > 0\n",
        ),
        (
            &["--set", "seed=9223372036854775808"],
            "error: --set seed=9223372036854775808: `9223372036854775808` is outside the range of TOML integers \
             (-9223372036854775808 to 9223372036854775807)\n",
        ),
        (&["--unset", "data.foo"], "error: --unset data.foo: the scenario has no key `data.foo`\n"),
    ];
    for (extra, message) in cases {
        let mut args = vec!["validate", QS];
        args.extend_from_slice(extra);
        assert_eq!(fails(&args), (2, message.to_string()), "{extra:?}");
    }
    let (code, stderr) = fails(&["validate", QS, "--seed", "9223372036854775808"]);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with(
            "error: invalid value '9223372036854775808' for '--seed <SEED>': 9223372036854775808 is not in \
             0..=9223372036854775807\n"
        ),
        "{stderr}"
    );
    let out = ok(&["validate", QS, "--seed", "9223372036854775807"]);
    assert!(String::from_utf8(out.stdout).unwrap().contains("seed = 9223372036854775807\n"));
}

#[test]
fn unset_removes_a_key_before_the_overrides() {
    let (code, stderr) = fails(&["validate", QS, "--set", "data.task=regression", "--set", "loss=squared"]);
    assert_eq!(
        (code, stderr.as_str()),
        (2, "error: scenarios/quickstart.toml: field `data.margin` = 0.1: only applies to data.task = \"classification\"; remove it\n")
    );
    let out = ok(&["validate", QS, "--unset", "data.margin", "--set", "data.task=regression", "--set", "loss=squared"]);
    let resolved: toml::Table = toml::from_str(&String::from_utf8(out.stdout).unwrap()).unwrap();
    assert_eq!(resolved["data"]["task"].as_str(), Some("regression"));
    assert!(resolved["data"].get("margin").is_none());
}

#[test]
fn exit_codes_follow_the_readme() {
    let tmp = tempfile::tempdir().unwrap();
    let latin1 = tmp.path().join("latin1.toml");
    std::fs::write(&latin1, b"name = \"caf\xe9\"\n").unwrap();
    assert_eq!(
        fails(&["validate", s(&latin1)]),
        (
            2,
            format!(
                "error: {}: not valid TOML: the file is not UTF-8 text: invalid byte at offset 11 (line 1, column 12)\n",
                s(&latin1)
            )
        )
    );
    let none = tmp.path().join("none");
    assert_eq!(
        fails(&["compare", s(&none), "--out", s(&tmp.path().join("c"))]),
        (1, format!("error: {}: no such run folder\n", s(&none)))
    );
    let (code, stderr) = fails(&["sweep", "collect", s(&none)]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(fails(&["validate", s(&tmp.path().join("no.toml"))]).0, 1, "a missing file cannot be read: 1");
}

#[test]
fn paths_that_are_not_regular_files_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let folder = tmp.path().to_path_buf();
    let cases: [(&Path, &str); 3] = [
        (&folder, "is a directory, not a file"),
        (&fifo, "is a named pipe (FIFO), not a regular file"),
        (Path::new("/dev/zero"), "is a character device, not a regular file"),
    ];
    for (path, what) in cases {
        let set = format!("data.path={}", s(path));
        let mut args = vec!["validate", QS, "--set", "data.kind=csv", "--set", &set];
        args.extend_from_slice(&TEACHER_KEYS);
        assert_eq!(fails(&args), (2, format!("error: --set {set}: field `data.path` = {:?}: {what}\n", s(path))));
        let set = format!("model.init={{file={:?}}}", s(path));
        assert_eq!(
            fails(&["validate", QS, "--set", &set]),
            (2, format!("error: --set {set}: field `model.init.file` = {:?}: {what}\n", s(path)))
        );
        assert_eq!(
            fails(&["optimum", "--data", s(path), "--lambda", "0.1"]),
            (2, format!("error: {}:open: {what}\n", s(path)))
        );
        assert_eq!(fails(&["validate", s(path)]), (2, format!("error: {}:open: {what}\n", s(path))));
    }
}

#[test]
fn bad_names_counts_and_output_paths() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["a\nb", "a\u{1b}[31mb", "a\u{0}b"] {
        let set = format!("name={}", toml::Value::String(name.into()));
        let (code, stderr) = fails(&["validate", QS, "--set", &set]);
        assert_eq!(code, 2);
        assert_eq!(
            stderr,
            format!(
                "error: --set {set}: field `name` = {name:?}: a non-empty name without / or \\ or control characters \
                 (newline, tab, NUL, ESC...) that does not start with .\n"
            )
        );
    }
    let sweep = "scenarios/sweeps/noise-temperature.toml";
    assert_eq!(
        fails(&["sweep", sweep, "--jobs", "0", "--dry-run"]),
        (
            2,
            format!(
                "error: --jobs 0: must be at least 1 (omit it to use all {} cores)\n",
                meanfield::resources::cores()
            )
        )
    );
    assert_eq!(
        fails(&["sweep", sweep, "--shard", "0/2", "--dry-run"]),
        (2, "error: --shard 0/2: the part I = 0 must be between 1 and N = 2\n".into())
    );
    assert_eq!(
        fails(&["sweep", sweep, "--shard", "1/0", "--dry-run"]),
        (2, "error: --shard 1/0: the number of parts N must be at least 1\n".into())
    );
    let file = tmp.path().join("file");
    std::fs::write(&file, "keep").unwrap();
    assert_eq!(
        fails(&run_args(&file, &[])),
        (
            2,
            format!("error: --out {}: is a file, not a folder; choose a folder (it is created if missing)\n", s(&file))
        )
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep");
    // Plots into /proc: the folder is checked before any work.
    let run = tmp.path().join("run");
    ok(&run_args(&run, &["--set", "run.plots=false"]));
    let proc = "error: /proc: cannot create files in this folder (No such file or directory (os error 2))\n";
    assert_eq!(fails(&["compare", s(&run), "--out", "/proc/cmp"]), (1, proc.to_string()));
    let (code, stderr) =
        fails(&["bench", "--scaling", "m", "--m", "1000", "--n", "10", "--d", "2", "--plot", "/proc/b"]);
    assert_eq!((code, stderr.as_str()), (1, proc));
    // `figure --out FILE` fails at once, before computing anything.
    let started = std::time::Instant::now();
    let (code, stderr) = fails(&["figure", "temperature", "--out", s(&file)]);
    assert_eq!((code, stderr), (1, format!("error: {}: is a file, not a folder\n", s(&file))));
    assert!(started.elapsed().as_secs_f64() < 10.0, "figure computed before checking --out");
}

#[test]
fn compare_prints_the_files_it_wrote() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("gd");
    ok(&run_args(&run, &["--set", "run.plots=false"]));
    let stem = tmp.path().join("figs/cmp");
    let out = ok(&["compare", s(&run), "--out", s(&stem)]);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), format!("wrote {0}.png and {0}.svg\n", s(&stem)));
    assert!(stem.with_extension("png").is_file() && stem.with_extension("svg").is_file());
}

/// metrics.csv without wall_seconds, and particles.npy, of a run folder.
fn outputs(dir: &Path) -> (Vec<Vec<String>>, Vec<u8>) {
    (common::table_without(&dir.join("metrics.csv"), "wall_seconds"), std::fs::read(dir.join("particles.npy")).unwrap())
}

fn quick_run<'a>(out: &'a Path, steps: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run", QS, "--quiet", "--out", s(out), "--set", steps, "--set", "run.log_every=30"];
    args.extend_from_slice(&["--set", "run.plots=false", "--set", "model.m=300"]);
    args.extend_from_slice(extra);
    args
}

#[test]
fn resume_extends_a_finished_run_to_the_outputs_of_a_longer_one() {
    let tmp = tempfile::tempdir().unwrap();
    for (extra, label) in [
        (&[][..], "gd"),
        (
            &["--set", "dynamics.kind=langevin", "--set", "dynamics.tau=1e-3", "--set", "precision=f32"][..],
            "langevin f32",
        ),
    ] {
        let (short, long) = (tmp.path().join(format!("{label}-short")), tmp.path().join(format!("{label}-long")));
        ok(&quick_run(&short, "run.steps=100", extra));
        ok(&quick_run(&short, "run.steps=250", &[extra, &["--resume"]].concat()));
        ok(&quick_run(&long, "run.steps=250", extra));
        assert_eq!(outputs(&short), outputs(&long), "{label}: extended 100 -> 250 differs from 250 steps");
        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(short.join("summary.json")).unwrap()).unwrap();
        assert_eq!(summary["steps"], 250);
    }
    // Nothing to extend, or a different scenario: the message says which.
    let dir = tmp.path().join("gd-short");
    let (code, stderr) = fails(&quick_run(&dir, "run.steps=250", &["--resume"]));
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        format!(
            "error: {}:resume: the run is complete at run.steps = 250; to extend it, raise run.steps (--set \
             run.steps=N, N > 250)\n",
            s(&dir.join("summary.json"))
        )
    );
    let (code, stderr) = fails(&quick_run(&dir, "run.steps=400", &["--resume", "--set", "dynamics.eta=0.1"]));
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        format!(
            "error: {}:resume: the finished run belongs to a different scenario: `dynamics.eta` = 0.5 there, 0.1 now \
             (and 1 more: run.steps); only run.steps may change on --resume (to start afresh, run with --force and \
             without --resume)\n",
            s(&dir.join("summary.json"))
        )
    );
}

#[test]
fn resume_from_a_checkpoint_names_the_field_that_differs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cp");
    ok(&quick_run(&dir, "run.steps=120", &["--set", "run.checkpoint_every=60"]));
    // A complete run removes its checkpoint: make one as an interrupted run would leave.
    let checkpoint: PathBuf = dir.join("checkpoint.bin");
    assert!(!checkpoint.exists());
    let scenario = meanfield::config::ValidScenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join(QS),
        &["run.steps=120", "run.log_every=30", "run.plots=false", "model.m=300", "run.checkpoint_every=60"]
            .map(String::from),
    )
    .unwrap();
    let (mut sim, state) = meanfield::setup::simulation::<f64>(&scenario).unwrap();
    let state = (0..60).try_fold(state, |s, _| sim.step(s)).unwrap();
    sim.checkpoint(&state, &scenario.to_toml()).unwrap().write(&checkpoint).unwrap();
    let changed = ["--resume", "--set", "lambda=0.02", "--set", "run.checkpoint_every=60"];
    let (code, stderr) = fails(&quick_run(&dir, "run.steps=120", &changed));
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        format!(
            "error: {}:resume: the checkpoint belongs to a different scenario: `lambda` = 0.01 there, 0.02 now; only \
             run.steps may change on --resume (to start afresh, run with --force and without --resume)\n",
            s(&checkpoint)
        )
    );
}

#[test]
fn validate_reads_the_data_and_cloud_files_as_run_does() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("bad.csv");
    std::fs::write(&csv, "x1,x2,y\n1,zz,1\n").unwrap();
    let set = format!("data.path={}", s(&csv));
    let mut args = vec!["--set", "data.kind=csv", "--set", &set];
    args.extend_from_slice(&TEACHER_KEYS);
    let message = format!("error: {}:2: column `x2`: `zz` is not a number\n", s(&csv));
    let validate = [&["validate", QS][..], &args].concat();
    assert_eq!(fails(&validate), (2, message.clone()));
    let out = tmp.path().join("o");
    assert_eq!(fails(&run_args(&out, &args)), (2, message));
    // An f32 init file.
    let npy = tmp.path().join("f32.npy");
    let mut bytes = Vec::new();
    ndarray_npy::WriteNpyExt::write_npy(&ndarray::Array2::<f32>::ones((5, 3)), &mut bytes).unwrap();
    std::fs::write(&npy, bytes).unwrap();
    let set = format!("model.init={{file={:?}}}", s(&npy));
    let message = format!(
        "error: {}:npy: incorrect descriptor ('<f4') for this type; expected a 2-d float64 array (C order)\n",
        s(&npy)
    );
    assert_eq!(fails(&["validate", QS, "--set", &set, "--unset", "model.m"]), (2, message.clone()));
    assert_eq!(fails(&run_args(&out, &["--set", &set, "--unset", "model.m"])), (2, message));
}

#[test]
fn threads_do_not_change_the_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let (one, two) = (tmp.path().join("one"), tmp.path().join("two"));
    ok(&quick_run(&one, "run.steps=60", &["--threads", "1"]));
    ok(&quick_run(&two, "run.steps=60", &["--threads", "2"]));
    assert_eq!(outputs(&one), outputs(&two));
    let (code, stderr) = fails(&quick_run(&one, "run.steps=60", &["--threads", "0"]));
    assert_eq!(
        (code, stderr),
        (
            2,
            format!(
                "error: --threads 0: must be at least 1 (omit it to use all {} cores)\n",
                meanfield::resources::cores()
            )
        )
    );
}

#[test]
fn figure_runs_outside_the_repository_and_prints_a_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let out = meanfield_in(tmp.path(), &["figure", "margin", "--quick", "--quiet", "--out", "figs"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("margin: "), "{stdout}");
    assert!(stdout.contains("; wrote figs/margin-quick.png, figs/margin-quick.svg and figs/margin-quick.json\n"));
    assert!(stdout.ends_with("  parameters: scenarios/paper/margin.toml (built in)\n"), "{stdout}");
    assert!(stdout.lines().count() < 20, "a short summary: {stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("figs/margin-quick.json")).unwrap()).unwrap();
    assert_eq!(report["name"], "margin");
}
