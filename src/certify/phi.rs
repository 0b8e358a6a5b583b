//! phi(v) = sum_i r_i relu(v . x_i) evaluated from the data, and the value at a maximiser once it is
//! normalised: what the exact search and the estimate share (docs/math.md, section Sphere maximum).

use ndarray::{ArrayView1, ArrayView2};

use crate::geometry::arrangement::norm;

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
