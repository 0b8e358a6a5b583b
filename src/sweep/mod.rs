//! Parameter sweeps: many runs of one base scenario with some values varied, run in parallel,
//! resumable, splittable across a cluster, summarised in `sweep.csv` and figures.
//!
//! A [`SweepFile`] (TOML) names a base scenario and axes over scenario keys by dotted path;
//! [`Sweep::load`] checks it, resolves every run (grid product of the axes, `zip` groups paired)
//! and checks every run's scenario. [`run_sweep`] writes into one folder:
//!
//! - `sweep.toml`: the resolved sweep (axes, plots, runs with their overrides and hashes), which is
//!   all that [`collect`] needs;
//! - `runs/<hash>/`: the outputs of each run (see [`crate::runner`]), the folder named by the first
//!   12 hex digits of the FNV-1a hash of the run's resolved scenario; a run is complete when its
//!   `summary.json` exists, so an interrupted sweep resumes where it stopped and a changed
//!   scenario never reuses another's results;
//! - `sweep.csv` and the figures, rebuilt from the run folders.
//!
//! The parts: [`mod@file`] (the sweep file format and the metric columns it may name), [`plan`] (the check
//! of each table and the resolved sweep: the grid of runs and their hashes), [`shard`] (disjoint parts
//! for a cluster or Slurm array), [`exec`] (running the runs, in threads and across MPI processes),
//! `summary` (what `sweep.csv` reads of a run's `summary.json`), [`results`] (`sweep.csv` with each run's
//! `status`, `collect`) and `figures` (the sweep's figures).

pub mod exec;
mod figures;
pub mod file;
pub mod plan;
pub mod results;
pub mod shard;
mod summary;
#[cfg(test)]
mod tests;

pub use exec::{run_sweep, run_sweep_across, SweepOptions, SweepReport};
pub use file::{
    AxisConfig, AxisScale, Band, Base, PlotConfig, PlotKind, Seeds, Spacing, SweepFile, METRICS, RUN_COLUMNS,
};
pub use plan::{run_dir, scenario_hash, Axis, RunSpec, Sweep};
pub use results::{collect, write_results, Results, RunStatus};
pub use shard::SweepShard;
