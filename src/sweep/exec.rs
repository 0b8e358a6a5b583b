//! Running a sweep's runs: in a thread pool shared with the runs' kernels, skipping complete runs,
//! and spread over MPI processes.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;

use super::plan::{run_dir, RunSpec, Sweep};
use super::results::{clear_failure, record_failure, write_results};
use super::shard::SweepShard;
use crate::comm::Communicator;
use crate::config::ValidScenario;
use crate::error::{Error, Result};
use crate::output::write_atomic;
use crate::runner::{self, progress_bar, RunControl, Verbosity};

/// How [`run_sweep`] runs.
#[derive(Clone, Debug, Default)]
pub struct SweepOptions {
    /// Threads shared by the runs and their kernels (default: rayon's default).
    pub jobs: Option<usize>,
    /// Run only this part (and do not write `sweep.csv`, which [`collect`](super::collect) merges).
    pub shard: Option<SweepShard>,
    /// Redo complete runs.
    pub force: bool,
    /// Progress bar on stderr (when it is a terminal) or nothing.
    pub verbosity: Verbosity,
    /// Once set (by a Ctrl-C handler), the running runs stop after their current step with a
    /// checkpoint and the runs not yet started are skipped.
    pub interrupt: Option<Arc<AtomicBool>>,
}

/// What [`run_sweep`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepReport {
    /// Runs of the shard (all runs without one).
    pub selected: usize,
    /// Runs skipped because they were complete.
    pub skipped: usize,
    /// Runs computed now.
    pub ran: usize,
    /// Seconds of the whole sweep.
    pub seconds: f64,
    /// Whether `sweep.csv` and the figures were written (not for one shard of several).
    pub collected: bool,
}

/// Runs the sweep's runs (of `options.shard`) into `out/runs/<hash>`, skipping complete ones
/// unless forced, in a pool of `options.jobs` threads shared with the runs' kernels; then, unless
/// sharded, writes `sweep.csv` and the figures. `scenarios` are the runs' checked scenarios from
/// [`Sweep::load`].
///
/// # Errors
/// [`Error::SweepFailed`] (after every other run has finished and the results are written) if a
/// run failed; I/O errors writing `sweep.toml` or the results.
pub fn run_sweep(
    sweep: &Sweep,
    scenarios: &[ValidScenario],
    out: &Path,
    options: &SweepOptions,
) -> Result<SweepReport> {
    let started = Instant::now();
    let description = toml::to_string(sweep).map_err(|e| Error::Invalid(format!("sweep.toml: {e}")))?;
    let description = crate::config::shorten_long_floats(&description);
    write_atomic(&out.join("sweep.toml"), description.as_bytes())?;
    let selected: Vec<&RunSpec> = sweep.shard(options.shard).collect();
    let mut todo = Vec::new();
    for run in &selected {
        let dir = run_dir(out, run);
        if options.force && dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        if !dir.join("summary.json").is_file() {
            clear_failure(&dir)?;
            todo.push((*run, &scenarios[run.index], dir));
        }
    }
    let template = "{bar:30} {pos}/{len} runs  [{elapsed_precise} < {eta_precise}]";
    let bar = progress_bar(todo.len() as u64, template, options.verbosity);
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(jobs) = options.jobs {
        builder = builder.num_threads(crate::resources::check_threads("--jobs", jobs)?);
    }
    let pool = builder.build().map_err(|e| Error::Invalid(format!("--jobs: {e}")))?;
    let failures: Vec<(usize, Error)> = pool.install(|| {
        todo.par_iter()
            .filter_map(|(run, scenario, dir)| {
                if options.interrupt.as_ref().is_some_and(|f| f.load(Ordering::SeqCst)) {
                    return None;
                }
                let control = RunControl {
                    verbosity: Verbosity::Quiet,
                    interrupt: options.interrupt.clone(),
                    ..RunControl::default()
                };
                let result = runner::run_with(scenario, dir, &control);
                if let Err(e) = &result {
                    // If even this file cannot be written, the run has no row and `collect` reports it missing.
                    let _ = record_failure(dir, e);
                }
                bar.inc(1);
                result.err().map(|e| (run.index, e))
            })
            .collect()
    });
    bar.finish_and_clear();
    let collected = options.shard.is_none_or(|s| s.count == 1);
    if collected {
        write_results(sweep, out)?;
    }
    let failed = failures.len();
    if let Some((index, first)) = failures.into_iter().min_by_key(|(i, _)| *i) {
        return Err(Error::SweepFailed {
            failed,
            total: todo.len(),
            first: Box::new(Error::SweepRun {
                file: sweep.source.clone(),
                index,
                overrides: sweep.runs[index].overrides.join(" "),
                source: Box::new(first),
            }),
        });
    }
    Ok(SweepReport {
        selected: selected.len(),
        skipped: selected.len() - todo.len(),
        ran: todo.len(),
        seconds: started.elapsed().as_secs_f64(),
        collected,
    })
}

/// [`run_sweep`] spread over the processes of `comm` (`mpirun -n P meanfield sweep`): process r
/// runs part r + 1 of P, each with its own thread pool; once every process is done, rank 0 writes
/// `sweep.csv` and the figures.
///
/// # Errors
/// As [`run_sweep`], on the process whose runs failed; [`Error::Invalid`] if `options.shard` is
/// set while there are several processes.
pub fn run_sweep_across(
    sweep: &Sweep,
    scenarios: &[ValidScenario],
    out: &Path,
    options: &SweepOptions,
    comm: &dyn Communicator,
) -> Result<SweepReport> {
    if comm.size() == 1 {
        return run_sweep(sweep, scenarios, out, options);
    }
    if let Some(shard) = options.shard {
        return Err(Error::Invalid(format!(
            "shard {}/{} was given, but the {} MPI processes already split the sweep; use one or the other",
            shard.index,
            shard.count,
            comm.size()
        )));
    }
    let part = SweepOptions { shard: Some(SweepShard::process(comm.rank(), comm.size())), ..options.clone() };
    let result = run_sweep(sweep, scenarios, out, &part);
    comm.barrier();
    let report = result?;
    if comm.is_root() {
        write_results(sweep, out)?;
    }
    Ok(SweepReport { collected: comm.is_root(), ..report })
}
