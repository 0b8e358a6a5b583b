//! The exact sphere maximum: a search over the cells of the arrangement of the hyperplanes x_i . v = 0
//! (docs/math.md, section Sphere maximum; the method is described in the module documentation of `certify`).

use ndarray::{ArrayView1, ArrayView2};

use super::estimate::{estimate_cost, local_maxima};
use super::phi::{finish, unit};
use crate::geometry::arrangement::{self, dot, Cell, CircleArc, DistinctDirections, Visitor};

/// Relative slack of the cell search: a cell with |g_P| <= (1 + SLACK) * best is not examined.
const SLACK: f64 = 1e-12;

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

/// The exact maximum of |phi| and a maximiser (unit vector), see the module documentation. With
/// `estimate_seed`, for d >= 3 and a search costlier than the estimate ([`estimate_cost`]), the local
/// maxima of the estimate give the cell search its initial lower bound (fewer cells to check; the value
/// is the same).
pub(super) fn exact_max(
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
