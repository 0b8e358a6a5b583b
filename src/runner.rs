//! Running a checked scenario end to end: build the simulation in the scenario's precision, step
//! it with a progress bar, and write every output file into one folder.
//!
//! Files: `scenario.toml` first, `metrics.csv`, `particles.npy`, `cloud.gif` (with `run.movie`), the plots,
//! and `summary.json` last (its presence marks the run complete); `checkpoint.bin` while the run is
//! incomplete. When several processes share the cloud ([`RunControl::comm`]), rank 0 writes them.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::comm::{Communicator, Single};
use crate::config::{DataSource, Scenario, ValidScenario};
use crate::convex::{self, Optimum, OptimumOptions};
use crate::data::Distribution;
use crate::engine::stop::{relative_gap, StopReason};
use crate::engine::Checkpoint;
use crate::engine::{Checkpoints, Observer, Simulation};
use crate::error::{Error, Result};
use crate::linalg::Real;
use crate::metrics::Metrics;
pub use crate::observers::{progress_bar, Verbosity};
use crate::observers::{MetricsCsv, Movie, Progress};
use crate::output::{write_atomic, write_npy};
use crate::report::{self, Ideal};
use crate::resources::human_bytes;
use crate::setup::{self, Setup};

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
    /// Steps taken (fewer than `run.steps` when a stopping rule ended the run).
    pub steps: u64,
    /// What ended the run: `rel_gap`, `rel_change` (the rules of `run.stop`) or `cap` (`run.steps`).
    pub stop_reason: StopReason,
    /// G / L at the last step (null if it was not certified).
    pub final_relative_gap: Option<f64>,
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

/// The exact optimum of the convex reformulation (docs/math.md, section Convex program).
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
    /// Seconds of `run_seconds` spent on the dual bound (the certificate).
    pub certify_seconds: f64,
    /// The memory estimate made before the run ([`crate::footprint`]), bytes.
    pub memory_estimate_bytes: u64,
    /// The process's peak resident memory when the summary was written (Linux), bytes.
    pub peak_rss_bytes: Option<u64>,
    /// Certified steps: logged steps that are multiples of this, and the last (0: none).
    pub certify_every: u64,
    /// Why `certify_every` is larger than asked: the certificate would otherwise have taken more
    /// than its share of the run ([`crate::certificate_share`]); `null` when it is as asked.
    pub certify_lowered: Option<String>,
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
    run_with(scenario, out, &RunControl { verbosity, ..RunControl::default() })
}

/// How a run is driven from outside: messages, resumption, overwriting, interruption.
#[derive(Clone, Debug, Default)]
pub struct RunControl {
    /// Progress bar and messages.
    pub verbosity: Verbosity,
    /// Continue from `DIR/checkpoint.bin` instead of starting afresh.
    pub resume: bool,
    /// Overwrite a folder that holds a different scenario's outputs.
    pub force: bool,
    /// Set by a Ctrl-C handler: stop after the current step with a checkpoint.
    pub interrupt: Option<Arc<AtomicBool>>,
    /// The processes that share the cloud (one process if `None`). Every process calls
    /// [`run_with`]; rank 0 writes the outputs.
    pub comm: Option<Arc<dyn Communicator>>,
}

/// The checkpoint file of a run folder.
pub fn checkpoint_path(out: &Path) -> PathBuf {
    out.join("checkpoint.bin")
}

/// Runs a scenario with the given control and writes its outputs into `out`.
pub fn run_with(scenario: &ValidScenario, out: &Path, control: &RunControl) -> Result<Summary> {
    crate::with_precision!(scenario.scenario.precision, F => run_in::<F>(scenario, out, control))
}

/// Claims `out` for this scenario: refuses a folder of a different scenario (unless forced; a
/// forced run first removes every file a run writes, [`crate::run_files`]), removes a stale
/// summary.json (so the folder never looks complete mid-run) and writes scenario.toml.
fn claim(out: &Path, toml: &str, force: bool, resume: bool) -> Result<()> {
    let existing = out.join("scenario.toml");
    if let Ok(previous) = std::fs::read_to_string(&existing) {
        // A resumed run was checked against the checkpoint or the finished run (crate::resume).
        if previous != toml && !force && !resume {
            return Err(Error::OutputExists { dir: out.to_path_buf() });
        }
    }
    if force {
        crate::run_files::remove_run_files(out)?;
    }
    let summary = out.join("summary.json");
    if summary.exists() {
        std::fs::remove_file(&summary).map_err(|e| Error::io(&summary, e))?;
    }
    write_atomic(&existing, toml.as_bytes())
}

fn run_in<F: Real>(scenario: &ValidScenario, out: &Path, control: &RunControl) -> Result<Summary> {
    let started = Instant::now();
    let toml = scenario.to_toml();
    let root = control.comm.as_ref().is_none_or(|c| c.is_root());
    let processes = control.comm.as_ref().map_or(1, |c| c.size());
    // Before anything is allocated or written: a run too large for the machine leaves nothing.
    let estimate = crate::footprint::of_scenario(scenario, processes)?.check(
        &scenario.source,
        crate::resources::available_memory_bytes(),
        crate::resources::MEMORY_ADVICE,
    )?;
    // Held until the run returns: no second run writes into this folder meanwhile.
    let _lock = if root { Some(crate::lock::FolderLock::acquire(out)?) } else { None };
    let steps = scenario.scenario.run.steps;
    // Without a checkpoint, --resume extends a finished run (crate::resume).
    let mut extend = false;
    let checkpoint = if control.resume {
        let path = checkpoint_path(out);
        if !path.exists() {
            crate::resume::check_extension(out, &toml, steps, scenario.scenario.run.movie)?;
            extend = true;
            None
        } else {
            let checkpoint = Checkpoint::<F>::read(&path)?;
            let step = checkpoint.state.step;
            crate::resume::check_continuation(&path, "the checkpoint", &checkpoint.scenario, &toml, step, steps)?;
            Some(checkpoint)
        }
    } else {
        None
    };
    let comm = control.comm.clone().unwrap_or_else(|| Arc::new(Single));
    let (root, processes) = (comm.is_root(), comm.size());
    let run = &scenario.scenario.run;
    if run.movie && processes > 1 {
        return Err(Error::Invalid(format!(
            "{}: run.movie draws the whole cloud at every frame; run it in one process, not {processes}",
            scenario.source
        )));
    }
    if root {
        claim(out, &toml, control.force && !control.resume, control.resume)?;
    }
    let Setup { simulation: mut sim, mut state, certify, .. } = setup::build::<F>(scenario, comm.clone())?;
    let (m, n, d) = (sim.shard().total, sim.problem.train.n(), state.cloud.d());
    let verbosity = if root { control.verbosity } else { Verbosity::Quiet };
    if verbosity == Verbosity::Normal {
        let bytes = estimate;
        let per = if processes > 1 { format!(" per process ({processes} processes)") } else { String::new() };
        eprintln!("{}: m = {m}, n = {n}, d = {d}, memory estimate {}{per}", scenario.name, human_bytes(bytes as u64));
        if let Some(why) = &certify.lowered {
            eprintln!("{}: certificate: {why}", scenario.name);
        }
    }
    let optimum = if run.reference {
        let solving = Instant::now();
        let mut value = [f64::NAN];
        let mut solved = None;
        if root {
            let options = OptimumOptions { seed: scenario.seed(), ..OptimumOptions::default() };
            let optimum = convex::solve(&sim.problem.train, sim.problem.loss, sim.problem.lambda, &options)?;
            value[0] = optimum.value;
            solved = Some(OptimumSummary::new(&optimum, solving.elapsed().as_secs_f64()));
        }
        comm.broadcast(&mut value);
        sim.set_optimum(value[0]);
        solved
    } else {
        None
    };
    let checkpoint = if extend { Some(crate::resume::from_finished(out, scenario, &sim, &toml)?) } else { checkpoint };
    if let Some(checkpoint) = checkpoint {
        state = sim.resume(checkpoint)?;
    }
    if let Some(flag) = &control.interrupt {
        sim.set_interrupt(flag.clone());
    }
    // The outputs written while the loop runs: checkpoints (every process gathers, rank 0 writes),
    // the progress bar, metrics.csv and the movie (rank 0).
    let mut checkpoints = Checkpoints::new(run.checkpoint_every, checkpoint_path(out), toml);
    let mut progress = Progress::new(sim.options.steps, state.step, verbosity);
    let mut csv = root.then(|| MetricsCsv::new(out.join("metrics.csv")));
    let mut movie = run.movie.then(|| {
        let every = run.movie_every.unwrap_or_else(|| sim.options.steps.div_ceil(100).max(1));
        Movie::new(out.join("cloud.gif"), every, sim.options.steps, ideal(scenario))
    });
    let looped = Instant::now();
    let mut observers: Vec<&mut dyn Observer<F>> = vec![&mut checkpoints, &mut progress];
    observers.extend(csv.as_mut().map(|c| c as &mut dyn Observer<F>));
    observers.extend(movie.as_mut().map(|m| m as &mut dyn Observer<F>));
    let state = sim.run(state, &mut observers)?;
    let run_seconds = looped.elapsed().as_secs_f64();
    let rows = sim.history();
    let Some(cloud) = sim.gather(&state.cloud) else {
        return Ok(summary(scenario, &sim, started, run_seconds, optimum));
    };
    let particles = cloud.to_f64();
    write_npy(&out.join("particles.npy"), &particles)?;
    if run.plots {
        report::loss_figure(out, rows)?;
        report::errors_figure(out, rows)?;
        report::cloud_figure(out, particles.view(), ideal(scenario))?;
        if rows.iter().any(|r| r.gap.is_some()) {
            report::convergence_figure(out, rows, sim.optimum())?;
        }
    }
    let mut summary = summary(scenario, &sim, started, run_seconds, optimum);
    summary.timings.memory_estimate_bytes = estimate;
    (summary.timings.certify_every, summary.timings.certify_lowered) = (certify.every, certify.lowered);
    let json = serde_json::to_vec_pretty(&summary).expect("a summary always serialises");
    write_atomic(&out.join("summary.json"), &json)?;
    let checkpoint = checkpoint_path(out);
    if checkpoint.exists() {
        std::fs::remove_file(&checkpoint).map_err(|e| Error::io(&checkpoint, e))?;
    }
    Ok(summary)
}

/// The summary of the finished run of `sim`.
fn summary<F: Real>(
    scenario: &ValidScenario,
    sim: &Simulation<F>,
    started: Instant,
    run_seconds: f64,
    optimum: Option<OptimumSummary>,
) -> Summary {
    let run = &scenario.scenario.run;
    let rows = sim.history();
    let (m, n, d) = (sim.shard().total, sim.problem.train.n(), sim.problem.train.d());
    let last = rows.last().cloned().expect("a run logs its last step");
    Summary {
        name: scenario.name.clone(),
        seed: scenario.seed(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        precision: F::NAME.to_string(),
        m,
        n,
        d,
        steps: last.step,
        stop_reason: sim.stop_reason(),
        final_relative_gap: last.gap.map(|g| relative_gap(last.loss, g)),
        last,
        timings: Timings {
            total_seconds: started.elapsed().as_secs_f64(),
            run_seconds,
            steps: sim.options.steps,
            particle_steps_per_sec: m as f64 * sim.options.steps as f64 / run_seconds.max(1e-12),
            certify_seconds: sim.certify_seconds(),
            memory_estimate_bytes: 0,
            peak_rss_bytes: crate::resources::peak_rss_bytes(),
            certify_every: sim.options.certify_every,
            certify_lowered: None,
        },
        optimum,
        time_to_gap: rows.iter().find(|r| r.gap.is_some_and(|g| g <= run.gap_eps)).map(|r| r.time),
        gap_eps: run.gap_eps,
        scenario: scenario.scenario.clone(),
    }
}
