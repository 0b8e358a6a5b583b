//! The crate's errors as Python exceptions, with the command line's messages.

use meanfield::Error;
use pyo3::create_exception;
use pyo3::exceptions::{
    PyFileExistsError, PyFileNotFoundError, PyKeyboardInterrupt, PyOSError, PyPermissionError, PyRuntimeError,
    PyValueError,
};
use pyo3::PyErr;

create_exception!(
    meanfield,
    ScenarioError,
    PyValueError,
    "An invalid scenario, sweep file, override or data file (what the command line rejects with \
     exit code 2); the message is the command line's: file, field, value and what is allowed."
);
create_exception!(
    meanfield,
    DivergedError,
    PyRuntimeError,
    "The dynamics diverged (a training prediction beyond 1e8 in size, or a non-finite loss); the \
     message names the step and suggests a step size."
);

/// `error` as a Python exception; invalid input (exit code 2 of the command line) becomes a
/// `ScenarioError`.
pub fn scenario_error(error: Error) -> PyErr {
    convert(error, ScenarioError::new_err)
}

/// `error` as a Python exception; invalid input becomes a `ValueError` (arguments of a function
/// that reads no scenario).
pub fn value_error(error: Error) -> PyErr {
    convert(error, PyValueError::new_err)
}

fn convert(error: Error, invalid: impl FnOnce(String) -> PyErr) -> PyErr {
    let message = error.to_string();
    match error {
        Error::Diverged { .. } => DivergedError::new_err(message),
        Error::Interrupted { .. } => PyKeyboardInterrupt::new_err(message),
        Error::OutputExists { .. } => PyFileExistsError::new_err(message),
        Error::Io { source, .. } => match source.kind() {
            std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(message),
            std::io::ErrorKind::PermissionDenied => PyPermissionError::new_err(message),
            _ => PyOSError::new_err(message),
        },
        _ if error.exit_code() == 2 => invalid(message),
        _ => PyRuntimeError::new_err(message),
    }
}
