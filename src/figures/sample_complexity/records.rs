//! The predictors and the records of their fits: per run, per curve point, and as read back from an
//! earlier report.

use serde::{Deserialize, Serialize};

use crate::engine::stop::StopReason;
use crate::error::{Error, Result};

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

/// The curve points of an earlier run: `findings.curves` of a report, or `curves` of a partial file.
pub(super) fn load_curves(path: &str) -> Result<Vec<CurvePoint>> {
    const ALLOWED: &str = "a sample-complexity report or partial file (a JSON object with findings.curves or curves)";
    let curves = crate::figures::reuse::report_field(path, "curves", ALLOWED)?;
    serde_json::from_value(curves).map_err(|e| Error::ScenarioValue {
        file: path.into(),
        field: "curves".into(),
        value: e.to_string(),
        allowed: ALLOWED.into(),
    })
}
