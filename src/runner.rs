//! Running a checked scenario end to end: build the simulation in the scenario's precision, step
//! it with a progress bar, and write every output file into one folder.
//!
//! Files: `metrics.csv`, `particles.npy`, `scenario.toml`, the plots, and `summary.json` last (its
//! presence marks the run complete).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::convex::{self, Optimum, OptimumOptions};
use crate::data::Distribution;
use crate::error::Result;
use crate::linalg::Real;
use crate::metrics::Metrics;
use crate::output::{write_atomic, write_npy, MetricsLog};
use crate::report::{self, Ideal};
use crate::resources::human_bytes;
use crate::scenario::{DataSource, Precision, Scenario, ValidScenario};
use crate::simulation::{Observer, State};

/// How a run reports progress.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verbosity {
    /// A progress bar on stderr when it is a terminal.
    #[default]
    Normal,
    /// Nothing on stderr.
    Quiet,
}

/// The contents of `summary.json`.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Run name.
    pub name: String,
    /// Scenario seed.
    pub seed: u64,
    /// `meanfield` version that produced the run.
    pub version: String,
    /// Particle precision.
    pub precision: String,
    /// Particles m, training samples n, input dimension d (with bias).
    pub m: usize,
    /// Training samples.
    pub n: usize,
    /// Input dimension (including a bias coordinate).
    pub d: usize,
    /// The metrics at the last step.
    #[serde(rename = "final")]
    pub last: Metrics,
    /// Wall-clock timings.
    pub timings: Timings,
    /// The exact optimum computed before the run (`reference = true`).
    pub optimum: Option<OptimumSummary>,
    /// The first logged time at which the gap G was at most `gap_eps` (null if never).
    pub time_to_gap: Option<f64>,
    /// The threshold of `time_to_gap`.
    pub gap_eps: f64,
    /// The resolved scenario.
    pub scenario: Scenario,
}

/// The exact optimum of the convex reformulation (MATH.md section 5).
#[derive(Clone, Debug, Serialize)]
pub struct OptimumSummary {
    /// L* (an upper bound on it when `exact` is false).
    pub value: f64,
    /// The dual bound at the solution.
    pub dual: f64,
    /// value - dual.
    pub gap: f64,
    /// Whether every activation pattern was used or column generation closed the gap.
    pub exact: bool,
    /// Activation patterns in the final problem.
    pub patterns: usize,
    /// Neurons of the recovered network.
    pub neurons: usize,
    /// Seconds the solver took.
    pub seconds: f64,
}

impl OptimumSummary {
    fn new(o: &Optimum, seconds: f64) -> Self {
        OptimumSummary {
            value: o.value,
            dual: o.dual,
            gap: o.gap,
            exact: o.exact,
            patterns: o.patterns,
            neurons: o.neurons,
            seconds,
        }
    }
}

/// Wall-clock timings of a run.
#[derive(Clone, Debug, Serialize)]
pub struct Timings {
    /// Everything: data, simulation, outputs.
    pub total_seconds: f64,
    /// The stepping loop with its logging.
    pub run_seconds: f64,
    /// Steps taken.
    pub steps: u64,
    /// m * steps / run_seconds.
    pub particle_steps_per_sec: f64,
}

/// A progress bar with the current loss and ETA, hidden when quiet or when stderr is not a terminal.
struct Progress {
    bar: ProgressBar,
}

impl Progress {
    fn new(steps: u64, verbosity: Verbosity) -> Self {
        let visible = verbosity == Verbosity::Normal && std::io::stderr().is_terminal();
        let bar = ProgressBar::with_draw_target(
            Some(steps),
            if visible { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() },
        );
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} steps  loss {msg}  [{elapsed_precise} < {eta_precise}]")
                .expect("the template is valid"),
        );
        Progress { bar }
    }
}

impl<F: Real> Observer<F> for Progress {
    fn observe(&mut self, _state: &State<F>, metrics: &Metrics) -> Result<()> {
        self.bar.set_message(format!("{:.6e}", metrics.loss));
        Ok(())
    }

    fn tick(&mut self, state: &State<F>) {
        self.bar.set_position(state.step);
    }
}

/// The reference neurons of the scenario's distribution, marked on the cloud figure.
fn ideal(scenario: &ValidScenario) -> Ideal {
    match &scenario.data {
        DataSource::Synthetic { distribution: Distribution::Paper { .. }, .. } => Ideal::Paper,
        DataSource::Synthetic { distribution: Distribution::Xor { .. }, .. } => Ideal::Xor,
        _ => Ideal::None,
    }
}

/// The default output folder of a scenario: `runs/<name>`.
pub fn default_out_dir(scenario: &ValidScenario) -> PathBuf {
    Path::new("runs").join(&scenario.name)
}

/// Runs a scenario and writes its outputs into `out`; returns the summary.
pub fn run(scenario: &ValidScenario, out: &Path, verbosity: Verbosity) -> Result<Summary> {
    match scenario.scenario.precision {
        Precision::F64 => run_in::<f64>(scenario, out, verbosity),
        Precision::F32 => run_in::<f32>(scenario, out, verbosity),
    }
}

fn run_in<F: Real>(scenario: &ValidScenario, out: &Path, verbosity: Verbosity) -> Result<Summary> {
    let started = Instant::now();
    let (mut sim, state) = scenario.simulation::<F>()?;
    let (m, n, d) = (state.cloud.m(), sim.problem.train.n(), state.cloud.d());
    let run = &scenario.scenario.run;
    if verbosity == Verbosity::Normal {
        let n_test = sim.problem.test.as_ref().map_or(0, |t| t.n());
        let bytes = scenario.memory_estimate(n, n_test, d)?;
        eprintln!("{}: m = {m}, n = {n}, d = {d}, memory estimate {}", scenario.name, human_bytes(bytes as u64));
    }
    let optimum = if run.reference {
        let solving = Instant::now();
        let options = OptimumOptions { seed: scenario.seed(), ..OptimumOptions::default() };
        let optimum = convex::solve(&sim.problem.train, sim.problem.loss, sim.problem.lambda, &options)?;
        sim.set_optimum(optimum.value);
        Some(OptimumSummary::new(&optimum, solving.elapsed().as_secs_f64()))
    } else {
        None
    };
    let mut log = MetricsLog::default();
    let mut progress = Progress::new(sim.options.steps, verbosity);
    let looped = Instant::now();
    let result = sim.run(state, &mut [&mut log, &mut progress]);
    progress.bar.finish_and_clear();
    let run_seconds = looped.elapsed().as_secs_f64();
    log.write(&out.join("metrics.csv"))?;
    let state = result?;
    write_npy(&out.join("particles.npy"), &state.cloud.to_f64())?;
    write_atomic(&out.join("scenario.toml"), scenario.to_toml().as_bytes())?;
    if scenario.scenario.run.plots {
        let particles = state.cloud.to_f64();
        report::loss_figure(out, &log.rows)?;
        report::errors_figure(out, &log.rows)?;
        report::cloud_figure(out, particles.view(), ideal(scenario))?;
        if log.rows.iter().any(|r| r.gap.is_some()) {
            report::convergence_figure(out, &log.rows, sim.optimum())?;
        }
    }
    let last = log.rows.last().cloned().expect("a run logs its last step");
    let summary = Summary {
        name: scenario.name.clone(),
        seed: scenario.seed(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        precision: F::NAME.to_string(),
        m,
        n,
        d,
        last,
        timings: Timings {
            total_seconds: started.elapsed().as_secs_f64(),
            run_seconds,
            steps: sim.options.steps,
            particle_steps_per_sec: m as f64 * sim.options.steps as f64 / run_seconds.max(1e-12),
        },
        optimum,
        time_to_gap: log.rows.iter().find(|r| r.gap.is_some_and(|g| g <= run.gap_eps)).map(|r| r.time),
        gap_eps: run.gap_eps,
        scenario: scenario.scenario.clone(),
    };
    let json = serde_json::to_vec_pretty(&summary).expect("a summary always serialises");
    write_atomic(&out.join("summary.json"), &json)?;
    Ok(summary)
}
