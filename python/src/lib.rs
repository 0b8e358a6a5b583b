//! `meanfield._meanfield`: the Python module of the `meanfield` crate, a thin layer over it.
//!
//! Every computation is the crate's: this layer converts arguments (numpy arrays are validated and
//! copied before the GIL is released), runs the work with the GIL released on the caller's rayon
//! pool (`threads=`, else `RAYON_NUM_THREADS` or all cores), turns Ctrl-C into a stop after the
//! current step and a `KeyboardInterrupt`, and converts the results to numpy arrays and dicts.
//! The package `meanfield` (python/meanfield) re-exports it.

use pyo3::prelude::*;

mod arrays;
mod errors;
mod run;
mod scenario;
mod simulation;
mod solve;
mod table;
mod work;

#[pymodule]
fn _meanfield(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("ScenarioError", py.get_type::<errors::ScenarioError>())?;
    m.add("DivergedError", py.get_type::<errors::DivergedError>())?;
    m.add_class::<scenario::PyScenario>()?;
    m.add_class::<run::PyRun>()?;
    m.add_class::<simulation::PySimulation>()?;
    m.add_function(wrap_pyfunction!(run::run, m)?)?;
    m.add_function(wrap_pyfunction!(run::sweep, m)?)?;
    m.add_function(wrap_pyfunction!(solve::optimum, m)?)?;
    m.add_function(wrap_pyfunction!(solve::ntk_gram, m)?)?;
    m.add_function(wrap_pyfunction!(solve::ntk_min_norm, m)?)?;
    m.add_function(wrap_pyfunction!(solve::ntk_svm, m)?)?;
    Ok(())
}
