//! The hard-margin limit lambda -> 0: the maximum normalised margin gamma* over the same patterns, with
//! a dual upper bound.

use ndarray::{s, Array1, Array2};

use super::merge::{cloud, cloud_margin, cloud_predictions, merge_if_harmless, read_neurons, MARGIN_MERGE};
use super::patterns::{cell_count_bound, cells};
use super::program::{Goal, Program};
use crate::certify::{self, SphereMethod};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::geometry::arrangement::DistinctDirections;
use crate::loss::Loss;

/// The maximum normalised margin over clouds on separable classification data, with a network that attains it.
#[derive(Clone, Debug, PartialEq)]
pub struct MaxMargin {
    /// gamma = min_i y_i F_i / integral |theta|^2 d rho of `particles`: gamma* up to the solver's tolerance
    /// (a margin that is attained, so gamma <= gamma*).
    pub gamma: f64,
    /// An upper bound on gamma* from the dual solution: gamma <= gamma* <= upper (see [`max_margin`]).
    pub upper: f64,
    /// Number of activation patterns (all cells of the arrangement).
    pub patterns: usize,
    /// Neurons of the returned network.
    pub neurons: usize,
    /// Predictions F of `particles` (min_i y_i F_i = 1 up to the solver's tolerance).
    pub predictions: Array1<f64>,
    /// The max-margin network as a mean-field cloud, m x (d+1), columns w, u_1..u_d (balanced neurons).
    pub particles: Array2<f64>,
}

/// The maximum normalised margin gamma* = sup over clouds of min_i y_i F_i / integral |theta|^2 d rho
/// (docs/math.md, section Convex program), exactly, by a convex program over all activation patterns.
///
/// Derivation. A cloud is a finite-width net sum_j w~_j relu(u~_j . x) with penalty
/// sum_j (w~_j^2 + |u~_j|^2) >= 2 sum_j |w~_j| |u~_j|, with equality for balanced neurons (w~^2 = |u~|^2).
/// Its predictions depend only on v_j = |w~_j| u~_j and the sign of w~_j. Neurons of one sign whose
/// directions lie in one closed cell of the arrangement add up to one neuron of that cell with the same
/// predictions and no larger sum of |v_j|, so with activation patterns D_k (one per cell)
///
/// ```text
/// gamma* = max  min_i y_i (sum_k D_k X (v_k - w_k))_i / (2 sum_k (|v_k|_2 + |w_k|_2))
/// ```
///
/// over (2 D_k - I) X v_k >= 0, (2 D_k - I) X w_k >= 0. Numerator and denominator are both 1-homogeneous in
/// (v, w); fixing min_i y_i F_i = 1 gives gamma* = 1 / (2 M) with the second-order cone program
///
/// ```text
/// M = min sum_k (|v_k|_2 + |w_k|_2)  s.t.  y_i (sum_k D_k X (v_k - w_k))_i >= 1,  the cone constraints.
/// ```
///
/// For example the 4-neuron net |x_1| - |x_2| (v = +-e_1, w = +-e_2) on `paper` data has min_i y_i F_i = 1 and
/// sum |v| + |w| = 4: gamma = 1/8.
///
/// Dual bound. For alpha >= 0 let S = sup_{|v|=1} |sum_i alpha_i y_i relu(v . x_i)|; any feasible network has
/// sum_i alpha_i <= sum_i alpha_i y_i F_i = sum_k (phi(v_k) - phi(w_k)) <= S sum_k (|v_k| + |w_k|), so
/// M >= sum_i alpha_i / S and gamma* <= S / (2 sum_i alpha_i). `upper` is this bound with alpha the solver's
/// dual variables of the margin rows and S computed exactly ([`certify::sphere_max`]).
///
/// # Errors
/// Labels other than -1 and +1; a zero input; more than `max_patterns` cells (the exact program is meant for
/// small problems: the cell count grows like n^(d-1)); data that no network separates (two samples on one
/// ray from the origin with different labels), which the solver reports as infeasible.
pub fn max_margin(data: &Dataset, max_patterns: usize) -> Result<MaxMargin> {
    data.check_labels(Loss::Logistic, "max margin")?;
    let (x, y, d) = (data.x.view(), data.y.view(), data.d());
    if let Some(i) = x.outer_iter().position(|xi| xi.iter().all(|&c| c == 0.0)) {
        return Err(Error::Invalid(format!(
            "max margin: sample {} is the zero input, where every network predicts 0; the data are not separable",
            i + 1
        )));
    }
    let bound = cell_count_bound(DistinctDirections::new(x).len(), d);
    let all = if bound <= max_patterns as f64 { cells(x)? } else { Vec::new() };
    if all.is_empty() || all.len() > max_patterns {
        return Err(Error::Invalid(format!(
            "max margin: the {} inputs in d = {d} have up to {bound} activation patterns, more than max_patterns = \
             {max_patterns}; the exact max margin is for small problems",
            data.n()
        )));
    }
    let (patterns, rows): (Vec<Vec<bool>>, Vec<Vec<usize>>) = all.into_iter().unzip();
    let kk = patterns.len();
    let program = Program::build(x, y, Goal::Margin, &patterns, &rows);
    let solution = program.solve().map_err(|e| match e {
        Error::Solver(m) => Error::Solver(format!(
            "max margin: {m}; are the data separable (no two samples on one ray from the origin with different \
             labels)?"
        )),
        other => other,
    })?;
    let margin = |n: &[(f64, Array1<f64>)]| -cloud_margin(x, y, cloud(n, d).view());
    let neurons = merge_if_harmless(read_neurons(&solution.x, kk, d), &MARGIN_MERGE, margin);
    let particles = cloud(&neurons, d);
    let (predictions, _) = cloud_predictions(x, particles.view());
    let gamma = cloud_margin(x, y, particles.view());
    let start = program.margin_rows;
    let alpha = Array1::from_iter(solution.z[start..start + data.n()].iter().map(|a| a.max(0.0)));
    let directions = particles.slice(s![.., 1..]);
    let sphere = certify::sphere_max(x, (&alpha * &y).view(), Some(directions), SphereMethod::Exact, 0)?;
    Ok(MaxMargin {
        gamma,
        upper: sphere.value / (2.0 * alpha.sum()),
        patterns: kk,
        neurons: neurons.len(),
        predictions,
        particles,
    })
}
