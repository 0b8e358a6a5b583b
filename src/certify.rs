//! The dual lower bound on L* (docs/math.md, section Dual bound; the computation of S: section Sphere maximum).
//!
//! With r_i = l'(y_i, F_i) / n at the current predictions F, the sphere maximum
//!
//! ```text
//! S = sup_{|v| = 1} |phi(v)|,   phi(v) = sum_i r_i relu(v . x_i),
//! ```
//!
//! and c = min(1, 2 lambda / S), the vector c r is feasible for the dual of the convex problem
//! min_mu R(F_mu) + 2 lambda |mu|_TV, so D = -R*(c r) <= L* <= L\[rho\].
//!
//! S is computed exactly, when affordable (any d; at d = 3 up to about 2000 distinct inputs), from the
//! arrangement of the hyperplanes x_i . v = 0 (see `geometry::arrangement`): on a cell with activation pattern P,
//! phi(v) = g_P . v with g_P = sum_{i in P} r_i x_i, so the maximum of |phi| over the closure of a cell is
//! attained either at +-g_P / |g_P| (if that point lies in the cell) or on the cell's boundary, which is made
//! of cells of lower-dimensional restricted arrangements. On arcs of 2-D subspaces the maximum of
//! a cos t + b sin t is taken in closed form; on cells of dimension >= 3 the value |g_P| counts only if
//! +-g_P / |g_P| lies in the closed cell, which is checked against every input, and only for cells whose
//! |g_P| beats the best value so far. Otherwise S is estimated from given directions, random directions and
//! projected ascent on the sphere, and the result says `exact = false`.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use rand_distr::{Distribution as _, StandardNormal};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::geometry::arrangement::{self, dot, norm, Cell, CircleArc, DistinctDirections, Visitor};
use crate::loss::Loss;
use crate::rng::{self, Purpose};

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
/// Relative slack of the cell search: a cell with |g_P| <= (1 + SLACK) * best is not examined.
const SLACK: f64 = 1e-12;

/// Estimated work of the estimate (in [`exact_cost`] units) for n inputs in dimension d: phi at the
/// [`RANDOM_STARTS`] directions and their negatives, and 2 [`ASCENTS`] ascents of at most [`ASCENT_ITERS`]
/// iterations, each about four evaluations of phi (n d).
fn estimate_cost(n: usize, d: usize) -> f64 {
    ((2 * RANDOM_STARTS + 8 * ASCENTS * ASCENT_ITERS) * n * d) as f64
}

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
fn phi(x: ArrayView2<f64>, r: ArrayView1<f64>, v: &[f64]) -> f64 {
    x.outer_iter().zip(r).map(|(xi, ri)| ri * xi.iter().zip(v).map(|(a, b)| a * b).sum::<f64>().max(0.0)).sum()
}

/// The exact maximum of |phi| and a maximiser (unit vector), see the module documentation. With
/// `estimate_seed`, for d >= 3 and a search costlier than the estimate ([`estimate_cost`]), the local
/// maxima of the estimate give the cell search its initial lower bound (fewer cells to check; the value
/// is the same).
fn exact_max(
    x: ArrayView2<f64>,
    r: ArrayView1<f64>,
    starts: &[Vec<f64>],
    estimate_seed: Option<u64>,
) -> (f64, Vec<f64>) {
    let d = x.ncols();
    let dirs = DistinctDirections::new(x);
    let weights = dirs.weights(&r.to_vec());
    let mut best = (0.0, unit(d));
    let mut offer = |v: Vec<f64>| {
        let val = dirs.phi(&weights, &v).abs();
        if val > best.0 {
            best = (val, v);
        }
    };
    if d == 1 {
        offer(vec![1.0]);
        offer(vec![-1.0]);
    } else if let Some(seed) =
        estimate_seed.filter(|_| d >= 3 && exact_cost(dirs.len(), d) > estimate_cost(x.nrows(), d))
    {
        local_maxima(x, r, starts, seed).into_iter().for_each(|(_, v)| offer(v));
    }
    for u in starts {
        offer(u.clone());
        offer(u.iter().map(|c| -c).collect());
    }
    if d == 1 || dirs.len() == 0 {
        return finish(x, r, best.1);
    }
    let searches = arrangement::visit(&dirs, &weights, || Search { dirs: &dirs, lb: best.0, best: best.1.clone() });
    for s in searches {
        if s.lb > best.0 {
            best = (s.lb, s.best);
        }
    }
    finish(x, r, best.1)
}

/// The value |phi(v)| from the original data at the normalised maximiser.
fn finish(x: ArrayView2<f64>, r: ArrayView1<f64>, v: Vec<f64>) -> (f64, Vec<f64>) {
    let nv = norm(&v);
    let v: Vec<f64> = v.iter().map(|c| c / nv).collect();
    (phi(x, r, &v).abs(), v)
}

/// e_1.
fn unit(d: usize) -> Vec<f64> {
    let mut e = vec![0.0; d];
    e[0] = 1.0;
    e
}

/// The visitor of the exact search: the best value and maximiser so far.
struct Search<'a> {
    dirs: &'a DistinctDirections,
    lb: f64,
    best: Vec<f64>,
}

impl Search<'_> {
    fn offer(&mut self, val: f64, dir: impl FnOnce() -> Vec<f64>) {
        if val > self.lb {
            self.lb = val;
            self.best = dir();
        }
    }

    /// Whether e_k . v >= 0 (active) or <= 0 (inactive), up to [`arrangement::TOL`].
    fn sign_ok(&self, k: usize, active: bool, v: &[f64]) -> bool {
        let s = dot(self.dirs.dir(k), v);
        if active {
            s >= -arrangement::TOL
        } else {
            s <= arrangement::TOL
        }
    }

    /// Whether v lies in the closed cell: the cheap conditions first, then every free direction of the arc's
    /// plane (in a strided order, so that a violation is usually found early) and every group of the
    /// levels 3..m with the side taken there.
    fn in_cell(&self, cell: &Cell<'_>, v: &[f64]) -> bool {
        if !cell.conds.iter().all(|&(k, active)| self.sign_ok(k, active, v)) {
            return false;
        }
        let arc = cell.arc;
        let n = arc.free.len();
        let mut p = 0;
        for _ in 0..n {
            p = (p + arc.stride) % n;
            if !self.sign_ok(arc.free[p], arc.active[p], v) {
                return false;
            }
        }
        cell.sides.iter().enumerate().all(|(depth, &side)| {
            let frame = &cell.frames[cell.frames.len() - 1 - depth];
            frame.plus.iter().all(|&k| self.sign_ok(k, side, v))
                && frame.minus.iter().all(|&k| self.sign_ok(k, !side, v))
        })
    }
}

impl Visitor for Search<'_> {
    /// On the arc t in (a, b), phi = g2 . (cos t, sin t): the maximum of |phi| over the closed arc is |g2| if
    /// the angle of g2 or of -g2 lies in the arc, and otherwise at an endpoint (the end point is the start
    /// of the next arc, so only the start is evaluated here).
    fn arc(&mut self, arc: &CircleArc<'_>) {
        let lift = |t: f64| -> Vec<f64> {
            let (c, s) = (t.cos(), t.sin());
            arc.b1.iter().zip(arc.b2).map(|(p, q)| c * p + s * q).collect()
        };
        let [gx, gy] = arc.g2;
        let (c, s) = (arc.start.cos(), arc.start.sin());
        self.offer((gx * c + gy * s).abs(), || lift(arc.start));
        let ng = gx.hypot(gy);
        if ng > self.lb {
            let alpha = gy.atan2(gx);
            for t in [alpha, alpha + std::f64::consts::PI] {
                let from_start = (t - arc.start).rem_euclid(std::f64::consts::TAU);
                if from_start <= arc.end - arc.start {
                    self.offer(ng, || lift(arc.start + from_start));
                }
            }
        }
    }

    /// A cell of level m >= 3, on which phi = g_P . v: the maximum of |phi| over the open cell is |P g_P|
    /// (P the projection onto L_m) if +-P g_P / |P g_P| lies in the cell, and otherwise it is not attained
    /// in the open cell (the boundary is covered by the lower levels).
    fn cell(&mut self, cell: &Cell<'_>) {
        let ub = cell.frame.projected_norm(cell.g);
        if ub.partial_cmp(&(self.lb * (1.0 + SLACK))) != Some(std::cmp::Ordering::Greater) {
            return;
        }
        let dir = cell.frame.projected_dir(cell.g, ub);
        for sign in [1.0, -1.0] {
            let v: Vec<f64> = dir.iter().map(|c| sign * c).collect();
            if self.in_cell(cell, &v) {
                self.offer(ub, || v);
                return;
            }
        }
    }
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
        .filter(|v| v.len() == d && norm(v) > 0.0)
        .map(|v| v.iter().map(|c| c / norm(v)).collect())
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
fn phi_many(x: ArrayView2<f64>, r: ArrayView1<f64>, dirs: &[Vec<f64>]) -> (Vec<f64>, Vec<f64>) {
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
fn estimate_max(x: ArrayView2<f64>, r: ArrayView1<f64>, starts: &[Vec<f64>], seed: u64) -> (f64, Vec<f64>) {
    let found = local_maxima(x, r, starts, seed);
    let v = found.into_iter().next().map(|(_, v)| v).unwrap_or_else(|| unit(x.ncols()));
    finish(x, r, v)
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
#[allow(clippy::too_many_arguments)]
pub fn dual_bound(
    loss: Loss,
    y: ArrayView1<f64>,
    f: ArrayView1<f64>,
    x: ArrayView2<f64>,
    lambda: f64,
    directions: Option<ArrayView2<f64>>,
    method: SphereMethod,
    seed: u64,
) -> Result<DualBound> {
    if f.len() != y.len() {
        return Err(Error::Invalid(format!("dual_bound: {} labels but {} predictions", y.len(), f.len())));
    }
    if f.iter().any(|v| !v.is_finite()) {
        return Err(Error::Invalid("dual_bound: predictions must be finite".into()));
    }
    let r = Array1::from(loss.risk_gradient(&y.to_vec(), &f.to_vec()));
    dual_value(loss, y, r.view(), x, lambda, directions, method, seed)
}

/// The dual bound at any dual vector beta: S = [`sphere_max`] of beta, c = min(1, 2 lambda / S) (1 if S = 0),
/// D = -R*(c beta) with R*(beta) = (1/n) sum_i l*(y_i, n beta_i). c beta is dual feasible, so D <= L* (when S
/// is exact); D = -inf if c beta is outside the domain of R* (logistic: -n c beta_i y_i must lie in [0, 1]).
#[allow(clippy::too_many_arguments)]
pub fn dual_value(
    loss: Loss,
    y: ArrayView1<f64>,
    beta: ArrayView1<f64>,
    x: ArrayView2<f64>,
    lambda: f64,
    directions: Option<ArrayView2<f64>>,
    method: SphereMethod,
    seed: u64,
) -> Result<DualBound> {
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
    Ok(DualBound { dual, s: sm.value, c, exact: sm.exact })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Dataset, Distribution, XorNoise};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn gaussian(n: usize, d: usize, seed: u64) -> Array2<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Array2::from_shape_fn((n, d), |_| StandardNormal.sample(&mut rng))
    }

    fn weights(n: usize, seed: u64) -> Array1<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Array1::from_shape_fn(n, |_| rng.random_range(-1.0..1.0))
    }

    /// An independent reference for S: `samples` uniform directions, then random local search (no gradients)
    /// from the 20 best samples. Returns (best sampled value, refined value); both are <= S.
    fn reference(x: ArrayView2<f64>, r: ArrayView1<f64>, samples: usize, seed: u64) -> (f64, f64) {
        let d = x.ncols();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut best: Vec<(f64, Vec<f64>)> = Vec::new();
        let mut done = 0;
        while done < samples {
            let m = (samples - done).min(20_000);
            let dirs: Vec<Vec<f64>> = (0..m)
                .map(|_| {
                    let g: Vec<f64> = (0..d).map(|_| StandardNormal.sample(&mut rng)).collect();
                    let ng = norm(&g);
                    g.iter().map(|v| v / ng).collect()
                })
                .collect();
            let (vals, _) = phi_many(x, r, &dirs);
            best.extend(vals.into_iter().zip(dirs).map(|(v, u)| (v.abs(), u)));
            best.sort_by(|a, b| b.0.total_cmp(&a.0));
            best.truncate(20);
            done += m;
        }
        let sampled = best[0].0;
        let mut refined = sampled;
        for (mut val, mut v) in best {
            let mut radius = 0.05;
            let mut fails = 0;
            for _ in 0..3000 {
                let w: Vec<f64> = v
                    .iter()
                    .map(|c| {
                        let z: f64 = StandardNormal.sample(&mut rng);
                        c + radius * z
                    })
                    .collect();
                let nw = norm(&w);
                let w: Vec<f64> = w.iter().map(|c| c / nw).collect();
                let vw = phi(x, r, &w).abs();
                if vw > val {
                    val = vw;
                    v = w;
                    fails = 0;
                } else {
                    fails += 1;
                    if fails == 30 {
                        radius /= 2.0;
                        fails = 0;
                    }
                }
            }
            refined = refined.max(val);
        }
        (sampled, refined)
    }

    /// Exact S is attained (value = |phi(argmax)|), is >= every sampled value and matches the refined reference.
    fn check_exact(x: ArrayView2<f64>, r: ArrayView1<f64>, samples: usize, name: &str) -> f64 {
        let sm = sphere_max(x, r, None, SphereMethod::Exact, 0).unwrap();
        assert!(sm.exact);
        let (plain, _) = exact_max(x, r, &[], None);
        assert!((plain - sm.value).abs() <= 1e-13 * sm.value, "{name}: enumeration alone {plain} vs {}", sm.value);
        assert!((norm(sm.argmax.as_slice().unwrap()) - 1.0).abs() < 1e-12);
        assert!((phi(x, r, sm.argmax.as_slice().unwrap()).abs() - sm.value).abs() <= 1e-14 * sm.value.max(1.0));
        let (sampled, refined) = reference(x, r, samples, 99);
        assert!(sm.value >= refined * (1.0 - 1e-12), "{name}: exact {} below sampled {refined}", sm.value);
        assert!(sm.value <= refined * (1.0 + 1e-3), "{name}: exact {} vs reference {refined}", sm.value);
        assert!(sm.value <= sampled * 1.05, "{name}: exact {} vs sampled {sampled}", sm.value);
        sm.value
    }

    /// The logistic residual r = l'(y, F) / n at random predictions F.
    fn residual(data: &Dataset, seed: u64) -> Array1<f64> {
        let f = weights(data.n(), seed);
        Array1::from(Loss::Logistic.risk_gradient(data.y.as_slice().unwrap(), f.as_slice().unwrap()))
    }

    #[test]
    fn one_dimension_is_closed_form() {
        let x = Array2::from_shape_vec((4, 1), vec![1.0, -2.0, 0.5, 0.0]).unwrap();
        let r = Array1::from(vec![0.3, 0.1, -0.2, 5.0]);
        // phi(+1) = 0.3 - 0.1 = 0.2, phi(-1) = 0.1 * 2 = 0.2 -> tie; change r to break it.
        let r2 = Array1::from(vec![0.3, 0.4, -0.2, 5.0]);
        let sm = sphere_max(x.view(), r2.view(), None, SphereMethod::Auto, 0).unwrap();
        assert!(sm.exact);
        assert!((sm.value - 0.8).abs() < 1e-15);
        assert_eq!(sm.argmax.to_vec(), vec![-1.0]);
        let sm = sphere_max(x.view(), r.view(), None, SphereMethod::Exact, 0).unwrap();
        assert!((sm.value - 0.2).abs() < 1e-15);
    }

    #[test]
    fn two_dimensions_match_dense_angles() {
        let cases: Vec<(Array2<f64>, Array1<f64>)> = vec![
            (gaussian(30, 2, 1), weights(30, 2)),
            // Integer points with duplicates, opposite and parallel points, and a zero row.
            (gaussian(40, 2, 3).mapv(|v| (1.5 * v).round()), weights(40, 4)),
            (Array2::from_shape_vec((3, 2), vec![1.0, 0.0, 2.0, 0.0, -1.0, 0.0]).unwrap(), weights(3, 5)),
        ];
        for (k, (x, r)) in cases.iter().enumerate() {
            let sm = sphere_max(x.view(), r.view(), None, SphereMethod::Auto, 0).unwrap();
            assert!(sm.exact);
            let sampled = (0..100_000)
                .map(|j| {
                    let t = j as f64 * std::f64::consts::TAU / 100_000.0;
                    phi(x.view(), r.view(), &[t.cos(), t.sin()]).abs()
                })
                .fold(0.0, f64::max);
            assert!(sm.value >= sampled * (1.0 - 1e-12), "case {k}: {} < {sampled}", sm.value);
            assert!(sm.value <= sampled * (1.0 + 1e-3), "case {k}: {} vs {sampled}", sm.value);
            assert!((phi(x.view(), r.view(), sm.argmax.as_slice().unwrap()).abs() - sm.value).abs() < 1e-14);
        }
        // Parallel points only: phi(v) = (0.5 + 2 * 0.25) relu(v_1) - 0.7 relu(-v_1): S = 1 at v = e_1.
        let x = Array2::from_shape_vec((3, 2), vec![1.0, 0.0, 2.0, 0.0, -1.0, 0.0]).unwrap();
        let sm = sphere_max(x.view(), Array1::from(vec![0.5, 0.25, 0.7]).view(), None, SphereMethod::Exact, 0).unwrap();
        assert!((sm.value - 1.0).abs() < 1e-15);
        assert!((sm.argmax[0] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn three_dimensions_match_dense_sampling() {
        let paper = Distribution::Paper { d: 3 }.sample(40, 1, Purpose::TrainData).unwrap();
        let xor = Distribution::Xor { d: 3, noise: XorNoise::Sign }.sample(40, 2, Purpose::TrainData).unwrap();
        let gauss = gaussian(25, 3, 7);
        check_exact(gauss.view(), weights(25, 8).view(), 1_000_000, "gaussian d=3");
        check_exact(paper.x.view(), residual(&paper, 3).view(), 1_000_000, "paper d=3");
        check_exact(xor.x.view(), residual(&xor, 4).view(), 1_000_000, "xor d=3");
        // Many points on one great circle plus a few off it.
        let mut x = gaussian(20, 3, 9);
        x.slice_mut(ndarray::s![..14, 2]).fill(0.0);
        check_exact(x.view(), weights(20, 10).view(), 1_000_000, "coplanar d=3");
    }

    #[test]
    fn with_a_bias_column_exact_matches_dense_sampling() {
        let paper = Distribution::Paper { d: 3 }.sample(40, 5, Purpose::TrainData).unwrap().with_bias();
        let xor =
            Distribution::Xor { d: 3, noise: XorNoise::Sign }.sample(40, 6, Purpose::TrainData).unwrap().with_bias();
        let gauss = Dataset::new(gaussian(12, 3, 11), weights(12, 12)).unwrap().with_bias();
        assert_eq!(paper.d(), 4);
        check_exact(paper.x.view(), residual(&paper, 7).view(), 1_000_000, "paper d=3 + bias");
        check_exact(xor.x.view(), residual(&xor, 8).view(), 1_000_000, "xor d=3 + bias");
        check_exact(gauss.x.view(), weights(12, 13).view(), 1_000_000, "gaussian d=3 + bias");
        let xor2 =
            Distribution::Xor { d: 2, noise: XorNoise::Sign }.sample(30, 6, Purpose::TrainData).unwrap().with_bias();
        check_exact(xor2.x.view(), residual(&xor2, 9).view(), 1_000_000, "xor d=2 + bias");
    }

    #[test]
    fn estimate_is_attained_and_close_to_exact() {
        for (d, n, seed) in [(2, 50, 1), (3, 60, 2), (3, 200, 3)] {
            let x = gaussian(n, d, seed);
            let r = weights(n, seed + 100);
            let exact = sphere_max(x.view(), r.view(), None, SphereMethod::Exact, 0).unwrap();
            let est = sphere_max(x.view(), r.view(), None, SphereMethod::Estimate, 5).unwrap();
            assert!(!est.exact);
            assert!(est.value <= exact.value * (1.0 + 1e-12));
            assert!(est.value >= 0.99 * exact.value, "d={d} n={n}: {} vs {}", est.value, exact.value);
            assert!((phi(x.view(), r.view(), est.argmax.as_slice().unwrap()).abs() - est.value).abs() < 1e-14);
        }
    }

    #[test]
    fn results_do_not_depend_on_the_number_of_threads() {
        let x = gaussian(150, 3, 21);
        let r = weights(150, 22);
        let run = |threads: usize, method: SphereMethod| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| sphere_max(x.view(), r.view(), Some(x.slice(ndarray::s![..5, ..])), method, 3).unwrap())
        };
        for method in [SphereMethod::Exact, SphereMethod::Estimate] {
            let (a, b) = (run(1, method), run(3, method));
            assert_eq!(a.value.to_bits(), b.value.to_bits());
            assert_eq!(a.argmax, b.argmax);
        }
    }

    /// n = 1, x = 1, y = 1, squared loss, F = 0: r = -1, S = 1, c = 2 lambda and
    /// D = -l*(1, -2 lambda) = 2 lambda - 2 lambda^2, which is L* (one neuron of output 1 - 2 lambda).
    #[test]
    fn dual_bound_is_tight_on_one_point() {
        let x = Array2::from_elem((1, 1), 1.0);
        let y = Array1::from(vec![1.0]);
        let db =
            dual_bound(Loss::Squared, y.view(), Array1::zeros(1).view(), x.view(), 0.1, None, SphereMethod::Auto, 0)
                .unwrap();
        assert!(db.exact);
        assert!((db.s - 1.0).abs() < 1e-15);
        assert!((db.c - 0.2).abs() < 1e-15);
        assert!((db.dual - 0.18).abs() < 1e-15);
        // With lambda = 0 the bound is 0 = L* (the point is fitted exactly).
        let db =
            dual_bound(Loss::Squared, y.view(), Array1::zeros(1).view(), x.view(), 0.0, None, SphereMethod::Auto, 0)
                .unwrap();
        assert_eq!(db.dual, 0.0);
        // Logistic, F = 0: r = -1/2, S = 1/2, c = 4 lambda, t = c / 2 = 2 lambda, D = -(t ln t + (1-t) ln(1-t)).
        let db =
            dual_bound(Loss::Logistic, y.view(), Array1::zeros(1).view(), x.view(), 0.1, None, SphereMethod::Auto, 0)
                .unwrap();
        let t: f64 = 0.2;
        assert!((db.dual + t * t.ln() + (1.0 - t) * (1.0 - t).ln()).abs() < 1e-15);
    }

    #[test]
    fn invalid_arguments_are_reported() {
        let x = Array2::zeros((3, 2));
        let err = sphere_max(x.view(), Array1::zeros(2).view(), None, SphereMethod::Auto, 0).unwrap_err();
        assert_eq!(err.to_string(), "sphere_max: 3 inputs but 2 weights r");
        let u = Array2::zeros((1, 3));
        let err = sphere_max(x.view(), Array1::zeros(3).view(), Some(u.view()), SphereMethod::Auto, 0).unwrap_err();
        assert_eq!(err.to_string(), "sphere_max: directions have 3 columns but the inputs have d = 2");
        let y = Array1::ones(3);
        let err =
            dual_bound(Loss::Squared, y.view(), y.view(), x.view(), -1.0, None, SphereMethod::Auto, 0).unwrap_err();
        assert_eq!(err.to_string(), "dual_bound: lambda = -1; it must be finite and >= 0");
        let err =
            dual_bound(Loss::Squared, y.view(), Array1::ones(2).view(), x.view(), 1.0, None, SphereMethod::Auto, 0)
                .unwrap_err();
        assert_eq!(err.to_string(), "dual_bound: 3 labels but 2 predictions");
        let sm = sphere_max(x.view(), Array1::ones(3).view(), None, SphereMethod::Auto, 0).unwrap();
        assert_eq!((sm.value, sm.exact), (0.0, true));
    }
}
