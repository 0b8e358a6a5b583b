//! `escape` (this project's test of the theory, not one of the paper's experiments): the perturbation lets the
//! flow leave stationary points that gradient descent cannot leave. On a problem whose global minimum L* and
//! dual bounds are exact (small d), runs start from
//! - dead clouds (`model.init = { kind = "dead", radius = R }`, every particle inactive on every training
//!   input, [`crate::initial`]) and the zero cloud (R = 0): F = 0, so the data-fit part of the velocity vanishes
//!   and gd only shrinks the cloud, theta <- (1 - 2 eta lambda) theta; it stays at R = l(0) with a certified gap
//!   as large as L - L*;
//! - optionally a collapsed cloud (every particle at one live point theta_0): gd moves all particles alike, so
//!   the measure stays one Dirac mass and converges to a stationary point of the one-neuron network, where the
//!   velocity vanishes on the support but the certified gap stays large;
//!
//! and each start is run with gd, the perturbed flow (re-draws from the sphere at constant rates sigma: the
//! paper's eq. 4.2, whose Theorem 4.3 gives convergence to the global minimum in polynomial time) and Langevin
//! dynamics (not the paper's: the mean-field Langevin dynamics of docs/math.md, section Dynamics). The starts
//! are stationary points of the Wasserstein gradient flow that are not minima: the reason the paper perturbs
//! the flow. Every run goes to the scenario's stopping rule `run.stop` (certified G / L <= rel_gap) or its step
//! cap. Langevin runs from a start without a density (a Dirac mass: its entropy, logged at every certified
//! step, is -inf) start from a copy spread by 1e-9 (relative; `spread`), far below the first step's noise.
//! The findings give, per start and dynamics, the final L, its data-fit term, the final certified gap
//! G = L - D, the first time with G <= `run.gap_eps` (null if never), the steps and what stopped the run.

use std::time::Instant;

use ndarray::Array2;
use rayon::prelude::*;
use serde::Deserialize;
use serde_json::json;

use super::{check_scenario, say, simulate, stem, Figure, FigureOptions, FigureReport};
use crate::config::{InitConfig, InitKind, RunConfig, Scenario};
use crate::engine::stop::relative_gap;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::model::{Cloud, Init};
use crate::output::write_npy;
use crate::plot::{self, Panel, Scale, Series};

/// The `escape` figure.
pub struct Escape;

/// `scenarios/paper/escape.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Radii R of the dead starts (0: the zero cloud).
    radii: Vec<f64>,
    /// Radius of the collapsed start's point theta_0 (omit for no collapsed start).
    #[serde(default)]
    collapsed: Option<f64>,
    /// Re-draw rates of the perturbed runs.
    sigmas: Vec<f64>,
    /// Temperatures of the Langevin runs.
    taus: Vec<f64>,
    /// The problem and the gd run (its init is replaced by each start); a classification problem.
    scenario: Scenario,
}

/// The final numbers of one run.
#[derive(Debug, serde::Serialize)]
struct Outcome {
    start: String,
    dynamics: String,
    final_loss: f64,
    final_data_fit: f64,
    final_penalty: f64,
    final_excess: Option<f64>,
    final_gap: Option<f64>,
    certificate: Option<String>,
    time_to_gap: Option<f64>,
    /// Steps taken and time t = steps * eta at the end.
    steps: u64,
    final_time: f64,
    /// `rel_gap` (the scenario's `run.stop` rule G / L <= rel_gap held at a certified step) or `cap` (the step cap).
    stop_reason: &'static str,
    /// max_j |theta_j - theta_1| of the final cloud (collapsed starts: 0 while it stays one Dirac mass).
    final_spread: f64,
}

impl Figure for Escape {
    fn name(&self) -> &'static str {
        "escape"
    }

    fn about(&self) -> &'static str {
        "this project's test: from dead, zero and collapsed clouds gd stays, the perturbed flow and Langevin escape"
    }

    fn run(&self, options: &FigureOptions) -> Result<FigureReport> {
        let started = Instant::now();
        let config: Config = super::load_config(self.name(), options)?;
        if config.radii.is_empty() && config.collapsed.is_none() {
            return Err(Error::Invalid(
                "escape: radii is empty and no collapsed start; give at least one start".into(),
            ));
        }
        let base = check_scenario(config.scenario.clone(), self.name(), options)?;
        let (train, optimum, _) = super::optimum_of(&base)?;
        let loss = base.scenario.loss;
        let l0 = train.y.iter().map(|&y| loss.value(y, 0.0)).sum::<f64>() / train.n() as f64;
        say(options, format!("escape: L* = {} (exact: {}), l(0) = {l0}", optimum.value, optimum.exact));
        let stem = stem(self.name(), options);
        // Langevin runs whose start has no density (a Dirac mass: its entropy, logged at every certified step, is -inf)
        // start from a spread copy instead (see [`spread`]).
        let mut langevin_init: Vec<(String, InitConfig)> = Vec::new();
        let m = base.scenario.model.m.ok_or_else(|| Error::Invalid("escape: model.m is required".into()))?;
        // Absolute: a scenario resolves a relative `init.file` against its own folder.
        let out = std::path::absolute(&stem).map_err(|e| Error::io(&stem, e))?;
        let file =
            |suffix: &str| out.with_file_name(format!("{}-{suffix}.npy", out.file_name().unwrap().to_string_lossy()));
        if config.radii.contains(&0.0) {
            std::fs::create_dir_all(&options.out).map_err(|e| Error::io(&options.out, e))?;
            let path = file("zero-spread");
            write_npy(&path, &spread(&Array2::zeros((m, train.d() + 1)), COLLAPSED_SPREAD, base.seed()))?;
            langevin_init.push(("zero cloud".into(), InitConfig { file: Some(path), ..InitConfig::default() }));
        }
        let mut starts: Vec<(String, InitConfig)> = config
            .radii
            .iter()
            .map(|&radius| {
                let label = if radius == 0.0 { "zero cloud".to_string() } else { format!("dead, R = {radius}") };
                (label, InitConfig { kind: Some(InitKind::Dead), radius: Some(radius), ..InitConfig::default() })
            })
            .collect();
        if let Some(radius) = config.collapsed {
            let path = file("collapsed");
            std::fs::create_dir_all(&options.out).map_err(|e| Error::io(&options.out, e))?;
            let cloud = collapsed_cloud(train.x.view(), m, radius, base.seed());
            write_npy(&path, &cloud)?;
            let spread_path = file("collapsed-spread");
            write_npy(&spread_path, &spread(&cloud, COLLAPSED_SPREAD, base.seed()))?;
            let label = format!("collapsed, |theta_0| = {radius}");
            langevin_init.push((label.clone(), InitConfig { file: Some(spread_path), ..InitConfig::default() }));
            starts.push((label, InitConfig { file: Some(path), ..InitConfig::default() }));
        }
        let dynamics = super::dynamics::noise_variants(&config.scenario, &config.sigmas, &config.taus);
        let jobs: Vec<(String, String, Scenario)> = starts
            .iter()
            .flat_map(|(start, init)| {
                let langevin_init = &langevin_init;
                dynamics.iter().map(move |(label, scenario)| {
                    let mut scenario = scenario.clone();
                    scenario.model.init = init.clone();
                    if scenario.dynamics.kind == "langevin" {
                        if let Some((_, spread)) = langevin_init.iter().find(|(s, _)| s == start) {
                            scenario.model.init = spread.clone();
                        }
                    }
                    (start.clone(), label.clone(), scenario)
                })
            })
            .collect();
        let gap_eps = base.scenario.run.gap_eps;
        let outcomes = jobs
            .into_par_iter()
            .map(|(start, label, scenario)| {
                let scenario = check_scenario(scenario, self.name(), options)?;
                let (rows, cloud) = simulate(&scenario, Some(optimum.value))?;
                say(options, format!("escape: {start}, {label} done"));
                Ok((outcome(&start, &label, &rows, &cloud, gap_eps, &scenario.scenario.run)?, rows))
            })
            .collect::<Result<Vec<(Outcome, Vec<Metrics>)>>>()?;
        plot::figure(&stem, &panels(&outcomes, gap_eps))?;
        let run = &base.scenario.run;
        let findings = json!({
            "optimum": optimum.value,
            "optimum_exact": optimum.exact,
            "l0": l0,
            "n": train.n(),
            "d": train.d(),
            "m": base.scenario.model.m,
            "lambda": base.scenario.lambda,
            "eta": base.scenario.dynamics.eta,
            "steps": run.steps,
            "stop": run.stop,
            "gap_eps": gap_eps,
            "runs": outcomes.iter().map(|(o, _)| o).collect::<Vec<_>>(),
        });
        Ok(FigureReport::new(self.name(), &stem, started, findings))
    }
}

/// m copies of one point theta_0 of norm `radius`: the first draw of a sphere cloud (from `seed`) that is
/// active on some input of `x`.
fn collapsed_cloud(x: ndarray::ArrayView2<f64>, m: usize, radius: f64, seed: u64) -> Array2<f64> {
    let draws = Cloud::<f64>::sample(64, x.ncols(), &Init::Sphere { radius }, seed).theta;
    let alive = |t: &ndarray::ArrayView1<f64>| x.outer_iter().any(|xi| xi.dot(&t.slice(ndarray::s![1..])) > 0.0);
    let theta0 = draws.outer_iter().find(alive).unwrap_or_else(|| draws.row(0)).to_owned();
    Array2::from_shape_fn((m, theta0.len()), |(_, k)| theta0[k])
}

/// Relative size of the spread given to a collapsed start for Langevin runs (see [`spread`]).
const COLLAPSED_SPREAD: f64 = 1e-9;

/// `cloud` with every particle moved by `size` max(|theta_j|, 1) xi_j / sqrt(d + 1), xi_j ~ N(0, I_{d+1}) from `seed`:
/// a collapsed (or zero) cloud with a density (a finite entropy) for Langevin runs. At size 1e-9 this is far below the
/// first step's noise sqrt(2 eta tau) xi (4.5e-4 at eta = 0.1, tau = 1e-6).
fn spread(cloud: &Array2<f64>, size: f64, seed: u64) -> Array2<f64> {
    use rand::Rng;
    let mut rng = crate::rng::stream(seed, crate::rng::Purpose::Init, 0, 1 << 41);
    let scale = size / (cloud.ncols() as f64).sqrt();
    let mut out = cloud.clone();
    for mut row in out.outer_iter_mut() {
        let norm = row.dot(&row).sqrt().max(1.0);
        row.mapv_inplace(|v| v + scale * norm * rng.sample::<f64, _>(rand_distr::StandardNormal));
    }
    out
}

/// The last metrics of a run, its last certified gap, the first time with gap <= `gap_eps`, and what ended it: the
/// rule `run.stop` (a run that ends before its cap, or at it with G / L <= rel_gap) or the cap.
fn outcome(
    start: &str,
    dynamics: &str,
    rows: &[Metrics],
    cloud: &Array2<f64>,
    gap_eps: f64,
    run: &RunConfig,
) -> Result<Outcome> {
    let last = rows.last().ok_or_else(|| Error::Invalid("escape: a run logged nothing".into()))?;
    let by_rule = run
        .stop
        .and_then(|rule| rule.rel_gap)
        .is_some_and(|tol| last.step < run.steps || last.gap.is_some_and(|g| relative_gap(last.loss, g) <= tol));
    let first = cloud.row(0);
    let spread =
        cloud.outer_iter().map(|t| (&t - &first).iter().fold(0.0f64, |a, v| a.max(v.abs()))).fold(0.0, f64::max);
    Ok(Outcome {
        start: start.into(),
        dynamics: dynamics.into(),
        final_loss: last.loss,
        final_data_fit: last.data_fit,
        final_penalty: last.penalty,
        final_excess: last.excess,
        final_gap: rows.iter().rev().find_map(|r| r.gap),
        certificate: rows.iter().rev().find_map(|r| r.certificate.clone()),
        time_to_gap: rows.iter().find(|r| r.gap.is_some_and(|g| g <= gap_eps)).map(|r| r.time),
        steps: last.step,
        final_time: last.time,
        stop_reason: if by_rule { "rel_gap" } else { "cap" },
        final_spread: spread,
    })
}

/// The certified gap against time, one panel per start (log axes, t > 0), one curve per dynamics, and the level
/// `gap_eps` as a reference line.
fn panels(runs: &[(Outcome, Vec<Metrics>)], gap_eps: f64) -> Vec<Panel> {
    let mut panels: Vec<Panel> = Vec::new();
    for (o, rows) in runs {
        let title = format!("Escape (this project's test) from {}: certified gap", o.start);
        if panels.last().is_none_or(|p| p.title != title) {
            let mut panel = Panel::new(title, "time t", "G = L - D (exact)");
            panel.x_scale = Scale::Log;
            panel.y_scale = Scale::Log;
            panels.push(panel);
        }
        let panel = panels.last_mut().expect("pushed above");
        let (x, y): (Vec<f64>, Vec<f64>) = rows
            .iter()
            .filter(|r| r.time > 0.0)
            .filter_map(|r| r.gap.filter(|v| *v > 0.0).map(|v| (r.time, v)))
            .unzip();
        panel.series.push(Series::new(&o.dynamics, x, y));
    }
    for panel in &mut panels {
        let end = panel.series.iter().flat_map(|s| s.x.iter().copied()).fold(1.0, f64::max);
        let start = panel.series.iter().flat_map(|s| s.x.iter().copied()).fold(end, f64::min);
        panel.series.push(Series::new(format!("gap = {gap_eps:e}"), vec![start, end], vec![gap_eps, gap_eps]));
    }
    panels
}
