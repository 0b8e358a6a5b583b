//! numpy arguments: validated (type, dtype, dimensions, contiguity, finite values) with a
//! `ValueError` naming the argument, and copied into owned arrays before the GIL is released, so
//! that no Rust work ever reads memory that Python may free or change.

use ndarray::{Array1, Array2};
use numpy::{PyArrayDyn, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// The float64 array behind `value` (a numpy array, or a list/tuple, which numpy converts), checked
/// to have `ndim` dimensions, C order and finite values; `name` names it in errors.
fn checked<'py>(value: &Bound<'py, PyAny>, name: &str, ndim: usize) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    let py = value.py();
    let array = match value.cast::<PyUntypedArray>() {
        Ok(array) => array.clone(),
        Err(_) if value.is_instance_of::<pyo3::types::PyList>() || value.is_instance_of::<pyo3::types::PyTuple>() => {
            let numpy = py.import("numpy")?;
            let converted = numpy
                .call_method1("asarray", (value, "float64"))
                .map_err(|e| PyValueError::new_err(format!("{name}: cannot be read as a float64 array: {e}")))?;
            converted
                .cast_into::<PyUntypedArray>()
                .map_err(|_| PyValueError::new_err(format!("{name}: not an array")))?
        }
        Err(_) => {
            return Err(PyValueError::new_err(format!(
                "{name}: expected a numpy array of float64, got {}",
                value.get_type().name()?
            )))
        }
    };
    let dtype = array.dtype();
    let array = array.cast_into::<PyArrayDyn<f64>>().map_err(|_| {
        PyValueError::new_err(format!(
            "{name}: dtype {dtype} is not float64; convert with {name}.astype(numpy.float64)"
        ))
    })?;
    if array.ndim() != ndim {
        return Err(PyValueError::new_err(format!("{name}: expected a {ndim}-d array, got shape {:?}", array.shape())));
    }
    if !array.is_c_contiguous() {
        return Err(PyValueError::new_err(format!(
            "{name}: the array is not C-contiguous; pass numpy.ascontiguousarray({name})"
        )));
    }
    Ok(array)
}

/// The first non-finite value of `values`, as (index, value).
fn first_non_finite<'a>(values: impl Iterator<Item = &'a f64>) -> Option<(usize, f64)> {
    values.enumerate().find(|(_, v)| !v.is_finite()).map(|(i, v)| (i, *v))
}

/// A 2-d float64 argument, copied; `columns` fixes its number of columns when given.
pub fn matrix(value: &Bound<'_, PyAny>, name: &str, columns: Option<(usize, &str)>) -> PyResult<Array2<f64>> {
    let array = checked(value, name, 2)?;
    let owned = array.readonly().as_array().to_owned();
    let owned = owned.into_dimensionality::<ndarray::Ix2>().expect("checked: two dimensions");
    if let Some((cols, what)) = columns {
        if owned.ncols() != cols {
            return Err(PyValueError::new_err(format!(
                "{name}: shape {:?} has {} columns, but {what} need {cols}",
                owned.shape(),
                owned.ncols()
            )));
        }
    }
    if owned.nrows() == 0 || owned.ncols() == 0 {
        return Err(PyValueError::new_err(format!("{name}: shape {:?} is empty", owned.shape())));
    }
    if let Some((i, v)) = first_non_finite(owned.iter()) {
        let (row, col) = (i / owned.ncols(), i % owned.ncols());
        return Err(PyValueError::new_err(format!("{name}[{row}, {col}] = {v}: values must be finite")));
    }
    Ok(owned)
}

/// A 1-d float64 argument of `len` entries, copied.
pub fn vector(value: &Bound<'_, PyAny>, name: &str, len: (usize, &str)) -> PyResult<Array1<f64>> {
    let array = checked(value, name, 1)?;
    let owned = array.readonly().as_array().to_owned();
    let owned = owned.into_dimensionality::<ndarray::Ix1>().expect("checked: one dimension");
    if owned.len() != len.0 {
        return Err(PyValueError::new_err(format!("{name}: {} entries, but {} has {}", owned.len(), len.1, len.0)));
    }
    if let Some((i, v)) = first_non_finite(owned.iter()) {
        return Err(PyValueError::new_err(format!("{name}[{i}] = {v}: values must be finite")));
    }
    Ok(owned)
}
