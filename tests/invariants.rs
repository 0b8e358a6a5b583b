//! The facts of docs/math.md, section Invariants, and the defining properties of the dynamics, on small clouds.

use meanfield::data::{Dataset, Distribution, XorNoise};
use meanfield::dynamics::{Dynamics, Gd, Langevin, Perturbed, StepContext};
use meanfield::engine::{Problem, RunOptions, Simulation};
use meanfield::loss::Loss;
use meanfield::model::{first_variation, Cloud, Init};
use meanfield::rng::Purpose;
use ndarray::{array, Array1, Array2};

fn gaussian_data(n: usize, d: usize, seed: u64) -> Dataset {
    Distribution::Xor { d, noise: XorNoise::Gaussian }.sample(n, seed, Purpose::TrainData).unwrap()
}

/// L[rho] for a cloud given as f64 particles.
fn objective(problem: &Problem<f64>, theta: &Array2<f64>) -> f64 {
    problem.loss_of(&Cloud::new(theta.clone()).unwrap())
}

fn residuals(problem: &Problem<f64>, cloud: &Cloud<f64>) -> Array1<f64> {
    let f = cloud.predict(problem.x().view());
    Array1::from(problem.loss.risk_gradient(problem.train.y.as_slice().unwrap(), f.as_slice().unwrap()))
}

#[test]
fn velocity_matches_central_differences_of_the_objective() {
    for loss in [Loss::Logistic, Loss::Squared] {
        let problem = Problem::<f64>::new(gaussian_data(15, 4, 1), None, loss, 0.03).unwrap();
        let cloud = Cloud::<f64>::sample(7, 4, &Init::Gaussian { s_w: 1.0, s_u: 1.0 }, 2);
        let v = cloud.velocity(problem.x().view(), residuals(&problem, &cloud).view(), problem.lambda);
        let m = cloud.m() as f64;
        let h = 1e-6;
        for j in 0..cloud.m() {
            for k in 0..=cloud.d() {
                let mut plus = cloud.theta.clone();
                plus[[j, k]] += h;
                let mut minus = cloud.theta.clone();
                minus[[j, k]] -= h;
                let dl = (objective(&problem, &plus) - objective(&problem, &minus)) / (2.0 * h);
                // v = -m dL/dtheta_j (mean-field time scaling).
                assert!(
                    (v[[j, k]] + m * dl).abs() < 1e-7,
                    "{loss:?} particle {j} coord {k}: {} vs {}",
                    v[[j, k]],
                    -m * dl
                );
            }
        }
    }
}

#[test]
fn first_variation_is_two_homogeneous() {
    let problem = Problem::<f64>::new(gaussian_data(12, 3, 4), None, Loss::Logistic, 0.1).unwrap();
    let cloud = Cloud::<f64>::sample(9, 3, &Init::Gaussian { s_w: 1.0, s_u: 1.0 }, 5);
    let r = residuals(&problem, &cloud);
    let v = cloud.velocity(problem.x().view(), r.view(), problem.lambda);
    for (theta, vj) in cloud.theta.outer_iter().zip(v.outer_iter()) {
        let lhs = -theta.dot(&vj);
        let rhs = 2.0 * first_variation(theta, problem.train.x.view(), r.view(), problem.lambda);
        assert!((lhs - rhs).abs() < 1e-12 * rhs.abs().max(1.0), "{lhs} vs {rhs}");
    }
}

fn gd_simulation(lambda: f64, eta: f64, loss: Loss) -> (Simulation<f64>, meanfield::engine::State<f64>) {
    let problem = Problem::<f64>::new(gaussian_data(30, 3, 7), None, loss, lambda).unwrap();
    let cloud = Cloud::<f64>::sample(200, 3, &Init::Gaussian { s_w: 1.0, s_u: 1.0 }, 8);
    let options = RunOptions::new(eta, 0, 1, 3);
    Simulation::new(problem, Box::new(Gd), options, cloud).unwrap()
}

#[test]
fn gd_with_a_small_step_decreases_the_loss_every_step() {
    for loss in [Loss::Logistic, Loss::Squared] {
        let (mut sim, mut state) = gd_simulation(0.01, 0.05, loss);
        let mut previous = sim.metrics(&state).unwrap().loss;
        for _ in 0..100 {
            state = sim.step(state).unwrap();
            let now = sim.metrics(&state).unwrap().loss;
            assert!(now < previous, "{loss:?}: step {}: {now} >= {previous}", state.step);
            previous = now;
        }
    }
}

#[test]
fn balance_is_conserved_to_second_order_without_weight_decay() {
    // w^2 - |u|^2 is conserved by the flow at lambda = 0; one step of size eta moves it by O(eta^2).
    let drift = |eta: f64| {
        let (mut sim, state) = gd_simulation(0.0, eta, Loss::Logistic);
        let before = state.cloud.theta.clone();
        let state = sim.step(state).unwrap();
        let balance = |t: &Array2<f64>| {
            t.outer_iter().map(|r| r[0] * r[0] - r.iter().skip(1).map(|u| u * u).sum::<f64>()).collect::<Vec<_>>()
        };
        balance(&before).iter().zip(balance(&state.cloud.theta)).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max)
    };
    let (big, small) = (drift(0.02), drift(0.01));
    assert!(big > 0.0 && big < 0.02, "drift at eta = 0.02: {big}");
    let ratio = big / small;
    assert!((3.5..4.5).contains(&ratio), "halving eta should quarter the drift: ratio {ratio}");
}

#[test]
fn four_neuron_net_has_normalised_margin_one_eighth_on_the_paper_distribution() {
    let data = Distribution::Paper { d: 6 }.sample(200, 9, Purpose::TrainData).unwrap();
    // |x1| - |x2| = relu(x1) + relu(-x1) - relu(x2) - relu(-x2): finite-width neurons (w~, u~) with
    // w~^2 = |u~|^2 = 1, i.e. mean-field particles theta = sqrt(4) (w~, u~).
    let mut theta = Array2::zeros((4, 7));
    for (j, (w, k, s)) in [(1.0, 1, 1.0), (1.0, 1, -1.0), (-1.0, 2, 1.0), (-1.0, 2, -1.0)].into_iter().enumerate() {
        theta[[j, 0]] = 2.0 * w;
        theta[[j, k]] = 2.0 * s;
    }
    let cloud = Cloud::new(theta).unwrap();
    let problem = Problem::<f64>::new(data, None, Loss::Logistic, 0.0).unwrap();
    let options = RunOptions::new(0.1, 0, 1, 0);
    let (mut sim, state) = Simulation::new(problem, Box::new(Gd), options, cloud).unwrap();
    let metrics = sim.metrics(&state).unwrap();
    assert_eq!(metrics.second_moment, 8.0);
    assert_eq!(metrics.margin, Some(0.125));
    assert_eq!(metrics.train_error, Some(0.0));
}

fn context(step: u64, eta: f64) -> StepContext {
    StepContext { seed: 17, step, time: 0.0, eta }
}

#[test]
fn perturbed_redraws_land_on_the_sphere_at_the_expected_rate() {
    let dynamics = Perturbed { sigma: 0.7, reinit_radius: 2.5 };
    let eta = 0.3;
    let p = 1.0 - (-eta * 0.7f64).exp();
    let (m, d) = (4096, 3);
    let mut redrawn = 0usize;
    let steps = 5;
    for step in 0..steps {
        let mut theta = Array2::<f64>::from_elem((m, d + 1), 10.0);
        Dynamics::<f64>::perturb(&dynamics, theta.view_mut(), 0, &context(step, eta));
        for row in theta.outer_iter() {
            if row.iter().all(|&v| v == 10.0) {
                continue;
            }
            redrawn += 1;
            assert!((row.dot(&row).sqrt() - 2.5).abs() < 1e-12, "a re-drawn particle lies on the sphere of radius 2.5");
        }
    }
    let trials = (m * steps as usize) as f64;
    let z = (redrawn as f64 - trials * p) / (trials * p * (1.0 - p)).sqrt();
    assert!(z.abs() < 4.0, "{redrawn} re-draws of {trials} trials at p = {p}: z = {z}");
}

#[test]
fn langevin_noise_has_variance_two_eta_tau() {
    let dynamics = Langevin { tau: 0.05, tau_decay: 1.0 };
    let eta = 0.2;
    let mut theta = Array2::<f64>::zeros((8192, 5));
    Dynamics::<f64>::perturb(&dynamics, theta.view_mut(), 0, &context(3, eta));
    let n = theta.len() as f64;
    let mean = theta.sum() / n;
    let var = theta.mapv(|v| v * v).sum() / n - mean * mean;
    let expected = 2.0 * eta * 0.05;
    // The sample variance of N normals has relative standard deviation sqrt(2 / N) ~ 0.007.
    assert!((var / expected - 1.0).abs() < 0.03, "variance {var}, expected {expected}");
    assert!(mean.abs() < 4.0 * (expected / n).sqrt());
    let annealed = Langevin { tau: 0.05, tau_decay: 0.5 };
    assert_eq!(annealed.temperature(3), 0.05 / 8.0);
}

#[test]
fn results_do_not_depend_on_the_number_of_threads() {
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let data = gaussian_data(300, 5, 21);
            let problem = Problem::<f64>::new(data, None, Loss::Logistic, 1e-3).unwrap();
            let cloud = Cloud::<f64>::sample(5000, 5, &Init::Gaussian { s_w: 1.0, s_u: 1.0 }, 22);
            let options = RunOptions::new(0.2, 5, 1, 23);
            let dynamics = Box::new(meanfield::dynamics::Combined::<f64>(vec![
                Box::new(Langevin { tau: 1e-3, tau_decay: 1.0 }),
                Box::new(Perturbed { sigma: 0.5, reinit_radius: 1.0 }),
            ]));
            let (mut sim, state) = Simulation::new(problem, dynamics, options, cloud).unwrap();
            let state = sim.run(state, &mut []).unwrap();
            (state.cloud.theta, state.predictions)
        })
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
}

#[test]
fn f32_particles_agree_with_f64_to_single_precision() {
    let data = gaussian_data(100, 4, 30);
    let cloud = Cloud::<f64>::sample(1000, 4, &Init::Gaussian { s_w: 1.0, s_u: 1.0 }, 31);
    let cloud32 = Cloud::<f32>::new(cloud.theta.mapv(|v| v as f32)).unwrap();
    let f64s = cloud.predict(data.x.view());
    let f32s = cloud32.predict(data.x.mapv(|v| v as f32).view());
    let scale = f64s.iter().map(|v| v.abs()).fold(0.0, f64::max);
    let worst = f64s.iter().zip(&f32s).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-5 * scale.max(1.0), "max difference {worst}");
}

#[test]
fn predictions_match_a_direct_sum() {
    let x: Array2<f64> = array![[1.0, -2.0], [0.5, 0.25], [-1.0, 0.0]];
    let theta: Array2<f64> = array![[2.0, 1.0, 0.0], [-1.0, 0.5, -1.0], [0.5, -1.0, -1.0]];
    let cloud = Cloud::new(theta.clone()).unwrap();
    let f = cloud.predict(x.view());
    for (i, xi) in x.outer_iter().enumerate() {
        let direct: f64 = theta.outer_iter().map(|t| t[0] * (t[1] * xi[0] + t[2] * xi[1]).max(0.0)).sum::<f64>() / 3.0;
        assert!((f[i] - direct).abs() < 1e-15);
    }
}

#[test]
fn a_batch_of_every_sample_is_the_full_step_and_batches_are_reproducible() {
    let run = |batch: Option<usize>, threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let problem = Problem::<f64>::new(gaussian_data(64, 3, 40), None, Loss::Logistic, 1e-2).unwrap();
            let cloud = Cloud::<f64>::sample(700, 3, &Init::Gaussian { s_w: 1.0, s_u: 1.0 }, 41);
            let options = RunOptions { batch, ..RunOptions::new(0.3, 12, 4, 42) };
            let (mut sim, state) = Simulation::new(problem, Box::new(Gd), options, cloud).unwrap();
            let state = sim.run(state, &mut []).unwrap();
            (state.cloud.theta, state.predictions)
        })
    };
    assert_eq!(run(None, 2), run(Some(64), 2));
    let small = run(Some(16), 1);
    assert_eq!(small, run(Some(16), 2));
    assert_ne!(small.0, run(None, 1).0);
}
