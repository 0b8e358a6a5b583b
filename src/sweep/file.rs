//! The sweep file as written (TOML), and the metric columns its figures may name.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::plot::Scale;

/// A sweep file as written.
///
/// ```toml
/// name = "noise"                       # default: the file name without extension
/// base = "../certify-xor3.toml"        # relative to this file; or an inline [base] table
/// set = ["run.steps=2000"]             # overrides applied to every run
/// seeds = 3                            # seeds 1, 2, 3 (or a list: seeds = [4, 7])
///
/// [[axis]]
/// key = "dynamics.sigma"
/// values = [0.0, 1e-3, 1e-2]           # or linspace / logspace = { start, stop, num }
///
/// [[plot]]
/// kind = "line"
/// x = "dynamics.sigma"
/// y = "gap"
/// ```
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepFile {
    /// The sweep's name (default: the file name without extension).
    #[serde(default)]
    pub name: Option<String>,
    /// The base scenario: a path relative to the sweep file, or an inline table.
    pub base: Base,
    /// `KEY=VALUE` overrides applied to every run before the axis values.
    #[serde(default)]
    pub set: Vec<String>,
    /// Seeds: a count k (seeds 1..=k) or a list; adds the innermost axis `seed`.
    #[serde(default)]
    pub seeds: Option<Seeds>,
    /// The axes, outermost first.
    #[serde(default, rename = "axis")]
    pub axes: Vec<AxisConfig>,
    /// The figures drawn next to `sweep.csv`.
    #[serde(default, rename = "plot")]
    pub plots: Vec<PlotConfig>,
}

/// Where the base scenario comes from.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Base {
    /// A scenario file, relative to the sweep file.
    File(PathBuf),
    /// A scenario written inline as a table.
    Inline(toml::Table),
}

/// The `seeds` key: a count or an explicit list.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Seeds {
    /// Seeds 1 to k.
    Count(u64),
    /// These seeds.
    List(Vec<u64>),
}

/// Evenly spaced values: `num` values from `start` to `stop` inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spacing {
    /// First value.
    pub start: f64,
    /// Last value.
    pub stop: f64,
    /// Number of values.
    pub num: usize,
}

/// One `[[axis]]` table: a scenario key and its values (exactly one of `values`, `linspace`,
/// `logspace`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AxisConfig {
    /// The scenario key by dotted path, e.g. `dynamics.sigma`.
    pub key: String,
    /// Explicit values (any TOML values).
    #[serde(default)]
    pub values: Option<Vec<toml::Value>>,
    /// Linearly spaced values.
    #[serde(default)]
    pub linspace: Option<Spacing>,
    /// Logarithmically spaced values (start and stop > 0).
    #[serde(default)]
    pub logspace: Option<Spacing>,
    /// Axes with the same `zip` label advance together (equal lengths) instead of forming a grid.
    #[serde(default)]
    pub zip: Option<String>,
    /// Scale of the axis in figures (default: `log` for `logspace`, `linear` otherwise).
    #[serde(default)]
    pub scale: Option<AxisScale>,
}

/// Scale of an axis or a metric in a figure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AxisScale {
    /// Evenly spaced values.
    #[default]
    Linear,
    /// Powers of ten (in a line plot nonpositive values are left out; a heatmap shows evenly
    /// sized cells labelled by value).
    Log,
}

impl From<AxisScale> for Scale {
    fn from(s: AxisScale) -> Scale {
        match s {
            AxisScale::Linear => Scale::Linear,
            AxisScale::Log => Scale::Log,
        }
    }
}

/// Kinds of sweep figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlotKind {
    /// A metric against one axis: mean and band over the other axes, one curve per `group` value.
    Line,
    /// The mean of a metric over two axes.
    Heatmap,
}

/// The band around the mean of a line plot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Band {
    /// From the smallest to the largest value.
    #[default]
    Minmax,
    /// Mean plus or minus one (population) standard deviation.
    Std,
}

/// One `[[plot]]` table. A line plot has `x` (an axis), `y` (a metric) and optionally `group` (an
/// axis) and `band`; a heatmap has `x` and `y` (axes) and `value` (a metric).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlotConfig {
    /// `line` or `heatmap`.
    pub kind: PlotKind,
    /// The horizontal axis (an axis key).
    pub x: String,
    /// Line: the metric; heatmap: the vertical axis key.
    pub y: String,
    /// Line: one curve per value of this axis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Heatmap: the metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Line: `minmax` (default) or `std`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub band: Option<Band>,
    /// Scale of the metric (line: vertical axis; heatmap: colours); default linear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<AxisScale>,
    /// Scale of the horizontal axis (default: the axis's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_scale: Option<AxisScale>,
    /// File name without extension (default from the keys, e.g. `gap-vs-dynamics_sigma`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Spacing {
    pub(super) fn values(&self, log: bool) -> Vec<toml::Value> {
        let (a, b) = if log { (self.start.log10(), self.stop.log10()) } else { (self.start, self.stop) };
        (0..self.num)
            .map(|i| {
                let t = if self.num == 1 { 0.0 } else { i as f64 / (self.num - 1) as f64 };
                let x = a + (b - a) * t;
                toml::Value::Float(if log { 10f64.powf(x) } else { x })
            })
            .collect()
    }
}

impl SweepFile {
    /// Parses sweep file text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<SweepFile> {
        let value: toml::Value = toml::from_str(text).map_err(|e| Error::ScenarioSyntax {
            file: file.to_string(),
            message: e.message().trim().replace('\n', "; "),
        })?;
        serde_path_to_error::deserialize(value).map_err(|e| Error::ScenarioField {
            file: file.to_string(),
            field: e.path().to_string(),
            message: e.into_inner().message().trim().to_string(),
        })
    }
}

/// The columns of `sweep.csv` that describe a whole run rather than its final row of `metrics.csv`:
/// (name, meaning). Every other name of [`METRICS`] is a column of the metrics table
/// ([`crate::metrics::COLUMNS`]), read from the run's final row.
pub const RUN_COLUMNS: [(&str, &str); 2] = [
    ("time_to_gap", "the first logged time t at which the gap was at most `run.gap_eps`"),
    ("wall_seconds", "seconds of the whole run, set-up and outputs included"),
];

/// The metric columns of `sweep.csv` after the axis columns and `run`, in order (then `status`): names
/// of [`RUN_COLUMNS`] or of the metrics table.
pub const METRICS: [&str; 15] = [
    "loss",
    "gap",
    "certificate",
    "excess",
    "time_to_gap",
    "train_error",
    "test_error",
    "margin",
    "wall_seconds",
    "second_moment",
    "entropy",
    "free_energy",
    "dual_free_energy",
    "gap_free_energy",
    "certificate_free_energy",
];
