//! The sweep file as written (TOML) and the check of each of its tables.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

use super::plan::{number, Axis};
use super::results::METRICS;
use crate::config::Checker;
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
    fn values(&self, log: bool) -> Vec<toml::Value> {
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

impl AxisConfig {
    /// The axis's values and scale, or an error naming `axis[i]`.
    pub(super) fn resolve(&self, v: &Checker, i: usize) -> Result<Axis> {
        let field = |name: &str| format!("axis[{i}].{name}");
        let given = [self.values.is_some(), self.linspace.is_some(), self.logspace.is_some()];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(v.field(
                format!("axis[{i}]"),
                format!("axis `{}` needs exactly one of `values`, `linspace`, `logspace`", self.key),
            ));
        }
        let spaced = |name: &str, s: &Spacing, log: bool| -> Result<Vec<toml::Value>> {
            if s.num == 0 || s.num > crate::resources::MAX_SWEEP_RUNS {
                let allowed = format!("must be between 1 and {}", crate::resources::MAX_SWEEP_RUNS);
                return Err(v.value(field(&format!("{name}.num")), s.num, allowed));
            }
            for (part, x) in [("start", s.start), ("stop", s.stop)] {
                if !x.is_finite() || (log && x <= 0.0) {
                    let allowed = if log { "must be a finite number > 0" } else { "must be a finite number" };
                    return Err(v.value(field(&format!("{name}.{part}")), x, allowed));
                }
            }
            Ok(s.values(log))
        };
        let values = match (&self.values, &self.linspace, &self.logspace) {
            (Some(values), _, _) => values.clone(),
            (_, Some(s), _) => spaced("linspace", s, false)?,
            (_, _, Some(s)) => spaced("logspace", s, true)?,
            _ => unreachable!("exactly one is given"),
        };
        if values.is_empty() {
            return Err(v.value(field("values"), "[]", "an axis needs at least one value"));
        }
        let default_scale = if self.logspace.is_some() { AxisScale::Log } else { AxisScale::Linear };
        Ok(Axis { key: self.key.clone(), scale: self.scale.unwrap_or(default_scale), values })
    }
}

/// The metric of a `sweep.csv` row that figures can show (every column of [`METRICS`] but
/// `certificate`).
fn plottable(name: &str) -> bool {
    METRICS.contains(&name) && !name.starts_with("certificate")
}

impl PlotConfig {
    /// Checks the figure against the axes and fills in the defaults.
    pub(super) fn resolve(mut self, v: &Checker, i: usize, axes: &[Axis]) -> Result<PlotConfig> {
        let field = |name: &str| format!("plot[{i}].{name}");
        let keys: Vec<&str> = axes.iter().map(|a| a.key.as_str()).collect();
        let metrics = METRICS.iter().filter(|m| plottable(m)).copied().collect::<Vec<_>>().join(", ");
        let axis = |name: &str, key: &str, numeric: bool| -> Result<()> {
            let Some(a) = axes.iter().find(|a| a.key == key) else {
                return Err(v.value(field(name), format!("{key:?}"), format!("must be an axis: {}", keys.join(", "))));
            };
            if numeric && a.values.iter().any(|x| number(x).is_none()) {
                return Err(v.value(field(name), format!("{key:?}"), "must be an axis with numeric values"));
            }
            Ok(())
        };
        let metric = |name: &str, m: &str| -> Result<()> {
            if plottable(m) {
                Ok(())
            } else {
                Err(v.value(field(name), format!("{m:?}"), format!("must be a metric: {metrics}")))
            }
        };
        let only = |name: &str, set: bool, kind: &str| -> Result<()> {
            if set {
                Err(v.field(field(name), format!("only applies to kind = \"{kind}\"; remove it")))
            } else {
                Ok(())
            }
        };
        axis("x", &self.x, true)?;
        let stem = |s: String| s.replace('.', "_");
        match self.kind {
            PlotKind::Line => {
                only("value", self.value.is_some(), "heatmap")?;
                metric("y", &self.y)?;
                if let Some(g) = &self.group {
                    axis("group", g, false)?;
                    if *g == self.x {
                        return Err(v.value(field("group"), format!("{g:?}"), "must differ from x"));
                    }
                }
                self.band.get_or_insert(Band::Minmax);
                let by = self.group.as_ref().map(|g| format!("-by-{g}")).unwrap_or_default();
                self.name.get_or_insert_with(|| stem(format!("{}-vs-{}{by}", self.y, self.x)));
            }
            PlotKind::Heatmap => {
                only("group", self.group.is_some(), "line")?;
                only("band", self.band.is_some(), "line")?;
                axis("y", &self.y, true)?;
                if self.y == self.x {
                    return Err(v.value(field("y"), format!("{:?}", self.y), "must differ from x"));
                }
                let value = self.value.as_deref().ok_or_else(|| v.field(field("value"), "missing: the metric"))?;
                metric("value", value)?;
                self.name.get_or_insert_with(|| stem(format!("{value}-over-{}-{}", self.x, self.y)));
            }
        }
        self.scale.get_or_insert(AxisScale::Linear);
        let name = self.name.as_deref().unwrap_or_default();
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(v.value(field("name"), format!("{name:?}"), "a non-empty name without / or \\"));
        }
        Ok(self)
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
