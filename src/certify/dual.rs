//! The dual bound D = -R*(c r) <= L* (docs/math.md, section Dual bound).

use ndarray::{Array1, ArrayView1, ArrayView2};

use super::sphere::{sphere_max, SphereMethod};
use crate::error::{Error, Result};
use crate::loss::Loss;

/// The data of a dual bound: the loss, the labels y (n), the inputs x (n x d) and lambda of
/// min_mu R(F_mu) + 2 lambda |mu|_TV (docs/math.md, section Dual bound).
#[derive(Clone, Copy, Debug)]
pub struct DualProblem<'a> {
    /// The loss l of R(F) = (1/n) sum_i l(y_i, F_i).
    pub loss: Loss,
    /// The labels y_i.
    pub y: ArrayView1<'a, f64>,
    /// The inputs x_i, one per row.
    pub x: ArrayView2<'a, f64>,
    /// The regularisation strength lambda >= 0.
    pub lambda: f64,
}

/// D, c, S and whether the certificate is exact.
#[derive(Clone, Debug, PartialEq)]
pub struct DualBound {
    /// D = -R*(c r) <= L*.
    pub dual: f64,
    /// S = sup_{|v|=1} |sum_i r_i relu(v . x_i)|.
    pub s: f64,
    /// c = min(1, 2 lambda / S) (c = 1 if S = 0).
    pub c: f64,
    /// Whether S is exact, so that D is a certified lower bound.
    pub exact: bool,
}

/// The dual lower bound at predictions `f`: r_i = l'(y_i, F_i) / n, then [`dual_value`] at beta = r.
/// `directions`, `method` and `seed` are those of [`sphere_max`].
pub fn dual_bound(
    problem: &DualProblem,
    f: ArrayView1<f64>,
    directions: Option<ArrayView2<f64>>,
    method: SphereMethod,
    seed: u64,
) -> Result<DualBound> {
    let (loss, y) = (problem.loss, problem.y);
    if f.len() != y.len() {
        return Err(Error::Invalid(format!("dual_bound: {} labels but {} predictions", y.len(), f.len())));
    }
    if f.iter().any(|v| !v.is_finite()) {
        return Err(Error::Invalid("dual_bound: predictions must be finite".into()));
    }
    let r = Array1::from(loss.risk_gradient(&y.to_vec(), &f.to_vec()));
    dual_value(problem, r.view(), directions, method, seed)
}

/// The dual bound at any dual vector beta: S = [`sphere_max`] of beta, c = min(1, 2 lambda / S) (1 if S = 0),
/// D = -R*(c beta) with R*(beta) = (1/n) sum_i l*(y_i, n beta_i). c beta is dual feasible, so D <= L* (when S
/// is exact); D = -inf if c beta is outside the domain of R* (logistic: -n c beta_i y_i must lie in [0, 1]).
pub fn dual_value(
    problem: &DualProblem,
    beta: ArrayView1<f64>,
    directions: Option<ArrayView2<f64>>,
    method: SphereMethod,
    seed: u64,
) -> Result<DualBound> {
    dual_value_argmax(problem, beta, directions, method, seed).map(|(bound, _)| bound)
}

/// [`dual_value`] and the unit vector v of the sphere maximum, |sum_i beta_i relu(v . x_i)| = S: the direction
/// where the dual constraint is most violated (where mass lowers L fastest when beta is the residual r).
pub fn dual_value_argmax(
    problem: &DualProblem,
    beta: ArrayView1<f64>,
    directions: Option<ArrayView2<f64>>,
    method: SphereMethod,
    seed: u64,
) -> Result<(DualBound, Array1<f64>)> {
    let DualProblem { loss, y, x, lambda } = *problem;
    let n = x.nrows();
    if y.len() != n || beta.len() != n {
        return Err(Error::Invalid(format!(
            "dual_bound: {n} inputs but {} labels and {} dual variables",
            y.len(),
            beta.len()
        )));
    }
    if n == 0 {
        return Err(Error::Invalid("dual_bound: no samples".into()));
    }
    if !(lambda >= 0.0 && lambda.is_finite()) {
        return Err(Error::Invalid(format!("dual_bound: lambda = {lambda}; it must be finite and >= 0")));
    }
    if y.iter().chain(beta.iter()).any(|v| !v.is_finite()) {
        return Err(Error::Invalid("dual_bound: labels and dual variables must be finite".into()));
    }
    let sm = sphere_max(x, beta, directions, method, seed)?;
    let c = if sm.value > 0.0 { (2.0 * lambda / sm.value).min(1.0) } else { 1.0 };
    let scaled: Vec<f64> = beta.iter().map(|b| c * b).collect();
    let dual = -loss.risk_conjugate(&y.to_vec(), &scaled);
    Ok((DualBound { dual, s: sm.value, c, exact: sm.exact }, sm.argmax))
}
