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
//! and each start is run with gd, the perturbed flow (re-draws from the sphere at rates sigma: the paper's
//! eq. 4.2, whose Theorem 4.3 gives convergence to the global minimum in polynomial time) and Langevin
//! dynamics. The findings give, per start and dynamics, the final L, its data-fit term, the final certified
//! gap G = L - D and the first time with G <= `run.gap_eps` (null if never).

use std::time::Instant;

use ndarray::Array2;
use rayon::prelude::*;
use serde::Deserialize;
use serde_json::json;

use super::{check_scenario, say, simulate, stem, Figure, FigureOptions, FigureReport};
use crate::config::{InitConfig, InitKind, Scenario};
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
        let mut starts: Vec<(String, InitConfig)> = config
            .radii
            .iter()
            .map(|&radius| {
                let label = if radius == 0.0 { "zero cloud".to_string() } else { format!("dead, R = {radius}") };
                (label, InitConfig { kind: Some(InitKind::Dead), radius: Some(radius), ..InitConfig::default() })
            })
            .collect();
        if let Some(radius) = config.collapsed {
            let m = base.scenario.model.m.ok_or_else(|| Error::Invalid("escape: model.m is required".into()))?;
            let path = stem.with_file_name(format!("{}-collapsed.npy", stem.file_name().unwrap().to_string_lossy()));
            std::fs::create_dir_all(&options.out).map_err(|e| Error::io(&options.out, e))?;
            write_npy(&path, &collapsed_cloud(train.x.view(), m, radius, base.seed()))?;
            starts.push((
                format!("collapsed, |theta_0| = {radius}"),
                InitConfig { file: Some(path), ..InitConfig::default() },
            ));
        }
        let dynamics = super::dynamics::noise_variants(&config.scenario, &config.sigmas, &config.taus);
        let jobs: Vec<(String, String, Scenario)> = starts
            .iter()
            .flat_map(|(start, init)| {
                dynamics.iter().map(move |(label, scenario)| {
                    let mut scenario = scenario.clone();
                    scenario.model.init = init.clone();
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
                Ok((outcome(&start, &label, &rows, &cloud, gap_eps)?, rows))
            })
            .collect::<Result<Vec<(Outcome, Vec<Metrics>)>>>()?;
        plot::figure(&stem, &panels(&outcomes))?;
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

/// The last metrics of a run, its last certified gap and the first time with gap <= `gap_eps`.
fn outcome(start: &str, dynamics: &str, rows: &[Metrics], cloud: &Array2<f64>, gap_eps: f64) -> Result<Outcome> {
    let last = rows.last().ok_or_else(|| Error::Invalid("escape: a run logged nothing".into()))?;
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
        final_spread: spread,
    })
}

/// L - L* and the certified gap against time (log axes; time t + eta so that t = 0 shows), one curve per run.
fn panels(runs: &[(Outcome, Vec<Metrics>)]) -> [Panel; 2] {
    let mut excess = Panel::new("Escape (this project's test): L - L*", "time t", "L - L*");
    let mut gap = Panel::new("Certified optimality gap G = L - D", "time t", "gap");
    for panel in [&mut excess, &mut gap] {
        panel.x_scale = Scale::Log;
        panel.y_scale = Scale::Log;
    }
    for (o, rows) in runs {
        let label = format!("{}: {}", o.start, o.dynamics);
        let curve = |get: fn(&Metrics) -> Option<f64>| {
            let (x, y): (Vec<f64>, Vec<f64>) = rows
                .iter()
                .filter(|r| r.time > 0.0)
                .filter_map(|r| get(r).filter(|v| *v > 0.0).map(|v| (r.time, v)))
                .unzip();
            Series::new(&label, x, y)
        };
        excess.series.push(curve(|r| r.excess));
        gap.series.push(curve(|r| r.gap));
    }
    [excess, gap]
}
