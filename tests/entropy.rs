//! The Kozachenko-Leonenko entropy estimate on laws of known entropy (Gaussians and uniform boxes in D = 2..6).

use meanfield::entropy::kl_entropy;
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// m points of N(0, diag(scales^2)) and its entropy (D/2) log(2 pi e) + sum log scales.
fn gaussian(m: usize, scales: &[f64], seed: u64) -> (Array2<f64>, f64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let p = Array2::from_shape_fn((m, scales.len()), |(_, j)| scales[j] * rng.sample::<f64, _>(StandardNormal));
    let dim = scales.len() as f64;
    (
        p,
        0.5 * dim * (2.0 * std::f64::consts::PI * std::f64::consts::E).ln()
            + scales.iter().map(|s| s.ln()).sum::<f64>(),
    )
}

/// m points uniform on the box prod [0, sides_j] and its entropy sum log sides_j.
fn uniform_box(m: usize, sides: &[f64], seed: u64) -> (Array2<f64>, f64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let p = Array2::from_shape_fn((m, sides.len()), |(_, j)| sides[j] * rng.random::<f64>());
    (p, sides.iter().map(|s| s.ln()).sum())
}

/// Scales for dimension D: anisotropic, so that a wrong log-volume term or a wrong D would show.
fn scales(dim: usize) -> Vec<f64> {
    (0..dim).map(|j| 0.5 + 0.3 * j as f64).collect()
}

/// A sampler: m points, the scales, a seed -> the points and their true entropy.
type Law = fn(usize, &[f64], u64) -> (Array2<f64>, f64);

/// Error H^ - H (mean over `reps` samples of m points) for each D = 2..6.
fn errors(m: usize, k: usize, reps: u64, law: Law) -> Vec<f64> {
    (2..=6)
        .map(|dim| {
            let sum: f64 = (0..reps)
                .map(|r| {
                    let (p, h) = law(m, &scales(dim), 100 * dim as u64 + r);
                    kl_entropy(p.view(), k).unwrap() - h
                })
                .sum();
            sum / reps as f64
        })
        .collect()
}

/// With m = 20000 and k = 3 the estimate is within its known bias: for Gaussians the bias comes from the
/// curvature of the density at the scale of the neighbour distance (it grows with D); for boxes the boundary
/// inflates the neighbour distances of points near a face (a positive bias, growing with D).
#[test]
fn the_estimate_is_within_its_bias_on_gaussians_and_boxes() {
    let m = 20_000;
    let gauss = errors(m, 3, 2, gaussian);
    let boxes = errors(m, 3, 2, uniform_box);
    eprintln!("H^ - H, m = {m}, k = 3, D = 2..6: gaussian {gauss:?}, box {boxes:?}");
    // Bounds per D = 2..6 (nats). Measured (seeds as here): gaussian -0.003, -0.009, -0.031, -0.047, -0.030;
    // box +0.011, +0.046, +0.13, +0.28, +0.45: the boundary bias is positive and grows quickly with D.
    let gauss_tol = [0.02, 0.03, 0.05, 0.07, 0.10];
    let box_tol = [0.03, 0.08, 0.2, 0.4, 0.65];
    for (j, dim) in (2..=6).enumerate() {
        assert!(gauss[j].abs() < gauss_tol[j], "gaussian D = {dim}: error {}", gauss[j]);
        assert!(boxes[j] > -0.01 && boxes[j] < box_tol[j], "box D = {dim}: error {}", boxes[j]);
    }
    // The box's bias grows with D.
    assert!(boxes.windows(2).all(|w| w[0] < w[1]), "{boxes:?}");
}

/// The error shrinks as m grows (a consistent estimator): D = 3 Gaussian, m = 500 vs m = 20000.
#[test]
fn the_error_shrinks_with_more_points() {
    let small = errors(500, 3, 8, gaussian)[1].abs();
    let large = errors(20_000, 3, 2, gaussian)[1].abs();
    eprintln!("D = 3 gaussian, |H^ - H|: m = 500 {small}, m = 20000 {large}");
    assert!(large < small, "m = 500: {small}, m = 20000: {large}");
}

/// Measures bias and spread for k = 1..5 on a D = 3 Gaussian with m = 2000 (the quickstart's cloud size); run with
/// `cargo test --release --test entropy -- --ignored --nocapture`.
#[test]
// Ignored: it measures the error for k = 1..5 and prints it (the README table); run it with
// `cargo test --release --test entropy -- --ignored --nocapture choose_k`.
#[ignore = "a measurement that prints a table (minutes), not an assertion: the choice of run.entropy_k"]
fn choose_k() {
    for m in [2000, 20_000] {
        for k in 1..=5 {
            for (name, law) in [("gaussian", gaussian as Law), ("box", uniform_box)] {
                let errs: Vec<f64> = (0..20)
                    .map(|r| {
                        let (p, h) = law(m, &scales(3), 7000 + r);
                        kl_entropy(p.view(), k).unwrap() - h
                    })
                    .collect();
                let mean = errs.iter().sum::<f64>() / errs.len() as f64;
                let sd = (errs.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (errs.len() - 1) as f64).sqrt();
                let rmse = (errs.iter().map(|e| e * e).sum::<f64>() / errs.len() as f64).sqrt();
                eprintln!("m = {m} k = {k} {name}: bias {mean:+.4} sd {sd:.4} rmse {rmse:.4}");
            }
        }
    }
}

/// Wall-clock seconds of one estimate at m = 1e5 in D = 3 and D = 21 (d = 2 and d = 20); run with
/// `cargo test --release --test entropy -- --ignored --nocapture cost`.
#[test]
// Ignored: a timing (the README's cost at m = 1e5), not an assertion; timings stay out of the
// test run. `cargo test --release --test entropy -- --ignored --nocapture cost`.
#[ignore = "a timing that prints seconds; timings belong out of the test run"]
fn cost_at_a_hundred_thousand_particles() {
    for dim in [3, 21] {
        let (p, h) = gaussian(100_000, &vec![1.0; dim], 1);
        let started = std::time::Instant::now();
        let est = kl_entropy(p.view(), 3).unwrap();
        let seconds = started.elapsed().as_secs_f64();
        eprintln!(
            "D = {dim}, m = 1e5, k = 3: {seconds:.3} s on {} threads, H^ - H = {:+.4}",
            rayon::current_num_threads(),
            est - h
        );
    }
}

/// The bias H^ - H on a standard Gaussian in D = 3..21 for m = 1e3 and 1e4 (k = 3, one sample each; the spread
/// over samples is far below the bias in high D); run with
/// `cargo test --release --test entropy -- --ignored --nocapture bias_in_high_dimension`.
#[test]
// Ignored: it prints the README's high-dimension bias table; the non-ignored test
// `the_bias_grows_with_the_dimension` asserts the trend. `... --ignored --nocapture bias_in_high_dimension`.
#[ignore = "a measurement that prints a table (a minute), not an assertion: where the estimate stops meaning much"]
fn bias_in_high_dimension() {
    for m in [1000, 10_000] {
        for dim in [3, 6, 9, 12, 16, 21] {
            let (p, h) = gaussian(m, &vec![1.0; dim], 40 + dim as u64);
            let est = kl_entropy(p.view(), 3).unwrap();
            eprintln!(
                "m = {m} D = {dim}: H = {h:.3}, H^ - H = {:+.3} nats ({:+.1}% of H)",
                est - h,
                100.0 * (est - h) / h
            );
        }
    }
}

/// The bias of the estimate on a standard Gaussian grows with the dimension: at m = 2000 and k = 3 it is a few
/// hundredths of a nat in D = 3 and more than a nat in D = 21 (measured: -0.055, +0.24, +1.13 nats in D = 3, 12,
/// 21): the estimator assumes the density constant over each neighbour ball, and in D = 21 those balls are wide.
#[test]
fn the_bias_grows_with_the_dimension() {
    let bias = |dim: usize| {
        let (p, h) = gaussian(2000, &vec![1.0; dim], 60 + dim as u64);
        kl_entropy(p.view(), 3).unwrap() - h
    };
    let (low, mid, high) = (bias(3), bias(12), bias(21));
    eprintln!(
        "m = 2000, k = 3, standard Gaussian: H^ - H = {low:+.3} (D = 3), {mid:+.3} (D = 12), {high:+.3} (D = 21)"
    );
    assert!(low.abs() < 0.1, "D = 3: {low}");
    assert!(high.abs() > 1.0 && high.abs() > mid.abs() && mid.abs() > low.abs(), "{low} {mid} {high}");
}
