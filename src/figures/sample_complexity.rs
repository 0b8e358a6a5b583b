//! The paper's Theorem 2.1 as this project's own measurement (the paper has no such figure): on
//! its distribution D (docs/math.md, section Distributions) the weakly regularised network learns
//! from O(d) samples, while every predictor of the network's kernel (its NTK, [`crate::ntk`])
//! needs Omega(d^2).
//!
//! For each dimension d, sample size n and seed s = 1..seeds, one training set of n samples and one
//! test set of `test_n` samples are drawn from D with seed s (training sets are nested: the first
//! n samples of seed s are the same for every n), and three predictors are fitted to it:
//! - the network trained by the simulator: m particles in f32, `gd` with step size eta on the
//!   logistic loss with weight decay lambda, until a stopping rule of [`crate::engine::stop`] holds (the
//!   relative gap G / L <= rel_gap, G estimated, or L changing by at most rel_change relative over
//!   `window` steps) or the step cap is reached. With `warm_start`, the run at n starts from the
//!   final cloud of the same seed at the next smaller n (the first from w ~ N(0, s_w^2),
//!   u ~ N(0, s_u^2 I)); the regularised optimum does not depend on the start, so a warm start
//!   changes the answer only by as much as the runs are away from the optimum, which the recorded
//!   final relative gaps bound;
//! - the NTK's minimum-norm interpolation of the labels, and the NTK's SVM (largest RKHS margin),
//!   on the dimensions `kernel_dims`.
//!
//! The n grid is coarse to fine: n = n_start 2^k until the mean test error over the seeds is at
//! most the smallest eps (or n_max); then each coarse interval where the mean error first falls to
//! one of the thresholds eps is filled with the sizes n_{k-1} 2^(j/refine), j = 1..refine-1.
//!
//! For each d, predictor and eps, e(n) is the mean test error over the seeds and n*(d) is where e
//! first falls to eps: with n_k the first grid size with e(n_k) <= eps, ln n* interpolates
//! linearly in e between (e(n_{k-1}), ln n_{k-1}) and (e(n_k), ln n_k); if already e(n_1) <= eps,
//! n* = n_1 (an upper bound); if e never reaches eps, n*(d) is censored and left out of the fit.
//!
//! The slope of ln n* against ln d is fitted by least squares over the dimensions with a known n*,
//! with a 95% t-interval (k - 2 degrees of freedom for k dimensions) and a 95% bootstrap interval
//! over seeds (resample the seeds with replacement, recompute every n*, refit; percentiles 2.5 and
//! 97.5 of the refitted slopes), for every eps, over all dimensions and over the lower and the
//! upper half of them (local slopes). The paper predicts a slope of about 1 for the network and 2
//! for the kernel.

use std::collections::BTreeMap;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::data::{classification_error, Distribution};
use crate::dynamics::Gd;
use crate::engine::stop::{relative_gap, StopReason, StopRule};
use crate::engine::{Problem, RunOptions, Simulation};
use crate::error::{Error, Result};
use crate::figures::{load_config, say, Figure, FigureOptions, FigureReport};
use crate::linalg::Real;
use crate::loss::Loss;
use crate::model::{Cloud, Init};
use crate::ntk::{self, Ntk};
use crate::plot::{self, Mark, Panel, Scale, Series};
use crate::rng::Purpose;

/// The figure `sample-complexity`.
pub struct SampleComplexity;

/// The parameters of `scenarios/paper/sample-complexity.toml`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Params {
    /// Input dimensions d (>= 2), increasing.
    dims: Vec<usize>,
    /// The dimensions (a subset of `dims`) on which the kernel predictors run.
    kernel_dims: Vec<usize>,
    /// First size of the coarse grid n_start 2^k.
    n_start: usize,
    /// Largest training-set size.
    n_max: usize,
    /// Fine grid: 2^(1/refine) apart inside the coarse intervals that cross an eps.
    refine: u32,
    /// Seeds 1..=seeds: one training set, test set and initial cloud each.
    seeds: u64,
    /// Test-error thresholds defining n*, increasing; the figure draws n* of `eps_main`.
    eps: Vec<f64>,
    /// The threshold drawn in the n* figure (one of `eps`).
    eps_main: f64,
    /// Test samples per seed.
    test_n: usize,
    /// Bootstrap resamples of the seeds.
    bootstrap: usize,
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
    /// The step cap.
    steps: u64,
    /// Steps between the checks of `stop.rel_change` (the loss is logged).
    log_every: u64,
    /// Steps between the checks of `stop.rel_gap` (the dual bound is computed).
    certify_every: u64,
    s_w: f64,
    s_u: f64,
    /// Start the run at n from the final cloud at the next smaller n of the same seed.
    warm_start: bool,
    /// The stopping rules.
    stop: StopRule,
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
        if !increasing(&self.kernel_dims) || self.kernel_dims.iter().any(|d| !self.dims.contains(d)) {
            return bad("kernel_dims", format!("{:?}", self.kernel_dims), "must be increasing and a subset of dims");
        }
        if self.n_start < 1 || self.n_max < self.n_start {
            return bad("n_start, n_max", format!("{}, {}", self.n_start, self.n_max), "must be 1 <= n_start <= n_max");
        }
        if !(1..=16).contains(&self.refine) {
            return bad("refine", self.refine.to_string(), "must be between 1 and 16");
        }
        if self.seeds < 1 {
            return bad("seeds", self.seeds.to_string(), "must be >= 1");
        }
        if self.eps.is_empty()
            || self.eps.iter().any(|e| !(*e > 0.0 && *e < 1.0))
            || !self.eps.windows(2).all(|w| w[0] < w[1])
        {
            return bad("eps", format!("{:?}", self.eps), "must be increasing numbers in (0, 1)");
        }
        if !self.eps.contains(&self.eps_main) {
            return bad("eps_main", self.eps_main.to_string(), "must be one of eps");
        }
        if self.test_n < 1 {
            return bad("test_n", self.test_n.to_string(), "must be >= 1");
        }
        let net = &self.net;
        if net.m < 1 || net.steps < 1 || net.log_every < 1 {
            return bad(
                "net.m, net.steps, net.log_every",
                format!("{}, {}, {}", net.m, net.steps, net.log_every),
                "must be >= 1",
            );
        }
        for (field, v) in [("net.lambda", net.lambda), ("net.s_w", net.s_w), ("net.s_u", net.s_u)] {
            if !(v >= 0.0 && v.is_finite()) {
                return bad(field, v.to_string(), "must be a finite number >= 0");
            }
        }
        if !(net.eta > 0.0 && net.eta.is_finite()) {
            return bad("net.eta", net.eta.to_string(), "must be a finite number > 0");
        }
        net.stop.check(&crate::config::Checker { file }, "net.stop", net.certify_every)?;
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
    /// The network's run (None for kernels).
    #[serde(skip_serializing_if = "Option::is_none")]
    net: Option<NetRun>,
    /// The kernel solve's jitter (0 unless K was singular).
    #[serde(skip_serializing_if = "Option::is_none")]
    jitter: Option<f64>,
}

/// How one network run ended.
#[derive(Clone, Debug, Serialize)]
struct NetRun {
    /// L at the end.
    loss: f64,
    /// The estimated gap G = L - D at the end, and G / L.
    gap: f64,
    relative_gap: f64,
    /// `exact` or `estimated` (the sphere maximum behind D).
    certificate: String,
    /// Steps taken and what stopped the run.
    steps: u64,
    stop_reason: StopReason,
    /// The n whose final cloud started this run (None: a fresh cloud).
    warm_from: Option<usize>,
}

/// One (d, n, method) point of the error curves.
#[derive(Clone, Debug, Serialize)]
struct CurvePoint {
    d: usize,
    n: usize,
    method: &'static str,
    mean_error: f64,
    /// Test errors of seeds 1..=seeds, in order.
    errors: Vec<f64>,
    /// The network runs of seeds 1..=seeds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    runs: Vec<NetRun>,
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

/// A fit with its bootstrap interval over seeds.
#[derive(Clone, Debug, Serialize)]
struct SlopeReport {
    /// The dimensions of the fit.
    dims: Vec<usize>,
    fit: Option<Fit>,
    /// Percentiles 2.5 and 97.5 of the slopes refitted on seed resamples.
    bootstrap_ci95: Option<(f64, f64)>,
    /// Resamples in which at least two of the dimensions had a known n* (and so a slope).
    bootstrap_fitted: usize,
}

/// The errors of one predictor at one d: per grid size, the test error of each seed.
type Errors = BTreeMap<usize, Vec<f64>>;

impl Figure for SampleComplexity {
    fn name(&self) -> &'static str {
        "sample-complexity"
    }

    fn about(&self) -> &'static str {
        "this project's test of Theorem 2.1: samples n* to reach a test error eps against d, the regularised net trained to a stopping rule (paper: ~d) and its NTK (paper: ~d^2)"
    }

    fn run(&self, options: &FigureOptions) -> Result<FigureReport> {
        let started = Instant::now();
        let params: Params = load_config(self.name(), options)?;
        params.check(&crate::figures::config_path(self.name(), options).display().to_string())?;
        let kernel = Ntk::new(params.kernel.r_w, params.kernel.r_u)?;
        let mut curves: Vec<CurvePoint> = Vec::new();
        for &d in &params.dims {
            let methods: Vec<Method> =
                if params.kernel_dims.contains(&d) { Method::ALL.to_vec() } else { vec![Method::Net] };
            let mut dim = DimensionRuns::new(&params, kernel, d);
            // Coarse pass: n_start 2^k until every predictor's mean error is <= the smallest eps.
            let mut active = methods.clone();
            let mut n = params.n_start;
            while !active.is_empty() && n <= params.n_max {
                dim.evaluate(n, &active)?;
                say(options, dim.progress(n, &active, started));
                let smallest = params.eps[0];
                active.retain(|&m| mean(&dim.errors[&m][&n]) > smallest);
                n *= 2;
            }
            // Fine pass: fill the coarse intervals where the mean error first falls to an eps.
            for &method in &methods {
                let coarse: Vec<usize> = dim.errors[&method].keys().copied().collect();
                let mut fine: Vec<usize> = Vec::new();
                for &eps in &params.eps {
                    let Some(k) = coarse.iter().position(|n| mean(&dim.errors[&method][n]) <= eps) else { continue };
                    if k == 0 {
                        continue;
                    }
                    for j in 1..params.refine {
                        let n = (coarse[k - 1] as f64 * 2f64.powf(j as f64 / params.refine as f64)).round() as usize;
                        if n > coarse[k - 1] && n < coarse[k] && !fine.contains(&n) {
                            fine.push(n);
                        }
                    }
                }
                fine.sort_unstable();
                for n in fine {
                    dim.evaluate(n, &[method])?;
                    say(options, dim.progress(n, &[method], started));
                }
            }
            curves.extend(dim.curves());
        }
        let errors = errors_by_method(&curves);
        let mut n_star = BTreeMap::new();
        let mut slopes = BTreeMap::new();
        for method in Method::ALL {
            let per_d = &errors[method.key()];
            let dims: Vec<usize> = per_d.keys().copied().collect();
            let mut stars = BTreeMap::new();
            let mut fits = BTreeMap::new();
            for &eps in &params.eps {
                let all: Vec<usize> = (0..params.seeds as usize).collect();
                let known = n_stars(per_d, &all, eps);
                stars.insert(
                    eps_key(eps),
                    dims.iter().map(|d| json!({"d": d, "n_star": known.get(d).copied().flatten()})).collect::<Vec<_>>(),
                );
                let half = dims.len() / 2;
                let ranges = [
                    ("all", &dims[..]),
                    ("lower_half", &dims[..half.max(2).min(dims.len())]),
                    ("upper_half", &dims[dims.len().saturating_sub(half.max(2))..]),
                ];
                let mut by_range = BTreeMap::new();
                for (name, range) in ranges {
                    by_range.insert(name, slope_report(per_d, range, eps, params.seeds as usize, params.bootstrap));
                }
                fits.insert(eps_key(eps), by_range);
            }
            n_star.insert(method.key(), stars);
            slopes.insert(method.key(), fits);
        }
        let net_runs: Vec<(usize, usize, usize, &NetRun)> = curves
            .iter()
            .filter(|c| c.method == Method::Net.key())
            .flat_map(|c| c.runs.iter().enumerate().map(move |(s, r)| (c.d, c.n, s + 1, r)))
            .collect();
        let max_gap = net_runs.iter().map(|r| r.3.relative_gap).fold(0.0, f64::max);
        let capped: Vec<_> = net_runs
            .iter()
            .filter(|r| r.3.stop_reason == StopReason::Cap)
            .map(|(d, n, seed, r)| json!({"d": d, "n": n, "seed": seed, "steps": r.steps, "relative_gap": r.relative_gap}))
            .collect();
        let mut reasons = BTreeMap::new();
        for r in &net_runs {
            *reasons.entry(r.3.stop_reason.name()).or_insert(0usize) += 1;
        }
        let stem = if options.quick { "sample-complexity-quick" } else { "sample-complexity" };
        let files = draw(options, stem, &params, &curves, &n_star, &slopes)?;
        let seconds = started.elapsed().as_secs_f64();
        let findings = json!({
            "definition": format!(
                "n*(d): the mean test error over {} seeds first falls to eps between two grid sizes; ln n* is \
                 interpolated linearly in the mean error; slope: least squares of ln n* on ln d with a 95% t-interval \
                 and a 95% bootstrap interval over seeds ({} resamples); null n*: eps not reached on the grid; \
                 every net trained until G/L <= {:?} (G estimated) or L changed by <= {:?} relative over {} steps, \
                 at most {} steps",
                params.seeds, params.bootstrap, params.net.stop.rel_gap, params.net.stop.rel_change,
                params.net.stop.window, params.net.steps
            ),
            "params": params,
            "n_star": n_star,
            "slopes": slopes,
            "net_runs": net_runs.len(),
            "stop_reasons": reasons,
            "max_final_relative_gap": max_gap,
            "capped_runs": capped,
            "curves": curves,
            "seconds": seconds,
        });
        Ok(FigureReport { name: self.name().into(), files, seconds, findings })
    }
}

/// The JSON key of a threshold: `eps_0.1`.
fn eps_key(eps: f64) -> String {
    format!("eps_{eps}")
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// The runs at one dimension: data per seed, the last cloud per seed (warm starts) and the errors.
struct DimensionRuns<'a> {
    params: &'a Params,
    kernel: Ntk,
    d: usize,
    /// The clouds at every n, per seed (fine points warm-start from the coarse point below them).
    saved: BTreeMap<(usize, usize), Cloud<f32>>,
    errors: BTreeMap<Method, Errors>,
    runs: BTreeMap<usize, Vec<NetRun>>,
    jitter: BTreeMap<(Method, usize), f64>,
}

impl<'a> DimensionRuns<'a> {
    fn new(params: &'a Params, kernel: Ntk, d: usize) -> Self {
        DimensionRuns {
            params,
            kernel,
            d,
            saved: BTreeMap::new(),
            errors: Method::ALL.iter().map(|&m| (m, Errors::new())).collect(),
            runs: BTreeMap::new(),
            jitter: BTreeMap::new(),
        }
    }

    /// Fits `methods` at size n for every seed (in parallel over seeds).
    fn evaluate(&mut self, n: usize, methods: &[Method]) -> Result<()> {
        let (params, kernel, d) = (self.params, self.kernel, self.d);
        let starts: Vec<Option<(usize, Cloud<f32>)>> = (0..params.seeds as usize)
            .map(|s| {
                if !params.net.warm_start {
                    return None;
                }
                // The largest n' < n with a saved cloud of this seed.
                self.saved.range((s, 0)..(s, n)).next_back().map(|(&(_, k), c)| (k, c.clone()))
            })
            .collect();
        let fitted = starts
            .into_par_iter()
            .enumerate()
            .map(|(s, start)| evaluate(params, kernel, d, n, s as u64 + 1, methods, start))
            .collect::<Result<Vec<_>>>()?;
        for &method in methods {
            let mut errors = Vec::new();
            let mut runs = Vec::new();
            let mut jitter = 0.0f64;
            for (s, (f, cloud)) in fitted.iter().enumerate() {
                let one = &f[&method];
                errors.push(one.test_error);
                if let Some(run) = &one.net {
                    runs.push(run.clone());
                    if let Some(c) = cloud {
                        self.saved.insert((s, n), c.clone());
                    }
                }
                jitter = jitter.max(one.jitter.unwrap_or(0.0));
            }
            self.errors.get_mut(&method).expect("every method").insert(n, errors);
            if method == Method::Net {
                self.runs.insert(n, runs);
            } else {
                self.jitter.insert((method, n), jitter);
            }
        }
        Ok(())
    }

    fn progress(&self, n: usize, methods: &[Method], started: Instant) -> String {
        let errors: Vec<String> =
            methods.iter().map(|m| format!("{} {:.3}", m.key(), mean(&self.errors[m][&n]))).collect();
        let net = self.runs.get(&n).filter(|_| methods.contains(&Method::Net)).map_or(String::new(), |runs| {
            let gap = runs.iter().map(|r| r.relative_gap).fold(0.0, f64::max);
            let steps = runs.iter().map(|r| r.steps).max().unwrap_or(0);
            let capped = runs.iter().filter(|r| r.stop_reason == StopReason::Cap).count();
            format!("; net: max G/L {gap:.1e}, max steps {steps}, {capped} capped")
        });
        format!(
            "d = {}, n = {n}: mean test error {}{net} ({:.0} s)",
            self.d,
            errors.join(", "),
            started.elapsed().as_secs_f64()
        )
    }

    /// The curve points, by method and n.
    fn curves(self) -> Vec<CurvePoint> {
        let mut out = Vec::new();
        for (method, errors) in &self.errors {
            for (&n, e) in errors {
                out.push(CurvePoint {
                    d: self.d,
                    n,
                    method: method.key(),
                    mean_error: mean(e),
                    errors: e.clone(),
                    runs: if *method == Method::Net { self.runs[&n].clone() } else { Vec::new() },
                    max_jitter: self.jitter.get(&(*method, n)).copied(),
                });
            }
        }
        out
    }
}

/// The fitted predictors at one (d, n, seed) and the net's final cloud (a warm start for the next n).
type FitsAndCloud = (BTreeMap<Method, Fitted>, Option<Cloud<f32>>);

/// Fits the predictors `methods` to the data set of (d, n, seed); the network starts from `start`
/// (a cloud and the n it was trained at) or a fresh cloud. Returns the fits and the network's
/// final cloud.
fn evaluate(
    params: &Params,
    kernel: Ntk,
    d: usize,
    n: usize,
    seed: u64,
    methods: &[Method],
    start: Option<(usize, Cloud<f32>)>,
) -> Result<FitsAndCloud> {
    let dist = Distribution::Paper { d };
    let train = dist.sample(n, seed, Purpose::TrainData)?;
    let test = dist.sample(params.test_n, seed, Purpose::TestData)?;
    let mut out = BTreeMap::new();
    let mut last = None;
    if methods.contains(&Method::Net) {
        let net = &params.net;
        let problem = Problem::<f32>::new(train.clone(), None, Loss::Logistic, net.lambda)?;
        let warm_from = start.as_ref().map(|s| s.0);
        let cloud = start
            .map(|s| s.1)
            .unwrap_or_else(|| Cloud::<f32>::sample(net.m, d, &Init::Gaussian { s_w: net.s_w, s_u: net.s_u }, seed));
        let mut run = RunOptions::new(net.eta, net.steps, net.log_every, seed);
        run.certify_every = net.certify_every;
        let (mut sim, state) = Simulation::new(problem, Box::new(Gd), run, cloud)?;
        sim.set_stop(net.stop);
        let state = sim.run(state, &mut [])?;
        let metrics = sim.history().last().cloned().expect("a run logs its last step");
        let gap = metrics.gap.expect("the last step is certified");
        let f = state.cloud.predict(test.x.mapv(f32::of).view());
        out.insert(
            Method::Net,
            Fitted {
                test_error: classification_error(test.y.view(), f.view()),
                net: Some(NetRun {
                    loss: metrics.loss,
                    gap,
                    relative_gap: relative_gap(metrics.loss, gap),
                    certificate: metrics.certificate.clone().unwrap_or_default(),
                    steps: state.step,
                    stop_reason: sim.stop_reason(),
                    warm_from,
                }),
                jitter: None,
            },
        );
        last = Some(state.cloud);
    }
    let kernels: Vec<Method> = methods.iter().copied().filter(|&m| m != Method::Net).collect();
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
                    net: None,
                    jitter: Some(fit.jitter),
                },
            );
        }
    }
    Ok((out, last))
}

/// Per method key, per d, the errors per grid size and seed.
fn errors_by_method(curves: &[CurvePoint]) -> BTreeMap<&'static str, BTreeMap<usize, Errors>> {
    let mut out: BTreeMap<&'static str, BTreeMap<usize, Errors>> =
        Method::ALL.iter().map(|m| (m.key(), BTreeMap::new())).collect();
    for c in curves {
        out.get_mut(c.method).expect("every method").entry(c.d).or_default().insert(c.n, c.errors.clone());
    }
    out
}

/// n*(d) at threshold eps from the errors of the seeds `sample` (indices, repeats allowed), per d.
fn n_stars(per_d: &BTreeMap<usize, Errors>, sample: &[usize], eps: f64) -> BTreeMap<usize, Option<f64>> {
    per_d
        .iter()
        .map(|(&d, errors)| {
            let curve: Vec<(usize, f64)> = errors
                .iter()
                .map(|(&n, e)| (n, sample.iter().map(|&s| e[s]).sum::<f64>() / sample.len() as f64))
                .collect();
            (d, threshold_crossing(&curve, eps))
        })
        .collect()
}

/// The fit of ln n* on ln d over `dims` at threshold eps, with its bootstrap interval over seeds.
fn slope_report(
    per_d: &BTreeMap<usize, Errors>,
    dims: &[usize],
    eps: f64,
    seeds: usize,
    resamples: usize,
) -> SlopeReport {
    let subset: BTreeMap<usize, Errors> =
        per_d.iter().filter(|(d, _)| dims.contains(d)).map(|(&d, e)| (d, e.clone())).collect();
    let points = |stars: BTreeMap<usize, Option<f64>>| -> Vec<(f64, f64)> {
        stars.into_iter().filter_map(|(d, n)| n.map(|n| (d as f64, n))).collect()
    };
    let all: Vec<usize> = (0..seeds).collect();
    let fit = fit_power_law(&points(n_stars(&subset, &all, eps)));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x5eed);
    let mut slopes: Vec<f64> = (0..resamples)
        .filter_map(|_| {
            let sample: Vec<usize> = (0..seeds).map(|_| rng.random_range(0..seeds)).collect();
            fit_power_law(&points(n_stars(&subset, &sample, eps))).map(|f| f.slope)
        })
        .collect();
    slopes.sort_by(f64::total_cmp);
    let bootstrap_ci95 = (slopes.len() >= 2).then(|| (quantile(&slopes, 0.025), quantile(&slopes, 0.975)));
    SlopeReport { dims: dims.to_vec(), fit, bootstrap_ci95, bootstrap_fitted: slopes.len() }
}

/// The q-quantile of sorted values, linearly interpolated.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let h = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
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
pub(super) fn student_t_975(dof: usize) -> f64 {
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
/// seeds) and n* at `eps_main` against d with the fitted lines.
fn draw(
    options: &FigureOptions,
    stem: &str,
    params: &Params,
    curves: &[CurvePoint],
    n_star: &BTreeMap<&str, BTreeMap<String, Vec<serde_json::Value>>>,
    slopes: &BTreeMap<&str, BTreeMap<String, BTreeMap<&str, SlopeReport>>>,
) -> Result<Vec<std::path::PathBuf>> {
    let mut panels = Vec::new();
    let (lo, hi) = curves.iter().fold((f64::INFINITY, 0.0f64), |(a, b), c| (a.min(c.n as f64), b.max(c.n as f64)));
    for method in Method::ALL {
        let mut panel = Panel::new(method.label(), "training samples n", "test error");
        panel.x_scale = Scale::Log;
        for &d in &params.dims {
            let points: Vec<&CurvePoint> = curves.iter().filter(|c| c.d == d && c.method == method.key()).collect();
            if points.is_empty() {
                continue;
            }
            let x: Vec<f64> = points.iter().map(|c| c.n as f64).collect();
            let low = points.iter().map(|c| c.errors.iter().copied().fold(f64::INFINITY, f64::min)).collect();
            let high = points.iter().map(|c| c.errors.iter().copied().fold(f64::NEG_INFINITY, f64::max)).collect();
            let mut series = Series::new(format!("d = {d}"), x, points.iter().map(|c| c.mean_error).collect());
            series.band = Some((low, high));
            series.mark = Mark::LinePoints;
            panel.series.push(series);
        }
        for &eps in &params.eps {
            let mut line = Series::new(format!("eps = {eps}"), vec![lo, hi], vec![eps; 2]);
            line.mark = Mark::Dashed;
            panel.series.push(line);
        }
        panels.push(panel);
    }
    let error_stem = options.out.join(format!("{stem}-error"));
    plot::figure(&error_stem, &panels)?;
    let key = eps_key(params.eps_main);
    let mut panel = Panel::new(
        format!("samples to test error {} (paper: slope 1 for the net, 2 for the NTK)", params.eps_main),
        "dimension d",
        "n*",
    );
    panel.x_scale = Scale::Log;
    panel.y_scale = Scale::Log;
    for method in Method::ALL {
        let (x, y): (Vec<f64>, Vec<f64>) =
            n_star[method.key()][&key].iter().filter_map(|p| Some((p["d"].as_f64()?, p["n_star"].as_f64()?))).unzip();
        let mut series = Series::new(format!("{} (measured)", method.label()), x, y);
        series.mark = Mark::Points;
        panel.series.push(series);
    }
    for method in Method::ALL {
        let report = &slopes[method.key()][&key]["all"];
        if let Some(fit) = &report.fit {
            let ci = fit.ci95.map_or(String::new(), |(a, b)| format!(" t [{a:.2}, {b:.2}]"));
            let boot = report.bootstrap_ci95.map_or(String::new(), |(a, b)| format!(" boot [{a:.2}, {b:.2}]"));
            let dims: Vec<f64> = report.dims.iter().map(|&d| d as f64).collect();
            let y = dims.iter().map(|d| (fit.intercept + fit.slope * d.ln()).exp()).collect();
            let mut series = Series::new(format!("{}: slope {:.2}{ci}{boot}", method.label(), fit.slope), dims, y);
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

    #[test]
    fn bootstrap_over_identical_seeds_has_no_spread_and_quantiles_interpolate() {
        // Every seed has the same errors: each resample gives the same n* and the same slope.
        let mut per_d = BTreeMap::new();
        for d in [8usize, 16, 32] {
            let mut errors = Errors::new();
            errors.insert(d, vec![0.5; 4]);
            errors.insert(4 * d, vec![0.0; 4]);
            per_d.insert(d, errors);
        }
        let report = slope_report(&per_d, &[8, 16, 32], 0.25, 4, 50);
        let fit = report.fit.unwrap();
        assert!((fit.slope - 1.0).abs() < 1e-12, "{}", fit.slope);
        let (lo, hi) = report.bootstrap_ci95.unwrap();
        assert!((lo - 1.0).abs() < 1e-12 && (hi - 1.0).abs() < 1e-12);
        assert_eq!(report.bootstrap_fitted, 50);
        assert_eq!(quantile(&[0.0, 1.0, 2.0], 0.25), 0.5);
    }
}
