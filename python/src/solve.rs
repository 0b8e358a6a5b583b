//! `meanfield.optimum` (the exact optimum L*, as `meanfield optimum --data ... --json`) and
//! `meanfield.ntk` (the network's tangent kernel and its predictors).

use meanfield::data::Dataset;
use meanfield::loss::Loss;
use meanfield::ntk::{self, KernelFit, Ntk};
use meanfield::Error;
use ndarray::{Array1, Array2};
use numpy::{IntoPyArray, PyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::arrays;
use crate::errors::value_error;
use crate::work::{detached, Threads};

/// The registered loss called `name`.
fn loss_of(name: &str) -> PyResult<Loss> {
    Loss::ALL.iter().copied().find(|l| l.name() == name).ok_or_else(|| {
        let names: Vec<String> = Loss::ALL.iter().map(|l| format!("{:?}", l.name())).collect();
        let (last, first) = names.split_last().expect("at least one loss is registered");
        let allowed = if first.is_empty() { last.clone() } else { format!("{} or {last}", first.join(", ")) };
        PyValueError::new_err(format!("loss = {name:?}: must be {allowed}"))
    })
}

/// Inputs `x` (n, d) and labels `y` (n) of one data set.
fn labelled(x: &Bound<'_, PyAny>, y: &Bound<'_, PyAny>) -> PyResult<(Array2<f64>, Array1<f64>)> {
    let x = arrays::matrix(x, "x", None)?;
    let y = arrays::vector(y, "y", (x.nrows(), "x (rows)"))?;
    Ok((x, y))
}

/// The exact global minimum L* of L[rho] = (1/n) sum_i l(y_i, F_i) + lam integral |theta|^2 d rho
/// over all measures rho, by the convex program of Pilanci & Ergen (2020) over the activation
/// patterns of the data (docs/math.md, section Convex program), solved by an interior-point
/// conic solver, as
/// `meanfield optimum --data FILE --lambda LAM --loss LOSS [--bias] --json`.
///
/// `x` is (n, d) float64, `y` (n) float64 (labels -1/+1 for the logistic loss), `lam` > 0; `bias`
/// appends a constant coordinate 1 to the inputs. Returns a dict with the command line's JSON keys
/// (value = L* of the recovered network, dual = the dual bound D <= L*, gap = value - dual, exact,
/// status, patterns, n, d, loss, lambda, seconds), where `neurons` is the recovered network as an
/// (k, 1 + d) float64 array of particles (w, u) (the file `--particles` writes; a mean-field cloud
/// of k particles with L[rho] = value), and `predictions` its predictions F at the rows of x.
#[pyfunction]
#[pyo3(signature = (x, y, lam, loss="logistic", bias=false, threads=None))]
pub fn optimum<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    lam: f64,
    loss: &str,
    bias: bool,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let loss = loss_of(loss)?;
    let (x, y) = labelled(x, y)?;
    let threads = Threads::new(threads)?;
    let (optimum, report) = detached(py, &threads, || {
        let data = meanfield::optimum::prepare(Dataset::new(x, y)?, loss, bias, "y")?;
        meanfield::footprint::check_convex("meanfield.optimum", "x", data.x.nrows(), data.x.ncols())?;
        meanfield::optimum::solve(&data, loss, lam, 0)
    })
    .map_err(value_error)?;
    let json = serde_json::to_string(&report).expect("a report always serialises");
    let dict = py.import("json")?.call_method1("loads", (json,))?.cast_into::<PyDict>()?;
    dict.set_item("neurons", optimum.particles.into_pyarray(py))?;
    dict.set_item("predictions", optimum.predictions.into_pyarray(py))?;
    Ok(dict)
}

fn kernel(r_w: f64, r_u: f64) -> PyResult<Ntk> {
    Ntk::new(r_w, r_u).map_err(value_error)
}

/// The NTK matrix K(x1_i, x2_j) of the two-layer ReLU network initialised with w ~ N(0, r_w^2),
/// u ~ N(0, r_u^2 I):
/// K(x, x') = r_w^2 (x . x') (pi - t) / (2 pi) + r_u^2 |x| |x'| (sin t + (pi - t) cos t) / (2 pi),
/// t the angle between x and x' (docs/math.md, section Kernels). `x2=None` gives the Gram matrix
/// of x1 (exactly symmetric).
#[pyfunction]
#[pyo3(name = "ntk_gram", signature = (x1, x2=None, r_w=1.0, r_u=1.0, threads=None))]
pub fn ntk_gram<'py>(
    py: Python<'py>,
    x1: &Bound<'py, PyAny>,
    x2: Option<&Bound<'py, PyAny>>,
    r_w: f64,
    r_u: f64,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let a = arrays::matrix(x1, "x1", None)?;
    let b = x2.map(|x2| arrays::matrix(x2, "x2", Some((a.ncols(), "the rows of x1")))).transpose()?;
    let k = kernel(r_w, r_u)?;
    let rows2 = b.as_ref().map_or(a.nrows(), |b| b.nrows());
    let x2_name = if b.is_some() { "x2" } else { "x1" };
    meanfield::footprint::check_ntk("meanfield.ntk.gram", ("x1", a.nrows()), (x2_name, rows2), a.ncols(), false)
        .map_err(value_error)?;
    let threads = Threads::new(threads)?;
    let matrix = detached(py, &threads, || k.matrix(a.view(), b.as_ref().unwrap_or(&a).view())).map_err(value_error)?;
    Ok(matrix.into_pyarray(py))
}

/// A kernel predictor's fit from the Gram matrix and the labels ([`ntk::interpolate`], [`ntk::svm`]).
type Fit = fn(ndarray::ArrayView2<f64>, ndarray::ArrayView1<f64>) -> Result<KernelFit, Error>;

/// Fits a kernel predictor on (x, y) and predicts at x_test; `function` names it in errors.
#[allow(clippy::too_many_arguments)]
fn kernel_predict<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    x_test: &Bound<'py, PyAny>,
    r_w: f64,
    r_u: f64,
    threads: Option<usize>,
    details: bool,
    (function, fit): (&str, Fit),
) -> PyResult<Bound<'py, PyAny>> {
    let (x, y) = labelled(x, y)?;
    let x_test = arrays::matrix(x_test, "x_test", Some((x.ncols(), "the rows of x")))?;
    let k = kernel(r_w, r_u)?;
    meanfield::footprint::check_ntk(function, ("x", x.nrows()), ("x_test", x_test.nrows()), x.ncols(), true)
        .map_err(value_error)?;
    let threads = Threads::new(threads)?;
    let (fitted, predictions, norm) = detached(py, &threads, || -> Result<_, Error> {
        let gram = k.gram(x.view());
        let fitted = fit(gram.view(), y.view())?;
        let predictions = fitted.predict(k.matrix(x_test.view(), x.view())?.view());
        let norm = fitted.norm(gram.view());
        Ok((fitted, predictions, norm))
    })
    .map_err(value_error)?;
    if !details {
        return Ok(predictions.into_pyarray(py).into_any());
    }
    let dict = PyDict::new(py);
    dict.set_item("predictions", predictions.into_pyarray(py))?;
    dict.set_item("beta", fitted.beta.into_pyarray(py))?;
    dict.set_item("norm", norm)?;
    dict.set_item("jitter", fitted.jitter)?;
    dict.set_item("residual", fitted.residual)?;
    Ok(dict.into_any())
}

/// Declares the kernel predictors `ntk_min_norm` and `ntk_svm`: one Python signature
/// `(x, y, x_test, r_w=1.0, r_u=1.0, details=false, threads=None)` over [`kernel_predict`] with
/// the fit of each, named in errors as `public`.
macro_rules! kernel_predictors {
    ($($(#[doc = $doc:literal])* $name:ident = $python:literal as $public:literal, $fit:path;)*) => {$(
        $(#[doc = $doc])*
        #[pyfunction]
        #[pyo3(name = $python, signature = (x, y, x_test, r_w=1.0, r_u=1.0, details=false, threads=None))]
        #[allow(clippy::too_many_arguments)]
        pub fn $name<'py>(
            py: Python<'py>,
            x: &Bound<'py, PyAny>,
            y: &Bound<'py, PyAny>,
            x_test: &Bound<'py, PyAny>,
            r_w: f64,
            r_u: f64,
            details: bool,
            threads: Option<usize>,
        ) -> PyResult<Bound<'py, PyAny>> {
            kernel_predict(py, x, y, x_test, r_w, r_u, threads, details, ($public, $fit))
        }
    )*};
}

kernel_predictors! {
    /// Minimum-norm interpolation with the NTK: beta = K^{-1} y (K the Gram matrix of x), predictions
    /// f(x') = sum_i beta_i K(x', x_i) at the rows of x_test. With `details=True` returns a dict:
    /// predictions, beta, norm = sqrt(beta' K beta), jitter (added to K's diagonal if K was singular)
    /// and residual (max |K beta - y| / max |y|).
    ntk_min_norm = "ntk_min_norm" as "meanfield.ntk.min_norm", ntk::interpolate;
    /// The kernel SVM with the NTK (no bias): min (1/2) beta' K beta subject to y_i (K beta)_i >= 1,
    /// labels -1/+1; predictions f(x') = sum_i beta_i K(x', x_i) at the rows of x_test. The RKHS
    /// margin is 1 / norm. `details=True` returns a dict as `min_norm` does (residual: largest
    /// |margin - 1| on the support vectors).
    ntk_svm = "ntk_svm" as "meanfield.ntk.svm", ntk::svm;
}
