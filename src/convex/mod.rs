//! The exact global optimum L* by the convex program of Pilanci & Ergen (2020) (docs/math.md, section Convex program).
//!
//! With activation patterns D_k = diag(1[X g_k >= 0]), k = 1..K,
//!
//! ```text
//! min over v_k, w_k in R^d of  R(sum_k D_k X (v_k - w_k)) + 2 lambda sum_k (|v_k|_2 + |w_k|_2)
//! subject to (2 D_k - I) X v_k >= 0,  (2 D_k - I) X w_k >= 0.
//! ```
//!
//! With every pattern of the arrangement of the hyperplanes x_i . v = 0 it equals L*; with a subset it is an
//! upper bound. It is solved by `clarabel` as a conic program: variables (v, w, a, b, z) with
//! |v_k| <= a_k and |w_k| <= b_k (second-order cones), z_p = sum_k D_k X (v_k - w_k) at each distinct input
//! p (zero cone), the pattern constraints (nonnegative cone; one row per distinct hyperplane and side, and
//! for a complete enumeration only the facets of each cell) and, with c the number of samples sharing an
//! (input, label) pair divided by n,
//! - squared loss: objective sum c (z_p - y)^2 / 2 + 2 lambda sum (a + b) (quadratic term P);
//! - logistic loss: log(1 + exp(-y z_p)) <= t as u1 + u2 <= 1, (-t, 1, u1) and (-y z_p - t, 1, u2) in
//!   clarabel's exponential cone {(x, y, z) : y exp(x / y) <= z, y > 0}, that is
//!   exp(-t) + exp(-y z_p - t) <= 1; objective sum c t + 2 lambda sum (a + b).
//!
//! When there are too many patterns, a sampled set is grown by column generation: at a solution with
//! residual r = grad R(F), a direction v with |sum_i r_i relu(v . x_i)| > 2 lambda gives a pattern that
//! improves the objective; when S = sup_{|v|=1} |...| <= 2 lambda (1 + tol) no pattern can, and the dual
//! bound of [`crate::certify`] certifies the solution.
//!
//! A network is read back in the finite-width form (docs/math.md, section Network as a measure): one neuron
//! u~ = v_k / sqrt|v_k|, w~ = sqrt|v_k| per nonzero v_k and u~ = w_k / sqrt|w_k|, w~ = -sqrt|w_k| per nonzero
//! w_k; its penalty
//! w~^2 + |u~|^2 = 2 |v_k| is the program's, and its predictions are sum relu(X v_k) - relu(X w_k).
//! Interior-point solutions split a neuron among the patterns whose cones share its direction: parallel
//! neurons of the same sign are merged (exact for parallel ones), and the amplitudes |v_k| are polished by
//! Newton's method with the directions fixed, which makes F accurate beyond the solver's ~sqrt(tolerance).
//! `value` is always L of the returned cloud, so value >= L*, and `dual` <= L* when the sphere maximum is
//! exact.
//!
//! [`max_margin`] solves the hard-margin limit lambda -> 0 over the same patterns: the maximum normalised
//! margin gamma* = 1 / (2 min sum_k (|v_k| + |w_k|)) subject to y_i (sum_k D_k X (v_k - w_k))_i >= 1 (derived
//! there), with a dual upper bound.
//!
//! Files: `patterns` (cells and constraint rows), `program` (the conic program and its solver), `column`
//! ([`solve`]: complete program or column generation), `merge` (reading the network back), `polish`
//! (Newton's method on the amplitudes), `margin` ([`max_margin`]).

mod column;
mod margin;
mod merge;
mod patterns;
mod polish;
mod program;

use ndarray::{Array1, Array2};

pub use column::{solve, solve_with_patterns};
pub use margin::{max_margin, MaxMargin};
pub use merge::{cloud_margin, cloud_objective, cloud_predictions};
pub use patterns::enumerate_patterns;

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::loss::Loss;

/// Options of [`solve`].
#[derive(Clone, Debug, PartialEq)]
pub struct OptimumOptions {
    /// Largest number of patterns in one conic program. When the arrangement has at most this many, all are
    /// used (exact); otherwise patterns are sampled and grown by column generation up to this number.
    pub max_patterns: usize,
    /// Largest number of column-generation rounds (conic solves).
    pub max_rounds: usize,
    /// Column generation stops when S <= 2 lambda (1 + tol).
    pub tol: f64,
    /// Seed of the sampled patterns and of the estimated sphere maxima.
    pub seed: u64,
    /// Report on stderr how the program is solved (complete or column generation, and each round).
    pub progress: bool,
}

impl Default for OptimumOptions {
    /// 400 patterns, 40 rounds, tol = 1e-6, seed 0, silent.
    fn default() -> Self {
        OptimumOptions { max_patterns: 400, max_rounds: 40, tol: 1e-6, seed: 0, progress: false }
    }
}

/// The solution of the convex program and the network read back from it.
#[derive(Clone, Debug, PartialEq)]
pub struct Optimum {
    /// Primal value L\[rho\] of the read-back cloud: R(F) + lambda * mean(w^2 + |u|^2); = L* if exact.
    pub value: f64,
    /// Dual bound D at the solution (certify::dual_bound with the solution's predictions).
    pub dual: f64,
    /// value - dual.
    pub gap: f64,
    /// Number of patterns in the final program.
    pub patterns: usize,
    /// All patterns were used, or column generation ended with an exact S <= 2 lambda (1 + tol).
    pub exact: bool,
    /// Number of nonzero neurons recovered.
    pub neurons: usize,
    /// Predictions F at the solution (those of the cloud).
    pub predictions: Array1<f64>,
    /// The recovered network as a mean-field cloud of m particles: m x (d+1), columns w, u_1..u_d, with
    /// theta = sqrt(m) (w~, u~). A single zero particle when the optimum is the zero network.
    pub particles: Array2<f64>,
}

/// Checks the data and lambda for the convex program.
fn check(data: &Dataset, loss: Loss, lambda: f64) -> Result<()> {
    if !(lambda > 0.0 && lambda.is_finite()) {
        return Err(Error::Invalid(format!(
            "convex optimum: lambda = {lambda}; the convex program needs a finite lambda > 0"
        )));
    }
    if data.n() == 0 || data.d() == 0 {
        return Err(Error::Invalid(format!(
            "convex optimum: data are {} x {}; need n >= 1 and d >= 1",
            data.n(),
            data.d()
        )));
    }
    data.check_labels(loss, "convex optimum")
}

#[cfg(test)]
mod tests;
