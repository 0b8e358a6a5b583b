//! The dual lower bound on the minimum of the free energy of Langevin dynamics (docs/math.md, section
//! Free energy).
//!
//! Langevin dynamics at temperature tau > 0 with weight decay lambda > 0 minimises
//! F_tau\[rho\] = L\[rho\] + tau * integral rho log rho. With pi = N(0, s^2 I_{d+1}), s^2 = tau / (2 lambda) and
//! log Z_pi = ((d+1)/2) log(pi tau / lambda), every g in R^n with S(g) = sup_{|v|=1} |a_g(v)| < 2 lambda gives
//!
//! ```text
//! F*_tau >= D_tau(g) = -R*(g) - tau Phi(g) - tau log Z_pi,
//! Phi(g) = log E_{v ~ uniform on S^{d-1}} (1 - a_g(v)^2 / (4 lambda^2))^(-d/2),   a_g(v) = sum_i g_i relu(v . x_i).
//! ```
//!
//! Phi does not depend on tau. The bound used is max over c in [0, 2 lambda / S(r)) of D_tau(c r), r the current
//! residual r_i = l'(y_i, F_i) / n: D_tau(c r) is concave in c, so a golden-section search finds it; any c gives a
//! valid bound, so the search's accuracy only affects how tight it is. The value reported (`dual_free_energy`)
//! is D_tau(c r) itself, which already contains the term -tau log Z_pi once: it is a lower bound on
//! F*_tau = min over rho of L\[rho\] + tau integral rho log rho, in the same units as L.
//!
//! How Phi is computed, and the label of the bound:
//! - d = 1: the sphere is {-1, +1}; the expectation is an average of two numbers (`exact`).
//! - d = 2: on each arc of the circle between the kinks x_i . v = 0, a_g(v) = A cos t + B sin t; the integral over
//!   the arc is computed by adaptive Gauss-Legendre quadrature to a relative error of about 1e-12 (or the rounding
//!   error of the integrand where 1 - a^2 / (4 lambda^2) is tiny); the quadrature's error estimate and rounding
//!   bound are added to E, and 1e-10 to Phi (`exact` when S is exact; an arc where c |a_r| reaches 2 lambda gives
//!   Phi = +inf and D = -inf, never a finite wrong number).
//! - d >= 3: Monte Carlo over antithetic pairs (v, -v) of uniform directions. c is chosen on a pilot sample; the
//!   bound is then evaluated at that c on an independent sample of N pairs, with Hoeffding's inequality:
//!   E <= mean + (B - 1) sqrt(log(1/delta) / (2 N)) with probability 1 - delta, delta = 1e-6, where
//!   B = (1 - c^2 S^2 / (4 lambda^2))^(-d/2) bounds the integrand (`confidence` when S is exact).
//! - S estimated (not exact): B and the domain c < 2 lambda / S are not guaranteed (`estimated`).

use ndarray::{ArrayView1, ArrayView2};
use rand_distr::{Distribution as _, StandardNormal};
use rayon::prelude::*;

use super::DualProblem;
use crate::error::{Error, Result};
use crate::rng::{self, Purpose};

/// delta of the Hoeffding bound (d >= 3): the bound holds with probability at least 1 - delta.
pub const DELTA: f64 = 1e-6;
/// Antithetic pairs of the pilot sample that chooses c (d >= 3).
const PILOT_PAIRS: usize = 1 << 12;
/// Antithetic pairs of the independent sample that certifies the bound at the chosen c (d >= 3).
const CERTIFY_PAIRS: usize = 1 << 15;
/// Pairs per random stream and per matrix product (d >= 3).
const BLOCK: usize = 1024;
/// Accepted relative quadrature error of each interval (d = 2).
const QUAD_TOL: f64 = 1e-12;
/// Added to Phi in d = 2 to cover the quadrature error (E has relative error about QUAD_TOL, Phi = log E the same
/// in absolute terms).
const QUAD_SLACK: f64 = 1e-10;
/// Intervals the quadrature of one arc may examine before it gives up (Phi = +inf, D = -inf).
const QUAD_INTERVALS: usize = 100_000;
/// Halvings of an arc before the quadrature gives up (and reports Phi = +inf, so D = -inf).
const QUAD_DEPTH: u32 = 60;
/// Golden-section iterations of the search over c (the bracket shrinks by 0.618 each).
const SEARCH_ITERS: usize = 90;

/// How much a free-energy bound can be trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeEnergyCertificate {
    /// d <= 2 with S exact: Phi by quadrature to 1e-10 (a certified lower bound).
    Exact,
    /// d >= 3 with S exact: a lower bound with probability at least 1 - [`DELTA`].
    Confidence,
    /// S estimated: no guarantee.
    Estimated,
}

impl FreeEnergyCertificate {
    /// The label written in outputs: `exact`, `confidence` or `estimated`.
    pub fn as_str(self) -> &'static str {
        match self {
            FreeEnergyCertificate::Exact => "exact",
            FreeEnergyCertificate::Confidence => "confidence",
            FreeEnergyCertificate::Estimated => "estimated",
        }
    }
}

/// The bound max_c D_tau(c r) and its parts.
#[derive(Clone, Debug, PartialEq)]
pub struct FreeEnergyBound {
    /// D_tau(c r) = -R*(c r) - tau Phi(c r) - tau log Z_pi <= F*_tau.
    pub dual: f64,
    /// The chosen c in [0, 2 lambda / S(r)).
    pub c: f64,
    /// Phi(c r) as used in `dual` (an upper bound on it with d >= 3).
    pub phi: f64,
    /// log Z_pi = ((d+1)/2) log(pi tau / lambda).
    pub log_z: f64,
    /// How far the bound can be trusted.
    pub certificate: FreeEnergyCertificate,
}

/// log Z_pi = ((d+1)/2) log(pi tau / lambda), the log-normaliser of pi = N(0, tau / (2 lambda) I_{d+1}) in
/// lambda |theta|^2 + tau log rho = tau log(rho / pi) - tau log Z_pi.
pub fn log_z_pi(d: usize, tau: f64, lambda: f64) -> f64 {
    0.5 * (d as f64 + 1.0) * (std::f64::consts::PI * tau / lambda).ln()
}

/// The sphere S^{d-1} prepared for the expectation E_v (1 - c^2 a_r(v)^2 / (4 lambda^2))^(-d/2) at any c.
enum Sphere {
    /// d = 1: a_r(+1), a_r(-1).
    Points([f64; 2]),
    /// d = 2: arcs (t0, t1, A, B) covering [0, 2 pi), a_r = A cos t + B sin t on each.
    Circle(Vec<[f64; 4]>),
    /// d >= 3: a_r(v_k), a_r(-v_k) of the pilot pairs and of the certifying pairs.
    Samples { pilot: Vec<[f64; 2]>, certify: Vec<[f64; 2]> },
}

/// The integrand (1 - a^2 / (4 lambda^2))^(-d/2) at a = c a_r, +inf where a^2 >= 4 lambda^2.
fn integrand(a: f64, lambda: f64, half_d: f64) -> f64 {
    integrand_rounding(a, lambda, half_d).0
}

/// The integrand and a bound on its rounding error: 1 - a^2 / (4 lambda^2) carries an absolute error of a few
/// ulps of 1, which the power -d/2 turns into a relative error of (d/2) 4 eps / base.
fn integrand_rounding(a: f64, lambda: f64, half_d: f64) -> (f64, f64) {
    let base = 1.0 - a * a / (4.0 * lambda * lambda);
    if base > 0.0 {
        let f = base.powf(-half_d);
        (f, f * (half_d * 4.0 * f64::EPSILON / base + 4.0 * f64::EPSILON))
    } else {
        (f64::INFINITY, f64::INFINITY)
    }
}

/// Gauss-Legendre nodes and weights on [-1, 1] with 10 points (Newton's method on P_10).
fn gauss_legendre() -> [(f64, f64); 10] {
    const N: usize = 10;
    let mut out = [(0.0, 0.0); N];
    for (i, slot) in out.iter_mut().enumerate() {
        let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (N as f64 + 0.5)).cos();
        let mut dp = 1.0;
        for _ in 0..100 {
            let (mut p0, mut p1) = (1.0, x);
            for k in 2..=N {
                let kf = k as f64;
                (p0, p1) = (p1, ((2.0 * kf - 1.0) * x * p1 - (kf - 1.0) * p0) / kf);
            }
            dp = N as f64 * (x * p1 - p0) / (x * x - 1.0);
            let dx = p1 / dp;
            x -= dx;
            if dx.abs() < 1e-16 {
                break;
            }
        }
        *slot = (x, 2.0 / ((1.0 - x * x) * dp * dp));
    }
    out
}

/// Integral of f >= 1 over [a, b] by adaptive Gauss-Legendre, with a bound on its error. `f` returns the value and
/// a bound on its rounding error. An interval is accepted when its 10-point rule and the sum of the rules on its
/// halves differ by at most `tol` times that sum plus ten times their rounding errors; the error bound adds, over
/// the accepted intervals, that difference and the rounding errors. (+inf, +inf) if f is infinite anywhere sampled,
/// after [`QUAD_DEPTH`] halvings of one interval, or after [`QUAD_INTERVALS`] intervals in all.
fn adaptive(f: &dyn Fn(f64) -> (f64, f64), a: f64, b: f64, tol: f64, rule: &[(f64, f64); 10]) -> (f64, f64) {
    let gl = |a: f64, b: f64| -> (f64, f64) {
        let (mid, half) = (0.5 * (a + b), 0.5 * (b - a));
        rule.iter().fold((0.0, 0.0), |(s, e), &(x, w)| {
            let (v, err) = f(mid + half * x);
            (s + half * w * v, e + half * w * err)
        })
    };
    let (mut total, mut error) = (0.0, 0.0);
    let mut stack = vec![(a, b, gl(a, b), 0u32)];
    let mut intervals = 0;
    while let Some((a, b, whole, depth)) = stack.pop() {
        intervals += 1;
        let m = 0.5 * (a + b);
        let (left, right) = (gl(a, m), gl(m, b));
        let (sum, rounding) = (left.0 + right.0, left.1 + right.1);
        if !(sum + rounding).is_finite() || depth >= QUAD_DEPTH || intervals > QUAD_INTERVALS {
            return (f64::INFINITY, f64::INFINITY);
        }
        let diff = (sum - whole.0).abs();
        if diff <= tol * sum + 10.0 * (rounding + whole.1) {
            total += sum;
            error += diff + rounding + 16.0 * f64::EPSILON * sum;
        } else {
            stack.push((m, b, right, depth + 1));
            stack.push((a, m, left, depth + 1));
        }
    }
    (total, error)
}

impl Sphere {
    /// The sphere of inputs `x` (n x d) weighted by `r`; `seed` fixes the Monte Carlo directions (d >= 3).
    fn new(x: ArrayView2<f64>, r: ArrayView1<f64>, seed: u64) -> Sphere {
        let d = x.ncols();
        match d {
            1 => {
                let plus = x.column(0).iter().zip(r).map(|(xi, ri)| ri * xi.max(0.0)).sum();
                let minus = x.column(0).iter().zip(r).map(|(xi, ri)| ri * (-xi).max(0.0)).sum();
                Sphere::Points([plus, minus])
            }
            2 => {
                let tau = std::f64::consts::TAU;
                let mut kinks: Vec<f64> = x
                    .outer_iter()
                    .filter(|xi| xi[0] != 0.0 || xi[1] != 0.0)
                    .flat_map(|xi| {
                        let alpha = xi[1].atan2(xi[0]);
                        [alpha + 0.5 * std::f64::consts::PI, alpha - 0.5 * std::f64::consts::PI]
                    })
                    .map(|t| t.rem_euclid(tau))
                    .collect();
                kinks.sort_by(f64::total_cmp);
                kinks.dedup();
                if kinks.is_empty() {
                    kinks.push(0.0);
                }
                let k = kinks.len();
                let arcs = (0..k)
                    .map(|j| {
                        let t0 = kinks[j];
                        let t1 = if j + 1 < k { kinks[j + 1] } else { kinks[0] + tau };
                        let mid = 0.5 * (t0 + t1);
                        let v = [mid.cos(), mid.sin()];
                        let (mut ca, mut cb) = (0.0, 0.0);
                        for (xi, ri) in x.outer_iter().zip(r) {
                            if xi[0] * v[0] + xi[1] * v[1] > 0.0 {
                                ca += ri * xi[0];
                                cb += ri * xi[1];
                            }
                        }
                        [t0, t1, ca, cb]
                    })
                    .collect();
                Sphere::Circle(arcs)
            }
            _ => Sphere::Samples {
                pilot: pair_values(x, r, seed, 1, PILOT_PAIRS),
                certify: pair_values(x, r, seed, 2, CERTIFY_PAIRS),
            },
        }
    }

    /// E_v (1 - c^2 a_r(v)^2 / (4 lambda^2))^(-d/2) (the pilot sample's mean for d >= 3).
    fn expectation(&self, c: f64, lambda: f64, half_d: f64, rule: &[(f64, f64); 10]) -> f64 {
        match self {
            Sphere::Points([p, m]) => 0.5 * (integrand(c * p, lambda, half_d) + integrand(c * m, lambda, half_d)),
            Sphere::Circle(arcs) => {
                // The quadrature's value plus its error bound: an upper bound on E.
                let sum: f64 = arcs
                    .iter()
                    .map(|&[t0, t1, a, b]| {
                        let f = |t: f64| integrand_rounding(c * (a * t.cos() + b * t.sin()), lambda, half_d);
                        let (value, error) = adaptive(&f, t0, t1, QUAD_TOL, rule);
                        value + error
                    })
                    .sum();
                sum / std::f64::consts::TAU
            }
            Sphere::Samples { pilot, .. } => pair_mean(pilot, c, lambda, half_d),
        }
    }
}

/// Mean over antithetic pairs of (f(c a+) + f(c a-)) / 2, f the integrand.
fn pair_mean(pairs: &[[f64; 2]], c: f64, lambda: f64, half_d: f64) -> f64 {
    let sum: f64 =
        pairs.iter().map(|&[p, m]| 0.5 * (integrand(c * p, lambda, half_d) + integrand(c * m, lambda, half_d))).sum();
    sum / pairs.len() as f64
}

/// (a_r(v_k), a_r(-v_k)) for `pairs` uniform directions v_k, drawn in blocks of [`BLOCK`] from the streams
/// (seed, Certify, block, `position`) (position 0 is the sphere maximum's): computed in parallel, in block order.
fn pair_values(x: ArrayView2<f64>, r: ArrayView1<f64>, seed: u64, position: u64, pairs: usize) -> Vec<[f64; 2]> {
    let d = x.ncols();
    let blocks: Vec<Vec<[f64; 2]>> = (0..pairs.div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| {
            let count = BLOCK.min(pairs - b * BLOCK);
            let mut rng = rng::stream(seed, Purpose::Certify, b as u64, position);
            let dirs: Vec<Vec<f64>> = (0..count)
                .map(|_| loop {
                    let z: Vec<f64> = (0..d).map(|_| StandardNormal.sample(&mut rng)).collect();
                    let nz = z.iter().map(|v| v * v).sum::<f64>().sqrt();
                    if nz > 0.0 {
                        break z.iter().map(|v| v / nz).collect();
                    }
                })
                .collect();
            let (plus, minus) = super::phi_many(x, r, &dirs);
            plus.iter().zip(&minus).map(|(&p, &m)| [p, m]).collect()
        })
        .collect();
    blocks.concat()
}

/// Phi(g) = log E_{v uniform on S^{d-1}} (1 - a_g(v)^2 / (4 lambda^2))^(-d/2) for inputs `x` (n x d): exact (to
/// 1e-10, rounded up) for d <= 2, the Monte Carlo mean of `CERTIFY_PAIRS` antithetic pairs from `seed` for
/// d >= 3 (an estimate, not a bound). +inf when S(g) >= 2 lambda (d <= 2).
pub fn phi(x: ArrayView2<f64>, g: ArrayView1<f64>, lambda: f64, seed: u64) -> Result<f64> {
    check(x, g, lambda, 1.0)?;
    let half_d = 0.5 * x.ncols() as f64;
    let sphere = Sphere::new(x, g, seed);
    Ok(match &sphere {
        Sphere::Samples { certify, .. } => pair_mean(certify, 1.0, lambda, half_d).ln(),
        _ => sphere.expectation(1.0, lambda, half_d, &gauss_legendre()).ln() + slack(&sphere),
    })
}

/// [`QUAD_SLACK`] on the circle, 0 on the two points of S^0.
fn slack(sphere: &Sphere) -> f64 {
    if matches!(sphere, Sphere::Circle(_)) {
        QUAD_SLACK
    } else {
        0.0
    }
}

fn check(x: ArrayView2<f64>, g: ArrayView1<f64>, lambda: f64, tau: f64) -> Result<()> {
    if x.ncols() == 0 || x.nrows() != g.len() {
        return Err(Error::Invalid(format!(
            "free energy bound: {} inputs of dimension {} but {} dual variables",
            x.nrows(),
            x.ncols(),
            g.len()
        )));
    }
    if !(lambda > 0.0 && lambda.is_finite()) {
        return Err(Error::Invalid(format!("free energy bound: lambda = {lambda}; it must be finite and > 0")));
    }
    if !(tau > 0.0 && tau.is_finite()) {
        return Err(Error::Invalid(format!("free energy bound: tau = {tau}; it must be finite and > 0")));
    }
    if x.iter().chain(g.iter()).any(|v| !v.is_finite()) {
        return Err(Error::Invalid("free energy bound: inputs and dual variables must be finite".into()));
    }
    Ok(())
}

/// The maximiser and maximum of a concave function on [lo, hi] by golden-section search (values -inf allowed
/// on a right end of the interval).
fn maximise(f: impl Fn(f64) -> f64, lo: f64, hi: f64) -> (f64, f64) {
    let g = 0.5 * (5f64.sqrt() - 1.0);
    let (mut a, mut b) = (lo, hi);
    let (mut x1, mut x2) = (b - g * (b - a), a + g * (b - a));
    let (mut f1, mut f2) = (f(x1), f(x2));
    let mut best = if f(lo) >= f1.max(f2) {
        (lo, f(lo))
    } else if f1 >= f2 {
        (x1, f1)
    } else {
        (x2, f2)
    };
    for _ in 0..SEARCH_ITERS {
        if f1 >= f2 {
            (b, x2, f2) = (x2, x1, f1);
            x1 = b - g * (b - a);
            f1 = f(x1);
        } else {
            (a, x1, f1) = (x1, x2, f2);
            x2 = a + g * (b - a);
            f2 = f(x2);
        }
        for (x, v) in [(x1, f1), (x2, f2)] {
            if v > best.1 {
                best = (x, v);
            }
        }
    }
    best
}

/// max over c in [0, 2 lambda / S(r)) of D_tau(c r) = -R*(c r) - tau Phi(c r) - tau log Z_pi, a lower bound on
/// F*_tau (see the module documentation for the method and the label).
///
/// `problem` holds the loss, labels, inputs and lambda; `r` is the residual l'(y_i, F_i) / n, `s` = S(r) from
/// [`super::sphere_max`] (with `s_exact` its label), `seed` fixes the Monte Carlo directions (d >= 3). Requires
/// lambda > 0 and tau > 0.
pub fn dual_free_energy(
    problem: &DualProblem,
    r: ArrayView1<f64>,
    tau: f64,
    s: f64,
    s_exact: bool,
    seed: u64,
) -> Result<FreeEnergyBound> {
    let DualProblem { loss, y, x, lambda } = *problem;
    check(x, r, lambda, tau)?;
    if y.len() != r.len() {
        return Err(Error::Invalid(format!("free energy bound: {} labels but {} dual variables", y.len(), r.len())));
    }
    if !(s >= 0.0 && s.is_finite()) {
        return Err(Error::Invalid(format!("free energy bound: S = {s}; it must be finite and >= 0")));
    }
    let d = x.ncols();
    let half_d = 0.5 * d as f64;
    let log_z = log_z_pi(d, tau, lambda);
    let sphere = Sphere::new(x, r, seed);
    let rule = gauss_legendre();
    let (y, r) = (y.to_vec(), r.to_vec());
    let conjugate = |c: f64| loss.risk_conjugate(&y, &r.iter().map(|v| c * v).collect::<Vec<_>>());
    let value = |c: f64, phi: f64| -conjugate(c) - tau * phi - tau * log_z;
    let hi = if s > 0.0 { 2.0 * lambda / s } else { 1.0 };
    let (c, _) = maximise(|c| value(c, sphere.expectation(c, lambda, half_d, &rule).ln()), 0.0, hi);
    let (phi, certificate) = match &sphere {
        Sphere::Samples { certify, .. } => {
            let bound = integrand(c * s, lambda, half_d);
            let n = certify.len() as f64;
            let e = pair_mean(certify, c, lambda, half_d) + (bound - 1.0) * ((1.0 / DELTA).ln() / (2.0 * n)).sqrt();
            (e.ln(), if s_exact { FreeEnergyCertificate::Confidence } else { FreeEnergyCertificate::Estimated })
        }
        _ => (
            sphere.expectation(c, lambda, half_d, &rule).ln() + slack(&sphere),
            if s_exact { FreeEnergyCertificate::Exact } else { FreeEnergyCertificate::Estimated },
        ),
    };
    Ok(FreeEnergyBound { dual: value(c, phi), c, phi, log_z, certificate })
}
