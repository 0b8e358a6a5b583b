//! The free energy of Langevin dynamics and its dual bound (docs/math.md, section Free
//! energy), checked against independent computations.

use meanfield::certify::free_energy::{dual_free_energy, log_z_pi, phi, FreeEnergyCertificate};
use meanfield::certify::{dual_bound, sphere_max, DualProblem, SphereMethod};
use meanfield::data::Dataset;
use meanfield::dynamics::Langevin;
use meanfield::engine::{Problem, RunOptions, Simulation};
use meanfield::loss::Loss;
use meanfield::model::{Cloud, Init};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

fn gaussian(n: usize, d: usize, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_fn((n, d), |_| rng.sample(StandardNormal))
}

fn uniform(n: usize, seed: u64) -> Array1<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array1::from_shape_fn(n, |_| rng.random_range(-1.0..1.0))
}

/// a_g(u) = sum_i g_i relu(u . x_i).
fn a_of(x: ArrayView2<f64>, g: ArrayView1<f64>, u: &[f64]) -> f64 {
    x.outer_iter().zip(g).map(|(xi, gi)| gi * xi.iter().zip(u).map(|(a, b)| a * b).sum::<f64>().max(0.0)).sum()
}

/// log E_pi exp(-w a_g(u) / tau) by direct Monte Carlo over theta = (w, u) ~ pi = N(0, tau / (2 lambda) I_{d+1}),
/// with its standard error (delta method).
fn direct_log_partition(x: ArrayView2<f64>, g: ArrayView1<f64>, lambda: f64, tau: f64, samples: usize) -> (f64, f64) {
    let d = x.ncols();
    let s = (tau / (2.0 * lambda)).sqrt();
    let chunks = 64;
    let per = samples / chunks;
    let sums: Vec<(f64, f64)> = (0..chunks)
        .into_par_iter()
        .map(|c| {
            let mut rng = ChaCha8Rng::seed_from_u64(1000 + c as u64);
            let (mut s1, mut s2) = (0.0, 0.0);
            let mut u = vec![0.0; d];
            for _ in 0..per {
                let w: f64 = s * rng.sample::<f64, _>(StandardNormal);
                u.iter_mut().for_each(|v| *v = s * rng.sample::<f64, _>(StandardNormal));
                let e = (-w * a_of(x, g, &u) / tau).exp();
                s1 += e;
                s2 += e * e;
            }
            (s1, s2)
        })
        .collect();
    let n = (per * chunks) as f64;
    let (s1, s2) = sums.iter().fold((0.0, 0.0), |(a, b), (c, e)| (a + c, b + e));
    let mean = s1 / n;
    let var = s2 / n - mean * mean;
    (mean.ln(), (var / n).sqrt() / mean)
}

/// Random g on random inputs, scaled so that S(g) = ratio * 2 lambda.
fn scaled_problem(n: usize, d: usize, seed: u64, lambda: f64, ratio: f64) -> (Array2<f64>, Array1<f64>) {
    let x = gaussian(n, d, seed);
    let g = uniform(n, seed + 1);
    let s = sphere_max(x.view(), g.view(), None, SphereMethod::Exact, 0).unwrap().value;
    let g = g * (ratio * 2.0 * lambda / s);
    (x, g)
}

/// Phi(g) = log E_pi exp(-w a_g(u) / tau) (the w and radial integrals done in closed form) against the direct
/// Monte Carlo average over 4 million Gaussian particles, in d = 2 (Phi by quadrature) and d = 3 (Phi by Monte Carlo
/// over the sphere); Phi does not depend on tau.
#[test]
fn phi_matches_a_direct_monte_carlo_of_the_log_partition() {
    for (d, seed, lambda, tau) in [(2, 1, 0.1, 0.01), (2, 3, 0.05, 1.0), (3, 5, 0.1, 0.02), (3, 7, 0.2, 0.5)] {
        // S(g) = 0.2 * 2 lambda: the direct estimator then has a finite fourth moment (its error bar is reliable).
        let (x, g) = scaled_problem(6, d, seed, lambda, 0.2);
        let exact = phi(x.view(), g.view(), lambda, 11).unwrap();
        let (direct, se) = direct_log_partition(x.view(), g.view(), lambda, tau, 4_000_000);
        // The sphere Monte Carlo of d = 3 (2^15 antithetic pairs) has standard error <= (B - 1) / (2 sqrt(2^15)).
        let b = (1.0f64 - 0.04).powf(-1.5);
        let se_sphere = if d == 3 { (b - 1.0) / (2.0 * 32768f64.sqrt()) } else { 0.0 };
        let tol = 5.0 * (se * se + se_sphere * se_sphere).sqrt();
        assert!(exact > 0.005, "d = {d}: Phi = {exact} is too small to test anything");
        assert!((exact - direct).abs() < tol, "d = {d}, seed {seed}: Phi = {exact}, direct {direct} +- {se}");
    }
}

/// Quadrature over a uniform grid of N angles (periodic trapezoid) of the d = 2 problem: E_v[f(a_g(v)) h(v)].
struct Grid {
    /// relu(v_k . x_i), N x n.
    act: Array2<f64>,
}

impl Grid {
    fn new(x: ArrayView2<f64>, n_angles: usize) -> Grid {
        let act = Array2::from_shape_fn((n_angles, x.nrows()), |(k, i)| {
            let t = k as f64 * std::f64::consts::TAU / n_angles as f64;
            (t.cos() * x[[i, 0]] + t.sin() * x[[i, 1]]).max(0.0)
        });
        Grid { act }
    }

    /// Phi(g), its gradient and Hessian in g (d = 2: f(a) = (1 - a^2 / (4 lambda^2))^(-1)); None outside the domain.
    fn phi(&self, g: &Array1<f64>, lambda: f64) -> Option<(f64, Array1<f64>, Array2<f64>)> {
        let n = g.len();
        let a = self.act.dot(g);
        let q = 1.0 / (4.0 * lambda * lambda);
        let (mut e, mut e1, mut e2) = (0.0, Array1::<f64>::zeros(n), Array2::<f64>::zeros((n, n)));
        for (k, &ak) in a.iter().enumerate() {
            let base = 1.0 - q * ak * ak;
            if base <= 0.0 {
                return None;
            }
            let f = 1.0 / base;
            let f1 = 2.0 * q * ak * f * f;
            let f2 = 2.0 * q * f * f + 8.0 * q * q * ak * ak * f * f * f;
            let row = self.act.row(k);
            e += f;
            e1.scaled_add(f1, &row);
            for i in 0..n {
                for j in 0..n {
                    e2[[i, j]] += f2 * row[i] * row[j];
                }
            }
        }
        let grad = &e1 / e;
        let mut hess = &e2 / e;
        for i in 0..n {
            for j in 0..n {
                hess[[i, j]] -= grad[i] * grad[j];
            }
        }
        Some(((e / a.len() as f64).ln(), grad, hess))
    }
}

/// Solves H x = b for a symmetric positive definite H (Cholesky).
fn solve_spd(h: &Array2<f64>, b: &Array1<f64>) -> Array1<f64> {
    let n = b.len();
    let mut l = Array2::<f64>::zeros((n, n));
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[[i, k]] * l[[j, k]]).sum();
            l[[i, j]] = if i == j { (h[[i, i]] - s).sqrt() } else { (h[[i, j]] - s) / l[[j, j]] };
        }
    }
    let mut z = Array1::<f64>::zeros(n);
    for i in 0..n {
        z[i] = (b[i] - (0..i).map(|k| l[[i, k]] * z[k]).sum::<f64>()) / l[[i, i]];
    }
    let mut x = Array1::<f64>::zeros(n);
    for i in (0..n).rev() {
        x[i] = (z[i] - (i + 1..n).map(|k| l[[k, i]] * x[k]).sum::<f64>()) / l[[i, i]];
    }
    x
}

/// The d = 2 test problem: squared loss, inputs, labels, lambda, tau.
fn newton_problem() -> (Array2<f64>, Array1<f64>, f64, f64) {
    let x = gaussian(5, 2, 21);
    let y = Array1::from(vec![1.0, -0.5, 0.8, -1.0, 0.3]);
    (x, y, 0.1, 0.02)
}

/// F*_tau of the d = 2 problem, independently: the concave D_tau(g) = -R*(g) - tau Phi(g) - tau log Z_pi maximised
/// over g in R^n by damped Newton with Phi on a grid of 2^16 angles; the primal F_tau at the Gibbs measure
/// rho_g ~ pi exp(-w a_g(u) / tau) of the maximiser is R(F) - g . F - tau Phi(g) - tau log Z_pi with
/// F = -tau grad Phi(g) (the w and radial integrals in closed form). Returns (dual, primal, g*).
fn independent_optimum() -> (f64, f64, Array1<f64>) {
    let (x, y, lambda, tau) = newton_problem();
    let n = y.len();
    let nf = n as f64;
    let grid = Grid::new(x.view(), 1 << 16);
    let log_z = log_z_pi(2, tau, lambda);
    // Squared loss: R*(g) = sum_i (n g_i^2 / 2 + g_i y_i).
    let r_star = |g: &Array1<f64>| g.iter().zip(&y).map(|(g, y)| 0.5 * nf * g * g + g * y).sum::<f64>();
    let objective = |g: &Array1<f64>| grid.phi(g, lambda).map(|(p, _, _)| r_star(g) + tau * p);
    let mut g = Array1::<f64>::zeros(n);
    for _ in 0..100 {
        let (_, gp, hp) = grid.phi(&g, lambda).unwrap();
        let grad = g.mapv(|v| nf * v) + &y + gp * tau;
        let hess = hp * tau + Array2::<f64>::eye(n) * nf;
        let step = solve_spd(&hess, &grad);
        let decrement = grad.dot(&step);
        if decrement < 1e-28 {
            break;
        }
        let now = objective(&g).unwrap();
        let mut t = 1.0;
        while objective(&(&g - &(&step * t))).is_none_or(|v| v > now - 0.25 * t * decrement) && t > 1e-12 {
            t *= 0.5;
        }
        g = &g - &(&step * t);
    }
    let (p, gp, _) = grid.phi(&g, lambda).unwrap();
    let dual = -r_star(&g) - tau * p - tau * log_z;
    let f = gp * (-tau);
    let risk = f.iter().zip(&y).map(|(f, y)| 0.5 * (f - y) * (f - y)).sum::<f64>() / nf;
    let primal = risk - g.dot(&f) - tau * p - tau * log_z;
    (dual, primal, g)
}

#[test]
fn an_independent_free_energy_optimum_is_bracketed_and_never_exceeded() {
    let (x, y, lambda, tau) = newton_problem();
    let (dual, primal, g) = independent_optimum();
    assert!(primal >= dual - 1e-12 && primal - dual < 1e-6, "primal {primal}, dual {dual}");
    // The module's Phi (arc quadrature) at the maximiser agrees with the grid's D_tau.
    let nf = y.len() as f64;
    let r_star = g.iter().zip(&y).map(|(g, y)| 0.5 * nf * g * g + g * y).sum::<f64>();
    let module = -r_star - tau * phi(x.view(), g.view(), lambda, 0).unwrap() - tau * log_z_pi(2, tau, lambda);
    assert!((module - dual).abs() < 1e-8, "module {module} vs grid {dual}");
    // The module's bound at r = g* (the residual of the optimal predictions) reaches F*_tau.
    let s = sphere_max(x.view(), g.view(), None, SphereMethod::Exact, 0).unwrap();
    let at_optimum = dual_free_energy(
        &DualProblem { loss: Loss::Squared, y: y.view(), x: x.view(), lambda },
        g.view(),
        tau,
        s.value,
        s.exact,
        0,
    )
    .unwrap();
    assert_eq!(at_optimum.certificate, FreeEnergyCertificate::Exact);
    assert!(at_optimum.dual <= primal + 1e-9 && at_optimum.dual > dual - 1e-7, "{at_optimum:?} vs {dual}");
    // A long Langevin run never certifies more than F*_tau, and its certified gap closes.
    let problem = Problem::<f64>::new(Dataset::new(x, y).unwrap(), None, Loss::Squared, lambda).unwrap();
    let cloud = Cloud::<f64>::sample(2000, 2, &Init::Gaussian { s_w: 0.5, s_u: 0.5 }, 3);
    let options = RunOptions::new(0.1, 3000, 100, 4);
    let (mut sim, state) =
        Simulation::new(problem, Box::new(Langevin { tau, tau_decay: 1.0 }), options, cloud).unwrap();
    sim.run(state, &mut []).unwrap();
    let history = sim.history();
    for m in history {
        let bound = m.dual_free_energy.unwrap();
        assert!(bound <= primal + 1e-9, "step {}: dual_free_energy {bound} > F* {primal}", m.step);
        assert_eq!(m.certificate_free_energy.as_deref(), Some("exact"));
        assert_eq!(m.free_energy.unwrap(), m.loss - tau * m.entropy.unwrap());
    }
    let last = history.last().unwrap();
    assert!(primal - last.dual_free_energy.unwrap() < 1e-4, "final dual {:?} vs F* {primal}", last.dual_free_energy);
    // The estimated free energy reaches F*_tau up to the entropy estimator's error (tau times a few 0.01 nats).
    let gap = last.gap_free_energy.unwrap();
    assert!(gap.abs() < tau * 0.05, "final gap_free_energy {gap}");
    assert!(history[0].gap_free_energy.unwrap() > 10.0 * gap.abs());
}

/// As tau -> 0, max_c D_tau(c r) + tau log Z_pi tends to max over c in (0, 2 lambda / S] of -R*(c r), which is
/// section 5's D when c = 2 lambda / S < 1 is the maximiser (here: a cloud far from the optimum, S > 2 lambda).
#[test]
fn the_bound_tends_to_the_dual_bound_of_l_as_tau_vanishes() {
    let x = gaussian(8, 2, 31);
    let y = Array1::from(vec![1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, -1.0]);
    let f = uniform(8, 32) * 0.3;
    let lambda = 0.02;
    let db = dual_bound(
        &DualProblem { loss: Loss::Logistic, y: y.view(), x: x.view(), lambda },
        f.view(),
        None,
        SphereMethod::Exact,
        0,
    )
    .unwrap();
    assert!(db.c < 1.0, "the test needs S > 2 lambda, c = {}", db.c);
    let r = Array1::from(Loss::Logistic.risk_gradient(y.as_slice().unwrap(), f.as_slice().unwrap()));
    let mut previous = f64::NEG_INFINITY;
    for tau in [1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-8] {
        let b = dual_free_energy(
            &DualProblem { loss: Loss::Logistic, y: y.view(), x: x.view(), lambda },
            r.view(),
            tau,
            db.s,
            true,
            0,
        )
        .unwrap();
        let shifted = b.dual + tau * b.log_z;
        assert!(shifted <= db.dual + 1e-12, "tau = {tau}: {shifted} > D = {}", db.dual);
        assert!(shifted >= previous - 1e-12, "tau = {tau}: not increasing");
        previous = shifted;
    }
    assert!(db.dual - previous < 1e-6, "tau = 1e-8: {previous} vs D = {}", db.dual);
}

/// The search over c finds the maximum of D_tau(c r) over a dense grid of c (d = 2 exact, d = 3 on its pilot
/// sample up to the Hoeffding margin), and the labels follow S's.
#[test]
fn the_search_over_c_finds_the_maximum_and_labels_are_honest() {
    let lambda = 0.05;
    for d in [1, 2, 3] {
        let x = gaussian(10, d, 40 + d as u64);
        let y = Array1::from_iter((0..10).map(|i| if i % 3 == 0 { -1.0 } else { 1.0 }));
        let r = Array1::from(Loss::Logistic.risk_gradient(y.as_slice().unwrap(), &[0.0; 10]));
        let s = sphere_max(x.view(), r.view(), None, SphereMethod::Exact, 0).unwrap().value;
        let tau = 1e-3;
        let b = dual_free_energy(
            &DualProblem { loss: Loss::Logistic, y: y.view(), x: x.view(), lambda },
            r.view(),
            tau,
            s,
            true,
            9,
        )
        .unwrap();
        assert!(b.c > 0.0 && b.c < 2.0 * lambda / s);
        let expected = if d <= 2 { FreeEnergyCertificate::Exact } else { FreeEnergyCertificate::Confidence };
        assert_eq!(b.certificate, expected);
        if d <= 2 {
            let value = |c: f64| {
                let g = &r * c;
                -Loss::Logistic.risk_conjugate(y.as_slice().unwrap(), g.as_slice().unwrap())
                    - tau * phi(x.view(), g.view(), lambda, 0).unwrap()
                    - tau * b.log_z
            };
            let hi = 2.0 * lambda / s;
            let grid_best = (1..400).map(|k| value(hi * k as f64 / 400.0)).fold(f64::NEG_INFINITY, f64::max);
            assert!(b.dual >= grid_best - 1e-12, "d = {d}: {} < grid {grid_best}", b.dual);
            assert!((b.dual - value(b.c)).abs() < 1e-12);
        }
        let estimated = dual_free_energy(
            &DualProblem { loss: Loss::Logistic, y: y.view(), x: x.view(), lambda },
            r.view(),
            tau,
            s,
            false,
            9,
        )
        .unwrap();
        assert_eq!(estimated.certificate, FreeEnergyCertificate::Estimated);
    }
    let (x, y) = (gaussian(3, 2, 1), Array1::from(vec![1.0, -1.0, 1.0]));
    let err = dual_free_energy(
        &DualProblem { loss: Loss::Logistic, y: y.view(), x: x.view(), lambda: 0.0 },
        y.view(),
        1.0,
        1.0,
        true,
        0,
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "free energy bound: lambda = 0; it must be finite and > 0");
    let err = dual_free_energy(
        &DualProblem { loss: Loss::Logistic, y: y.view(), x: x.view(), lambda: 0.1 },
        y.view(),
        0.0,
        1.0,
        true,
        0,
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "free energy bound: tau = 0; it must be finite and > 0");
}

/// The five columns are filled only for Langevin with tau > 0 and lambda > 0, at every certified step, and with an
/// annealed temperature (`tau_decay`) they use the current one: free_energy = L - tau_t entropy,
/// tau_t = tau tau_decay^t, and gap_free_energy = free_energy - dual_free_energy.
#[test]
fn the_columns_apply_only_to_langevin_with_tau_and_lambda_and_use_the_current_tau() {
    let x = gaussian(12, 2, 51);
    let y = Array1::from_iter((0..12).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }));
    let run = |dynamics: Box<dyn meanfield::dynamics::Dynamics<f64>>, lambda: f64| {
        let problem =
            Problem::<f64>::new(Dataset::new(x.clone(), y.clone()).unwrap(), None, Loss::Logistic, lambda).unwrap();
        let cloud = Cloud::<f64>::sample(300, 2, &Init::Gaussian { s_w: 0.5, s_u: 0.5 }, 5);
        let (mut sim, state) = Simulation::new(problem, dynamics, RunOptions::new(0.2, 300, 100, 6), cloud).unwrap();
        sim.run(state, &mut []).unwrap();
        sim.history().to_vec()
    };
    let annealed = Langevin { tau: 1e-2, tau_decay: 0.99 };
    let history = run(Box::new(annealed), 0.01);
    assert_eq!(history.iter().map(|m| m.step).collect::<Vec<_>>(), [0, 100, 200, 300]);
    for m in &history {
        let tau = annealed.temperature(m.step);
        assert_eq!(m.free_energy.unwrap(), m.loss - tau * m.entropy.unwrap(), "step {}", m.step);
        assert_eq!(m.gap_free_energy.unwrap(), m.free_energy.unwrap() - m.dual_free_energy.unwrap());
        assert_eq!(m.certificate_free_energy.as_deref(), Some("exact"));
    }
    // At the last step tau_t = 1e-2 * 0.99^300 = 4.9e-4: L - tau_0 H would differ from the column by 9.5e-3 |H|.
    let last = history.last().unwrap();
    assert!(
        (last.free_energy.unwrap() - (last.loss - 1e-2 * last.entropy.unwrap())).abs()
            > 1e-3 * last.entropy.unwrap().abs()
    );
    let empty = |h: &[meanfield::metrics::Metrics]| {
        h.iter().all(|m| {
            m.entropy.is_none()
                && m.free_energy.is_none()
                && m.dual_free_energy.is_none()
                && m.gap_free_energy.is_none()
                && m.certificate_free_energy.is_none()
        })
    };
    assert!(empty(&run(Box::new(meanfield::dynamics::Gd), 0.01)), "gd");
    assert!(empty(&run(Box::new(Langevin { tau: 0.0, tau_decay: 1.0 }), 0.01)), "tau = 0");
    assert!(empty(&run(Box::new(Langevin { tau: 1e-3, tau_decay: 1.0 }), 0.0)), "lambda = 0");
}
