//! The runs over the n grid at one dimension.

use std::collections::BTreeMap;
use std::time::Instant;

use rayon::prelude::*;

use super::mean;
use super::params::Params;
use super::records::{CurvePoint, Method, NetRun};
use super::statistics::Errors;
use super::training::evaluate;
use crate::engine::stop::StopReason;
use crate::error::Result;
use crate::model::Cloud;
use crate::ntk::Ntk;

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
