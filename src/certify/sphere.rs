//! The sphere maximum S = sup_{|v|=1} |phi(v)| (docs/math.md, section Sphere maximum): its result, its method
//! and the entry point that chooses between the exact search (`exact`) and the estimate (`estimate`).

use ndarray::{Array1, ArrayView1, ArrayView2};

use super::estimate::estimate_max;
use super::exact::{exact_cost, exact_max, EXACT_BUDGET};
use crate::error::{Error, Result};
use crate::geometry::arrangement::DistinctDirections;

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
