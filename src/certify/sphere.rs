//! The sphere maximum S = sup_{|v|=1} |phi(v)| (docs/math.md, section Sphere maximum): its method, its cost
//! model and the entry point that chooses between the exact search (`exact`) and the estimate
//! (`estimate`).

use ndarray::{Array1, ArrayView1, ArrayView2};

use super::estimate::estimate_max;
use super::exact::exact_max;
use crate::error::{Error, Result};
use crate::geometry::arrangement::{norm, DistinctDirections};

/// Result of the sphere maximisation S = sup_{|v|=1} |sum_i r_i relu(v . x_i)|.
#[derive(Clone, Debug, PartialEq)]
pub struct SphereMax {
    /// S (exact, or the best value found when estimated: then a lower bound on S).
    pub value: f64,
    /// A unit vector v with |sum_i r_i relu(v . x_i)| = value.
    pub argmax: Array1<f64>,
    /// Whether `value` is the exact supremum (all cells of the arrangement examined).
    pub exact: bool,
}

/// How S is computed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SphereMethod {
    /// Exact when its estimated cost ([`exact_cost`]) is at most [`EXACT_BUDGET`], else estimated.
    #[default]
    Auto,
    /// Exact enumeration of the arrangement, whatever the cost.
    Exact,
    /// Local search from particle and random directions; never exact.
    Estimate,
}

/// Work budget (in [`exact_cost`] units, about one floating point operation each) under which `Auto`
/// computes S exactly: about a second of work; at d = 3 it admits up to about 1900 distinct input directions.
pub const EXACT_BUDGET: f64 = 1e8;

/// Estimated work of the exact sphere maximum for k distinct input directions in dimension d:
/// k log2 k for d <= 2, and k^(d-1) (d + log2 k) 2^(d-2) for d >= 3 (k^(d-2) planes of the descent, each
/// sorted, with 2^(d-2) cells per arc).
pub fn exact_cost(k: usize, d: usize) -> f64 {
    let k = k.max(2) as f64;
    if d <= 2 {
        k * k.log2()
    } else {
        k.powi(d as i32 - 1) * (d as f64 + k.log2()) * 2f64.powi(d as i32 - 2)
    }
}

/// S = sup_{|v|=1} |sum_i r_i relu(v . x_i)| for inputs `x` (n x d) and weights `r` (n).
///
/// `directions` (rows, e.g. particle input weights u_j; normalised, zero rows skipped) are evaluated
/// first: they seed the estimate, and give the exact search an initial lower bound. `seed` fixes the
/// random directions of the estimate. The result does not depend on the number of threads.
pub fn sphere_max(
    x: ArrayView2<f64>,
    r: ArrayView1<f64>,
    directions: Option<ArrayView2<f64>>,
    method: SphereMethod,
    seed: u64,
) -> Result<SphereMax> {
    let (n, d) = x.dim();
    if d == 0 {
        return Err(Error::Invalid("sphere_max: inputs have dimension 0".into()));
    }
    if r.len() != n {
        return Err(Error::Invalid(format!("sphere_max: {n} inputs but {} weights r", r.len())));
    }
    if let Some(u) = &directions {
        if u.ncols() != d {
            return Err(Error::Invalid(format!(
                "sphere_max: directions have {} columns but the inputs have d = {d}",
                u.ncols()
            )));
        }
    }
    if x.iter().chain(r.iter()).chain(directions.iter().flat_map(|u| u.iter())).any(|v| !v.is_finite()) {
        return Err(Error::Invalid("sphere_max: inputs, weights and directions must be finite".into()));
    }
    let starts = start_directions(directions);
    let exact = match method {
        SphereMethod::Exact => true,
        SphereMethod::Estimate => false,
        SphereMethod::Auto => {
            d == 1 || exact_cost(n, d) <= EXACT_BUDGET || {
                (n as f64).powi(2) * d as f64 <= 4.0 * EXACT_BUDGET
                    && exact_cost(DistinctDirections::new(x).len(), d) <= EXACT_BUDGET
            }
        }
    };
    let (value, argmax) = if exact { exact_max(x, r, &starts, Some(seed)) } else { estimate_max(x, r, &starts, seed) };
    if exact {
        // The exact search stops early on Ctrl-C or SIGTERM; its partial maximum is not a certificate.
        crate::interrupt::check_signals("the exact sphere maximum of the certificate")?;
    }
    Ok(SphereMax { value, argmax: Array1::from(argmax), exact })
}

/// The unit rows of `directions` (zero rows skipped), or none.
fn start_directions(directions: Option<ArrayView2<f64>>) -> Vec<Vec<f64>> {
    let Some(u) = directions else { return Vec::new() };
    u.outer_iter()
        .filter_map(|row| {
            let nr = row.dot(&row).sqrt();
            (nr > 0.0).then(|| row.iter().map(|v| v / nr).collect())
        })
        .collect()
}

/// phi(v) = sum_i r_i relu(v . x_i), directly from the data.
pub(super) fn phi(x: ArrayView2<f64>, r: ArrayView1<f64>, v: &[f64]) -> f64 {
    x.outer_iter().zip(r).map(|(xi, ri)| ri * xi.iter().zip(v).map(|(a, b)| a * b).sum::<f64>().max(0.0)).sum()
}

/// The value |phi(v)| from the original data at the normalised maximiser.
pub(super) fn finish(x: ArrayView2<f64>, r: ArrayView1<f64>, v: Vec<f64>) -> (f64, Vec<f64>) {
    let nv = norm(&v);
    let v: Vec<f64> = v.iter().map(|c| c / nv).collect();
    (phi(x, r, &v).abs(), v)
}

/// e_1.
pub(super) fn unit(d: usize) -> Vec<f64> {
    let mut e = vec![0.0; d];
    e[0] = 1.0;
    e
}
