use std::path::Path;

use super::plan::{cell, fnv1a};
use super::*;
use crate::error::Result;

const BASE: &str = r#"
[base]
lambda = 0.01
data = { kind = "teacher", d = 2, n = 10, test_n = 0 }
model = { m = 20 }
dynamics = { kind = "langevin", eta = 0.5, tau = 0.0 }
run = { steps = 5, plots = false }
"#;

fn sweep(extra: &str) -> Result<Sweep> {
    SweepFile::parse(&format!("{extra}\n{BASE}"), "s.toml")?.check(Path::new("s.toml")).map(|(s, _)| s)
}

fn error(extra: &str) -> String {
    sweep(extra).expect_err("the sweep should be rejected").to_string()
}

#[test]
fn fnv1a_matches_the_reference_values() {
    assert_eq!(fnv1a(b""), 0xcbf29ce484222325);
    assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
    assert_eq!(fnv1a(b"foobar"), 0x85944171f73967e8);
}

#[test]
fn grid_zip_spacing_and_seeds_resolve_in_order() {
    let s = sweep(
        "seeds = 2\n[[axis]]\nkey = \"dynamics.eta\"\nlinspace = { start = 0.1, stop = 0.3, num = 3 }\nzip = \"a\"\n\
         [[axis]]\nkey = \"dynamics.tau\"\nlogspace = { start = 1e-6, stop = 1e-4, num = 3 }\nzip = \"a\"",
    )
    .unwrap();
    assert_eq!(s.runs.len(), 6);
    assert_eq!(s.axes[1].scale, AxisScale::Log);
    let values: Vec<Vec<String>> = s.runs.iter().map(|r| r.values.iter().map(cell).collect()).collect();
    assert_eq!(values[0], ["0.1", "0.000001", "1"]);
    assert_eq!(values[1], ["0.1", "0.000001", "2"]);
    assert_eq!(values[2][0].parse::<f64>().unwrap(), 0.2);
    assert!((values[3][1].parse::<f64>().unwrap() - 1e-5).abs() < 1e-20);
    assert_eq!(values[5], ["0.3", "0.0001", "2"]);
    assert_eq!(s.runs[1].overrides, ["dynamics.eta=0.1", "dynamics.tau=0.000001", "seed=2"]);
    assert!(s.runs.iter().all(|r| r.hash.len() == 12));
    let round: Sweep = toml::from_str(&toml::to_string(&s).unwrap()).unwrap();
    assert_eq!(round, s);
}

#[test]
fn bad_sweeps_are_rejected_with_precise_messages() {
    assert_eq!(error("colour = 1"), "s.toml: field `colour`: unknown field `colour`, expected one of `name`, `base`, `set`, `seeds`, `axis`, `plot`");
    assert_eq!(
        error("[[axis]]\nkey = \"dynamics.eta\"\nvalues = []"),
        "s.toml: field `axis[0].values` = []: an axis needs at least one value"
    );
    assert_eq!(
        error("[[axis]]\nkey = \"dynamics.eta\"\nvalues = [0.1, 0.2]\nzip = \"p\"\n[[axis]]\nkey = \"seed\"\nvalues = [1]\nzip = \"p\""),
        "s.toml: field `axis[1].zip` = \"p\": zipped axes need the same number of values: dynamics.eta has 2, seed has 1"
    );
    assert_eq!(
        error("[[axis]]\nkey = \"dynamics.eta\"\nvalues = [0.5, -1.0]"),
        "s.toml: run 1 (dynamics.eta=-1.0): s.toml: field `dynamics.eta` = -1: must be a finite number > 0"
    );
    assert_eq!(
        error("[[axis]]\nkey = \"dynamics.sgima\"\nvalues = [0.5]"),
        "s.toml: run 0 (dynamics.sgima=0.5): s.toml: field `dynamics.sgima`: unknown field `sgima`, expected one of `kind`, `eta`, `schedule`, `sigma`, `reinit_radius`, `tau`, `tau_decay`"
    );
    assert_eq!(
        error("[[axis]]\nkey = \"dynamics.eta\"\nlogspace = { start = 0.0, stop = 1.0, num = 2 }"),
        "s.toml: field `axis[0].logspace.start` = 0: must be a finite number > 0"
    );
    assert_eq!(
        error("seeds = 2\n[[plot]]\nkind = \"line\"\nx = \"seed\"\ny = \"gapp\""),
        "s.toml: field `plot[0].y` = \"gapp\": must be a metric: loss, gap, excess, time_to_gap, train_error, test_error, margin, wall_seconds, second_moment, entropy, free_energy, dual_free_energy, gap_free_energy"
    );
    assert_eq!(
        error("seeds = [1, 1]"),
        "s.toml: run 1 (seed=1): resolves to the same scenario as run 0 (seed=1); an axis does not change the scenario"
    );
}

#[test]
fn shards_partition_the_runs_and_slurm_ids_are_offset_by_the_minimum() {
    let shards: Vec<SweepShard> = (1..=3).map(|i| SweepShard::parse(&format!("{i}/3")).unwrap()).collect();
    for index in 0..10 {
        assert_eq!(shards.iter().filter(|s| s.contains(index)).count(), 1);
    }
    assert!(shards[1].contains(4));
    assert!(SweepShard::parse("0/3").is_err() && SweepShard::parse("4/3").is_err() && SweepShard::parse("x").is_err());
    let env = |id: &'static str, min: Option<&'static str>| {
        move |k: &str| match k {
            "SLURM_ARRAY_TASK_ID" => Some(id.to_string()),
            "SLURM_ARRAY_TASK_COUNT" => Some("3".to_string()),
            "SLURM_ARRAY_TASK_MIN" => min.map(str::to_string),
            _ => None,
        }
    };
    assert_eq!(SweepShard::from_slurm(env("0", None)).unwrap(), Some(SweepShard { index: 1, count: 3 }));
    assert_eq!(SweepShard::from_slurm(env("3", Some("1"))).unwrap(), Some(SweepShard { index: 3, count: 3 }));
    assert!(SweepShard::from_slurm(env("4", Some("1"))).is_err());
    assert_eq!(SweepShard::from_slurm(|_| None).unwrap(), None);
}
