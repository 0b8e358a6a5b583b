use std::collections::HashSet;

use clarabel::algebra::CscMatrix;
use clarabel::solver::SupportedConeT;
use ndarray::s;
use rand_distr::{Distribution as _, StandardNormal};

use super::program::Program;
use super::*;
use crate::certify::{self, DualProblem, SphereMethod};
use crate::data::{Distribution, XorNoise};
use crate::rng::Purpose;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn gaussian_data(n: usize, d: usize, loss: Loss, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, d), |_| StandardNormal.sample(&mut rng));
    let y = Array1::from_shape_fn(n, |_| match loss {
        Loss::Logistic => {
            if rng.random::<bool>() {
                1.0
            } else {
                -1.0
            }
        }
        Loss::Squared => StandardNormal.sample(&mut rng),
    });
    Dataset::new(x, y).unwrap()
}

fn opts() -> OptimumOptions {
    OptimumOptions::default()
}

/// The cloud is balanced (w^2 = |u|^2 per particle) and reproduces `value` and `predictions`, value >= dual,
/// and when `exact`, the dual bound of certify at the predictions (no particle directions given) is exact
/// and within 1e-6 of the value.
fn check_consistent(data: &Dataset, loss: Loss, lambda: f64, opt: &Optimum) {
    for p in opt.particles.outer_iter() {
        let u2 = p.slice(s![1..]).dot(&p.slice(s![1..]));
        assert!((p[0] * p[0] - u2).abs() <= 1e-12 * u2.max(1e-300), "unbalanced particle {p}");
    }
    let (value, f) = cloud_objective(data.x.view(), data.y.view(), loss, lambda, opt.particles.view());
    assert!((value - opt.value).abs() <= 1e-12 * value.abs().max(1.0));
    assert!((&f - &opt.predictions).iter().all(|e| e.abs() < 1e-12));
    assert!(opt.dual <= opt.value + 1e-12, "dual {} above value {}", opt.dual, opt.value);
    assert!((opt.gap - (opt.value - opt.dual)).abs() < 1e-15);
    if opt.exact {
        let (y, f, x) = (data.y.view(), opt.predictions.view(), data.x.view());
        let db = certify::dual_bound(&DualProblem { loss, y, x, lambda }, f, None, SphereMethod::Auto, 0).unwrap();
        assert!(db.exact);
        let gap = opt.value - db.dual;
        assert!((-1e-9..1e-6).contains(&gap), "gap of dual_bound at the solution: {gap}");
    }
}

/// clarabel's exponential cone is {(x, y, z) : y exp(x / y) <= z}: max x subject to (x, 1, e^5) in K_exp is 5.
#[test]
fn clarabel_exponential_cone_convention() {
    let p = CscMatrix::zeros((1, 1));
    let a = CscMatrix::new_from_triplets(3, 1, vec![0], vec![0], vec![-1.0]);
    let cones = [SupportedConeT::ExponentialConeT()];
    let b = vec![0.0, 1.0, 5f64.exp()];
    let program = Program { p, q: vec![-1.0], a, b, cones: cones.to_vec(), margin_rows: 0 };
    let x = program.solve().unwrap().x;
    assert!((x[0] - 5.0).abs() < 1e-7, "{}", x[0]);
}

/// n = 1, x = 1, y = 1: L* = min_a (a - 1)^2 / 2 + 2 lambda |a| = 2 lambda - 2 lambda^2 for lambda < 1/2
/// (one neuron, output 1 - 2 lambda), and 1/2 (the zero network) for lambda >= 1/2.
#[test]
fn one_point_squared_matches_closed_form() {
    let data = Dataset::new(Array2::from_elem((1, 1), 1.0), Array1::from(vec![1.0])).unwrap();
    let opt = solve(&data, Loss::Squared, 0.1, &opts()).unwrap();
    assert!(opt.exact);
    assert!((opt.value - 0.18).abs() < 1e-8, "{}", opt.value);
    assert!((opt.predictions[0] - 0.8).abs() < 1e-7);
    assert_eq!(opt.neurons, 1);
    assert!(opt.gap.abs() < 1e-8);
    check_consistent(&data, Loss::Squared, 0.1, &opt);
    let opt = solve(&data, Loss::Squared, 0.6, &opts()).unwrap();
    assert!((opt.value - 0.5).abs() < 1e-8, "{}", opt.value);
    assert!(opt.predictions[0].abs() < 1e-7);
}

/// n = 1, x = 2, logistic.
#[test]
fn one_point_logistic_matches_closed_form() {
    let data = Dataset::new(Array2::from_elem((1, 1), 2.0), Array1::from(vec![1.0])).unwrap();
    let lambda: f64 = 0.1;
    // F = 2 v costs 2 lambda v = lambda F: L* = min_a log(1 + e^-a) + lambda a, at e^a = 1 / lambda - 1.
    let a = (1.0 / lambda - 1.0).ln();
    let exact = (1.0 + (-a).exp()).ln() + lambda * a;
    let opt = solve(&data, Loss::Logistic, lambda, &opts()).unwrap();
    assert!((opt.value - exact).abs() < 1e-8, "{} vs {exact}", opt.value);
    assert!((opt.predictions[0] - a).abs() < 1e-8, "{} vs {a}", opt.predictions[0]);
    assert!(opt.gap.abs() < 1e-8 && opt.exact);
    check_consistent(&data, Loss::Logistic, lambda, &opt);
}

/// x_1 = e_1, x_2 = e_2, squared loss. Opposite labels (1, -1) need two neurons, each solving
/// min_a (a - 1)^2 / 4 + 2 lambda a: L* = 4 lambda - 8 lambda^2. Equal labels (1, 1) share one neuron
/// along (1, 1) / sqrt 2 of cost 2 sqrt2 lambda a: L* = 2 sqrt2 lambda - 4 lambda^2.
#[test]
fn two_orthogonal_points_match_closed_form() {
    let x = Array2::from_shape_vec((2, 2), vec![1.0, 0.0, 0.0, 1.0]).unwrap();
    let lambda = 0.1;
    let opposite = Dataset::new(x.clone(), Array1::from(vec![1.0, -1.0])).unwrap();
    let opt = solve(&opposite, Loss::Squared, lambda, &opts()).unwrap();
    assert!((opt.value - (4.0 * lambda - 8.0 * lambda * lambda)).abs() < 1e-8, "{}", opt.value);
    assert_eq!(opt.neurons, 2);
    check_consistent(&opposite, Loss::Squared, lambda, &opt);
    let same = Dataset::new(x, Array1::from(vec![1.0, 1.0])).unwrap();
    let opt = solve(&same, Loss::Squared, lambda, &opts()).unwrap();
    let exact = 2.0 * 2f64.sqrt() * lambda - 4.0 * lambda * lambda;
    assert!((opt.value - exact).abs() < 1e-8, "{} vs {exact}", opt.value);
    assert_eq!(opt.neurons, 1);
    let u = opt.particles.row(0);
    assert!((u[1] - u[2]).abs() < 1e-6 * u[1].abs());
    assert!(opt.exact && opt.gap.abs() < 1e-8);
}

/// Every pattern found by 1e5 random directions is enumerated, and in general position the count is
/// the number of cells 2 sum_{i<d} C(n-1, i).
#[test]
fn enumeration_finds_every_sampled_pattern() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let xor = Distribution::Xor { d: 2, noise: XorNoise::Sign }.sample(20, 1, Purpose::TrainData).unwrap();
    let paper = Distribution::Paper { d: 3 }.sample(30, 2, Purpose::TrainData).unwrap();
    let cases = [
        (gaussian_data(9, 2, Loss::Squared, 1).x, Some(18)),
        (gaussian_data(9, 3, Loss::Squared, 2).x, Some(9 * 8 + 2)),
        (gaussian_data(7, 2, Loss::Squared, 3).with_bias().x, Some(2 * (1 + 6 + 15))),
        (gaussian_data(6, 3, Loss::Squared, 4).with_bias().x, Some(2 * (1 + 5 + 10 + 10))),
        (xor.with_bias().x, None),
        (paper.x.clone(), None),
        (paper.with_bias().x, None),
    ];
    for (c, (x, count)) in cases.iter().enumerate() {
        let all: HashSet<Vec<bool>> = enumerate_patterns(x.view()).unwrap().into_iter().collect();
        let d = x.ncols();
        let mut seen = HashSet::new();
        for _ in 0..100_000 {
            let g = Array1::from_shape_fn(d, |_| StandardNormal.sample(&mut rng));
            let p: Vec<bool> = x.outer_iter().map(|xi| xi.dot(&g) >= 0.0).collect();
            if p.iter().zip(x.outer_iter()).any(|(&a, xi)| a && xi.iter().any(|&v| v != 0.0)) {
                seen.insert(p);
            }
        }
        assert!(seen.is_subset(&all), "case {c}: sampling found a pattern the enumeration missed");
        if let Some(count) = count {
            // The all-inactive cell exists iff the points lie in an open half-space; it is skipped.
            assert!(all.len() == *count || all.len() + 1 == *count, "case {c}: {} cells, {count} expected", all.len());
        }
    }
}

/// The hypercube XOR and paper data (degenerate: 8 distinct points) with a bias, both losses: exact, and the
/// dual bound at the optimum closes the gap.
#[test]
fn gap_closes_at_the_exact_optimum_on_degenerate_data() {
    let xor = Distribution::Xor { d: 3, noise: XorNoise::Sign }.sample(40, 3, Purpose::TrainData).unwrap();
    let paper = Distribution::Paper { d: 3 }.sample(40, 4, Purpose::TrainData).unwrap();
    for data in [xor.with_bias(), paper.with_bias()] {
        for loss in [Loss::Logistic, Loss::Squared] {
            let opt = solve(&data, loss, 0.01, &opts()).unwrap();
            assert!(opt.exact);
            assert!(opt.gap >= -1e-9 && opt.gap < 1e-6, "{loss:?}: gap {}", opt.gap);
            check_consistent(&data, loss, 0.01, &opt);
        }
    }
}

/// Adding patterns can only lower the value; with all patterns it reaches L* (gap < 1e-6).
#[test]
fn value_is_non_increasing_as_patterns_are_added() {
    let data = gaussian_data(12, 2, Loss::Logistic, 7).with_bias();
    let all = enumerate_patterns(data.x.view()).unwrap();
    let mut order: Vec<usize> = (0..all.len()).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for i in (1..order.len()).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    let mut last = f64::INFINITY;
    for count in [3, 8, 20, 40, all.len()] {
        let subset: Vec<Vec<bool>> = order[..count].iter().map(|&i| all[i].clone()).collect();
        let opt = solve_with_patterns(&data, Loss::Logistic, 0.02, &subset, 0).unwrap();
        assert!(opt.value <= last + 1e-8, "{count} patterns: {} > {last}", opt.value);
        assert!(opt.dual <= opt.value + 1e-12);
        last = opt.value;
        if count == all.len() {
            assert!(opt.gap < 1e-6, "gap {}", opt.gap);
        }
    }
}

/// dual bound at random clouds <= L* <= L[random cloud], d = 2 and 3, both losses, with and without bias.
#[test]
fn dual_bounds_and_random_clouds_bracket_the_optimum() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for (d, bias) in [(2, false), (2, true), (3, false), (3, true)] {
        for loss in [Loss::Logistic, Loss::Squared] {
            let base = gaussian_data(8, d, loss, 20 + d as u64);
            let data = if bias { base.with_bias() } else { base };
            let lambda = 0.05;
            let opt = solve(&data, loss, lambda, &opts()).unwrap();
            assert!(opt.exact && opt.gap < 1e-6, "d={d} bias={bias} {loss:?}: gap {}", opt.gap);
            for _ in 0..5 {
                let cloud = Array2::from_shape_fn((6, data.d() + 1), |_| StandardNormal.sample(&mut rng));
                let (l, f) = cloud_objective(data.x.view(), data.y.view(), loss, lambda, cloud.view());
                let problem = DualProblem { loss, y: data.y.view(), x: data.x.view(), lambda };
                let db = certify::dual_bound(&problem, f.view(), None, SphereMethod::Auto, 0).unwrap();
                assert!(db.exact);
                assert!(db.dual <= opt.value + 1e-9, "dual {} above L* {}", db.dual, opt.value);
                assert!(opt.value <= l + 1e-9, "L* {} above a cloud's L {l}", opt.value);
            }
        }
    }
}

/// Plain gradient descent on a finite network sum_j a_j relu(b_j . x) with penalty lambda sum (a^2 + |b|^2):
/// from the read-back neurons perturbed, and from a random start with 12 neurons, it never goes below
/// the optimum, and from the perturbed optimum it returns to it.
#[test]
fn gradient_descent_cannot_beat_the_optimum() {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    for loss in [Loss::Logistic, Loss::Squared] {
        let data = gaussian_data(10, 2, loss, 30).with_bias();
        let lambda = 0.03;
        let opt = solve(&data, loss, lambda, &opts()).unwrap();
        let m = opt.particles.nrows() as f64;
        let finite = opt.particles.mapv(|t| t / m.sqrt());
        let perturbed = finite.mapv(|t| t * (1.0 + 0.1 * rng.random_range(-1.0..1.0)));
        let random = Array2::from_shape_fn((12, data.d() + 1), |_| {
            let z: f64 = StandardNormal.sample(&mut rng);
            0.5 * z
        });
        for (start, back_to_optimum) in [(perturbed, true), (random, false)] {
            let end = descend(&data, loss, lambda, start, 200_000);
            assert!(end >= opt.value - 1e-9, "{loss:?}: gd reached {end} below L* = {}", opt.value);
            if back_to_optimum {
                assert!(
                    end - opt.value < 1e-4 * opt.value,
                    "{loss:?}: gd from the perturbed optimum ends at {end} vs {}",
                    opt.value
                );
            }
        }
    }
}

/// Gradient descent with step 0.02 on the finite network (rows (a_j, b_j)); returns the final objective.
fn descend(data: &Dataset, loss: Loss, lambda: f64, mut net: Array2<f64>, steps: usize) -> f64 {
    let n = data.n() as f64;
    let eta = 0.02;
    let objective = |net: &Array2<f64>| {
        let f = data.x.dot(&net.slice(s![.., 1..]).t()).mapv(|t| t.max(0.0)).dot(&net.column(0));
        let risk = data.y.iter().zip(&f).map(|(&y, &z)| loss.value(y, z)).sum::<f64>() / n;
        (risk + lambda * net.iter().map(|t| t * t).sum::<f64>(), f)
    };
    for _ in 0..steps {
        let (_, f) = objective(&net);
        let r: Array1<f64> = data.y.iter().zip(&f).map(|(&y, &z)| loss.derivative(y, z) / n).collect();
        let mut grad = net.mapv(|t| 2.0 * lambda * t);
        for (j, row) in net.outer_iter().enumerate() {
            for (xi, ri) in data.x.outer_iter().zip(&r) {
                let pre = row.slice(s![1..]).dot(&xi);
                if pre > 0.0 {
                    grad[[j, 0]] += ri * pre;
                    for k in 0..xi.len() {
                        grad[[j, k + 1]] += ri * row[0] * xi[k];
                    }
                }
            }
        }
        net.scaled_add(-eta, &grad);
    }
    objective(&net).0
}

/// With a pattern budget below the number of cells, column generation still reaches L* and certifies it.
#[test]
fn column_generation_reaches_the_optimum() {
    for loss in [Loss::Logistic, Loss::Squared] {
        let data = gaussian_data(25, 2, loss, 40).with_bias();
        let lambda = 0.02;
        let all = solve(&data, loss, lambda, &OptimumOptions { max_patterns: 1000, ..opts() }).unwrap();
        assert!(all.exact && all.patterns > 200, "{} patterns", all.patterns);
        let small = OptimumOptions { max_patterns: 150, ..opts() };
        let cg = solve(&data, loss, lambda, &small).unwrap();
        assert!(cg.patterns <= 150);
        assert!(cg.exact, "{loss:?}: column generation did not certify ({} patterns)", cg.patterns);
        assert!(cg.gap < 1e-6, "{loss:?}: gap {}", cg.gap);
        assert!((cg.value - all.value).abs() < 1e-6, "{loss:?}: {} vs {}", cg.value, all.value);
        check_consistent(&data, loss, lambda, &cg);
    }
}

/// The same seed gives bit-identical optima with 1 and 3 threads (column generation included).
#[test]
fn results_do_not_depend_on_the_number_of_threads() {
    let data = gaussian_data(15, 2, Loss::Logistic, 50).with_bias();
    let small = OptimumOptions { max_patterns: 60, seed: 4, ..opts() };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| solve(&data, Loss::Logistic, 0.02, &small).unwrap())
    };
    let (a, b) = (run(1), run(3));
    assert_eq!(a.value.to_bits(), b.value.to_bits());
    assert_eq!(a.dual.to_bits(), b.dual.to_bits());
    assert_eq!(a.particles, b.particles);
}

/// Hand-solved margins: one point at distance r has gamma* = r / 2 (F = r |v| >= 1 with penalty 2 |v|);
/// e_1 (+1) and e_2 (-1) need a neuron each, |v| = |w| = 1: gamma* = 1/4; e_1 and e_2 both +1 share one neuron
/// along (1, 1), |v| = sqrt 2: gamma* = 1 / (2 sqrt 2).
#[test]
fn max_margin_matches_hand_solutions() {
    let one = Dataset::new(Array2::from_elem((1, 1), 3.0), Array1::from(vec![-1.0])).unwrap();
    let e = Array2::from_shape_vec((2, 2), vec![1.0, 0.0, 0.0, 1.0]).unwrap();
    let opposite = Dataset::new(e.clone(), Array1::from(vec![1.0, -1.0])).unwrap();
    let same = Dataset::new(e, Array1::from(vec![1.0, 1.0])).unwrap();
    for (data, exact, neurons) in [(one, 1.5, 1), (opposite, 0.25, 2), (same, 1.0 / 8f64.sqrt(), 1)] {
        let mm = max_margin(&data, 100).unwrap();
        assert!((mm.gamma - exact).abs() < 1e-8, "{} vs {exact}", mm.gamma);
        assert!(mm.gamma <= mm.upper + 1e-12 && mm.upper - exact < 1e-7, "upper {} vs {exact}", mm.upper);
        assert_eq!(mm.neurons, neurons, "{}", mm.particles);
        let min = data.y.iter().zip(&mm.predictions).map(|(y, f)| y * f).fold(f64::INFINITY, f64::min);
        assert!((min - 1.0).abs() < 1e-7, "min y F = {min}");
        assert!((cloud_margin(data.x.view(), data.y.view(), mm.particles.view()) - mm.gamma).abs() < 1e-15);
    }
}

/// On `paper` data the net |x_1| - |x_2| has normalised margin exactly 1/8, so gamma* >= 1/8.
#[test]
fn max_margin_on_paper_data_is_at_least_one_eighth() {
    for (d, n, seed) in [(2, 12, 1), (3, 30, 2)] {
        let data = Distribution::Paper { d }.sample(n, seed, Purpose::TrainData).unwrap();
        let net = cloud_margin(data.x.view(), data.y.view(), crate::data::paper_network(d).view());
        assert!((net - 0.125).abs() < 1e-15, "{net}");
        let mm = max_margin(&data, 400).unwrap();
        assert!(mm.gamma >= 0.125 - 1e-9 && mm.upper >= mm.gamma - 1e-12, "d = {d}: {mm:?}");
        assert!(mm.upper - mm.gamma < 1e-6 * mm.gamma, "d = {d}: gamma {} upper {}", mm.gamma, mm.upper);
    }
}

/// The normalised margin of the exact regularised optimum (logistic loss) increases to gamma* as lambda -> 0
/// (on `paper` data, d = 3: 0.0023, 0.104, 0.1155, 0.1186, 0.1202, 0.1211 for lambda = 1e-1 .. 1e-6, against
/// gamma* = 1/8), never exceeding it.
#[test]
fn regularised_optimum_margin_approaches_the_max_margin() {
    let data = Distribution::Paper { d: 3 }.sample(30, 2, Purpose::TrainData).unwrap();
    let star = max_margin(&data, 400).unwrap().gamma;
    assert!((star - 0.125).abs() < 1e-9, "{star}");
    let gammas: Vec<f64> = [1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6]
        .iter()
        .map(|&lambda| {
            let opt = solve(&data, Loss::Logistic, lambda, &opts()).unwrap();
            cloud_margin(data.x.view(), data.y.view(), opt.particles.view())
        })
        .collect();
    assert!(gammas.windows(2).all(|w| w[1] > w[0]), "{gammas:?}");
    assert!(gammas.iter().all(|&g| g <= star + 1e-9), "{gammas:?}");
    let last = gammas[gammas.len() - 1];
    assert!(star - last < 0.25 * (star - gammas[1]) && last > 0.96 * star, "{gammas:?}");
}

#[test]
fn max_margin_refuses_inseparable_and_large_problems() {
    let ray = Array2::from_shape_vec((2, 2), vec![1.0, 1.0, 2.0, 2.0]).unwrap();
    let data = Dataset::new(ray, Array1::from(vec![1.0, -1.0])).unwrap();
    let err = max_margin(&data, 100).unwrap_err().to_string();
    assert!(err.starts_with("convex solver: max margin: clarabel did not converge"), "{err}");
    assert!(err.ends_with("are the data separable (no two samples on one ray from the origin with different labels)?"));
    let zero = Dataset::new(Array2::zeros((1, 2)), Array1::from(vec![1.0])).unwrap();
    assert_eq!(
        max_margin(&zero, 100).unwrap_err().to_string(),
        "max margin: sample 1 is the zero input, where every network predicts 0; the data are not separable"
    );
    let big = gaussian_data(30, 3, Loss::Logistic, 9);
    assert_eq!(
        max_margin(&big, 100).unwrap_err().to_string(),
        "max margin: the 30 inputs in d = 3 have up to 872 activation patterns, more than max_patterns = 100; \
         the exact max margin is for small problems"
    );
}

#[test]
fn invalid_arguments_are_reported() {
    let data = Dataset::new(Array2::ones((2, 1)), Array1::from(vec![1.0, 0.5])).unwrap();
    let err = solve(&data, Loss::Squared, 0.0, &opts()).unwrap_err();
    assert_eq!(err.to_string(), "convex optimum: lambda = 0; the convex program needs a finite lambda > 0");
    let err = solve(&data, Loss::Logistic, 0.1, &opts()).unwrap_err();
    assert_eq!(err.to_string(), "convex optimum: sample 2: label 0.5 is not -1 or +1, as the logistic loss requires");
    let err = solve_with_patterns(&data, Loss::Squared, 0.1, &[vec![true]], 0).unwrap_err();
    assert_eq!(err.to_string(), "convex optimum: a pattern has length 1 but n = 2");
}
