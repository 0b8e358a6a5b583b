//! The parameters of the figure (`scenarios/paper/sample-complexity.toml`) and their checks.

use serde::{Deserialize, Serialize};

use crate::engine::stop::StopRule;
use crate::error::{Error, Result};
use crate::figures::converge::Boost;
use crate::ntk::Ntk;

/// The parameters of `scenarios/paper/sample-complexity.toml`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    /// Input dimensions d (>= 2), increasing.
    pub(super) dims: Vec<usize>,
    /// The dimensions (a subset of `dims`) on which the kernel predictors run.
    pub(super) kernel_dims: Vec<usize>,
    /// First size of the coarse grid n_start 2^k.
    pub(super) n_start: usize,
    /// Largest training-set size.
    pub(super) n_max: usize,
    /// Fine grid: 2^(1/refine) apart inside the coarse intervals that cross an eps.
    pub(super) refine: u32,
    /// Seeds 1..=seeds: one training set, test set and initial cloud each.
    pub(super) seeds: u64,
    /// Test-error thresholds defining n*, increasing; the figure draws n* of `eps_main`.
    pub(super) eps: Vec<f64>,
    /// The threshold drawn in the n* figure (one of `eps`).
    pub(super) eps_main: f64,
    /// Test samples per seed.
    pub(super) test_n: usize,
    /// Bootstrap resamples of the seeds.
    pub(super) bootstrap: usize,
    /// A JSON file (an earlier report of this figure, or the `.partial.json` an interrupted run leaves)
    /// whose curves are taken, instead of being computed again, for every dimension it holds completely.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) reuse: Option<String>,
    /// The predictors (`net`, `ntk_interpolation`, `ntk_svm`) whose curves are taken from `reuse` (default: all); the
    /// others are computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) reuse_methods: Option<Vec<String>>,
    /// The network's training recipe.
    pub(super) net: NetParams,
    /// Initial scales of the network whose NTK is used.
    pub(super) kernel: KernelParams,
}

/// The one recipe by which every network is trained.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NetParams {
    pub(super) m: usize,
    pub(super) lambda: f64,
    pub(super) eta: f64,
    /// The step cap.
    pub(super) steps: u64,
    /// Steps between the checks of `stop.rel_change` (the loss is logged).
    pub(super) log_every: u64,
    /// Steps between the checks of `stop.rel_gap` (the dual bound is computed).
    pub(super) certify_every: u64,
    pub(super) s_w: f64,
    pub(super) s_u: f64,
    /// Start the run at n from the final cloud at the next smaller n of the same seed.
    pub(super) warm_start: bool,
    /// The stopping rules.
    pub(super) stop: StopRule,
    /// Train m particles for at most `split.after` steps (or until a rule holds), then, unless G / L <= rel_gap
    /// already, split every particle into `split.k` jittered copies and go on with k m particles to the rules or
    /// the cap `steps` (counted over both phases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) split: Option<SplitParams>,
    /// Mass insertions at the sphere maximum and Nesterov momentum on top of gd (none: plain gd).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) boost: Option<Boost>,
}

/// The split of a run's cloud into more particles (see `split.rs`).
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SplitParams {
    /// Steps of the first phase (at most).
    pub(super) after: u64,
    /// Copies of every particle.
    pub(super) k: usize,
    /// Relative size of the antithetic jitter of the copies.
    pub(super) jitter: f64,
}

/// The NTK's scales r_w, r_u.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct KernelParams {
    pub(super) r_w: f64,
    pub(super) r_u: f64,
}

impl Params {
    /// Whether the curves of predictor `method` (its key) are taken from the `reuse` file.
    pub(super) fn reuses(&self, method: &str) -> bool {
        self.reuse_methods.as_ref().is_none_or(|keys| keys.iter().any(|k| k == method))
    }

    /// Checks every rule; the message names the field.
    pub(super) fn check(&self, file: &str) -> Result<()> {
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
        if let Some(keys) = &self.reuse_methods {
            let known = ["net", "ntk_interpolation", "ntk_svm"];
            if let Some(bad_key) = keys.iter().find(|k| !known.contains(&k.as_str())) {
                return bad("reuse_methods", bad_key.clone(), "must name net, ntk_interpolation or ntk_svm");
            }
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
        if let Some(split) = net.split {
            if split.after < 1
                || split.after >= net.steps
                || split.k < 2
                || !(split.jitter >= 0.0 && split.jitter.is_finite())
            {
                return bad(
                    "net.split",
                    format!("{split:?}"),
                    "needs 1 <= after < net.steps, k >= 2 and a finite jitter >= 0",
                );
            }
        }
        let checker = crate::config::Checker { file };
        if let Some(boost) = &net.boost {
            boost.check(&checker, "net.boost", net.certify_every)?;
        }
        net.stop.check(&checker, "net.stop", net.certify_every)?;
        Ntk::new(self.kernel.r_w, self.kernel.r_u)
            .map(|_| ())
            .or_else(|e| bad("kernel", format!("{:?}", self.kernel), &e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed parameter file without its `[quick]` table.
    fn committed() -> Params {
        let text = include_str!("../../../scenarios/paper/sample-complexity.toml");
        let mut table: toml::Table = toml::from_str(text).unwrap();
        table.remove("quick");
        table.try_into().unwrap()
    }

    #[test]
    fn the_committed_file_passes_and_reuses_every_predictor_by_default() {
        let params = committed();
        params.check("f.toml").unwrap();
        assert!(params.reuses("net") && params.reuses("ntk_svm"));
        let only = Params { reuse_methods: Some(vec!["ntk_svm".into()]), ..params };
        only.check("f.toml").unwrap();
        assert!(only.reuses("ntk_svm") && !only.reuses("net") && !only.reuses("ntk_interpolation"));
    }

    #[test]
    fn a_bad_split_or_reuse_method_names_its_field() {
        let mut params = committed();
        params.reuse_methods = Some(vec!["svm".into()]);
        let err = params.check("f.toml").unwrap_err().to_string();
        assert!(err.contains("reuse_methods") && err.contains("svm") && err.contains("must name net"), "{err}");
        params.reuse_methods = None;
        for split in [
            SplitParams { after: 0, k: 3, jitter: 1e-2 },
            SplitParams { after: params.net.steps, k: 3, jitter: 1e-2 },
            SplitParams { after: 100, k: 1, jitter: 1e-2 },
            SplitParams { after: 100, k: 3, jitter: -1.0 },
        ] {
            params.net.split = Some(split);
            let err = params.check("f.toml").unwrap_err().to_string();
            assert!(err.contains("net.split") && err.contains("1 <= after < net.steps, k >= 2"), "{split:?}: {err}");
        }
        params.net.split = Some(SplitParams { after: 100, k: 3, jitter: 0.0 });
        params.check("f.toml").unwrap();
    }
}
