//! Reading the network back from a solution: neurons (sign, v), merging parallel ones, the mean-field
//! cloud they form, and that cloud's predictions, objective and margin.

use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2};

use crate::loss::Loss;

/// Relative size under which a recovered neuron (|v_k| compared with the largest) is dropped.
pub(super) const DROP: f64 = 1e-7;

/// The neurons (sign, v) of a solution vector of [`Program`] with `kk` patterns in dimension d: (+1, v_k) and
/// (-1, w_k), dropping those with |v| below [`DROP`] times the largest (and zeros).
pub(super) fn read_neurons(sol: &[f64], kk: usize, d: usize) -> Vec<(f64, Array1<f64>)> {
    let mut neurons: Vec<(f64, Array1<f64>)> = Vec::new();
    for (block, sign) in [(0, 1.0), (kk, -1.0)] {
        for k in 0..kk {
            neurons.push((sign, Array1::from(sol[(block + k) * d..(block + k + 1) * d].to_vec())));
        }
    }
    let largest = neurons.iter().map(|(_, v)| v.dot(v).sqrt()).fold(0.0, f64::max);
    neurons.retain(|(_, v)| {
        let nv = v.dot(v).sqrt();
        nv > DROP * largest && nv > 0.0
    });
    neurons
}

/// Merges parallel neurons of the same sign ([`merge_parallel`]) at the first of the `tolerances` whose
/// merged network's `score` (lower is better) is within [`MERGE_SLACK`] (relative to max(1, |score|)) of the
/// unmerged one's; the neurons unchanged if none is.
pub(super) fn merge_if_harmless(
    neurons: Vec<(f64, Array1<f64>)>,
    tolerances: &[f64],
    score: impl Fn(&[(f64, Array1<f64>)]) -> f64,
) -> Vec<(f64, Array1<f64>)> {
    let before = score(&neurons);
    let slack = MERGE_SLACK * before.abs().max(1.0);
    for &tol in tolerances {
        let merged = merge_parallel(&neurons, tol);
        if merged.len() == neurons.len() {
            break;
        }
        if score(&merged) <= before + slack {
            return merged;
        }
    }
    neurons
}

/// Distances between unit directions under which neurons are merged, tried in this order.
pub(super) const MERGE: [f64; 3] = [1e-5, 1e-7, 1e-9];
/// Merge tolerances of [`max_margin`]: its solution has no amplitude polish, so neurons split among the cells
/// that share a direction stay ~sqrt(solver tolerance) apart; merging them never lowers the margin when they
/// are split copies, and a merge that does is refused.
pub(super) const MARGIN_MERGE: [f64; 4] = [1e-3, 1e-5, 1e-7, 1e-9];
/// A merge is kept if it raises L by at most this much (relative to max(1, L)).
pub(super) const MERGE_SLACK: f64 = 1e-9;

/// Adds up the v of neurons (sign, v) of the same sign whose unit directions are within `tol` (each
/// coordinate) of the first of their group.
pub(super) fn merge_parallel(neurons: &[(f64, Array1<f64>)], tol: f64) -> Vec<(f64, Array1<f64>)> {
    let mut out: Vec<(f64, Array1<f64>)> = Vec::new();
    for (sign, v) in neurons {
        let dir = v / v.dot(v).sqrt();
        let same = out.iter_mut().find(|(s, w)| {
            let wd = w.mapv(|c| c / w.dot(w).sqrt());
            s == sign && (&wd - &dir).iter().all(|e| e.abs() <= tol)
        });
        match same {
            Some((_, w)) => *w += v,
            None => out.push((*sign, v.clone())),
        }
    }
    out
}

/// The mean-field cloud of finite-width neurons (sign, v): rows sqrt(m) (w~, u~) with w~ = sign sqrt|v| and
/// u~ = v / sqrt|v|; a single zero particle when there is no neuron.
pub(super) fn cloud(neurons: &[(f64, Array1<f64>)], d: usize) -> Array2<f64> {
    let m = neurons.len();
    if m == 0 {
        return Array2::zeros((1, d + 1));
    }
    let scale = (m as f64).sqrt();
    let mut p = Array2::zeros((m, d + 1));
    for (mut row, (sign, v)) in p.outer_iter_mut().zip(neurons) {
        let root = v.dot(v).sqrt().sqrt();
        row[0] = scale * sign * root;
        row.slice_mut(s![1..]).assign(&(v * (scale / root)));
    }
    p
}

/// F_i = mean_j w_j relu(u_j . x_i) and the second moment mean_j (w_j^2 + |u_j|^2) of a cloud (rows (w, u)).
pub fn cloud_predictions(x: ArrayView2<f64>, particles: ArrayView2<f64>) -> (Array1<f64>, f64) {
    let m = particles.nrows() as f64;
    let w = particles.column(0);
    let u = particles.slice(s![.., 1..]);
    let f = x.dot(&u.t()).mapv(|t| t.max(0.0)).dot(&w) / m;
    (f, particles.iter().map(|t| t * t).sum::<f64>() / m)
}

/// L\[rho\] = R(F) + lambda * mean_j (w_j^2 + |u_j|^2) of a cloud (rows (w, u)), and F_i = mean_j w_j relu(u_j . x_i).
pub fn cloud_objective(
    x: ArrayView2<f64>,
    y: ArrayView1<f64>,
    loss: Loss,
    lambda: f64,
    particles: ArrayView2<f64>,
) -> (f64, Array1<f64>) {
    let (f, penalty) = cloud_predictions(x, particles);
    let risk = y.iter().zip(&f).map(|(&yi, &fi)| loss.value(yi, fi)).sum::<f64>() / y.len() as f64;
    (risk + lambda * penalty, f)
}

/// The normalised margin gamma = min_i y_i F_i / integral |theta|^2 d rho of a cloud (docs/math.md, section Margin); by
/// 2-homogeneity it is the margin of the cloud rescaled to integral |theta|^2 = 1. NaN for the zero cloud.
pub fn cloud_margin(x: ArrayView2<f64>, y: ArrayView1<f64>, particles: ArrayView2<f64>) -> f64 {
    let (f, second_moment) = cloud_predictions(x, particles);
    y.iter().zip(&f).map(|(&yi, &fi)| yi * fi).fold(f64::INFINITY, f64::min) / second_moment
}
