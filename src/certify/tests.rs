use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use rand_distr::{Distribution as _, StandardNormal};

use super::estimate::phi_many;
use super::exact::exact_max;
use super::phi::phi;
use super::*;
use crate::data::{Dataset, Distribution, XorNoise};
use crate::geometry::arrangement::norm;
use crate::loss::Loss;
use crate::rng::Purpose;
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
    let xor = Distribution::Xor { d: 3, noise: XorNoise::Sign }.sample(40, 6, Purpose::TrainData).unwrap().with_bias();
    let gauss = Dataset::new(gaussian(12, 3, 11), weights(12, 12)).unwrap().with_bias();
    assert_eq!(paper.d(), 4);
    check_exact(paper.x.view(), residual(&paper, 7).view(), 1_000_000, "paper d=3 + bias");
    check_exact(xor.x.view(), residual(&xor, 8).view(), 1_000_000, "xor d=3 + bias");
    check_exact(gauss.x.view(), weights(12, 13).view(), 1_000_000, "gaussian d=3 + bias");
    let xor2 = Distribution::Xor { d: 2, noise: XorNoise::Sign }.sample(30, 6, Purpose::TrainData).unwrap().with_bias();
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
    let db = dual_bound(
        &DualProblem { loss: Loss::Squared, y: y.view(), x: x.view(), lambda: 0.1 },
        Array1::zeros(1).view(),
        None,
        SphereMethod::Auto,
        0,
    )
    .unwrap();
    assert!(db.exact);
    assert!((db.s - 1.0).abs() < 1e-15);
    assert!((db.c - 0.2).abs() < 1e-15);
    assert!((db.dual - 0.18).abs() < 1e-15);
    // With lambda = 0 the bound is 0 = L* (the point is fitted exactly).
    let db = dual_bound(
        &DualProblem { loss: Loss::Squared, y: y.view(), x: x.view(), lambda: 0.0 },
        Array1::zeros(1).view(),
        None,
        SphereMethod::Auto,
        0,
    )
    .unwrap();
    assert_eq!(db.dual, 0.0);
    // Logistic, F = 0: r = -1/2, S = 1/2, c = 4 lambda, t = c / 2 = 2 lambda, D = -(t ln t + (1-t) ln(1-t)).
    let db = dual_bound(
        &DualProblem { loss: Loss::Logistic, y: y.view(), x: x.view(), lambda: 0.1 },
        Array1::zeros(1).view(),
        None,
        SphereMethod::Auto,
        0,
    )
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
    let err = dual_bound(
        &DualProblem { loss: Loss::Squared, y: y.view(), x: x.view(), lambda: -1.0 },
        y.view(),
        None,
        SphereMethod::Auto,
        0,
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "dual_bound: lambda = -1; it must be finite and >= 0");
    let err = dual_bound(
        &DualProblem { loss: Loss::Squared, y: y.view(), x: x.view(), lambda: 1.0 },
        Array1::ones(2).view(),
        None,
        SphereMethod::Auto,
        0,
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "dual_bound: 3 labels but 2 predictions");
    let sm = sphere_max(x.view(), Array1::ones(3).view(), None, SphereMethod::Auto, 0).unwrap();
    assert_eq!((sm.value, sm.exact), (0.0, true));
}
