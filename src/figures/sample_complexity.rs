//! The paper's Theorem 2.1 as a measurement: on its distribution D (docs/math.md, section Distributions) the
//! weakly regularised network learns from O(d) samples, while every predictor of the network's
//! kernel (its NTK, [`crate::ntk`]) needs Omega(d^2).
//!
//! For each dimension d of a grid and each sample size n of a grid, and each seed s = 1..seeds,
//! one training set of n samples and one test set of `test_n` samples are drawn from D with seed
//! s, and three predictors are fitted to the same training set:
//! - the network trained by the simulator with one fixed recipe: m particles in f32 from
//!   w ~ N(0, s_w^2), u ~ N(0, s_u^2 I), `steps` steps of `gd` with step size eta on the logistic
//!   loss with weight decay lambda (the recipe is in `scenarios/paper/sample-complexity.toml`);
//! - the NTK's minimum-norm interpolation of the labels;
//! - the NTK's SVM (largest RKHS margin).
//!
//! Each gets its test error on the test set. For each d and predictor, e(n) is the mean test error
//! over the seeds, and the sample complexity n*(d) is where e first falls to `eps`: with n_k the
//! first grid size with e(n_k) <= eps, ln n* interpolates linearly in e between
//! (e(n_{k-1}), ln n_{k-1}) and (e(n_k), ln n_k); if already e(n_1) <= eps, n* = n_1 (an upper
//! bound); if e never reaches eps on the grid, n*(d) is unknown (censored) and left out of the fit.
//! Once a predictor's e(n) <= eps, it is not run at larger n for that d.
//!
//! The slope of ln n* against ln d is fitted by least squares over the dimensions with a known n*,
//! with a 95% t-interval (k - 2 degrees of freedom for k dimensions). The paper predicts a slope
//! of about 1 for the network and 2 for the kernel.

use std::collections::BTreeMap;
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::data::{classification_error, Distribution};
use crate::dynamics::Gd;
use crate::error::{Error, Result};
use crate::figures::{load_config, say, Figure, FigureOptions, FigureReport};
use crate::loss::Loss;
use crate::model::{Cloud, Init};
use crate::ntk::{self, Ntk};
use crate::plot::{self, Mark, Panel, Scale, Series};
use crate::rng::Purpose;
use crate::engine::{Problem, RunOptions, Simulation};

/// The figure `sample-complexity`.
pub struct SampleComplexity;

/// The parameters of `scenarios/paper/sample-complexity.toml`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Params {
    /// Input dimensions d (>= 2), increasing.
    dims: Vec<usize>,
    /// Training-set sizes n, increasing.
    n: Vec<usize>,
    /// Seeds 1..=seeds: one training set, test set and initial cloud each.
    seeds: u64,
    /// Test-error threshold defining n*.
    eps: f64,
    /// Test samples per seed.
    test_n: usize,
    /// The network's training recipe.
    net: NetParams,
    /// Initial scales of the network whose NTK is used.
    kernel: KernelParams,
}

/// The one recipe by which every network is trained.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct NetParams {
    m: usize,
    lambda: f64,
    eta: f64,
    steps: u64,
    s_w: f64,
    s_u: f64,
}

/// The NTK's scales r_w, r_u.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct KernelParams {
    r_w: f64,
    r_u: f64,
}

impl Params {
    /// Checks every rule; the message names the field.
    fn check(&self, file: &str) -> Result<()> {
        let bad = |field: &str, value: String, allowed: &str| {
            Err(Error::ScenarioValue { file: file.into(), field: field.into(), value, allowed: allowed.into() })
        };
        let increasing = |v: &[usize]| v.windows(2).all(|w| w[0] < w[1]);
        if self.dims.is_empty() || self.dims[0] < 2 || !increasing(&self.dims) {
            return bad("dims", format!("{:?}", self.dims), "must be increasing dimensions >= 2");
        }
        if self.n.is_empty() || self.n[0] < 1 || !increasing(&self.n) {
            return bad("n", format!("{:?}", self.n), "must be increasing sample sizes >= 1");
        }
        if self.seeds < 1 {
            return bad("seeds", self.seeds.to_string(), "must be >= 1");
        }
        if !(self.eps > 0.0 && self.eps < 1.0) {
            return bad("eps", self.eps.to_string(), "must be in (0, 1)");
        }
        if self.test_n < 1 {
            return bad("test_n", self.test_n.to_string(), "must be >= 1");
        }
        if self.net.m < 1 || self.net.steps < 1 {
            return bad("net.m, net.steps", format!("{}, {}", self.net.m, self.net.steps), "must be >= 1");
        }
        for (field, v) in [("net.lambda", self.net.lambda), ("net.s_w", self.net.s_w), ("net.s_u", self.net.s_u)] {
            if !(v >= 0.0 && v.is_finite()) {
                return bad(field, v.to_string(), "must be a finite number >= 0");
            }
        }
        if !(self.net.eta > 0.0 && self.net.eta.is_finite()) {
            return bad("net.eta", self.net.eta.to_string(), "must be a finite number > 0");
        }
        Ntk::new(self.kernel.r_w, self.kernel.r_u)
            .map(|_| ())
            .or_else(|e| bad("kernel", format!("{:?}", self.kernel), &e.to_string()))
    }
}

/// The three predictors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Method {
    Net,
    Interpolation,
    Svm,
}

impl Method {
    const ALL: [Method; 3] = [Method::Net, Method::Interpolation, Method::Svm];

    /// The key in the findings.
    fn key(self) -> &'static str {
        match self {
            Method::Net => "net",
            Method::Interpolation => "ntk_interpolation",
            Method::Svm => "ntk_svm",
        }
    }

    /// The legend label.
    fn label(self) -> &'static str {
        match self {
            Method::Net => "regularised net",
            Method::Interpolation => "NTK min-norm interpolation",
            Method::Svm => "NTK SVM",
        }
    }
}

/// One predictor on one data set.
#[derive(Clone, Debug, Serialize)]
struct Fitted {
    test_error: f64,
    /// The network's objective L and estimated gap L - D at the end (None for kernels).
    loss: Option<f64>,
    gap: Option<f64>,
    /// The kernel solve's jitter (0 unless K was singular) and relative residual.
    jitter: Option<f64>,
    residual: Option<f64>,
}

/// One (d, n, method) point of the error curves.
#[derive(Clone, Debug, Serialize)]
struct CurvePoint {
    d: usize,
    n: usize,
    method: &'static str,
    mean_error: f64,
    errors: Vec<f64>,
    /// Mean of the network's estimated optimality gap over the seeds.
    #[serde(skip_serializing_if = "Option::is_none")]
    mean_gap: Option<f64>,
    /// Largest kernel jitter over the seeds.
    #[serde(skip_serializing_if = "Option::is_none")]
    max_jitter: Option<f64>,
}

/// The fitted line ln n* = intercept + slope ln d.
#[derive(Clone, Debug, Serialize)]
struct Fit {
    slope: f64,
    intercept: f64,
    /// 95% t-interval of the slope (None with only two dimensions).
    ci95: Option<(f64, f64)>,
    /// Dimensions used.
    points: usize,
}

impl Figure for SampleComplexity {
    fn name(&self) -> &'static str {
        "sample-complexity"
    }

    fn about(&self) -> &'static str {
        "samples n* to reach a test error eps against d: the regularised net (paper: ~d) and its NTK (paper: ~d^2)"
    }

    fn run(&self, options: &FigureOptions) -> Result<FigureReport> {
        let started = Instant::now();
        let params: Params = load_config(self.name(), options)?;
        params.check(&crate::figures::config_path(self.name(), options).display().to_string())?;
        let kernel = Ntk::new(params.kernel.r_w, params.kernel.r_u)?;
        let mut curves: Vec<CurvePoint> = Vec::new();
        for &d in &params.dims {
            let mut active: Vec<Method> = Method::ALL.to_vec();
            for &n in &params.n {
                if active.is_empty() {
                    break;
                }
                let fitted = (1..=params.seeds)
                    .into_par_iter()
                    .map(|seed| evaluate(&params, kernel, d, n, seed, &active))
                    .collect::<Result<Vec<_>>>()?;
                for &method in &active {
                    let runs: Vec<&Fitted> = fitted.iter().map(|f| &f[&method]).collect();
                    let errors: Vec<f64> = runs.iter().map(|f| f.test_error).collect();
                    let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len() as f64;
                    curves.push(CurvePoint {
                        d,
                        n,
                        method: method.key(),
                        mean_error: mean(errors.clone()),
                        errors,
                        mean_gap: runs.iter().map(|f| f.gap).collect::<Option<Vec<_>>>().map(mean),
                        max_jitter: runs
                            .iter()
                            .map(|f| f.jitter)
                            .collect::<Option<Vec<_>>>()
                            .map(|v| v.into_iter().fold(0.0, f64::max)),
                    });
                }
                let errors: Vec<String> = curves[curves.len() - active.len()..]
                    .iter()
                    .map(|c| format!("{} {:.3}", c.method, c.mean_error))
                    .collect();
                say(
                    options,
                    format!(
                        "d = {d}, n = {n}: mean test error {} ({:.0} s)",
                        errors.join(", "),
                        started.elapsed().as_secs_f64()
                    ),
                );
                let done = |m: &Method| {
                    curves.iter().any(|c| c.d == d && c.n == n && c.method == m.key() && c.mean_error <= params.eps)
                };
                active.retain(|m| !done(m));
            }
        }
        let mut n_star: BTreeMap<&str, Vec<(usize, Option<f64>)>> = BTreeMap::new();
        let mut fits: BTreeMap<&str, Option<Fit>> = BTreeMap::new();
        for method in Method::ALL {
            let per_d: Vec<(usize, Option<f64>)> = params
                .dims
                .iter()
                .map(|&d| {
                    let curve: Vec<(usize, f64)> = curves
                        .iter()
                        .filter(|c| c.d == d && c.method == method.key())
                        .map(|c| (c.n, c.mean_error))
                        .collect();
                    (d, threshold_crossing(&curve, params.eps))
                })
                .collect();
            let known: Vec<(f64, f64)> = per_d.iter().filter_map(|&(d, n)| n.map(|n| (d as f64, n))).collect();
            fits.insert(method.key(), fit_power_law(&known));
            n_star.insert(method.key(), per_d);
        }
        let stem = if options.quick { "sample-complexity-quick" } else { "sample-complexity" };
        let files = draw(options, stem, &params, &curves, &n_star, &fits)?;
        let seconds = started.elapsed().as_secs_f64();
        let findings = json!({
            "definition": format!(
                "n*(d): the mean test error over {} seeds first falls to eps = {} between two grid sizes; \
                 ln n* is interpolated linearly in the mean error; slope: least squares of ln n* on ln d with a \
                 95% t-interval; null n*: eps not reached on the grid",
                params.seeds, params.eps
            ),
            "params": params,
            "n_star": n_star.iter().map(|(k, v)| (k.to_string(), v.iter().map(|(d, n)| json!({"d": d, "n_star": n})).collect::<Vec<_>>())).collect::<BTreeMap<_, _>>(),
            "fits": fits,
            "curves": curves,
            "seconds": seconds,
        });
        Ok(FigureReport { name: self.name().into(), files, seconds, findings })
    }
}

/// Fits the predictors that are still `active` to the data set of (d, n, seed).
fn evaluate(
    params: &Params,
    kernel: Ntk,
    d: usize,
    n: usize,
    seed: u64,
    active: &[Method],
) -> Result<BTreeMap<Method, Fitted>> {
    let dist = Distribution::Paper { d };
    let train = dist.sample(n, seed, Purpose::TrainData)?;
    let test = dist.sample(params.test_n, seed, Purpose::TestData)?;
    let mut out = BTreeMap::new();
    if active.contains(&Method::Net) {
        let net = &params.net;
        let problem = Problem::<f32>::new(train.clone(), Some(test.clone()), Loss::Logistic, net.lambda)?;
        let cloud = Cloud::<f32>::sample(net.m, d, &Init::Gaussian { s_w: net.s_w, s_u: net.s_u }, seed);
        let mut run = RunOptions::new(net.eta, net.steps, net.steps, seed);
        run.certify_every = 0;
        let (mut sim, state) = Simulation::new(problem, Box::new(Gd), run, cloud)?;
        let state = sim.run(state, &mut [])?;
        let metrics = sim.metrics(&state)?;
        let bound = sim.dual_bound(&state)?;
        out.insert(
            Method::Net,
            Fitted {
                test_error: metrics.test_error.unwrap_or(f64::NAN),
                loss: Some(metrics.loss),
                gap: Some(metrics.loss - bound.dual),
                jitter: None,
                residual: None,
            },
        );
    }
    let kernels: Vec<Method> = active.iter().copied().filter(|&m| m != Method::Net).collect();
    if !kernels.is_empty() {
        let k = kernel.gram(train.x.view());
        let k_test = kernel.matrix(test.x.view(), train.x.view())?;
        for method in kernels {
            let fit = match method {
                Method::Svm => ntk::svm(k.view(), train.y.view())?,
                _ => ntk::interpolate(k.view(), train.y.view())?,
            };
            let f = fit.predict(k_test.view());
            out.insert(
                method,
                Fitted {
                    test_error: classification_error(test.y.view(), f.view()),
                    loss: None,
                    gap: None,
                    jitter: Some(fit.jitter),
                    residual: Some(fit.residual),
                },
            );
        }
    }
    Ok(out)
}

/// n* of a curve of (n, mean error) in increasing n (see the module documentation).
fn threshold_crossing(curve: &[(usize, f64)], eps: f64) -> Option<f64> {
    let k = curve.iter().position(|&(_, e)| e <= eps)?;
    if k == 0 {
        return Some(curve[0].0 as f64);
    }
    let ((n0, e0), (n1, e1)) = (curve[k - 1], curve[k]);
    let (l0, l1) = ((n0 as f64).ln(), (n1 as f64).ln());
    Some((l0 + (e0 - eps) / (e0 - e1) * (l1 - l0)).exp())
}

/// Least squares of ln y on ln x over `points` (x, y), with a 95% t-interval of the slope.
fn fit_power_law(points: &[(f64, f64)]) -> Option<Fit> {
    let k = points.len();
    if k < 2 {
        return None;
    }
    let (lx, ly): (Vec<f64>, Vec<f64>) = points.iter().map(|&(x, y)| (x.ln(), y.ln())).unzip();
    let (mx, my) = (lx.iter().sum::<f64>() / k as f64, ly.iter().sum::<f64>() / k as f64);
    let sxx: f64 = lx.iter().map(|x| (x - mx).powi(2)).sum();
    let sxy: f64 = lx.iter().zip(&ly).map(|(x, y)| (x - mx) * (y - my)).sum();
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let ci95 = (k > 2).then(|| {
        let sse: f64 = lx.iter().zip(&ly).map(|(x, y)| (y - intercept - slope * x).powi(2)).sum();
        let half = student_t_975(k - 2) * (sse / (k - 2) as f64 / sxx).sqrt();
        (slope - half, slope + half)
    });
    Some(Fit { slope, intercept, ci95, points: k })
}

/// The 0.975 quantile of Student's t with `dof` >= 1 degrees of freedom: a table up to 30, then
/// the Cornish-Fisher expansion z + (z^3 + z) / (4 dof) + (5 z^5 + 16 z^3 + 3 z) / (96 dof^2).
fn student_t_975(dof: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    match dof {
        1..=30 => TABLE[dof - 1],
        _ => {
            let (z, v) = (1.959_964f64, dof as f64);
            z + (z.powi(3) + z) / (4.0 * v) + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * v * v)
        }
    }
}

/// The two figures: error curves (one panel per predictor, one curve per d, band min..max over
/// seeds) and n* against d with the fitted lines.
fn draw(
    options: &FigureOptions,
    stem: &str,
    params: &Params,
    curves: &[CurvePoint],
    n_star: &BTreeMap<&str, Vec<(usize, Option<f64>)>>,
    fits: &BTreeMap<&str, Option<Fit>>,
) -> Result<Vec<std::path::PathBuf>> {
    let mut panels = Vec::new();
    for method in Method::ALL {
        let mut panel = Panel::new(method.label(), "training samples n", "test error");
        panel.x_scale = Scale::Log;
        for &d in &params.dims {
            let points: Vec<&CurvePoint> = curves.iter().filter(|c| c.d == d && c.method == method.key()).collect();
            let x: Vec<f64> = points.iter().map(|c| c.n as f64).collect();
            let low = points.iter().map(|c| c.errors.iter().copied().fold(f64::INFINITY, f64::min)).collect();
            let high = points.iter().map(|c| c.errors.iter().copied().fold(f64::NEG_INFINITY, f64::max)).collect();
            let mut series = Series::new(format!("d = {d}"), x, points.iter().map(|c| c.mean_error).collect());
            series.band = Some((low, high));
            series.mark = Mark::LinePoints;
            panel.series.push(series);
        }
        let (lo, hi) = (params.n[0] as f64, params.n[params.n.len() - 1] as f64);
        let mut eps = Series::new(format!("eps = {}", params.eps), vec![lo, hi], vec![params.eps; 2]);
        eps.mark = Mark::Dashed;
        panel.series.push(eps);
        panels.push(panel);
    }
    let error_stem = options.out.join(format!("{stem}-error"));
    plot::figure(&error_stem, &panels)?;
    let mut panel = Panel::new(
        format!("samples to test error {} (paper: slope 1 for the net, 2 for the NTK)", params.eps),
        "dimension d",
        "n*",
    );
    panel.x_scale = Scale::Log;
    panel.y_scale = Scale::Log;
    let dims: Vec<f64> = params.dims.iter().map(|&d| d as f64).collect();
    for method in Method::ALL {
        let (x, y): (Vec<f64>, Vec<f64>) =
            n_star[method.key()].iter().filter_map(|&(d, n)| n.map(|n| (d as f64, n))).unzip();
        let mut series = Series::new(format!("{} (measured)", method.label()), x, y);
        series.mark = Mark::Points;
        panel.series.push(series);
    }
    for method in Method::ALL {
        if let Some(fit) = &fits[method.key()] {
            let ci = fit.ci95.map_or(String::new(), |(a, b)| format!(" [{a:.2}, {b:.2}]"));
            let y = dims.iter().map(|d| (fit.intercept + fit.slope * d.ln()).exp()).collect();
            let mut series = Series::new(format!("{}: slope {:.2}{ci}", method.label(), fit.slope), dims.clone(), y);
            series.mark = Mark::Dashed;
            panel.series.push(series);
        }
    }
    let n_star_stem = options.out.join(format!("{stem}-nstar"));
    plot::figure(&n_star_stem, &[panel])?;
    Ok([error_stem, n_star_stem].iter().flat_map(|s| ["png", "svg"].map(|ext| s.with_extension(ext))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_crossing_interpolates_log_linearly() {
        // Halfway in error between n = 100 and n = 400: n* = 200.
        let n = threshold_crossing(&[(50, 0.5), (100, 0.3), (400, 0.1)], 0.2).unwrap();
        assert!((n - 200.0).abs() < 1e-9, "{n}");
        assert_eq!(threshold_crossing(&[(50, 0.05), (100, 0.0)], 0.1), Some(50.0));
        assert_eq!(threshold_crossing(&[(50, 0.5), (100, 0.3)], 0.1), None);
    }

    #[test]
    fn power_law_fit_recovers_an_exact_slope_and_widens_with_noise() {
        let exact: Vec<(f64, f64)> = [8.0, 16.0, 32.0].iter().map(|&d| (d, 3.0 * d * d)).collect();
        let fit = fit_power_law(&exact).unwrap();
        assert!((fit.slope - 2.0).abs() < 1e-12 && (fit.intercept - 3f64.ln()).abs() < 1e-12);
        let (lo, hi) = fit.ci95.unwrap();
        assert!((hi - lo).abs() < 1e-6);
        // ln y = 2 ln x + (+-0.1): residuals +0.1, -0.2, +0.1 around the line through the middle.
        let noisy = vec![
            (1.0, 0.1f64.exp()),
            (std::f64::consts::E, (2.0f64 - 0.2).exp()),
            (std::f64::consts::E.powi(2), (4.0f64 + 0.1).exp()),
        ];
        let fit = fit_power_law(&noisy).unwrap();
        assert!((fit.slope - 2.0).abs() < 1e-12);
        // SSE = 0.06 with 1 degree of freedom, Sxx = 2: half-width 12.706 sqrt(0.03) = 2.2007.
        let (lo, hi) = fit.ci95.unwrap();
        assert!(((hi - lo) / 2.0 - 12.706 * 0.03f64.sqrt()).abs() < 1e-9, "{lo} {hi}");
        assert!(fit_power_law(&exact[..1]).is_none());
        assert!(fit_power_law(&exact[..2]).unwrap().ci95.is_none());
    }

    #[test]
    fn t_quantiles_join_the_expansion_smoothly() {
        assert_eq!(student_t_975(4), 2.776);
        assert!((student_t_975(31) - 2.040).abs() < 1e-3 && (student_t_975(1000) - 1.962).abs() < 1e-3);
    }
}
