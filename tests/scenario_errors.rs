//! Every scenario rule has its own exact message naming the file, the field, the value and what is
//! allowed.

use std::path::Path;

use meanfield::config::{Scenario, ValidScenario};

const BASE: &str = r#"
lambda = 0.01
[data]
kind = "teacher"
d = 2
n = 20
[model]
m = 100
[dynamics]
kind = "gd"
eta = 0.5
"#;

fn check(text: &str, overrides: &[&str]) -> Result<ValidScenario, String> {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    Scenario::parse(text, "s.toml", &overrides).and_then(|s| s.check(Path::new("s.toml"))).map_err(|e| e.to_string())
}

fn error(overrides: &[&str]) -> String {
    check(BASE, overrides).expect_err("the scenario should be rejected")
}

#[test]
fn the_base_scenario_is_valid_and_gets_defaults() {
    let valid = check(BASE, &[]).unwrap();
    assert_eq!(valid.name, "s");
    let data = &valid.scenario.data;
    assert_eq!((data.test_n, data.hidden, data.margin), (Some(10_000), Some(6), Some(0.1)));
    assert_eq!(valid.scenario.model.init.s_w, Some(1.0));
}

#[test]
fn syntax_and_type_errors() {
    assert_eq!(
        check("lambda = [", &[]).unwrap_err(),
        "s.toml: not valid TOML: invalid array; expected `]` (line 1, column 11)"
    );
    assert_eq!(
        error(&["model.m=\"many\""]),
        "s.toml: field `model.m`: invalid type: string \"many\", expected an integer >= 0"
    );
    assert_eq!(error(&["lambda=true"]), "s.toml: field `lambda`: invalid type: boolean `true`, expected a number");
    assert_eq!(
        error(&["data.kind=\"mnist\""]),
        "s.toml: field `data.kind`: unknown variant `mnist`, expected one of `paper`, `xor`, `teacher`, `csv`"
    );
    assert_eq!(
        error(&["dynamics.schedule=\"cosine\""]),
        "s.toml: field `dynamics.schedule`: unknown variant `cosine`, expected `constant` or `inv_sqrt`"
    );
    assert_eq!(
        error(&["precision=\"f16\""]),
        "s.toml: field `precision`: unknown variant `f16`, expected `f64` or `f32`"
    );
    assert_eq!(
        error(&["loss=\"hinge\""]),
        "s.toml: field `loss`: unknown variant `hinge`, expected `logistic` or `squared`"
    );
    assert_eq!(error(&["seed=-1"]), "s.toml: field `seed`: invalid value: integer `-1`, expected an integer >= 0");
}

#[test]
fn unknown_and_missing_fields() {
    assert_eq!(
        error(&["data.size=3"]),
        "s.toml: field `data.size`: unknown field `size`, expected one of `kind`, `n`, `d`, `test_n`, `bias`, `noise`, `hidden`, `task`, `margin`, `label_noise`, `path`, `test_path`"
    );
    assert_eq!(
        error(&["steps=3"]),
        "s.toml: field `steps`: unknown field `steps`, expected one of `name`, `seed`, `precision`, `loss`, `lambda`, `data`, `model`, `dynamics`, `run`"
    );
    assert_eq!(
        check(&BASE.replace("lambda = 0.01", ""), &[]).unwrap_err(),
        "s.toml: field `.`: missing field `lambda`"
    );
    assert_eq!(
        error(&["dynamics.kind=\"perturbed\""]),
        "s.toml: field `dynamics.sigma`: missing; required with perturbed dynamics"
    );
    assert_eq!(
        error(&["dynamics.kind=\"langevin\""]),
        "s.toml: field `dynamics.tau`: missing; required with langevin dynamics"
    );
    assert_eq!(
        error(&["data.kind=\"csv\""]),
        "s.toml: field `data.n` = 20: only applies to synthetic data; a csv file sets its own size; remove it"
    );
    let csv = BASE.replace("d = 2\nn = 20\n", "").replace("\"teacher\"", "\"csv\"");
    assert_eq!(check(&csv, &[]).unwrap_err(), "s.toml: field `data.path`: missing; required with data.kind = \"csv\"");
    assert_eq!(check(&csv, &["data.path=\"none.csv\""]).unwrap_err().split(": no such").count(), 2);
}

#[test]
fn range_errors() {
    let cases: &[(&[&str], &str)] = &[
        (&["lambda=-0.1"], "field `lambda` = -0.1: must be a finite number >= 0"),
        (&["lambda=nan"], "field `lambda` = NaN: must be a finite number >= 0"),
        (&["dynamics.eta=0"], "field `dynamics.eta` = 0: must be a finite number > 0"),
        (&["dynamics.eta=inf"], "field `dynamics.eta` = inf: must be a finite number > 0"),
        (&["data.n=0"], "field `data.n` = 0: must be at least 1"),
        (&["data.d=0"], "field `data.d` = 0: must be at least 1 for data.kind = \"teacher\""),
        (&["data.kind=\"paper\"", "data.hidden=3"], "field `data.hidden` = 3: only applies to data.kind = \"teacher\"; remove it"),
        (&["data.kind=\"xor\"", "data.d=1"], "field `data.d` = 1: must be at least 2 for data.kind = \"xor\""),
        (&["data.noise=\"sign\""], "field `data.noise` = \"sign\": only applies to data.kind = \"xor\"; remove it"),
        (&["data.hidden=0"], "field `data.hidden` = 0: must be at least 1"),
        (&["data.margin=-1"], "field `data.margin` = -1: must be a finite number >= 0"),
        (&["data.task=\"regression\""], "field `data.task` = regression: needs loss = \"squared\"; the logistic loss needs labels in {-1, +1}"),
        (&["loss=\"squared\"", "data.task=\"regression\"", "data.label_noise=-2"], "field `data.label_noise` = -2: must be a finite number >= 0"),
        (&["data.label_noise=0.1"], "field `data.label_noise` = 0.1: only applies to data.task = \"regression\"; remove it"),
        (&["data.path=\"x.csv\""], "field `data.path` = \"x.csv\": only applies to data.kind = \"csv\"; remove it"),
        (&["model.m=0"], "field `model.m` = 0: must be at least 1"),
        (&["model.init.s_w=0"], "field `model.init.s_w` = 0: must be a finite number > 0"),
        (&["model.init.kind=\"sphere\"", "model.init.radius=-1"], "field `model.init.radius` = -1: must be a finite number > 0"),
        (&["model.init.radius=2"], "field `model.init.radius` = 2.0: only applies to model.init.kind = \"sphere\" or \"dead\"; remove it"),
        (&["dynamics.kind=\"sgd\""], "field `dynamics.kind` = \"sgd\": must be one of \"gd\", \"langevin\", \"perturbed\", \"langevin+perturbed\""),
        (&["dynamics.kind=\"gd+langevin\""], "field `dynamics.kind` = \"gd+langevin\": must be one of \"gd\", \"langevin\", \"perturbed\", \"langevin+perturbed\""),
        (&["dynamics.sigma=0.1"], "field `dynamics.sigma` = 0.1: only applies to perturbed dynamics; remove it"),
        (&["dynamics.kind=\"perturbed\"", "dynamics.sigma=-1"], "field `dynamics.sigma` = -1: must be a finite number >= 0"),
        (&["dynamics.kind=\"langevin\"", "dynamics.tau=1", "dynamics.tau_decay=1.5"], "field `dynamics.tau_decay` = 1.5: must be in (0, 1]"),
        (&["run.log_every=0"], "field `run.log_every` = 0: must be at least 1"),
        (&["name=\"../x\""], "field `name` = \"../x\": a non-empty name without / or \\ or control characters (newline, tab, NUL, ESC...) that does not start with ."),
    ];
    for (overrides, message) in cases {
        assert_eq!(error(overrides), format!("s.toml: {message}"), "{overrides:?}");
    }
}

#[test]
fn override_errors() {
    assert_eq!(error(&["lambda"]), "--set lambda: expected KEY=VALUE, for example dynamics.eta=0.1");
    assert_eq!(error(&["lambda.x=1"]), "--set lambda.x=1: `lambda` is not a table");
    assert_eq!(error(&[".x=1"]), "--set .x=1: the key must be a dotted path such as data.n");
}
