//! Mass insertion at the sphere maximum: one conditional-gradient step on the measure, used by the
//! training to a stopping rule ([`super::converge`]) when plain `gd` leaves a direction unoccupied.
//!
//! At a cloud rho_m = (1/m) sum_j delta_{theta_j} with residual r, the first variation of L at a balanced
//! neuron theta = (sigma s, s v) (|v| = 1, sigma = +-1) is L'(theta) = s^2 (sigma a_r(v) + 2 lambda) with
//! a_r(v) = sum_i r_i relu(v . x_i) (docs/math.md, sections Velocity and Dual bound). Where
//! S = |a_r(v)| > 2 lambda, adding mass there with sigma = -sign(a_r(v)) lowers L at first order; the
//! dual certificate fails at exactly such a v (c = 2 lambda / S < 1). `gd` can only grow mass in v from
//! particles already near v, at the rate S - 2 lambda per unit time; when none is near, the gap stalls.
//!
//! The insertion makes the cloud an (m + 1)-particle measure carrying the same network, then adds mass
//! t in v:
//! - every particle is scaled by k = sqrt((m + 1) / m): (1/(m + 1)) sum_j w relu(u . x) k^2 =
//!   (1/m) sum_j w relu(u . x) and (1/(m + 1)) sum_j k^2 |theta_j|^2 = (1/m) sum_j |theta_j|^2, because
//!   both are 2-homogeneous (docs/math.md, section Objective): predictions and penalty are unchanged;
//! - the new particle theta = (sigma s, s v) with s^2 = (m + 1) t adds t sigma relu(v . x_i) to F_i and
//!   2 t to the penalty P.
//!
//! t minimises the convex function g(t) = R(F + t sigma phi) + lambda (P + 2 t), phi_i = relu(v . x_i),
//! over t >= 0 (bisection on g', which increases in t); g(t) <= g(0) = L, so the step never raises L.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

use crate::error::{Error, Result};
use crate::linalg::Real;
use crate::loss::Loss;
use crate::model::Cloud;

/// Bisection steps of the line search (the bracket shrinks by 2^-60: t to ~1e-18 relative).
const BISECTIONS: usize = 60;

/// The cloud of m + 1 particles that carries the same network as `cloud` (every particle scaled by
/// sqrt((m + 1) / m)) plus the balanced particle (sigma s, s v), s^2 = (m + 1) t: it adds t sigma relu(v . x)
/// to f and 2 t to the penalty. `v` must be a unit vector of length d, t >= 0, sigma = +-1.
pub(crate) fn insert<F: Real>(cloud: &Cloud<F>, v: ArrayView1<f64>, sigma: f64, t: f64) -> Result<Cloud<F>> {
    let (m, d) = (cloud.m(), cloud.d());
    if v.len() != d || !(t >= 0.0 && t.is_finite()) || sigma.abs() != 1.0 {
        return Err(Error::Invalid(format!(
            "insert: a direction of length {} (d = {d}), mass t = {t} (finite, >= 0) and sign {sigma} (+-1)",
            v.len()
        )));
    }
    let k = ((m + 1) as f64 / m as f64).sqrt();
    let old = cloud.to_f64();
    let mut theta = Array2::<F>::zeros((m + 1, d + 1));
    for (mut row, o) in theta.outer_iter_mut().zip(old.outer_iter()) {
        row.iter_mut().zip(o.iter()).for_each(|(x, &y)| *x = F::of(k * y));
    }
    let s = ((m + 1) as f64 * t).sqrt();
    let mut last = theta.row_mut(m);
    last[0] = F::of(sigma * s);
    last.iter_mut().skip(1).zip(v.iter()).for_each(|(x, &vi)| *x = F::of(s * vi));
    Cloud::new(theta)
}

/// The line search of an insertion: for F (predictions), P (second moment), phi = relu(v . x_i) and the
/// sign sigma, the t >= 0 minimising g(t) = R(F + t sigma phi) + lambda (P + 2 t), and g(t). t = 0 when
/// g'(0) = sigma sum_i r_i phi_i + 2 lambda >= 0.
pub(crate) fn line_search(
    loss: Loss,
    y: ArrayView1<f64>,
    f: ArrayView1<f64>,
    phi: ArrayView1<f64>,
    sigma: f64,
    lambda: f64,
    second_moment: f64,
) -> (f64, f64) {
    let n = y.len() as f64;
    let at = |t: f64| -> Array1<f64> { &f + &(&phi * (t * sigma)) };
    let slope = |t: f64| -> f64 {
        let ft = at(t);
        y.iter().zip(ft.iter()).zip(phi.iter()).map(|((&yi, &fi), &p)| loss.derivative(yi, fi) * p).sum::<f64>() * sigma
            / n
            + 2.0 * lambda
    };
    let value = |t: f64| -> f64 {
        let ft = at(t);
        loss.risk(y.as_slice().expect("contiguous labels"), ft.as_slice().expect("fresh array"))
            + lambda * (second_moment + 2.0 * t)
    };
    if slope(0.0) >= 0.0 {
        return (0.0, value(0.0));
    }
    let mut hi = 1e-6;
    while slope(hi) < 0.0 && hi < 1e12 {
        hi *= 2.0;
    }
    let mut lo = 0.0;
    for _ in 0..BISECTIONS {
        let mid = 0.5 * (lo + hi);
        if slope(mid) < 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo, value(lo))
}

/// phi_i = relu(v . x_i) for the rows x_i of `x`.
pub(crate) fn features(x: ArrayView2<f64>, v: ArrayView1<f64>) -> Array1<f64> {
    x.dot(&v).mapv(|z| z.max(0.0))
}

/// Coordinate-descent sweeps of [`reweight`].
pub(crate) const SWEEPS: usize = 50;

/// The smallest mass factor a_j of [`reweight`]: no particle is dropped, so every direction keeps seeding the
/// sphere maximum of the certificate and can grow back under gd.
pub(crate) const A_MIN: f64 = 1e-6;

/// The fully corrective step on the masses of the particles: every particle is balanced (|w| = |u|, which keeps
/// its output w relu(u . x) and lowers its penalty to 2 |w| |u|, docs/math.md, section Dual bound), then its
/// mass is multiplied by a_j >= 0, a minimiser of the convex function
/// g(a) = R(sum_j a_j f_j) + lambda sum_j a_j p_j, f_j = (1/m) w_j relu(u_j . x), p_j = (2/m) |w_j| |u_j|,
/// over a_j >= A_MIN, by `sweeps` sweeps of coordinate descent from a = 1 (Newton steps on each a_j, halved
/// until g falls; g never rises, so L does not). Particles of mass 0 are dropped and the m' kept ones carry
/// mass (m' / m) a_j |w_j| |u_j| each (a_j >= A_MIN > 0 drops no other), so the cloud is the reweighted
/// measure exactly. At a minimiser of g, each
/// particle with a_j > A_MIN has first variation L'(theta_j) = 0 (docs/math.md, section Velocity), so the part
/// integral L' d rho of the duality gap nearly vanishes and G comes mainly from the sphere maximum.
pub(crate) fn reweight<F: Real>(
    cloud: &Cloud<F>,
    x: ArrayView2<f64>,
    y: ArrayView1<f64>,
    loss: Loss,
    lambda: f64,
    sweeps: usize,
) -> Result<Cloud<F>> {
    let theta = cloud.to_f64();
    let (m, n) = (cloud.m(), x.nrows());
    // Balanced neurons: sign, mass |w| |u|, unit direction.
    let mut atoms: Vec<(f64, f64, Array1<f64>)> = Vec::new();
    for row in theta.outer_iter() {
        let u = row.slice(ndarray::s![1..]);
        let norm = u.dot(&u).sqrt();
        let mass = row[0].abs() * norm;
        if mass > 0.0 && mass.is_finite() {
            atoms.push((row[0].signum(), mass, u.mapv(|v| v / norm)));
        }
    }
    if atoms.is_empty() {
        return Ok(cloud.clone());
    }
    let k = atoms.len();
    // f (k x n) and p (k).
    let mut f = Array2::<f64>::zeros((k, n));
    for (mut row, (sign, mass, v)) in f.outer_iter_mut().zip(&atoms) {
        let phi = features(x, v.view());
        row.assign(&(phi * (sign * mass / m as f64)));
    }
    let p: Vec<f64> = atoms.iter().map(|(_, mass, _)| 2.0 * mass / m as f64).collect();
    let mut a = vec![1.0; k];
    let mut pred: Array1<f64> = f.sum_axis(ndarray::Axis(0));
    let nf = n as f64;
    let risk_along = |pred: &Array1<f64>, fj: ArrayView1<f64>, step: f64| -> f64 {
        y.iter().zip(pred.iter()).zip(fj.iter()).map(|((&yi, &pi), &fi)| loss.value(yi, pi + step * fi)).sum::<f64>()
            / nf
    };
    for _ in 0..sweeps {
        for j in 0..k {
            let fj = f.row(j);
            let (mut g1, mut g2) = (lambda * p[j], 0.0);
            for ((&yi, &pi), &fi) in y.iter().zip(pred.iter()).zip(fj.iter()) {
                if fi != 0.0 {
                    g1 += loss.derivative(yi, pi) * fi / nf;
                    g2 += loss.second_derivative(yi, pi) * fi * fi / nf;
                }
            }
            if g2.is_nan() || g2 <= 0.0 {
                continue;
            }
            let mut step = (a[j] - g1 / g2).max(A_MIN) - a[j];
            if step == 0.0 {
                continue;
            }
            let before = risk_along(&pred, fj, 0.0);
            let mut accepted = false;
            for _ in 0..20 {
                if risk_along(&pred, fj, step) + lambda * p[j] * step < before {
                    accepted = true;
                    break;
                }
                step *= 0.5;
            }
            if accepted {
                a[j] += step;
                pred.scaled_add(step, &fj);
            }
        }
    }
    let scale = k as f64 / m as f64;
    let mut out = Array2::<F>::zeros((k, cloud.d() + 1));
    for ((mut row, (sign, mass, v)), aj) in out.outer_iter_mut().zip(&atoms).zip(&a) {
        let s = (scale * aj * mass).sqrt();
        row[0] = F::of(sign * s);
        row.iter_mut().skip(1).zip(v.iter()).for_each(|(t, &vi)| *t = F::of(s * vi));
    }
    Cloud::new(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Distribution;
    use crate::model::Init;
    use crate::rng::Purpose;

    fn setup() -> (crate::data::Dataset, Cloud<f64>, Array1<f64>) {
        let train = Distribution::Paper { d: 6 }.sample(40, 2, Purpose::TrainData).unwrap();
        let cloud = Cloud::<f64>::sample(37, 6, &Init::Gaussian { s_w: 1.0, s_u: 1.0 }, 3);
        let v = Array1::from(vec![0.0, 0.6, 0.0, -0.8, 0.0, 0.0]);
        (train, cloud, v)
    }

    #[test]
    fn inserting_zero_mass_keeps_predictions_and_penalty() {
        let (train, cloud, v) = setup();
        let out = insert(&cloud, v.view(), -1.0, 0.0).unwrap();
        assert_eq!(out.m(), 38);
        let (f0, f1) = (cloud.predict(train.x.view()), out.predict(train.x.view()));
        let df = f0.iter().zip(f1.iter()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(df <= 1e-12 && f0.iter().any(|v| v.abs() > 1e-2), "max |dF| = {df}");
        assert!((cloud.second_moment() - out.second_moment()).abs() <= 1e-12 * cloud.second_moment());
    }

    #[test]
    fn inserted_mass_adds_t_sigma_phi_and_two_t_penalty() {
        let (train, cloud, v) = setup();
        let t = 0.37;
        let out = insert(&cloud, v.view(), -1.0, t).unwrap();
        let phi = features(train.x.view(), v.view());
        let expected = &cloud.predict(train.x.view()) - &(&phi * t);
        let got = out.predict(train.x.view());
        let df = expected.iter().zip(got.iter()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(df <= 1e-12 && phi.iter().any(|&p| p > 0.5), "max |dF| = {df}");
        assert!((out.second_moment() - cloud.second_moment() - 2.0 * t).abs() <= 1e-12);
        assert!(insert(&cloud, v.view(), 0.5, t).unwrap_err().to_string().contains("sign 0.5 (+-1)"));
    }

    #[test]
    fn the_line_search_finds_the_stationary_mass_and_lowers_l() {
        let (train, cloud, v) = setup();
        let lambda = 1e-3;
        let f = cloud.predict(train.x.view());
        let p = cloud.second_moment();
        let phi = features(train.x.view(), v.view());
        let r = Array1::from(Loss::Logistic.risk_gradient(&train.y.to_vec(), &f.to_vec()));
        let a = r.dot(&phi);
        assert!(a.abs() > 2.0 * lambda, "a_r(v) = {a}: the test needs a violated direction");
        let sigma = -a.signum();
        let (t, g) = line_search(Loss::Logistic, train.y.view(), f.view(), phi.view(), sigma, lambda, p);
        let l0 = Loss::Logistic.risk(&train.y.to_vec(), &f.to_vec()) + lambda * p;
        assert!(t > 0.0 && g < l0, "t = {t}, g = {g}, L = {l0}");
        // g is convex and minimal at t: its values at t +- 1e-4 t are not lower, and the cloud built
        // with mass t has L = g(t).
        for s in [t * (1.0 - 1e-4), t * (1.0 + 1e-4)] {
            let fs = &f + &(&phi * (s * sigma));
            let gs = Loss::Logistic.risk(&train.y.to_vec(), &fs.to_vec()) + lambda * (p + 2.0 * s);
            assert!(gs >= g - 1e-15, "g({s}) = {gs} < g({t}) = {g}");
        }
        let out = insert(&cloud, v.view(), sigma, t).unwrap();
        let f1 = out.predict(train.x.view());
        let l1 = Loss::Logistic.risk(&train.y.to_vec(), &f1.to_vec()) + lambda * out.second_moment();
        assert!((l1 - g).abs() <= 1e-12, "L after insertion {l1}, line search {g}");
        // The wrong sign has g'(0) > 0: no mass.
        let (t0, g0) = line_search(Loss::Logistic, train.y.view(), f.view(), phi.view(), -sigma, lambda, p);
        assert_eq!(t0, 0.0);
        assert!((g0 - l0).abs() <= 1e-15);
    }

    #[test]
    fn reweighting_lowers_l_and_leaves_no_mass_where_the_first_variation_is_nonzero() {
        let (train, cloud, _) = setup();
        let lambda = 1e-3;
        let x = train.x.view();
        let loss_of = |c: &Cloud<f64>| {
            let f = c.predict(x);
            Loss::Logistic.risk(&train.y.to_vec(), &f.to_vec()) + lambda * c.second_moment()
        };
        let before = loss_of(&cloud);
        // No sweep: only the balancing, which keeps every output and lowers the penalty.
        let balanced = reweight(&cloud, x, train.y.view(), Loss::Logistic, lambda, 0).unwrap();
        let df = (&cloud.predict(x) - &balanced.predict(x)).mapv(f64::abs).fold(0.0, |a: f64, &b| a.max(b));
        assert!(df <= 1e-12, "balancing changed F by {df}");
        assert!(balanced.second_moment() < cloud.second_moment());
        let out = reweight(&cloud, x, train.y.view(), Loss::Logistic, lambda, 200).unwrap();
        let after = loss_of(&out);
        assert_eq!(out.m(), cloud.m());
        assert!(after < loss_of(&balanced) && loss_of(&balanced) < before, "L {before} -> {after}");
        // Optimality in the masses: L'(theta_j) = 0 where a_j > A_MIN, L'(theta_j) >= 0 where a_j = A_MIN
        // (docs/math.md, section Velocity: L'(theta) = sum_i r_i w relu(u . x_i) + lambda |theta|^2).
        let f = out.predict(x);
        let r = Array1::from(Loss::Logistic.risk_gradient(&train.y.to_vec(), &f.to_vec()));
        let theta = out.to_f64();
        let (mut active, mut floor) = (0, 0);
        for row in theta.outer_iter() {
            let t = row.to_owned();
            let first = crate::model::first_variation(t.view(), x, r.view(), lambda);
            let norm2 = t.dot(&t);
            if norm2 > 1e-4 {
                active += 1;
                assert!(first.abs() <= 1e-6 * norm2, "L' = {first} at |theta|^2 = {norm2}");
            } else {
                floor += 1;
                assert!(first >= -1e-9, "L' = {first} on a particle at the floor");
            }
        }
        assert!(active > 0 && floor > 0, "{active} active, {floor} at the floor");
    }
}
