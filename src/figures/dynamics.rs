//! `dynamics`: how the three dynamics (docs/math.md, section Dynamics) converge on a problem whose global minimum L* is
//! known exactly (the convex program of [`crate::convex::solve`]): L - L* and the certified gap G = L - D against time
//! for gradient descent, the perturbed flow at several re-draw rates sigma and Langevin dynamics at several
//! temperatures tau, all from the same initial cloud.

use std::time::Instant;

use rayon::prelude::*;
use serde::Deserialize;
use serde_json::json;

use super::{check_scenario, say, simulate, stem, Figure, FigureOptions, FigureReport};
use crate::config::Scenario;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::report;

/// The `dynamics` figure.
pub struct DynamicsFigure;

/// `scenarios/paper/dynamics.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Re-draw rates of the perturbed runs.
    sigmas: Vec<f64>,
    /// Temperatures of the Langevin runs.
    taus: Vec<f64>,
    /// The problem and the gd run; the other runs change only `dynamics.kind` and its parameter.
    scenario: Scenario,
}

/// The final numbers of one run.
#[derive(Debug, serde::Serialize)]
struct Outcome {
    label: String,
    excess: Option<f64>,
    gap: Option<f64>,
    best_excess: Option<f64>,
    time_to_gap: Option<f64>,
}

impl Figure for DynamicsFigure {
    fn name(&self) -> &'static str {
        "dynamics"
    }

    fn about(&self) -> &'static str {
        "L - L* and the certified gap against time for gd, perturbed (several sigma) and Langevin (several tau)"
    }

    fn run(&self, options: &FigureOptions) -> Result<FigureReport> {
        let started = Instant::now();
        let config: Config = super::load_config(self.name(), options)?;
        let base = check_scenario(config.scenario.clone(), self.name(), options)?;
        let (train, optimum, solve_seconds) = super::optimum_of(&base)?;
        say(options, format!("dynamics: L* = {} (exact: {}, {solve_seconds:.2} s)", optimum.value, optimum.exact));
        let variants = noise_variants(&config.scenario, &config.sigmas, &config.taus);
        let gap_eps = base.scenario.run.gap_eps;
        let runs = variants
            .into_par_iter()
            .map(|(label, scenario)| {
                let scenario = check_scenario(scenario, self.name(), options)?;
                let (rows, _) = simulate(&scenario, Some(optimum.value))?;
                say(options, format!("dynamics: {label} done"));
                Ok((label, rows))
            })
            .collect::<Result<Vec<(String, Vec<Metrics>)>>>()?;
        let stem = stem(self.name(), options);
        report::compare_figure(&stem, &runs)?;
        let outcomes: Vec<Outcome> = runs.iter().map(|(label, rows)| outcome(label, rows, gap_eps)).collect();
        if outcomes.iter().any(|o| o.excess.is_none()) {
            return Err(Error::Invalid("dynamics: a run logged nothing".into()));
        }
        let run = &base.scenario.run;
        let findings = json!({
            "optimum": optimum.value,
            "optimum_exact": optimum.exact,
            "optimum_seconds": solve_seconds,
            "n": train.n(),
            "d": train.d(),
            "m": base.scenario.model.m,
            "lambda": base.scenario.lambda,
            "eta": base.scenario.dynamics.eta,
            "steps": run.steps,
            "gap_eps": gap_eps,
            "runs": outcomes,
        });
        Ok(FigureReport::new(self.name(), &stem, started, findings))
    }
}

/// `scenario` with gd, then the perturbed flow at each of `sigmas`, then Langevin dynamics at each of `taus`,
/// with their labels.
pub(super) fn noise_variants(scenario: &Scenario, sigmas: &[f64], taus: &[f64]) -> Vec<(String, Scenario)> {
    let mut variants: Vec<(String, Scenario)> = vec![("gd".into(), with_kind(scenario, "gd"))];
    for &sigma in sigmas {
        let mut s = with_kind(scenario, "perturbed");
        s.dynamics.params.insert("sigma".into(), sigma);
        variants.push((format!("perturbed, sigma = {sigma:e}"), s));
    }
    for &tau in taus {
        let mut s = with_kind(scenario, "langevin");
        s.dynamics.params.insert("tau".into(), tau);
        variants.push((format!("langevin, tau = {tau:e}"), s));
    }
    variants
}

/// The scenario with dynamics `kind` and no noise parameters.
fn with_kind(scenario: &Scenario, kind: &str) -> Scenario {
    let mut s = scenario.clone();
    s.dynamics.kind = kind.into();
    s.dynamics.params.clear();
    s
}

/// The last excess L - L* and gap, the smallest excess, and the first time with gap <= `gap_eps`.
fn outcome(label: &str, rows: &[Metrics], gap_eps: f64) -> Outcome {
    let last = rows.last();
    Outcome {
        label: label.into(),
        excess: last.and_then(|r| r.excess),
        gap: rows.iter().rev().find_map(|r| r.gap),
        best_excess: rows.iter().filter_map(|r| r.excess).reduce(f64::min),
        time_to_gap: rows.iter().find(|r| r.gap.is_some_and(|g| g <= gap_eps)).map(|r| r.time),
    }
}
