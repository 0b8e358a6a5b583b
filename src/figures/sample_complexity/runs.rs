//! The predictors, the records of their fits, and the runs over the n grid at one dimension.

use std::collections::BTreeMap;
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::mean;
use super::params::Params;
use super::statistics::Errors;
use super::training::evaluate;
use crate::engine::stop::StopReason;
use crate::error::{Error, Result};
use crate::model::Cloud;
use crate::ntk::Ntk;

/// The three predictors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Method {
    Net,
    Interpolation,
    Svm,
}

impl Method {
    pub(super) const ALL: [Method; 3] = [Method::Net, Method::Interpolation, Method::Svm];

    /// The key in the findings.
    pub(super) fn key(self) -> &'static str {
        match self {
            Method::Net => "net",
            Method::Interpolation => "ntk_interpolation",
            Method::Svm => "ntk_svm",
        }
    }

    /// The legend label.
    pub(super) fn label(self) -> &'static str {
        match self {
            Method::Net => "regularised net",
            Method::Interpolation => "NTK min-norm interpolation",
            Method::Svm => "NTK SVM",
        }
    }
}

/// One predictor on one data set.
#[derive(Clone, Debug, Serialize)]
pub(super) struct Fitted {
    pub(super) test_error: f64,
    /// The network's run (None for kernels).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) net: Option<NetRun>,
    /// The kernel solve's jitter (0 unless K was singular).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) jitter: Option<f64>,
}

/// How one network run ended.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct NetRun {
    /// L at the end.
    pub(super) loss: f64,
    /// The estimated gap G = L - D at the end, and G / L.
    pub(super) gap: f64,
    pub(super) relative_gap: f64,
    /// `exact` or `estimated` (the sphere maximum behind D).
    pub(super) certificate: String,
    /// The dual vector behind D: `current` (the last step's r) or `averaged` (r averaged over the steps
    /// since the previous certified step).
    pub(super) dual_from: String,
    /// Steps taken and what stopped the run.
    pub(super) steps: u64,
    pub(super) stop_reason: StopReason,
    /// The n whose final cloud started this run (None: a fresh cloud).
    pub(super) warm_from: Option<usize>,
    /// The step at which the cloud was split into `net.split.k` copies (None: not split).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) split_at: Option<u64>,
    /// Particles added by mass insertion (`net.boost`); 0 in files written before it existed.
    #[serde(default)]
    pub(super) inserted: usize,
}

/// One (d, n, method) point of the error curves.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct CurvePoint {
    pub(super) d: usize,
    pub(super) n: usize,
    pub(super) method: String,
    pub(super) mean_error: f64,
    /// Test errors of seeds 1..=seeds, in order.
    pub(super) errors: Vec<f64>,
    /// The network runs of seeds 1..=seeds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) runs: Vec<NetRun>,
    /// Largest kernel jitter over the seeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) max_jitter: Option<f64>,
}

/// The runs at one dimension: data per seed, the last cloud per seed (warm starts) and the errors.
pub(super) struct DimensionRuns<'a> {
    pub(super) params: &'a Params,
    pub(super) kernel: Ntk,
    pub(super) d: usize,
    /// The clouds at every n, per seed (fine points warm-start from the coarse point below them).
    pub(super) saved: BTreeMap<(usize, usize), Cloud<f32>>,
    pub(super) errors: BTreeMap<Method, Errors>,
    pub(super) runs: BTreeMap<usize, Vec<NetRun>>,
    pub(super) jitter: BTreeMap<(Method, usize), f64>,
}

impl<'a> DimensionRuns<'a> {
    pub(super) fn new(params: &'a Params, kernel: Ntk, d: usize) -> Self {
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
    pub(super) fn evaluate(&mut self, n: usize, methods: &[Method]) -> Result<()> {
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

    pub(super) fn progress(&self, n: usize, methods: &[Method], started: Instant) -> String {
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
    pub(super) fn curves(self) -> Vec<CurvePoint> {
        let mut out = Vec::new();
        for (method, errors) in &self.errors {
            for (&n, e) in errors {
                out.push(CurvePoint {
                    d: self.d,
                    n,
                    method: method.key().to_string(),
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

/// The curve points of an earlier run: `findings.curves` of a report, or `curves` of a partial file.
pub(super) fn load_curves(path: &str) -> Result<Vec<CurvePoint>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.into(), source })?;
    let bad = |why: String| Error::ScenarioValue {
        file: path.into(),
        field: "curves".into(),
        value: why,
        allowed: "a sample-complexity report or partial file (a JSON object with findings.curves or curves)".into(),
    };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let curves =
        value.pointer("/findings/curves").or_else(|| value.get("curves")).ok_or_else(|| bad("missing".into()))?;
    serde_json::from_value(curves.clone()).map_err(|e| bad(e.to_string()))
}
