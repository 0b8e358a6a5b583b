//! `meanfield.run` (a scenario run with every output file, as `meanfield run`) and
//! `meanfield.sweep` (as `meanfield sweep`).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use meanfield::output::read_npy;
use meanfield::runner::{self, RunControl, Verbosity};
use meanfield::sweep::{run_sweep, Sweep, SweepOptions};
use numpy::{IntoPyArray, PyArray2};
use pyo3::exceptions::PyImportError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::scenario_error;
use crate::scenario::resolve;
use crate::table::Table;
use crate::work::{detached, interruptible, Threads};

/// The outputs of a finished run, read back from its folder.
///
/// - `metrics`: dict of numpy arrays, one per column of `metrics.csv` (step, time, loss, data_fit,
///   penalty, train_error, test_error, train_loss, test_loss, margin, second_moment,
///   pattern_change, wall_seconds, and dual_bound, gap, certificate, excess when present); empty
///   cells are NaN.
/// - `particles`: the final cloud, (m, 1 + d) float64, columns w, u_1..u_d.
/// - `summary`: `summary.json` as a dict.
/// - `out`: the output folder (pathlib.Path).
#[pyclass(name = "Run", module = "meanfield", frozen)]
pub struct PyRun {
    #[pyo3(get)]
    metrics: Py<PyDict>,
    #[pyo3(get)]
    particles: Py<PyArray2<f64>>,
    #[pyo3(get)]
    summary: Py<PyDict>,
    #[pyo3(get)]
    out: Py<PyAny>,
}

impl PyRun {
    /// Reads the outputs of the complete run in `out`.
    fn read(py: Python<'_>, out: &Path) -> PyResult<PyRun> {
        let (table, particles, summary) = py
            .detach(|| -> meanfield::Result<_> {
                let table = Table::read(&out.join("metrics.csv"))?;
                let particles = read_npy(&out.join("particles.npy"))?;
                let path = out.join("summary.json");
                let summary = std::fs::read_to_string(&path).map_err(|e| meanfield::Error::io(&path, e))?;
                Ok((table, particles, summary))
            })
            .map_err(scenario_error)?;
        let summary = py.import("json")?.call_method1("loads", (summary,))?.cast_into::<PyDict>()?.unbind();
        Ok(PyRun {
            metrics: table.into_dict(py)?,
            particles: particles.into_pyarray(py).unbind(),
            summary,
            out: py.import("pathlib")?.call_method1("Path", (out,))?.unbind(),
        })
    }
}

/// pandas, or an ImportError saying what needs it.
fn pandas<'py>(py: Python<'py>, what: &str) -> PyResult<Bound<'py, PyModule>> {
    py.import("pandas").map_err(|_| PyImportError::new_err(format!("{what} needs pandas: pip install pandas")))
}

#[pymethods]
impl PyRun {
    /// The metrics as a pandas DataFrame (one row per logged step); needs pandas.
    fn metrics_frame<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        pandas(py, "Run.metrics_frame()")?.call_method1("DataFrame", (self.metrics.bind(py),))
    }

    /// The path `out / name` of a file of the run folder.
    fn path<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        self.out.bind(py).call_method1("joinpath", (name,))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let summary = self.summary.bind(py);
        let get = |k: &str| -> PyResult<String> {
            Ok(summary.get_item(k)?.map(|v| v.str().map(|s| s.to_string())).transpose()?.unwrap_or_default())
        };
        Ok(format!("Run(name={}, m={}, out={})", get("name")?, get("m")?, self.out.bind(py).str()?.to_str()?))
    }
}

/// Runs a scenario as `meanfield run` does and returns its outputs.
///
/// `scenario_or_path` is a `Scenario` or a scenario file; `seed` overrides its seed (as `--seed`),
/// `overrides` more values (a dict of dotted keys, as `--set`); outputs go to `out` (default
/// `runs/<name>`): metrics.csv, particles.npy, scenario.toml, the plots (unless run.plots =
/// false) and summary.json, byte-identical to the command line's for the same scenario and seed
/// (but for wall_seconds). The GIL is released during the run; `threads` sets the rayon threads
/// (default `RAYON_NUM_THREADS`, else all cores); results do not depend on it.
///
/// Ctrl-C stops the run after its current step, writes the checkpoint and metrics.csv, and raises
/// KeyboardInterrupt; `resume=True` continues from the checkpoint. `force=True` overwrites a
/// folder holding another scenario's run. Raises ScenarioError (invalid scenario) and
/// DivergedError (exit code 3 of the command line).
#[pyfunction]
#[pyo3(signature = (scenario_or_path, out=None, seed=None, quiet=true, threads=None, overrides=None, force=false, resume=false))]
#[allow(clippy::too_many_arguments)]
pub fn run(
    py: Python<'_>,
    scenario_or_path: &Bound<'_, PyAny>,
    out: Option<PathBuf>,
    seed: Option<u64>,
    quiet: bool,
    threads: Option<usize>,
    overrides: Option<&Bound<'_, PyAny>>,
    force: bool,
    resume: bool,
) -> PyResult<PyRun> {
    let mut sets = crate::scenario::override_list(overrides)?;
    if let Some(seed) = seed {
        sets.push(format!("seed={seed}"));
    }
    let scenario = resolve(py, scenario_or_path, &sets)?;
    let threads = Threads::new(threads)?;
    let out = out.unwrap_or_else(|| runner::default_out_dir(&scenario));
    let interrupt = Arc::new(AtomicBool::new(false));
    let control = RunControl {
        verbosity: if quiet { Verbosity::Quiet } else { Verbosity::Normal },
        resume,
        force,
        interrupt: Some(interrupt.clone()),
        comm: None,
    };
    let summary = interruptible(py, &threads, &interrupt, || runner::run_with(&scenario, &out, &control))?
        .map_err(scenario_error)?;
    if !quiet {
        let last = &summary.last;
        let line = format!(
            "{}: {} steps of m = {} particles in {:.1} s; loss {:.6e}; outputs in {}",
            summary.name,
            summary.timings.steps,
            summary.m,
            summary.timings.total_seconds,
            last.loss,
            out.display()
        );
        py.import("sys")?.getattr("stderr")?.call_method1("write", (line + "\n",))?;
    }
    PyRun::read(py, &out)
}

/// Runs a sweep file as `meanfield sweep FILE` does (complete runs are skipped unless `force`),
/// in a pool of `jobs` threads shared by the runs and their kernels (default `RAYON_NUM_THREADS`,
/// else all cores), into `out` (default `runs/sweeps/<name>`), and returns `sweep.csv`: a pandas
/// DataFrame when pandas is installed, else a dict of numpy arrays (one per column: the axis keys,
/// `run`, loss, gap, certificate, excess, time_to_gap, train_error, test_error, margin,
/// wall_seconds, second_moment).
///
/// Ctrl-C stops the running runs after their current step (with checkpoints), skips the others
/// and raises KeyboardInterrupt; calling `sweep` again continues.
#[pyfunction]
#[pyo3(signature = (path, jobs=None, out=None, force=false, quiet=true))]
pub fn sweep<'py>(
    py: Python<'py>,
    path: PathBuf,
    jobs: Option<usize>,
    out: Option<PathBuf>,
    force: bool,
    quiet: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let (plan, scenarios) = py.detach(|| Sweep::load(&path)).map_err(scenario_error)?;
    Threads::new(jobs)?;
    let out = out.unwrap_or_else(|| plan.default_out_dir());
    let interrupt = Arc::new(AtomicBool::new(false));
    let options = SweepOptions {
        jobs,
        shard: None,
        force,
        verbosity: if quiet { Verbosity::Quiet } else { Verbosity::Normal },
        interrupt: Some(interrupt.clone()),
    };
    interruptible(py, &Threads::default(), &interrupt, || run_sweep(&plan, &scenarios, &out, &options))?
        .map_err(scenario_error)?;
    let table = detached(py, &Threads::default(), || Table::read(&out.join("sweep.csv"))).map_err(scenario_error)?;
    let dict = table.into_dict(py)?;
    match py.import("pandas") {
        Ok(pandas) => pandas.call_method1("DataFrame", (dict,)),
        Err(_) => Ok(dict.into_bound(py).into_any()),
    }
}
