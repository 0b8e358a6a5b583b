//! Property tests of the facts of docs/math.md, section Invariants, on random small clouds and data sets.

use meanfield::certify::SphereMethod;
use meanfield::data::Dataset;
use meanfield::dynamics::Gd;
use meanfield::engine::{Problem, RunOptions, Simulation};
use meanfield::loss::Loss;
use meanfield::model::{first_variation, Cloud};
use ndarray::{Array1, Array2};
use proptest::prelude::*;

/// A random problem: n samples in dimension d, m particles, a loss and lambda.
#[derive(Debug, Clone)]
struct Case {
    x: Array2<f64>,
    y: Array1<f64>,
    theta: Array2<f64>,
    loss: Loss,
    lambda: f64,
}

fn case() -> impl Strategy<Value = Case> {
    (1usize..10, 1usize..4, 1usize..7, any::<bool>(), 0.0f64..0.2).prop_flat_map(|(n, d, m, squared, lambda)| {
        let loss = if squared { Loss::Squared } else { Loss::Logistic };
        (
            proptest::collection::vec(-2.0f64..2.0, n * d),
            proptest::collection::vec(any::<bool>(), n),
            proptest::collection::vec(-1.5f64..1.5, m * (d + 1)),
        )
            .prop_map(move |(x, y, theta)| Case {
                x: Array2::from_shape_vec((n, d), x).unwrap(),
                y: Array1::from_iter(y.into_iter().map(|b| if b { 1.0 } else { -1.0 })),
                theta: Array2::from_shape_vec((m, d + 1), theta).unwrap(),
                loss,
                lambda,
            })
    })
}

fn problem(c: &Case) -> Problem<f64> {
    Problem::new(Dataset::new(c.x.clone(), c.y.clone()).unwrap(), None, c.loss, c.lambda).unwrap()
}

fn residuals(c: &Case) -> Array1<f64> {
    let f = Cloud::new(c.theta.clone()).unwrap().predict(c.x.view());
    Array1::from(c.loss.risk_gradient(c.y.as_slice().unwrap(), f.as_slice().unwrap()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// v = -m dL/dtheta_j, away from activation boundaries.
    #[test]
    fn velocity_is_minus_m_times_the_gradient(c in case()) {
        let u = c.theta.slice(ndarray::s![.., 1..]);
        prop_assume!(c.x.dot(&u.t()).iter().all(|z| z.abs() > 1e-3));
        let p = problem(&c);
        let cloud = Cloud::new(c.theta.clone()).unwrap();
        let v = cloud.velocity(c.x.view(), residuals(&c).view(), c.lambda);
        let h = 1e-6;
        for j in 0..cloud.m() {
            for k in 0..=cloud.d() {
                let shifted = |s: f64| {
                    let mut t = c.theta.clone();
                    t[[j, k]] += s;
                    p.loss_of(&Cloud::new(t).unwrap())
                };
                let fd = (shifted(h) - shifted(-h)) / (2.0 * h);
                prop_assert!((v[[j, k]] + cloud.m() as f64 * fd).abs() < 1e-6 * (1.0 + v[[j, k]].abs()));
            }
        }
    }

    /// theta . grad L'(theta) = 2 L'(theta) at every particle.
    #[test]
    fn the_first_variation_is_two_homogeneous(c in case()) {
        let cloud = Cloud::new(c.theta.clone()).unwrap();
        let r = residuals(&c);
        let v = cloud.velocity(c.x.view(), r.view(), c.lambda);
        for (t, vj) in c.theta.outer_iter().zip(v.outer_iter()) {
            let value = first_variation(t, c.x.view(), r.view(), c.lambda);
            prop_assert!((-t.dot(&vj) - 2.0 * value).abs() < 1e-12 * (1.0 + value.abs()));
        }
    }

    /// D <= L for every cloud (G >= 0), with S exact in d <= 3.
    #[test]
    fn the_gap_is_never_negative(c in case()) {
        prop_assume!(c.lambda > 0.0);
        let options = RunOptions { certificate: SphereMethod::Exact, ..RunOptions::new(0.1, 0, 1, 0) };
        let (mut sim, state) = Simulation::new(problem(&c), Box::new(Gd), options, Cloud::new(c.theta.clone()).unwrap()).unwrap();
        let m = sim.metrics(&state).unwrap();
        prop_assert!(m.gap.unwrap() >= -1e-12 * m.loss.abs().max(1.0), "D = {} > L = {}", m.dual_bound.unwrap(), m.loss);
        prop_assert_eq!(m.certificate.as_deref(), Some("exact"));
    }

    /// A small gd step does not increase L.
    #[test]
    fn a_small_gd_step_does_not_increase_the_loss(c in case()) {
        let (mut sim, state) = Simulation::new(problem(&c), Box::new(Gd), RunOptions::new(1e-4, 1, 1, 0), Cloud::new(c.theta.clone()).unwrap()).unwrap();
        let before = sim.metrics(&state).unwrap().loss;
        let state = sim.step(state).unwrap();
        let after = sim.metrics(&state).unwrap().loss;
        prop_assert!(after <= before + 1e-12, "{} -> {}", before, after);
    }
}
