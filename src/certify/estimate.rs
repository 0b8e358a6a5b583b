//! The estimated sphere maximum: projected ascent on the sphere from given and random directions
//! (docs/math.md, section Sphere maximum). Its value is a lower bound on S.

use ndarray::{Array2, ArrayView1, ArrayView2};
use rand_distr::{Distribution as _, StandardNormal};
use rayon::prelude::*;

use super::phi::{finish, unit};
use crate::geometry::arrangement::{dot, norm};
use crate::rng::{self, Purpose};

/// Number of random Gaussian start directions of the estimate.
const RANDOM_STARTS: usize = 256;
/// Number of local ascents per sign of the objective.
const ASCENTS: usize = 4;
/// Maximum number of ascent iterations.
const ASCENT_ITERS: usize = 100;
/// An ascent stops when its last [`STALL_ITERS`] iterations gained less than this, relative.
const STALL_GAIN: f64 = 1e-5;
/// The window of [`STALL_GAIN`].
const STALL_ITERS: usize = 10;

/// Estimated work of the estimate (in [`exact_cost`](super::exact_cost) units) for n inputs in dimension d: phi at the
/// `RANDOM_STARTS` directions and their negatives, and 2 `ASCENTS` ascents of at most `ASCENT_ITERS`
/// iterations, each about four evaluations of phi (n d).
pub fn estimate_cost(n: usize, d: usize) -> f64 {
    ((2 * RANDOM_STARTS + 8 * ASCENTS * ASCENT_ITERS) * n * d) as f64
}

/// Local maxima of |phi| found by projected ascent on the sphere, as (signed value phi(v), v), sorted by
/// decreasing |phi(v)|. Starts: `starts` (normalised; zero vectors skipped), [`RANDOM_STARTS`] Gaussian
/// directions drawn from `rng::stream(seed, Purpose::Certify, 0, 0)`, and the negatives of both; for each
/// sign s = +-1 the [`ASCENTS`] best starts for s phi are improved by ascent of s phi (in parallel, collected
/// in a fixed order).
pub(crate) fn local_maxima(
    x: ArrayView2<f64>,
    r: ArrayView1<f64>,
    starts: &[Vec<f64>],
    seed: u64,
) -> Vec<(f64, Vec<f64>)> {
    let d = x.ncols();
    let mut rng = rng::stream(seed, Purpose::Certify, 0, 0);
    let mut dirs: Vec<Vec<f64>> = starts
        .iter()
        .filter(|v| v.len() == d)
        // The norm once per start, not once per coordinate (that made the certificate cost grow as d^2).
        .filter_map(|v| {
            let nv = norm(v);
            (nv > 0.0).then(|| v.iter().map(|c| c / nv).collect())
        })
        .collect();
    for _ in 0..RANDOM_STARTS {
        let g: Vec<f64> = (0..d).map(|_| StandardNormal.sample(&mut rng)).collect();
        let ng = norm(&g);
        if ng > 0.0 {
            dirs.push(g.iter().map(|v| v / ng).collect());
        }
    }
    let (mut values, negated_values) = phi_many(x, r, &dirs);
    let negated: Vec<Vec<f64>> = dirs.iter().map(|v| v.iter().map(|c| -c).collect()).collect();
    dirs.extend(negated);
    values.extend(negated_values);
    let mut jobs = Vec::with_capacity(2 * ASCENTS);
    for sign in [1.0, -1.0] {
        let mut order: Vec<usize> = (0..dirs.len()).collect();
        order.sort_by(|&a, &b| (sign * values[b]).total_cmp(&(sign * values[a])).then(a.cmp(&b)));
        jobs.extend(order.into_iter().take(ASCENTS).map(|k| (sign, k)));
    }
    let mut found: Vec<(f64, Vec<f64>)> =
        jobs.par_iter().map(|&(sign, k)| ascend(x, r, sign, dirs[k].clone(), sign * values[k])).collect();
    found.sort_by(|a, b| b.0.abs().total_cmp(&a.0.abs()));
    found
}

/// phi at each of `dirs` and at each of their negatives, from one matrix product Z = X V: phi(v_k) =
/// sum_i r_i relu(Z_ik) and phi(-v_k) = sum_i r_i relu(-Z_ik).
pub(crate) fn phi_many(x: ArrayView2<f64>, r: ArrayView1<f64>, dirs: &[Vec<f64>]) -> (Vec<f64>, Vec<f64>) {
    let d = x.ncols();
    let v = Array2::from_shape_fn((d, dirs.len()), |(i, j)| dirs[j][i]);
    let z = x.dot(&v);
    let plus = z.mapv(|t| t.max(0.0)).t().dot(&r).to_vec();
    let minus = z.mapv(|t| (-t).max(0.0)).t().dot(&r).to_vec();
    (plus, minus)
}

/// phi(v) = sum_i r_i relu(z_i) with the pre-activations z_i = x_i . v written to `z`.
fn phi_at(x: ArrayView2<f64>, r: ArrayView1<f64>, v: &[f64], z: &mut [f64]) -> f64 {
    let mut sum = 0.0;
    for ((xi, ri), zi) in x.outer_iter().zip(r).zip(z) {
        *zi = xi.iter().zip(v).map(|(a, b)| a * b).sum::<f64>();
        sum += ri * zi.max(0.0);
    }
    sum
}

/// Ascent of h = sign * phi on the sphere from the unit vector v, where h(v) = `h`: on the current cell phi is
/// linear, g = sign * sum_{x_i . v > 0} r_i x_i (from the pre-activations of the last accepted point); first
/// try the cell's maximiser g/|g|, otherwise a geodesic step along the tangent gradient g - (g . v) v with
/// step halving. Stops when a step gains less than 1e-12 relative, when [`STALL_ITERS`] iterations gained
/// less than [`STALL_GAIN`] relative together, or after [`ASCENT_ITERS`] iterations. Returns (phi(v), v).
fn ascend(x: ArrayView2<f64>, r: ArrayView1<f64>, sign: f64, mut v: Vec<f64>, mut h: f64) -> (f64, Vec<f64>) {
    let (n, d) = x.dim();
    let (mut z, mut trial) = (vec![0.0; n], vec![0.0; n]);
    phi_at(x, r, &v, &mut z);
    let mut recent = [h; STALL_ITERS];
    let mut step = std::f64::consts::FRAC_PI_8;
    for iter in 0..ASCENT_ITERS {
        let earlier = std::mem::replace(&mut recent[iter % STALL_ITERS], h);
        if iter >= STALL_ITERS && h - earlier <= STALL_GAIN * h.abs() {
            break;
        }
        let mut g = vec![0.0; d];
        for (xi, (ri, zi)) in x.outer_iter().zip(r.iter().zip(&z)) {
            if *zi > 0.0 {
                g.iter_mut().zip(xi).for_each(|(gj, xj)| *gj += sign * ri * xj);
            }
        }
        let ng = norm(&g);
        if ng == 0.0 {
            break;
        }
        let jump: Vec<f64> = g.iter().map(|c| c / ng).collect();
        let hj = sign * phi_at(x, r, &jump, &mut trial);
        if hj > h {
            (v, h) = (jump, hj);
            std::mem::swap(&mut z, &mut trial);
            continue;
        }
        let gv = dot(&g, &v);
        let t: Vec<f64> = g.iter().zip(&v).map(|(gi, vi)| gi - gv * vi).collect();
        let nt = norm(&t);
        if nt <= 1e-12 * ng {
            break;
        }
        let mut moved = false;
        while step > 1e-9 {
            let (c, s) = (step.cos(), step.sin());
            let w: Vec<f64> = v.iter().zip(&t).map(|(vi, ti)| c * vi + s * ti / nt).collect();
            let nw = norm(&w);
            let w: Vec<f64> = w.iter().map(|c| c / nw).collect();
            let hw = sign * phi_at(x, r, &w, &mut trial);
            if hw > h {
                moved = hw - h > 1e-12 * h.abs();
                (v, h) = (w, hw);
                std::mem::swap(&mut z, &mut trial);
                step = (2.0 * step).min(std::f64::consts::FRAC_PI_4);
                break;
            }
            step /= 2.0;
        }
        if !moved {
            break;
        }
    }
    (sign * h, v)
}

/// The estimated maximum: the best of [`local_maxima`].
pub(super) fn estimate_max(x: ArrayView2<f64>, r: ArrayView1<f64>, starts: &[Vec<f64>], seed: u64) -> (f64, Vec<f64>) {
    let found = local_maxima(x, r, starts, seed);
    let v = found.into_iter().next().map(|(_, v)| v).unwrap_or_else(|| unit(x.ncols()));
    finish(x, r, v)
}
