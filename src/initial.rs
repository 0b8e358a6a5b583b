//! Initial clouds beyond the i.i.d. draws of [`crate::model::Init`]: the paper's units and dead clouds.
//!
//! **Units** (docs/math.md, section The paper's units). A cloud theta_j = (w_j, u_j) in mean-field units is
//! the finite-width net f(x) = sum_j w~_j relu(u~_j . x) with theta~_j = theta_j / sqrt(m): the two have the
//! same predictions and the same penalty, and one gd step of size eta on theta is one step of learning rate
//! eta on theta~. The paper's "N(0, 1) for every weight" is therefore s_w = s_u = sqrt(m) here. With
//! `units = "paper"` the scales of a `gaussian` init (s_w, s_u) and the radius of a `sphere` init are read
//! as finite-width values and multiplied by sqrt(m).
//!
//! **Dead clouds** (`kind = "dead"`): every particle is inactive on every training input, u_j . x_i < 0 for
//! all i, j. Then F = 0, the data-fit part of the velocity vanishes and gd only shrinks the cloud
//! (theta <- (1 - 2 eta lambda) theta): the cloud stays dead, at L = l(0) + penalty, a stationary point that
//! is not the global minimum whenever S (docs/math.md, section Dual bound) exceeds 2 lambda. Such
//! particles exist iff some direction v has v . x_i < 0 for every input, that is iff 0 is not in the convex
//! hull of the inputs; a data set holding x and -x (the paper's distribution, the hypercube XOR) has none,
//! while with a bias coordinate (x, 1) the direction -e_bias is always one. The draw: find such a v0 by the
//! linear program max t subject to x_i . v + t <= 0, |v_k| <= 1; draw theta uniformly on the sphere of
//! radius R; keep w and |u| and replace the direction g = u / |u| by the unit vector along v0^ + s g, with s
//! the largest value <= 1 for which v0^ + s g keeps at least half of v0^'s margin on every input
//! (s = min(1, min over x_i . g > 0 of -(v0^ . x_i) / (2 g . x_i))). Radius 0 is the zero cloud, which is
//! dead on any data.

use ndarray::{Array1, ArrayView2};
use serde::{Deserialize, Serialize};

use clarabel::algebra::CscMatrix;
use clarabel::solver::{DefaultSettings, DefaultSolver, IPSolver, SolverStatus, SupportedConeT};

use crate::comm::Shard;
use crate::linalg::Real;
use crate::model::{Cloud, Init};

/// In which units the scales of an initial cloud are written (scenario key `model.init.units`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Units {
    /// The particles theta_j themselves (default).
    #[default]
    #[serde(rename = "mean-field")]
    MeanField,
    /// The finite-width weights theta~_j = theta_j / sqrt(m) of the paper's network.
    #[serde(rename = "paper")]
    Paper,
}

impl Units {
    /// The name used in scenario files: `"mean-field"` or `"paper"`.
    pub fn name(self) -> &'static str {
        match self {
            Units::MeanField => "mean-field",
            Units::Paper => "paper",
        }
    }

    /// The factor that turns a scale in these units into mean-field units for m particles: 1 or sqrt(m).
    pub fn to_mean_field(self, m: usize) -> f64 {
        match self {
            Units::MeanField => 1.0,
            Units::Paper => (m as f64).sqrt(),
        }
    }
}

/// Two comment lines that give the resolved scales of `init` (in mean-field units, as the checked
/// scenario holds them) for m particles in both units; empty for inits without scales.
pub fn scales_comment(init: &Init, m: usize) -> String {
    let root = (m as f64).sqrt();
    let (names, values): (&str, Vec<f64>) = match *init {
        Init::Gaussian { s_w, s_u } => ("s_w, s_u", vec![s_w, s_u]),
        Init::Sphere { radius } => ("radius", vec![radius]),
    };
    let list = |scale: f64| values.iter().map(|v| format!("{}", v * scale)).collect::<Vec<_>>().join(", ");
    format!(
        "# initial scales ({names}), m = {m}: {} in mean-field units (particles theta_j);\n\
         # {} in the paper's units (finite-width weights theta~_j = theta_j / sqrt(m))\n",
        list(1.0),
        list(1.0 / root)
    )
}

/// A unit direction v with v . x_i < 0 for every row x_i of `x`, and its margin min_i -(v . x_i) > 0, or
/// the reason none exists (see the module documentation).
pub fn dead_direction(x: ArrayView2<f64>) -> std::result::Result<(Array1<f64>, f64), String> {
    let (n, d) = x.dim();
    let scale = x.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    if n == 0 || scale == 0.0 {
        return Err("the training inputs are all zero: every direction is dead only with u . x_i = 0".into());
    }
    // Variables (v_1..v_d, t); rows A z + s = b with s >= 0: x_i . v + t <= 0, v_k <= 1, -v_k <= 1, t <= 1.
    let (mut rows, mut cols, mut vals, mut b) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut push = |entries: &mut dyn Iterator<Item = (usize, f64)>, rhs: f64| {
        let r = b.len();
        for (c, v) in entries {
            rows.push(r);
            cols.push(c);
            vals.push(v);
        }
        b.push(rhs);
    };
    for xi in x.outer_iter() {
        push(&mut xi.iter().map(|v| v / scale).enumerate().chain([(d, 1.0)]), 0.0);
    }
    for k in 0..d {
        push(&mut [(k, 1.0)].into_iter(), 1.0);
        push(&mut [(k, -1.0)].into_iter(), 1.0);
    }
    push(&mut [(d, 1.0)].into_iter(), 1.0);
    let count = b.len();
    let a = CscMatrix::new_from_triplets(count, d + 1, rows, cols, vals);
    let p = CscMatrix::zeros((d + 1, d + 1));
    let mut q = vec![0.0; d + 1];
    q[d] = -1.0;
    let cones = [SupportedConeT::NonnegativeConeT(count)];
    let settings = DefaultSettings { verbose: false, ..DefaultSettings::default() };
    let mut solver = DefaultSolver::new(&p, &q, &a, &b, &cones, settings)
        .map_err(|e| format!("the linear program for a dead direction is invalid: {e}"))?;
    solver.solve();
    if !matches!(solver.solution.status, SolverStatus::Solved | SolverStatus::AlmostSolved) {
        return Err(format!("the linear program for a dead direction stopped with {:?}", solver.solution.status));
    }
    let v = Array1::from(solver.solution.x[..d].to_vec());
    let norm = v.dot(&v).sqrt();
    let margin = if norm > 0.0 { -x.outer_iter().map(|xi| xi.dot(&v) / norm).fold(f64::MIN, f64::max) } else { 0.0 };
    if margin.is_nan() || margin <= 1e-9 * scale {
        return Err("no direction u has u . x_i < 0 for every training input x_i (0 is in the convex hull of \
                    the inputs, as when the data hold both x and -x); use radius = 0 (the zero cloud), or \
                    data.bias = true (then u = -e_bias is dead)"
            .into());
    }
    Ok((v / norm, margin))
}

/// The particles of `shard` of a dead cloud of radius `radius` >= 0 on the inputs `x` (rows), drawn from
/// `seed` as in the module documentation: every particle has |theta_j| = radius and u_j . x_i < 0 for every
/// input (radius 0: the zero cloud). Errors when the inputs admit no dead direction.
pub fn dead_cloud<F: Real>(
    shard: Shard,
    x: ArrayView2<f64>,
    radius: f64,
    seed: u64,
) -> std::result::Result<Cloud<F>, String> {
    let d = x.ncols();
    if radius == 0.0 {
        return Ok(Cloud { theta: ndarray::Array2::zeros((shard.len, d + 1)) });
    }
    let (v0, _) = dead_direction(x)?;
    let a: Array1<f64> = x.dot(&v0);
    let mut cloud = Cloud::<F>::sample_shard(shard, d, &Init::Sphere { radius }, seed);
    for mut row in cloud.theta.outer_iter_mut() {
        let u: Array1<f64> = row.iter().skip(1).map(|v| v.f64()).collect();
        let length = u.dot(&u).sqrt();
        let g = if length > 0.0 { u / length } else { Array1::zeros(d) };
        let b = x.dot(&g);
        let s = a.iter().zip(&b).filter(|(_, &bi)| bi > 0.0).map(|(ai, bi)| -ai / (2.0 * bi)).fold(1.0, f64::min);
        let direction = &v0 + &(s * &g);
        let direction = &direction / direction.dot(&direction).sqrt();
        for (k, value) in row.iter_mut().skip(1).enumerate() {
            *value = F::of(length * direction[k]);
        }
    }
    Ok(cloud)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::simulate;
    use crate::scenario::{InitSource, Scenario};
    use ndarray::{array, Array2};

    /// A scenario on a small teacher problem (f64) with the given init table and steps.
    fn scenario(init: &str, m: usize, steps: u64) -> crate::scenario::ValidScenario {
        let text = format!(
            "seed = 3\nloss = \"logistic\"\nlambda = 0.01\n[data]\nkind = \"teacher\"\nd = 4\nn = 30\nhidden = 3\n\
             test_n = 0\n[model]\nm = {m}\ninit = {init}\n[dynamics]\nkind = \"gd\"\neta = 0.3\n[run]\nsteps = {steps}\n\
             log_every = 1\ncertify_every = 0\nplots = false\n"
        );
        Scenario::parse(&text, "test.toml", &[]).unwrap().check(std::path::Path::new("test.toml")).unwrap()
    }

    /// The finite-width net sum_j w~_j relu(u~_j . x_i) of the rows (w~, u~) of `theta`.
    fn finite_width_predictions(theta: &Array2<f64>, x: ArrayView2<f64>) -> Vec<f64> {
        x.outer_iter()
            .map(|xi| theta.outer_iter().map(|t| t[0] * t.slice(ndarray::s![1..]).dot(&xi).max(0.0)).sum())
            .collect()
    }

    fn close(a: f64, b: f64, scale: f64) -> bool {
        (a - b).abs() <= 1e-12 * scale
    }

    #[test]
    fn paper_units_are_the_finite_width_net_and_its_gd_step() {
        for m in [64usize, 50] {
            let paper = scenario("{ kind = \"gaussian\", s_w = 1.0, s_u = 0.5, units = \"paper\" }", m, 1);
            let unscaled = scenario("{ kind = \"gaussian\", s_w = 1.0, s_u = 0.5 }", m, 1);
            let root = (m as f64).sqrt();
            assert_eq!(paper.init, InitSource::Sampled { m, init: Init::Gaussian { s_w: root, s_u: 0.5 * root } });
            let (train, _) = crate::setup::datasets(&paper).unwrap();
            let cloud = crate::setup::initial_cloud::<f64>(&paper, &train).unwrap();
            // theta~: the same draws without the scaling.
            let tilde = crate::setup::initial_cloud::<f64>(&unscaled, &train).unwrap().theta;
            let scale = tilde.iter().fold(0.0f64, |a, v| a.max(v.abs())) * root;
            assert!(cloud.theta.iter().zip(&tilde).all(|(t, s)| close(*t, root * s, scale)), "m = {m}");
            let expected = finite_width_predictions(&tilde, train.x.view());
            let got = cloud.predict(train.x.view());
            let size = expected.iter().fold(1.0f64, |a, v| a.max(v.abs()));
            for (g, e) in got.iter().zip(&expected) {
                assert!(close(*g, *e, size), "m = {m}: mean-field {g} against finite-width {e}");
            }
            // One finite-width gd step of learning rate eta on (1/n) sum_i l(y_i, f~(x_i)) + lambda |Theta~|^2.
            let (eta, lambda, n) = (0.3, 0.01, train.n() as f64);
            let mut stepped = tilde.clone();
            for (j, t) in tilde.outer_iter().enumerate() {
                let (w, u) = (t[0], t.slice(ndarray::s![1..]));
                let mut grad_w = 2.0 * lambda * w;
                let mut grad_u = u.mapv(|v| 2.0 * lambda * v);
                for ((xi, &yi), &fi) in train.x.outer_iter().zip(&train.y).zip(&expected) {
                    let dl = -yi / (1.0 + (yi * fi).exp()) / n;
                    let z = u.dot(&xi);
                    grad_w += dl * z.max(0.0);
                    if z > 0.0 {
                        grad_u.scaled_add(dl * w, &xi);
                    }
                }
                stepped[[j, 0]] -= eta * grad_w;
                for k in 0..u.len() {
                    stepped[[j, k + 1]] -= eta * grad_u[k];
                }
            }
            let (_, after) = simulate(&paper, None).unwrap();
            for (a, s) in after.iter().zip(&stepped) {
                assert!(close(*a, root * s, scale), "m = {m}: after one step {a} against sqrt(m) x {s}");
            }
        }
    }

    #[test]
    fn units_scale_the_sphere_radius_and_the_validate_comment_gives_both() {
        let paper = scenario("{ kind = \"sphere\", radius = 2.0, units = \"paper\" }", 100, 1);
        assert_eq!(paper.init, InitSource::Sampled { m: 100, init: Init::Sphere { radius: 20.0 } });
        assert_eq!(
            scales_comment(&Init::Sphere { radius: 20.0 }, 100),
            "# initial scales (radius), m = 100: 20 in mean-field units (particles theta_j);\n\
             # 2 in the paper's units (finite-width weights theta~_j = theta_j / sqrt(m))\n"
        );
    }

    #[test]
    fn dead_clouds_are_dead_on_every_input_and_gd_only_shrinks_them() {
        let valid = scenario("{ kind = \"dead\", radius = 1.5 }", 300, 20);
        // Teacher inputs are Gaussian: 0 is in their convex hull; a bias coordinate makes -e_bias dead.
        let (train, _) = crate::setup::datasets(&valid).unwrap();
        let err = crate::setup::initial_cloud::<f64>(&valid, &train).unwrap_err().to_string();
        assert!(err.contains("no direction u has u . x_i < 0") && err.contains("data.bias = true"), "{err}");
        let mut biased = valid.scenario.clone();
        biased.data.bias = true;
        let biased = biased.check(std::path::Path::new("test.toml")).unwrap();
        let (train, _) = crate::setup::datasets(&biased).unwrap();
        let cloud = crate::setup::initial_cloud::<f64>(&biased, &train).unwrap();
        for t in cloud.theta.outer_iter() {
            assert!((t.dot(&t).sqrt() - 1.5).abs() < 1e-12);
            let u = t.slice(ndarray::s![1..]);
            assert!(train.x.outer_iter().all(|x| u.dot(&x) < 0.0));
        }
        // The directions are spread, not all equal to v0.
        let first = cloud.theta.row(0).slice(ndarray::s![1..]).to_owned();
        assert!(cloud.theta.outer_iter().any(|t| (&t.slice(ndarray::s![1..]) - &first).iter().any(|v| v.abs() > 0.1)));
        // gd: theta <- (1 - 2 eta lambda) theta exactly, so after 20 steps theta = (1 - 0.006)^20 theta_0.
        let (rows, after) = simulate(&biased, None).unwrap();
        let factor = (1.0f64 - 2.0 * 0.3 * 0.01).powi(20);
        assert!(after.iter().zip(&cloud.theta).all(|(a, b)| (a - factor * b).abs() < 1e-12));
        let last = rows.last().unwrap();
        assert!((last.data_fit - std::f64::consts::LN_2).abs() < 1e-12, "R = l(0) = log 2: {}", last.data_fit);
        assert!((last.penalty - 0.01 * 1.5 * 1.5 * factor * factor).abs() < 1e-12, "{}", last.penalty);
    }

    #[test]
    fn the_zero_cloud_needs_no_dead_direction_and_symmetric_data_have_none() {
        let x = array![[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0]];
        assert!(dead_direction(x.view()).unwrap_err().contains("0 is in the convex hull"));
        let zero = dead_cloud::<f64>(Shard::whole(5), x.view(), 0.0, 1).unwrap();
        assert!(zero.theta.iter().all(|v| *v == 0.0) && zero.theta.dim() == (5, 3));
        let (v, margin) = dead_direction(array![[1.0, 1.0], [2.0, -0.5], [0.5, 0.0]].view()).unwrap();
        assert!((v.dot(&v) - 1.0).abs() < 1e-12 && margin > 0.0);
    }
}
