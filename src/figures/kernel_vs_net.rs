//! `kernel-vs-net`: the paper's experiment (its earlier version) comparing the regularised network with
//! kernel methods as the number of samples n grows, on a random ReLU teacher (docs/math.md, section
//! Distributions): inputs x ~ N(0, I_d), f*(x) = sum_k a_k relu(b_k . x) with `hidden` units.
//! - classification: y = sign f*(x), keeping inputs with |f*(x)| >= `margin`; test 0-1 error;
//! - regression: y = f*(x); test squared error (1/n_test) sum_i (f(x_i) - y_i)^2.
//!
//! For each task, n and seed s (one teacher, training set, test set and initial cloud each), four
//! predictors are fitted to the same training set:
//! - `net_stop`: the network trained by `gd` until a stopping rule of [`crate::engine::stop`] holds or the
//!   step cap (`[net_stop]`), its gap certified with the better of the current and the time-averaged
//!   dual vector (`figures::converge`);
//! - `net_paper`: the network at the paper's lambda for the paper's fixed number of steps
//!   (`[net_paper]`), no stopping rule;
//! - `arccos`: the arc-cosine kernel (first layer fixed: random ReLU features, [`Ntk::arc_cosine`]);
//! - `ntk`: the network's NTK ([`Ntk::new`]);
//!
//! each kernel with the hard-margin SVM (classification; the l2-SVM's limit of no slack, the data being
//! separable in these kernels) or kernel ridge regression with (K + n mu I) beta = y (regression).
//! The curves are the mean and the sample standard deviation over seeds per n.

use std::collections::BTreeMap;
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::converge::{self, Boost, Schedule};
use super::reuse;
use super::{band_series, mean_sd, paired_difference, say, stem, Figure, FigureOptions, FigureReport};
use crate::data::{classification_error, Dataset, Distribution, Task};
use crate::engine::stop::{relative_gap, StopReason, StopRule};
use crate::engine::Problem;
use crate::error::{Error, Result};
use crate::linalg::Real;
use crate::loss::Loss;
use crate::model::{Cloud, Init};
use crate::ntk::{self, Ntk};
use crate::plot::{self, Mark, Panel, Scale};
use crate::rng::Purpose;

/// The `kernel-vs-net` figure.
pub struct KernelVsNet;

/// `scenarios/paper/kernel-vs-net.toml`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Params {
    /// Input dimension.
    d: usize,
    /// Teacher hidden units.
    hidden: usize,
    /// Classification keeps inputs with |f*(x)| >= margin.
    margin: f64,
    /// Training-set sizes, increasing.
    n: Vec<usize>,
    /// Seeds 1..=seeds.
    seeds: u64,
    /// Test samples per seed.
    test_n: usize,
    /// Kernel ridge regression's mu.
    ridge_mu: f64,
    /// Particles, initial scales (mean-field units) and step size of both networks.
    net: NetParams,
    /// The network trained to the stopping rule.
    net_stop: Variant,
    /// The network at the paper's lambda and step count.
    net_paper: Variant,
    /// An earlier report of this figure (or its JSON) whose per-seed errors (and network runs) of the
    /// predictors `reuse_methods` are taken instead of computed again; its parameters that decide those
    /// predictors must equal these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reuse: Option<String>,
    /// The predictors (`net_stop`, `net_paper`, `arccos`, `ntk`) taken from `reuse` (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reuse_methods: Option<Vec<String>>,
    /// The tasks run (`classification`, `regression`; default both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tasks: Option<Vec<String>>,
}

/// What both networks share.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct NetParams {
    m: usize,
    /// Step size of the classification runs.
    eta: f64,
    /// Step size of the regression runs.
    eta_regression: f64,
    /// Initial scale s_w = s_u of the regression runs (mean-field units).
    s_regression: f64,
    s_w: f64,
    s_u: f64,
    /// Steps between logged losses (the `rel_change` checks).
    log_every: u64,
    /// Steps between dual bounds (the `rel_gap` checks); the last step is always certified.
    certify_every: u64,
}

/// One network: its weight decay, step cap and stopping rule (none: exactly `steps` steps).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Variant {
    lambda: f64,
    steps: u64,
    #[serde(default)]
    stop: Option<StopRule>,
    /// Particles of this network (default `net.m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    m: Option<usize>,
    /// Step sizes of this network's classification and regression runs (default `net.eta`, `net.eta_regression`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    eta: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    eta_regression: Option<f64>,
    /// Steps between dual bounds of this network (default `net.certify_every`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    certify_every: Option<u64>,
    /// Mass insertions and momentum on top of gd (`figures::converge`; default: plain gd).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    boost: Option<Boost>,
}

impl Params {
    fn check(&self, file: &str) -> Result<()> {
        let bad = |field: &str, value: String, allowed: &str| {
            Err(Error::ScenarioValue { file: file.into(), field: field.into(), value, allowed: allowed.into() })
        };
        if self.d < 1 || self.hidden < 1 {
            return bad("d, hidden", format!("{}, {}", self.d, self.hidden), "must be >= 1");
        }
        if !(self.margin >= 0.0 && self.margin.is_finite()) {
            return bad("margin", self.margin.to_string(), "must be a finite number >= 0");
        }
        if self.n.is_empty() || self.n[0] < 2 || !self.n.windows(2).all(|w| w[0] < w[1]) {
            return bad("n", format!("{:?}", self.n), "must be increasing sample sizes >= 2");
        }
        if self.seeds < 1 || self.test_n < 1 {
            return bad("seeds, test_n", format!("{}, {}", self.seeds, self.test_n), "must be >= 1");
        }
        if !(self.ridge_mu > 0.0 && self.ridge_mu.is_finite()) {
            return bad("ridge_mu", self.ridge_mu.to_string(), "must be a finite number > 0");
        }
        let known: Vec<&str> = PREDICTORS.iter().map(|p| p.0).collect();
        if let Some(key) = reuse::unknown_method(self.reuse_methods.as_deref(), &known) {
            return bad("reuse_methods", key.clone(), "must name net_stop, net_paper, arccos or ntk");
        }
        if let Some(tasks) = &self.tasks {
            let known = |t: &String| TASKS.iter().any(|(name, _)| name == t);
            let unique = tasks.iter().enumerate().all(|(i, t)| !tasks[..i].contains(t));
            if tasks.is_empty() || !tasks.iter().all(known) || !unique {
                return bad("tasks", format!("{tasks:?}"), "must name classification and/or regression, each once");
            }
        }
        let net = &self.net;
        if net.m < 1 || net.log_every < 1 {
            return bad("net.m, net.log_every", format!("{}, {}", net.m, net.log_every), "must be >= 1");
        }
        for (field, v) in [
            ("net.eta", net.eta),
            ("net.eta_regression", net.eta_regression),
            ("net.s_regression", net.s_regression),
            ("net.s_w", net.s_w),
            ("net.s_u", net.s_u),
        ] {
            if !(v > 0.0 && v.is_finite()) {
                return bad(field, v.to_string(), "must be a finite number > 0");
            }
        }
        for (name, variant) in [("net_stop", &self.net_stop), ("net_paper", &self.net_paper)] {
            if !(variant.lambda >= 0.0 && variant.lambda.is_finite()) {
                return bad(&format!("{name}.lambda"), variant.lambda.to_string(), "must be a finite number >= 0");
            }
            if variant.steps < 1 {
                return bad(&format!("{name}.steps"), variant.steps.to_string(), "must be >= 1");
            }
            let certify_every = variant.certify_every.unwrap_or(net.certify_every);
            if variant.m == Some(0) {
                return bad(&format!("{name}.m"), "0".into(), "must be >= 1");
            }
            for (field, v) in [("eta", variant.eta), ("eta_regression", variant.eta_regression)] {
                if let Some(v) = v.filter(|v| !(*v > 0.0 && v.is_finite())) {
                    return bad(&format!("{name}.{field}"), v.to_string(), "must be a finite number > 0");
                }
            }
            let checker = crate::config::Checker { file };
            if let Some(boost) = &variant.boost {
                boost.check(&checker, &format!("{name}.boost"), certify_every)?;
            }
            if let Some(stop) = &variant.stop {
                stop.check(&checker, &format!("{name}.stop"), certify_every)?;
            }
        }
        Ok(())
    }
}

/// The two tasks.
const TASKS: [(&str, Task); 2] = [("classification", Task::Classification), ("regression", Task::Regression)];

impl Params {
    /// Whether task t ([`TASKS`]) is run (`tasks`, default all).
    fn runs(&self, t: usize) -> bool {
        self.tasks.as_ref().is_none_or(|tasks| tasks.iter().any(|name| name == TASKS[t].0))
    }
}

/// The four predictors: JSON key and legend label.
const PREDICTORS: [(&str, &str); 4] = [
    ("net_stop", "net, stopping rule"),
    ("net_paper", "net, paper's lambda and steps"),
    ("arccos", "arc-cosine kernel (random features)"),
    ("ntk", "NTK"),
];

/// How one network run ended.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct NetRun {
    steps: u64,
    /// Particles added by mass insertion (0 for plain gd).
    #[serde(default)]
    inserted: usize,
    stop_reason: StopReason,
    loss: f64,
    relative_gap: f64,
    certificate: String,
}

/// The test errors of the four predictors on one (task, n, seed), and the two network runs.
struct Outcome {
    errors: [f64; 4],
    runs: [NetRun; 2],
}

/// What [`evaluate`] computed: errors (NaN where not computed) and network runs.
struct Computed {
    errors: [f64; 4],
    runs: [Option<NetRun>; 2],
}

/// What the reports say `reuse` must be.
const REUSE_FILE: &str = "a kernel-vs-net report (its JSON) with per-seed errors (curves.<task>.<predictor>.per_seed)";

/// The results taken from the `reuse` file: per (task, predictor, n, seed) the test error, and per (task,
/// network, n, seed) the network's run.
#[derive(Default)]
struct Reused {
    errors: BTreeMap<(usize, usize, usize, u64), f64>,
    runs: BTreeMap<(usize, usize, usize, u64), NetRun>,
}

impl Reused {
    /// Reads `params.reuse` (nothing without it): the predictors of `params.reuse_methods`, after checking that
    /// the parameters deciding them (data, kernels' scales and ridge, the network's settings) are the same
    /// and that every (task, n, seed) of this run is there.
    fn load(params: &Params) -> Result<Reused> {
        let Some(path) = params.reuse.as_deref() else { return Ok(Reused::default()) };
        let bad = |field: String, value: String| Error::ScenarioValue {
            file: path.into(),
            field,
            value,
            allowed: format!("{REUSE_FILE}, made with the same parameters as this run"),
        };
        let theirs = reuse::report_field(path, "params", REUSE_FILE)?;
        let ours = serde_json::to_value(params).map_err(|e| Error::Invalid(e.to_string()))?;
        let curves = reuse::report_field(path, "curves", REUSE_FILE)?;
        let nets = reuse::report_field(path, "nets", REUSE_FILE)?;
        let mut out = Reused::default();
        for (p, (key, _)) in PREDICTORS.iter().enumerate() {
            if !reuse::reuses(params.reuse_methods.as_deref(), key) {
                continue;
            }
            let decided_by: &[&str] = match p {
                0 => &["net", "net_stop"],
                1 => &["net", "net_paper"],
                _ => &["ridge_mu", "net/s_w", "net/s_u"],
            };
            for field in ["d", "hidden", "margin", "test_n"].iter().chain(decided_by) {
                let pointer = format!("/{field}");
                if theirs.pointer(&pointer) != ours.pointer(&pointer) {
                    return Err(bad(
                        format!("params.{}", field.replace('/', ".")),
                        format!(
                            "{} (this run: {}; needed for {key})",
                            theirs.pointer(&pointer).unwrap_or(&json!(null)),
                            ours.pointer(&pointer).unwrap_or(&json!(null))
                        ),
                    ));
                }
            }
            for (t, (task, _)) in TASKS.iter().enumerate().filter(|(t, _)| params.runs(*t)) {
                let curve = &curves[task][key];
                let their_n: Vec<u64> =
                    curve["n"].as_array().map_or(Vec::new(), |a| a.iter().filter_map(|v| v.as_u64()).collect());
                for row in curve["per_seed"].as_array().map_or(&[][..], Vec::as_slice) {
                    let (Some(seed), Some(errors)) = (row["seed"].as_u64(), row["errors"].as_array()) else { continue };
                    for (&n, e) in their_n.iter().zip(errors) {
                        if let Some(e) = e.as_f64() {
                            out.errors.insert((t, p, n as usize, seed), e);
                        }
                    }
                }
                if p < 2 {
                    for entry in nets[task][key]["runs"].as_array().map_or(&[][..], Vec::as_slice) {
                        let (Some(n), Some(seed)) = (entry["n"].as_u64(), entry["seed"].as_u64()) else { continue };
                        let run: NetRun = serde_json::from_value(entry["run"].clone())
                            .map_err(|e| bad(format!("nets.{task}.{key}.runs"), e.to_string()))?;
                        out.runs.insert((t, p, n as usize, seed), run);
                    }
                }
                for &n in &params.n {
                    for seed in 1..=params.seeds {
                        let run = p >= 2 || out.runs.contains_key(&(t, p, n, seed));
                        if !out.errors.contains_key(&(t, p, n, seed)) || !run {
                            return Err(bad(
                                format!("curves.{task}.{key}.per_seed"),
                                format!("no error{} for n = {n}, seed {seed}", if p < 2 { " or run" } else { "" }),
                            ));
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

impl Figure for KernelVsNet {
    fn name(&self) -> &'static str {
        "kernel-vs-net"
    }

    fn about(&self) -> &'static str {
        "the paper's experiment: test error against n of the regularised net, the arc-cosine kernel and the NTK on a random ReLU teacher (classification and regression)"
    }

    fn footprint(&self, options: &FigureOptions) -> Result<crate::footprint::Footprint> {
        let params: Params = super::load_config(self.name(), options)?;
        params.check(&super::config_path(self.name(), options).display().to_string())?;
        let n = params.n.last().copied().unwrap_or(0);
        let (field, value) = if params.test_n > n.saturating_mul(5) { ("test_n", params.test_n) } else { ("n", n) };
        let jobs = (rayon::current_num_threads() as u128).min(2 * u128::from(params.seeds));
        let mut f = crate::footprint::Footprint::default();
        f.add_ntk(field, value, jobs, (n as u128, params.test_n as u128, params.d as u128));
        Ok(f)
    }

    fn run(&self, options: &FigureOptions) -> Result<FigureReport> {
        let started = Instant::now();
        let params: Params = super::load_config(self.name(), options)?;
        params.check(&super::config_path(self.name(), options).display().to_string())?;
        let jobs: Vec<(usize, usize, u64)> = (0..TASKS.len())
            .filter(|&t| params.runs(t))
            .flat_map(|t| params.n.iter().rev().flat_map(move |&n| (1..=params.seeds).map(move |s| (t, n, s))))
            .collect();
        let reused = Reused::load(&params)?;
        let compute: [bool; 4] = std::array::from_fn(|p| {
            params.reuse.is_none() || !reuse::reuses(params.reuse_methods.as_deref(), PREDICTORS[p].0)
        });
        if let Some(path) = &params.reuse {
            let taken: Vec<&str> = (0..4).filter(|&p| !compute[p]).map(|p| PREDICTORS[p].0).collect();
            say(options, format!("kernel-vs-net: {} taken from {path}", taken.join(", ")));
        }
        let done = std::sync::atomic::AtomicUsize::new(0);
        let outcomes = jobs
            .par_iter()
            .map(|&(t, n, seed)| {
                let mut out = evaluate(&params, TASKS[t].1, n, seed, compute)?;
                for p in (0..4).filter(|&p| !compute[p]) {
                    out.errors[p] = reused.errors[&(t, p, n, seed)];
                    if p < 2 {
                        out.runs[p] = Some(reused.runs[&(t, p, n, seed)].clone());
                    }
                }
                let out = Outcome {
                    errors: out.errors,
                    runs: out.runs.map(|r| r.expect("every network run is computed or reused")),
                };
                let count = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                say(
                    options,
                    format!(
                        "kernel-vs-net: {count}/{} ({} n = {n} seed {seed}: errors {:.3?}; {:.0} s)",
                        jobs.len(),
                        TASKS[t].0,
                        out.errors,
                        started.elapsed().as_secs_f64()
                    ),
                );
                Ok(out)
            })
            .collect::<Result<Vec<Outcome>>>()?;
        let by_job: BTreeMap<(usize, usize, u64), &Outcome> = jobs.iter().copied().zip(outcomes.iter()).collect();
        let seeds: Vec<u64> = (1..=params.seeds).collect();
        let mut curves = BTreeMap::new();
        let mut runs_json = BTreeMap::new();
        let mut paired_json = BTreeMap::new();
        let mut panels = Vec::new();
        for (t, (task, _)) in TASKS.iter().enumerate().filter(|(t, _)| params.runs(*t)) {
            let ylabel = if t == 0 { "test 0-1 error" } else { "test squared error" };
            let mut panel = Panel::new(
                format!("{task} (teacher: d = {}, {} units)", params.d, params.hidden),
                "training samples n",
                ylabel,
            );
            panel.x_scale = Scale::Log;
            if t == 1 {
                panel.y_scale = Scale::Log;
            }
            let mut per_predictor = BTreeMap::new();
            for (p, (key, label)) in PREDICTORS.iter().enumerate() {
                let label = &legend(&params, p, label);
                // One row per seed, one value per n.
                let rows: Vec<Vec<f64>> =
                    seeds.iter().map(|&s| params.n.iter().map(|&n| by_job[&(t, n, s)].errors[p]).collect()).collect();
                let (mean, sd) = mean_sd(&rows);
                let by_seed: Vec<_> = seeds.iter().zip(&rows).map(|(s, e)| json!({"seed": s, "errors": e})).collect();
                per_predictor
                    .insert(*key, json!({"label": label, "n": params.n, "mean": mean, "sd": sd, "per_seed": by_seed}));
                let x: Vec<f64> = params.n.iter().map(|&n| n as f64).collect();
                let mut series = band_series(label, x, &rows);
                series.mark = Mark::LinePoints;
                panel.series.push(series);
            }
            curves.insert(*task, per_predictor);
            let errors = |p: usize| -> Vec<Vec<f64>> {
                params.n.iter().map(|&n| seeds.iter().map(|&s| by_job[&(t, n, s)].errors[p]).collect()).collect()
            };
            paired_json.insert(*task, paired_differences(&params.n, &errors));
            let mut nets = BTreeMap::new();
            for (v, key) in ["net_stop", "net_paper"].iter().enumerate() {
                let all: Vec<(usize, u64, &NetRun)> = params
                    .n
                    .iter()
                    .flat_map(|&n| seeds.iter().map(move |&s| (n, s)))
                    .map(|(n, s)| (n, s, &by_job[&(t, n, s)].runs[v]))
                    .collect();
                let mut reasons = BTreeMap::new();
                for r in &all {
                    *reasons.entry(r.2.stop_reason.name()).or_insert(0usize) += 1;
                }
                let capped: Vec<_> = all
                    .iter()
                    .filter(|r| r.2.stop_reason == StopReason::Cap)
                    .map(|(n, s, r)| json!({"n": n, "seed": s, "steps": r.steps, "relative_gap": r.relative_gap}))
                    .collect();
                nets.insert(
                    *key,
                    json!({
                        "stop_reasons": reasons,
                        "max_final_relative_gap": all.iter().map(|r| r.2.relative_gap).fold(0.0, f64::max),
                        "mean_steps": all.iter().map(|r| r.2.steps as f64).sum::<f64>() / all.len() as f64,
                        "capped_runs": if params.net_stop.stop.is_some() && v == 0 { json!(capped) } else { json!(null) },
                        "runs": all.iter().map(|(n, s, r)| json!({"n": n, "seed": s, "run": r})).collect::<Vec<_>>(),
                    }),
                );
            }
            runs_json.insert(*task, nets);
            panels.push(panel);
        }
        let stem = stem(self.name(), options);
        plot::figure(&stem, &panels)?;
        let findings = json!({
            "definition": "curves[task][predictor]: mean and sample sd over seeds of the test 0-1 error (classification) \
                           or test squared error (regression) per n; net_stop: trained until the stopping rule or its cap; \
                           net_paper: the paper's lambda for its fixed number of steps; arccos: arc-cosine kernel; \
                           ntk: the network's NTK; kernels with the hard-margin SVM or ridge regression; \
                           per_seed: each seed's error per n; paired_differences[task][a_minus_b][k]: over seeds, \
                           the mean, sd and 95% Student-t interval (ci95) of the paired difference error_a - error_b \
                           at n[k] (same seed: same teacher, data and initial cloud)",
            "params": params,
            "curves": curves,
            "paired_differences": paired_json,
            "nets": runs_json,
        });
        Ok(FigureReport::new(self.name(), &stem, started, findings))
    }
}

/// The legend label of predictor p ([`PREDICTORS`]): the networks' with their lambda and how long they train, e.g.
/// "net, lambda = 1e-3, to the stopping rule" and "net, paper's lambda = 1e-8, 20000 steps".
fn legend(params: &Params, p: usize, label: &str) -> String {
    let (stop, paper) = (&params.net_stop, &params.net_paper);
    let length = |v: &Variant| match v.stop {
        Some(_) => format!("to the stopping rule (cap {})", v.steps),
        None => format!("{} steps", v.steps),
    };
    match p {
        0 => format!("net, lambda = {:e}, {}", stop.lambda, length(stop)),
        1 => format!("net, paper's lambda = {:e}, {}", paper.lambda, length(paper)),
        _ => label.to_string(),
    }
}

/// The paired comparisons of [`paired_differences`]: (first, second) predictor indices into [`PREDICTORS`], the
/// difference being first minus second.
const PAIRS: [(usize, usize); 5] = [(0, 2), (0, 3), (1, 2), (1, 3), (0, 1)];

/// Per pair `a_minus_b` of [`PAIRS`] and per n, the paired difference e_a - e_b of the test errors over seeds:
/// its mean, sample sd and 95% Student-t interval mean +- t_{0.975, k-1} sd / sqrt(k) ([`paired_difference`]).
/// `errors(p)[k][s]` is predictor p's error at `n[k]` for the s-th seed.
fn paired_differences(n: &[usize], errors: &dyn Fn(usize) -> Vec<Vec<f64>>) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for (a, b) in PAIRS {
        let (ea, eb) = (errors(a), errors(b));
        let per_n: Vec<_> = n
            .iter()
            .zip(ea.iter().zip(&eb))
            .map(|(n, (ea, eb))| {
                let mut d = paired_difference(eb, ea);
                d["n"] = json!(n);
                d
            })
            .collect();
        out.insert(format!("{}_minus_{}", PREDICTORS[a].0, PREDICTORS[b].0), json!(per_n));
    }
    serde_json::Value::Object(out)
}

/// The predictors p with `compute[p]` on the data of (task, n, seed): their errors (NaN for the others) and
/// network runs.
fn evaluate(params: &Params, task: Task, n: usize, seed: u64, compute: [bool; 4]) -> Result<Computed> {
    let dist =
        Distribution::Teacher { d: params.d, hidden: params.hidden, task, margin: params.margin, label_noise: 0.0 };
    let train = dist.sample(n, seed, Purpose::TrainData)?;
    let test = dist.sample(params.test_n, seed, Purpose::TestData)?;
    let score = |f: ndarray::ArrayView1<f64>| match task {
        Task::Classification => classification_error(test.y.view(), f),
        Task::Regression => f.iter().zip(test.y.iter()).map(|(f, y)| (f - y).powi(2)).sum::<f64>() / test.n() as f64,
    };
    let loss = match task {
        Task::Classification => Loss::Logistic,
        Task::Regression => Loss::Squared,
    };
    let mut out = Computed { errors: [f64::NAN; 4], runs: [None, None] };
    for (v, variant) in [&params.net_stop, &params.net_paper].into_iter().enumerate() {
        if compute[v] {
            let (f, run) = train_network(params, variant, loss, &train, &test, seed)?;
            out.errors[v] = score(f.view());
            out.runs[v] = Some(run);
        }
    }
    let kernels = [Ntk::arc_cosine(params.net.s_u)?, Ntk::new(params.net.s_w, params.net.s_u)?];
    for (k, kernel) in kernels.iter().enumerate().filter(|(k, _)| compute[2 + k]) {
        let gram = kernel.gram(train.x.view());
        let cross = kernel.matrix(test.x.view(), train.x.view())?;
        let fit = match task {
            Task::Classification => ntk::svm(gram.view(), train.y.view())?,
            Task::Regression => ntk::ridge(gram.view(), train.y.view(), params.ridge_mu)?,
        };
        out.errors[2 + k] = score(fit.predict(cross.view()).view());
    }
    Ok(out)
}

/// Trains one network (f32 particles) on `train`; its predictions on `test` and how the run ended.
fn train_network(
    params: &Params,
    variant: &Variant,
    loss: Loss,
    train: &Dataset,
    test: &Dataset,
    seed: u64,
) -> Result<(ndarray::Array1<f64>, NetRun)> {
    let net = &params.net;
    let problem = Problem::<f32>::new(train.clone(), None, loss, variant.lambda)?;
    let (eta, s_w, s_u) = if loss == Loss::Squared {
        (variant.eta_regression.unwrap_or(net.eta_regression), net.s_regression, net.s_regression)
    } else {
        (variant.eta.unwrap_or(net.eta), net.s_w, net.s_u)
    };
    let cloud = Cloud::<f32>::sample(variant.m.unwrap_or(net.m), params.d, &Init::Gaussian { s_w, s_u }, seed);
    let schedule = Schedule {
        eta,
        cap: variant.steps,
        log_every: net.log_every,
        certify_every: variant.certify_every.unwrap_or(net.certify_every),
        stop: variant.stop,
    };
    let run = converge::train_with(problem, cloud, schedule, variant.boost.unwrap_or(Boost::NONE), seed)?;
    let f = run.state.cloud.predict(test.x.mapv(f32::of).view());
    Ok((
        f,
        NetRun {
            steps: run.state.step,
            inserted: run.inserted,
            stop_reason: run.stop_reason,
            loss: run.loss,
            relative_gap: relative_gap(run.loss, run.gap),
            certificate: run.certificate,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed parameter file with `extra` added at its top, in its quick version.
    fn quick_params(extra: &str) -> Result<Params> {
        let text = format!("{extra}\n{}", include_str!("../../scenarios/paper/kernel-vs-net.toml"));
        let params: Params = super::super::quick::settings(&text, "kvn.toml", true)?;
        params.check("kvn.toml")?;
        Ok(params)
    }

    #[test]
    fn tasks_default_to_both_and_bad_names_are_errors() {
        let both = quick_params("").unwrap();
        assert!(both.runs(0) && both.runs(1));
        let one = quick_params("tasks = [\"regression\"]").unwrap();
        assert!(!one.runs(0) && one.runs(1));
        for bad in ["[\"svm\"]", "[]", "[\"regression\", \"regression\"]"] {
            let err = quick_params(&format!("tasks = {bad}")).unwrap_err().to_string();
            assert!(err.starts_with("kvn.toml: field `tasks` = "), "{err}");
            assert!(err.ends_with("must name classification and/or regression, each once"), "{err}");
        }
    }

    #[test]
    fn paired_differences_are_first_minus_second_with_a_t_interval_over_seeds() {
        // errors[p][k][s]: predictor p at n[k] for seed s (three seeds, two sizes).
        let table = [
            [[0.30, 0.25, 0.20], [0.10, 0.12, 0.08]], // net_stop
            [[0.40, 0.40, 0.40], [0.20, 0.20, 0.20]], // net_paper
            [[0.35, 0.28, 0.26], [0.10, 0.10, 0.10]], // arccos
            [[0.30, 0.25, 0.20], [0.11, 0.13, 0.09]], // ntk
        ];
        let errors = |p: usize| -> Vec<Vec<f64>> { table[p].iter().map(|row| row.to_vec()).collect() };
        let out = paired_differences(&[20, 50], &errors);
        let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "net_paper_minus_arccos",
                "net_paper_minus_ntk",
                "net_stop_minus_arccos",
                "net_stop_minus_net_paper",
                "net_stop_minus_ntk"
            ]
        );
        let at = |pair: &str, k: usize, key: &str| out[pair][k][key].as_f64().unwrap();
        // net_stop - arccos at n = 20: differences -0.05, -0.03, -0.06; mean -0.046667, sd 0.0152753, and
        // t_{0.975, 2} = 4.303: half-width 4.303 * 0.0152753 / sqrt(3) = 0.0379489.
        let pair = "net_stop_minus_arccos";
        assert_eq!(out[pair][0]["n"], 20);
        assert_eq!(out[pair][0]["seeds"], 3);
        assert!((at(pair, 0, "mean") + 0.046_666_667).abs() < 1e-8);
        assert!((at(pair, 0, "sd") - 0.015_275_252).abs() < 1e-8);
        let ci = &out[pair][0]["ci95"];
        assert!((ci[0].as_f64().unwrap() + 0.084_615_560).abs() < 1e-8, "{ci}");
        assert!((ci[1].as_f64().unwrap() + 0.008_717_774).abs() < 1e-8, "{ci}");
        // At n = 50: differences 0, 0.02, -0.02: mean 0, sd 0.02, interval +-0.0496868 around 0.
        assert_eq!(out[pair][1]["n"], 50);
        assert!(at(pair, 1, "mean").abs() < 1e-15 && (at(pair, 1, "sd") - 0.02).abs() < 1e-12);
        assert!((out[pair][1]["ci95"][1].as_f64().unwrap() - 0.049_686_764).abs() < 1e-8);
        // Equal errors seed by seed: a zero difference with a zero-width interval.
        let same = "net_stop_minus_ntk";
        assert_eq!((at(same, 0, "mean"), at(same, 0, "sd")), (0.0, 0.0));
        assert_eq!(out[same][0]["ci95"], json!([0.0, 0.0]));
        // A constant shift: net_paper - net_stop = 0.1, 0.15, 0.2 at n = 20, reported as net_stop - net_paper.
        assert!((at("net_stop_minus_net_paper", 0, "mean") + 0.15).abs() < 1e-12);
        assert!((at("net_stop_minus_net_paper", 1, "mean") + 0.1).abs() < 1e-12);
    }
}
