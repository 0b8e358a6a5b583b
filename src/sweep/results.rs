//! `sweep.csv`: one row per run from the run folders, and `sweep collect`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::figures::draw;
use super::file::METRICS;
use super::plan::{cell, run_dir, RunSpec, Sweep};
use super::summary::SummaryRow;
use crate::error::{Error, Result};
use crate::output::write_atomic;

/// The last column of `sweep.csv`: how a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// The run finished (its `summary.json` exists).
    Ok,
    /// The run stopped because the dynamics diverged (exit code 3 of `meanfield run`).
    Diverged,
    /// The run stopped with another error.
    Failed,
}

impl RunStatus {
    /// The `status` cell.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Ok => "ok",
            RunStatus::Diverged => "diverged",
            RunStatus::Failed => "failed",
        }
    }
}

/// `runs/<hash>/failure.json`, written by the sweep when a run fails: its status and error message.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Failure {
    status: RunStatus,
    error: String,
}

/// The file that marks a run as failed.
fn failure_path(dir: &Path) -> PathBuf {
    dir.join("failure.json")
}

/// Records that the run in `dir` ended with `error`: `diverged` or `failed`. An interrupted or terminated
/// run is not a failure (it resumes), and nothing is written for it.
pub(super) fn record_failure(dir: &Path, error: &Error) -> Result<()> {
    let status = match error {
        Error::Interrupted { .. } | Error::Terminated { .. } => return Ok(()),
        Error::Diverged { .. } => RunStatus::Diverged,
        _ => RunStatus::Failed,
    };
    let json =
        serde_json::to_vec_pretty(&Failure { status, error: error.to_string() }).expect("a failure always serialises");
    write_atomic(&failure_path(dir), &json)
}

/// Removes the failure mark of the run in `dir` before it is run again.
pub(super) fn clear_failure(dir: &Path) -> Result<()> {
    let path = failure_path(dir);
    if path.is_file() {
        std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}

/// The status of a run without `summary.json`: its failure mark's, if any.
fn read_failure(dir: &Path) -> Result<Option<RunStatus>> {
    let path = failure_path(dir);
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let failure: Failure = serde_json::from_str(&text).map_err(|e| Error::data(&path, e.line(), e.to_string()))?;
    Ok(Some(failure.status))
}

/// What [`write_results`] found.
#[derive(Clone, Debug, PartialEq)]
pub struct Results {
    /// Runs with a `summary.json` (rows of `sweep.csv` with status `ok`).
    pub complete: usize,
    /// Runs that diverged or failed (rows of `sweep.csv` with status `diverged` or `failed`, metrics empty).
    pub failed: usize,
    /// Runs of the sweep.
    pub total: usize,
    /// The first run with neither a `summary.json` nor a failure mark, if any.
    pub first_missing: Option<RunSpec>,
    /// The figures written (file stems in the output folder).
    pub figures: Vec<String>,
}

/// Writes `out/sweep.csv` from the run folders (one row per complete, diverged or failed run, in run
/// order; the last column `status` says which) and the sweep's figures (of the complete runs) next to it.
pub fn write_results(sweep: &Sweep, out: &Path) -> Result<Results> {
    let mut rows: Vec<(&RunSpec, SummaryRow)> = Vec::new();
    let mut table: Vec<(&RunSpec, Option<usize>, RunStatus)> = Vec::new();
    let mut first_missing = None;
    for run in &sweep.runs {
        let dir = run_dir(out, run);
        let path = dir.join("summary.json");
        if path.is_file() {
            table.push((run, Some(rows.len()), RunStatus::Ok));
            rows.push((run, SummaryRow::read(&path)?));
        } else if let Some(status) = read_failure(&dir)? {
            table.push((run, None, status));
        } else if first_missing.is_none() {
            first_missing = Some(run.clone());
        }
    }
    let csv_error = |e: csv::Error| Error::Invalid(format!("sweep.csv: {e}"));
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<&str> = sweep.axes.iter().map(|a| a.key.as_str()).collect();
    header.push("run");
    header.extend(METRICS);
    header.push("status");
    writer.write_record(&header).map_err(csv_error)?;
    for (run, row, status) in &table {
        let mut record: Vec<String> = run.values.iter().map(cell).collect();
        record.push(run.hash.clone());
        match row {
            Some(k) => record.extend(METRICS.iter().map(|m| rows[*k].1.cell(m))),
            None => record.extend(METRICS.iter().map(|_| String::new())),
        }
        record.push(status.as_str().to_string());
        writer.write_record(&record).map_err(csv_error)?;
    }
    let bytes = writer.into_inner().map_err(|e| Error::Invalid(format!("sweep.csv: {e}")))?;
    write_atomic(&out.join("sweep.csv"), &bytes)?;
    let mut figures = Vec::new();
    for config in &sweep.plots {
        let name = config.name.clone().unwrap_or_default();
        draw(sweep, config, &rows, &out.join(&name))?;
        figures.push(name);
    }
    let failed = table.len() - rows.len();
    Ok(Results { complete: rows.len(), failed, total: sweep.runs.len(), first_missing, figures })
}

/// Merges the run folders of `dir` (from every shard) into `sweep.csv` and the figures, using the
/// resolved sweep saved in `dir/sweep.toml`.
///
/// # Errors
/// [`Error::SweepIncomplete`] (after writing the results of the other runs) if a run has neither a
/// `summary.json` nor a failure mark (it has not run yet); I/O errors. Diverged and failed runs are rows of
/// `sweep.csv` with their status, and not an error here.
pub fn collect(dir: &Path) -> Result<Results> {
    let sweep = Sweep::read(dir)?;
    let results = write_results(&sweep, dir)?;
    match &results.first_missing {
        Some(run) => Err(Error::SweepIncomplete {
            dir: dir.to_path_buf(),
            missing: results.total - results.complete - results.failed,
            total: results.total,
            first: format!("run {} in runs/{} ({})", run.index, run.hash, run.overrides.join(" ")),
        }),
        None => Ok(results),
    }
}
