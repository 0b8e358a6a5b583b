//! `meanfield.Scenario`: a checked scenario, loaded from a file or TOML text with `--set`-style
//! overrides.

use std::path::{Path, PathBuf};

use meanfield::config::{Scenario, ValidScenario};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::errors::scenario_error;

/// The name of scenario text that comes from no file, in messages.
const TEXT_SOURCE: &str = "<string>";

/// A checked scenario (the command line's `meanfield validate` output is its `to_toml()`).
///
/// Create one with `Scenario.load(path, overrides=None)` or `Scenario.from_toml(text)`; invalid
/// input raises `ScenarioError` with the command line's message. Relative paths inside the
/// scenario (csv data, initial clouds) are resolved against the file's folder (the current
/// folder for text), as by the command line.
#[pyclass(name = "Scenario", module = "meanfield", frozen)]
#[derive(Clone)]
pub struct PyScenario {
    pub inner: ValidScenario,
}

/// A Python value as the VALUE of a `--set KEY=VALUE` override: strings as written (a TOML value or
/// a bare string, as on the command line), numbers, booleans, lists and dicts as TOML.
fn override_text(key: &str, value: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(text) = value.cast::<PyString>() {
        return Ok(text.to_str()?.to_string());
    }
    Ok(toml_value(key, value)?.to_string())
}

fn toml_value(key: &str, value: &Bound<'_, PyAny>) -> PyResult<toml::Value> {
    if let Ok(b) = value.cast::<PyBool>() {
        return Ok(toml::Value::Boolean(b.is_true()));
    }
    if value.is_instance_of::<PyInt>() {
        return Ok(toml::Value::Integer(value.extract::<i64>()?));
    }
    if value.is_instance_of::<PyFloat>() {
        return Ok(toml::Value::Float(value.extract::<f64>()?));
    }
    if let Ok(text) = value.cast::<PyString>() {
        return Ok(toml::Value::String(text.to_str()?.to_string()));
    }
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        let items = value.try_iter()?.map(|item| toml_value(key, &item?)).collect::<PyResult<Vec<_>>>()?;
        return Ok(toml::Value::Array(items));
    }
    if let Ok(dict) = value.cast::<PyDict>() {
        let mut table = toml::Table::new();
        for (k, v) in dict.iter() {
            table.insert(k.extract::<String>()?, toml_value(key, &v)?);
        }
        return Ok(toml::Value::Table(table));
    }
    // numpy scalars and other numbers
    if let Ok(x) = value.extract::<f64>() {
        return Ok(toml::Value::Float(x));
    }
    Err(PyTypeError::new_err(format!(
        "overrides[{key:?}]: a {} cannot be written as a TOML value; use a str, int, float, bool, list or dict",
        value.get_type().name()?
    )))
}

/// `overrides` as `KEY=VALUE` texts: a dict {dotted key: value}, or a list of "KEY=VALUE" strings.
pub fn override_list(overrides: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<String>> {
    let Some(overrides) = overrides else { return Ok(Vec::new()) };
    if overrides.is_none() {
        return Ok(Vec::new());
    }
    if let Ok(dict) = overrides.cast::<PyDict>() {
        return dict
            .iter()
            .map(|(k, v)| {
                let key = k.extract::<String>().map_err(|_| PyTypeError::new_err("overrides: keys must be str"))?;
                Ok(format!("{key}={}", override_text(&key, &v)?))
            })
            .collect();
    }
    if overrides.is_instance_of::<PyList>() || overrides.is_instance_of::<PyTuple>() {
        return overrides
            .try_iter()?
            .map(|item| {
                item?
                    .extract::<String>()
                    .map_err(|_| PyTypeError::new_err("overrides: list items must be \"KEY=VALUE\" str"))
            })
            .collect();
    }
    Err(PyTypeError::new_err(format!(
        "overrides: expected a dict of dotted keys, e.g. {{\"dynamics.eta\": 0.1}}, got {}",
        overrides.get_type().name()?
    )))
}

/// Re-resolves a checked scenario with more overrides (its paths are already absolute).
pub fn with_overrides(scenario: &ValidScenario, overrides: &[String]) -> meanfield::Result<ValidScenario> {
    if overrides.is_empty() {
        return Ok(scenario.clone());
    }
    Scenario::parse(&scenario.to_toml(), &scenario.source, overrides)?.check(Path::new(&scenario.source))
}

/// A scenario argument: a `Scenario`, or a path to a scenario file; `overrides` applied.
pub fn resolve(py: Python<'_>, value: &Bound<'_, PyAny>, overrides: &[String]) -> PyResult<ValidScenario> {
    if let Ok(scenario) = value.cast::<PyScenario>() {
        let inner = &scenario.get().inner;
        return py.detach(|| with_overrides(inner, overrides)).map_err(scenario_error);
    }
    let path: PathBuf = value.extract().map_err(|_| {
        PyTypeError::new_err(format!(
            "expected a meanfield.Scenario or the path of a scenario file, got {}",
            value.get_type().name().map(|n| n.to_string()).unwrap_or_default()
        ))
    })?;
    py.detach(|| ValidScenario::load(&path, overrides)).map_err(scenario_error)
}

#[pymethods]
impl PyScenario {
    /// Reads a scenario file and applies `overrides` (a dict of dotted keys, as `--set`, e.g.
    /// `{"dynamics.eta": 0.1, "data.noise": "sign"}`), then checks every value.
    ///
    /// Raises `ScenarioError` with the command line's message when the file or a value is invalid.
    #[staticmethod]
    #[pyo3(signature = (path, overrides=None))]
    fn load(py: Python<'_>, path: PathBuf, overrides: Option<&Bound<'_, PyAny>>) -> PyResult<PyScenario> {
        let overrides = override_list(overrides)?;
        let inner = py.detach(|| ValidScenario::load_cli(&path, &[], &overrides)).map_err(scenario_error)?;
        Ok(PyScenario { inner })
    }

    /// Parses and checks scenario text (TOML, as in a scenario file). A scenario without `name`
    /// is named `scenario`; relative paths are resolved against the current folder.
    #[staticmethod]
    #[pyo3(signature = (text, overrides=None))]
    fn from_toml(py: Python<'_>, text: &str, overrides: Option<&Bound<'_, PyAny>>) -> PyResult<PyScenario> {
        let overrides = override_list(overrides)?;
        let inner = py
            .detach(|| {
                let mut scenario = Scenario::parse(text, TEXT_SOURCE, &overrides)?;
                scenario.name.get_or_insert_with(|| "scenario".to_string());
                scenario.check(Path::new(TEXT_SOURCE))
            })
            .map_err(scenario_error)?;
        Ok(PyScenario { inner })
    }

    /// The resolved scenario as TOML: every default filled in, paths absolute. Running it
    /// reproduces the run (`Scenario.from_toml(s.to_toml())` gives the same scenario).
    fn to_toml(&self) -> String {
        self.inner.to_toml()
    }

    /// A copy with more overrides applied (a dict of dotted keys, as `--set`).
    fn with_overrides(&self, py: Python<'_>, overrides: &Bound<'_, PyAny>) -> PyResult<PyScenario> {
        let overrides = override_list(Some(overrides))?;
        let inner = py.detach(|| with_overrides(&self.inner, &overrides)).map_err(scenario_error)?;
        Ok(PyScenario { inner })
    }

    /// The run's name (outputs go to `runs/<name>` by default).
    #[getter]
    fn name(&self) -> String {
        self.inner.name.clone()
    }

    /// The seed of the data, the initial cloud and the noise.
    #[getter]
    fn seed(&self) -> u64 {
        self.inner.seed()
    }

    /// The file the scenario was read from (`<string>` for text).
    #[getter]
    fn source(&self) -> String {
        self.inner.source.clone()
    }

    /// The number of steps of a run (`run.steps`).
    #[getter]
    fn steps(&self) -> u64 {
        self.inner.scenario.run.steps
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PyScenario>().is_ok_and(|o| o.get().inner.to_toml() == self.inner.to_toml())
    }

    fn __repr__(&self) -> String {
        format!("Scenario(name={:?}, source={:?}, seed={})", self.inner.name, self.inner.source, self.inner.seed())
    }
}
