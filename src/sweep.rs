//! Parameter sweeps: many runs of one base scenario with some values varied, run in parallel,
//! resumable, splittable across a cluster, summarised in `sweep.csv` and figures.
//!
//! A [`SweepFile`] (TOML) names a base scenario and axes over scenario keys by dotted path;
//! [`Sweep::load`] checks it, resolves every run (grid product of the axes, `zip` groups paired)
//! and checks every run's scenario. [`run_sweep`] writes into one folder:
//!
//! - `sweep.toml`: the resolved sweep (axes, plots, runs with their overrides and hashes), which is
//!   all that [`collect`] needs;
//! - `runs/<hash>/`: the outputs of each run (see [`crate::runner`]), the folder named by the first
//!   12 hex digits of the FNV-1a hash of the run's resolved scenario; a run is complete when its
//!   `summary.json` exists, so an interrupted sweep resumes where it stopped and a changed
//!   scenario never reuses another's results;
//! - `sweep.csv` and the figures, rebuilt from the run folders.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::comm::Communicator;
use crate::config::{Checker, Scenario, ValidScenario};
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::output::write_atomic;
use crate::plot::{self, Heatmap, Mark, Panel, Scale, Series};
use crate::runner::{self, progress_bar, RunControl, Verbosity};

/// The metric columns of `sweep.csv` after the axis columns and `run`, in order.
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

/// A resolved axis: its key, values and scale.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Axis {
    /// The scenario key by dotted path (the `sweep.csv` column name).
    pub key: String,
    /// Scale in figures.
    pub scale: AxisScale,
    /// The values, in order.
    pub values: Vec<toml::Value>,
}

/// One resolved run of a sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// Position in the sweep's run order (0-based).
    pub index: usize,
    /// Short hash of the resolved scenario: the run's folder `runs/<hash>`.
    pub hash: String,
    /// The overrides applied to the base scenario (`set`, then one per axis).
    pub overrides: Vec<String>,
    /// The value of each axis, in axis order.
    pub values: Vec<toml::Value>,
}

/// A checked sweep: every run resolved. Saved as `sweep.toml` in the output folder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sweep {
    /// The sweep's name.
    pub name: String,
    /// The sweep file it came from.
    pub source: String,
    /// The axes, outermost first (`seed` last when `seeds` is given).
    pub axes: Vec<Axis>,
    /// The figures, with defaults filled in.
    #[serde(rename = "plot")]
    pub plots: Vec<PlotConfig>,
    /// The runs in order.
    #[serde(rename = "run")]
    pub runs: Vec<RunSpec>,
}

/// The 64-bit FNV-1a hash of `bytes` (stable across platforms and Rust versions).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The run folder name of a scenario: the first 12 hex digits of the FNV-1a hash of its resolved
/// TOML text.
pub fn scenario_hash(scenario: &ValidScenario) -> String {
    format!("{:016x}", fnv1a(scenario.to_toml().as_bytes()))[..12].to_string()
}

/// A value as written in an override and in `sweep.csv` (strings without quotes there).
fn value_text(v: &toml::Value) -> String {
    v.to_string()
}

/// A value as a `sweep.csv` cell.
fn cell(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => value_text(other),
    }
}

/// A numeric axis value as f64.
fn number(v: &toml::Value) -> Option<f64> {
    match v {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(f) => Some(*f),
        _ => None,
    }
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
    fn resolve(&self, v: &Checker, i: usize) -> Result<Axis> {
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
    fn resolve(mut self, v: &Checker, i: usize, axes: &[Axis]) -> Result<PlotConfig> {
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

/// The run order: the grid product of the axis groups (a `zip` group or an ungrouped axis each),
/// the first group outermost. Returns, per run, the value index of every axis.
fn grid(v: &Checker, configs: &[AxisConfig], axes: &[Axis]) -> Result<Vec<Vec<usize>>> {
    let mut groups: Vec<(Option<&str>, Vec<usize>)> = Vec::new();
    for (i, c) in configs.iter().enumerate() {
        match groups.iter_mut().find(|(z, _)| z.is_some() && *z == c.zip.as_deref()) {
            Some((_, members)) => members.push(i),
            None => groups.push((c.zip.as_deref(), vec![i])),
        }
    }
    for (zip, members) in &groups {
        let first = &axes[members[0]];
        if let Some(other) = members.iter().map(|j| &axes[*j]).find(|a| a.values.len() != first.values.len()) {
            let lengths: Vec<String> =
                members.iter().map(|j| format!("{} has {}", axes[*j].key, axes[*j].values.len())).collect();
            return Err(v.value(
                format!("axis[{}].zip", configs.iter().position(|c| c.key == other.key).unwrap_or_default()),
                format!("{:?}", zip.unwrap_or_default()),
                format!("zipped axes need the same number of values: {}", lengths.join(", ")),
            ));
        }
    }
    let mut runs: Vec<Vec<usize>> = vec![vec![0; configs.len()]];
    for (_, members) in &groups {
        let len = axes[members[0]].values.len();
        runs = runs
            .into_iter()
            .flat_map(|run| {
                (0..len).map(move |k| {
                    let mut run = run.clone();
                    for j in members {
                        run[*j] = k;
                    }
                    run
                })
            })
            .collect();
    }
    Ok(runs)
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

    /// Checks the sweep and resolves every run's scenario; `file` is the sweep file's path (for
    /// messages and the base scenario's relative path).
    pub fn check(self, file: &Path) -> Result<(Sweep, Vec<ValidScenario>)> {
        let source = file.display().to_string();
        let v = Checker { file: &source };
        let written = self.axes.len();
        let mut configs = self.axes;
        if let Some(seeds) = &self.seeds {
            let list: Vec<u64> = match seeds {
                Seeds::Count(k) if *k > crate::resources::MAX_SWEEP_RUNS as u64 => {
                    let allowed = format!("at most {} seeds", crate::resources::MAX_SWEEP_RUNS);
                    return Err(v.value("seeds", k, allowed));
                }
                Seeds::Count(k) => (1..=*k).collect(),
                Seeds::List(list) => list.clone(),
            };
            if list.is_empty() {
                return Err(v.value("seeds", "0 seeds", "at least one seed"));
            }
            configs.push(AxisConfig {
                key: "seed".into(),
                values: Some(list.into_iter().map(|s| toml::Value::Integer(s as i64)).collect()),
                linspace: None,
                logspace: None,
                zip: None,
                scale: None,
            });
        }
        let axes = configs.iter().enumerate().map(|(i, c)| c.resolve(&v, i)).collect::<Result<Vec<_>>>()?;
        for (i, a) in axes.iter().enumerate() {
            if axes[..i].iter().any(|b| b.key == a.key) {
                let field = if i < written { format!("axis[{i}].key") } else { "seeds".into() };
                return Err(v.value(field, format!("{:?}", a.key), "each key may be swept by one axis only"));
            }
        }
        let plots = self.plots.into_iter().enumerate().map(|(i, p)| p.resolve(&v, i, &axes)).collect::<Result<_>>()?;
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let scenario = |overrides: &[String]| -> Result<ValidScenario> {
            match &self.base {
                Base::File(path) => ValidScenario::load(&dir.join(path), overrides),
                Base::Inline(table) => {
                    let text = toml::to_string(table).map_err(|e| v.field("base", e.to_string()))?;
                    Scenario::parse(&text, &source, overrides)?.check(file)
                }
            }
        };
        let order = grid(&v, &configs, &axes)?;
        let mut runs: Vec<RunSpec> = Vec::with_capacity(order.len());
        let mut scenarios = Vec::with_capacity(order.len());
        for (index, picks) in order.into_iter().enumerate() {
            let values: Vec<toml::Value> = picks.iter().zip(&axes).map(|(k, a)| a.values[*k].clone()).collect();
            let mut overrides = self.set.clone();
            overrides.extend(axes.iter().zip(&values).map(|(a, x)| format!("{}={}", a.key, value_text(x))));
            let valid = scenario(&overrides).map_err(|e| Error::SweepRun {
                file: source.clone(),
                index,
                overrides: overrides.join(" "),
                source: Box::new(e),
            })?;
            let hash = scenario_hash(&valid);
            if let Some(same) = runs.iter().find(|r| r.hash == hash) {
                return Err(Error::SweepRun {
                    file: source.clone(),
                    index,
                    overrides: overrides.join(" "),
                    source: Box::new(Error::Invalid(format!(
                        "resolves to the same scenario as run {} ({}); an axis does not change the scenario",
                        same.index,
                        same.overrides.join(" ")
                    ))),
                });
            }
            runs.push(RunSpec { index, hash, overrides, values });
            scenarios.push(valid);
        }
        let name = match self.name {
            Some(name) if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') => {
                return Err(v.value("name", format!("{name:?}"), "a non-empty name without / or \\"));
            }
            Some(name) => name,
            None => file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "sweep".into()),
        };
        Ok((Sweep { name, source, axes, plots, runs }, scenarios))
    }
}

impl Sweep {
    /// Reads and checks a sweep file; returns the sweep and each run's checked scenario.
    pub fn load(path: &Path) -> Result<(Sweep, Vec<ValidScenario>)> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        SweepFile::parse(&text, &path.display().to_string())?.check(path)
    }

    /// Reads the resolved sweep saved as `DIR/sweep.toml` by [`run_sweep`].
    pub fn read(dir: &Path) -> Result<Sweep> {
        let path = dir.join("sweep.toml");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        toml::from_str(&text).map_err(|e| Error::ScenarioSyntax {
            file: path.display().to_string(),
            message: e.message().trim().replace('\n', "; "),
        })
    }

    /// The default output folder: `runs/sweeps/<name>`.
    pub fn default_out_dir(&self) -> PathBuf {
        Path::new("runs").join("sweeps").join(&self.name)
    }

    /// The runs of `shard` (all runs without one), in order.
    pub fn shard(&self, shard: Option<Shard>) -> impl Iterator<Item = &RunSpec> {
        self.runs.iter().filter(move |r| shard.is_none_or(|s| s.contains(r.index)))
    }

    /// A table of the runs of `shard` for `--dry-run`: index, hash, status in `out`, axis values.
    pub fn describe(&self, out: &Path, shard: Option<Shard>) -> String {
        let mut header = vec!["index".to_string(), "run".into(), "status".into()];
        header.extend(self.axes.iter().map(|a| a.key.clone()));
        let mut rows = vec![header];
        for run in self.shard(shard) {
            let done = run_dir(out, run).join("summary.json").is_file();
            let mut row =
                vec![run.index.to_string(), run.hash.clone(), if done { "complete" } else { "pending" }.into()];
            row.extend(run.values.iter().map(cell));
            rows.push(row);
        }
        let widths: Vec<usize> =
            (0..rows[0].len()).map(|j| rows.iter().map(|r| r[j].len()).max().unwrap_or_default()).collect();
        let mut text: String = rows
            .iter()
            .map(|r| {
                let cells: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
                cells.join("  ").trim_end().to_string() + "\n"
            })
            .collect();
        text += &format!("{} of {} runs; outputs in {}\n", rows.len() - 1, self.runs.len(), out.display());
        text
    }
}

/// The output folder of one run: `out/runs/<hash>`.
pub fn run_dir(out: &Path, run: &RunSpec) -> PathBuf {
    out.join("runs").join(&run.hash)
}

/// One of N disjoint parts of a sweep: run `index` belongs to shard `i` (1-based) when
/// `index % n == i - 1`, which spreads every region of the grid over the shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 1-based part number.
    pub index: usize,
    /// Number of parts.
    pub count: usize,
}

impl Shard {
    /// A shard `i` of `n`, checked (`1 <= i <= n`); `what` names its origin in errors.
    fn new(index: usize, count: usize, what: &str) -> Result<Shard> {
        if count == 0 {
            return Err(Error::Invalid(format!("{what}: the number of parts N must be at least 1")));
        }
        if index == 0 || index > count {
            return Err(Error::Invalid(format!("{what}: the part I = {index} must be between 1 and N = {count}")));
        }
        Ok(Shard { index, count })
    }

    /// The shard of process `rank` (0-based) of `size` processes: part rank + 1 of size.
    pub fn process(rank: usize, size: usize) -> Shard {
        Shard { index: rank + 1, count: size.max(1) }
    }

    /// Parses `I/N` (1-based), e.g. `2/3`.
    pub fn parse(text: &str) -> Result<Shard> {
        let what = format!("--shard {text}");
        let bad = || Error::Invalid(format!("{what}: expected I/N with 1 <= I <= N, e.g. 2/3"));
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        Shard::new(i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?, &what)
    }

    /// The shard of a Slurm array task: `SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN + 1` of
    /// `SLURM_ARRAY_TASK_COUNT` (`SLURM_ARRAY_TASK_MIN` taken as 0 when unset, i.e. the ids then
    /// count from 0). `None` when the id or count is not set.
    pub fn from_slurm(var: impl Fn(&str) -> Option<String>) -> Result<Option<Shard>> {
        let (Some(id), Some(count)) = (var("SLURM_ARRAY_TASK_ID"), var("SLURM_ARRAY_TASK_COUNT")) else {
            return Ok(None);
        };
        let min = var("SLURM_ARRAY_TASK_MIN").unwrap_or_else(|| "0".into());
        let what = format!("SLURM_ARRAY_TASK_ID={id}, SLURM_ARRAY_TASK_COUNT={count}, SLURM_ARRAY_TASK_MIN={min}");
        let int = |s: &str| {
            s.trim().parse::<usize>().map_err(|_| Error::Invalid(format!("{what}: expected non-negative integers")))
        };
        let (id, count, min) = (int(&id)?, int(&count)?, int(&min)?);
        let index =
            id.checked_sub(min).ok_or_else(|| Error::Invalid(format!("{what}: the id is below the minimum")))?;
        Shard::new(index + 1, count, &what).map(Some)
    }

    /// Whether run `index` (0-based) belongs to this shard.
    pub fn contains(&self, index: usize) -> bool {
        index % self.count == self.index - 1
    }
}

/// How [`run_sweep`] runs.
#[derive(Clone, Debug, Default)]
pub struct SweepOptions {
    /// Threads shared by the runs and their kernels (default: rayon's default).
    pub jobs: Option<usize>,
    /// Run only this part (and do not write `sweep.csv`, which [`collect`] merges).
    pub shard: Option<Shard>,
    /// Redo complete runs.
    pub force: bool,
    /// Progress bar on stderr (when it is a terminal) or nothing.
    pub verbosity: Verbosity,
    /// Once set (by a Ctrl-C handler), the running runs stop after their current step with a
    /// checkpoint and the runs not yet started are skipped.
    pub interrupt: Option<Arc<AtomicBool>>,
}

/// What [`run_sweep`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepReport {
    /// Runs of the shard (all runs without one).
    pub selected: usize,
    /// Runs skipped because they were complete.
    pub skipped: usize,
    /// Runs computed now.
    pub ran: usize,
    /// Seconds of the whole sweep.
    pub seconds: f64,
    /// Whether `sweep.csv` and the figures were written (not for one shard of several).
    pub collected: bool,
}

/// Runs the sweep's runs (of `options.shard`) into `out/runs/<hash>`, skipping complete ones
/// unless forced, in a pool of `options.jobs` threads shared with the runs' kernels; then, unless
/// sharded, writes `sweep.csv` and the figures. `scenarios` are the runs' checked scenarios from
/// [`Sweep::load`].
///
/// # Errors
/// [`Error::SweepFailed`] (after every other run has finished and the results are written) if a
/// run failed; I/O errors writing `sweep.toml` or the results.
pub fn run_sweep(
    sweep: &Sweep,
    scenarios: &[ValidScenario],
    out: &Path,
    options: &SweepOptions,
) -> Result<SweepReport> {
    let started = Instant::now();
    let description = toml::to_string(sweep).map_err(|e| Error::Invalid(format!("sweep.toml: {e}")))?;
    write_atomic(&out.join("sweep.toml"), description.as_bytes())?;
    let selected: Vec<&RunSpec> = sweep.shard(options.shard).collect();
    let mut todo = Vec::new();
    for run in &selected {
        let dir = run_dir(out, run);
        if options.force && dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        if !dir.join("summary.json").is_file() {
            todo.push((*run, &scenarios[run.index], dir));
        }
    }
    let template = "{bar:30} {pos}/{len} runs  [{elapsed_precise} < {eta_precise}]";
    let bar = progress_bar(todo.len() as u64, template, options.verbosity);
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(jobs) = options.jobs {
        builder = builder.num_threads(crate::resources::check_threads("--jobs", jobs)?);
    }
    let pool = builder.build().map_err(|e| Error::Invalid(format!("--jobs: {e}")))?;
    let failures: Vec<(usize, Error)> = pool.install(|| {
        todo.par_iter()
            .filter_map(|(run, scenario, dir)| {
                if options.interrupt.as_ref().is_some_and(|f| f.load(Ordering::SeqCst)) {
                    return None;
                }
                let control = RunControl {
                    verbosity: Verbosity::Quiet,
                    interrupt: options.interrupt.clone(),
                    ..RunControl::default()
                };
                let result = runner::run_with(scenario, dir, &control);
                bar.inc(1);
                result.err().map(|e| (run.index, e))
            })
            .collect()
    });
    bar.finish_and_clear();
    let collected = options.shard.is_none_or(|s| s.count == 1);
    if collected {
        write_results(sweep, out)?;
    }
    let failed = failures.len();
    if let Some((index, first)) = failures.into_iter().min_by_key(|(i, _)| *i) {
        return Err(Error::SweepFailed {
            failed,
            total: todo.len(),
            first: Box::new(Error::SweepRun {
                file: sweep.source.clone(),
                index,
                overrides: sweep.runs[index].overrides.join(" "),
                source: Box::new(first),
            }),
        });
    }
    Ok(SweepReport {
        selected: selected.len(),
        skipped: selected.len() - todo.len(),
        ran: todo.len(),
        seconds: started.elapsed().as_secs_f64(),
        collected,
    })
}

/// [`run_sweep`] spread over the processes of `comm` (`mpirun -n P meanfield sweep`): process r
/// runs part r + 1 of P, each with its own thread pool; once every process is done, rank 0 writes
/// `sweep.csv` and the figures.
///
/// # Errors
/// As [`run_sweep`], on the process whose runs failed; [`Error::Invalid`] if `options.shard` is
/// set while there are several processes.
pub fn run_sweep_across(
    sweep: &Sweep,
    scenarios: &[ValidScenario],
    out: &Path,
    options: &SweepOptions,
    comm: &dyn Communicator,
) -> Result<SweepReport> {
    if comm.size() == 1 {
        return run_sweep(sweep, scenarios, out, options);
    }
    if let Some(shard) = options.shard {
        return Err(Error::Invalid(format!(
            "shard {}/{} was given, but the {} MPI processes already split the sweep; use one or the other",
            shard.index,
            shard.count,
            comm.size()
        )));
    }
    let part = SweepOptions { shard: Some(Shard::process(comm.rank(), comm.size())), ..options.clone() };
    let result = run_sweep(sweep, scenarios, out, &part);
    comm.barrier();
    let report = result?;
    if comm.is_root() {
        write_results(sweep, out)?;
    }
    Ok(SweepReport { collected: comm.is_root(), ..report })
}

/// The parts of `summary.json` that `sweep.csv` reports.
#[derive(Clone, Debug, Deserialize)]
struct SummaryRow {
    #[serde(rename = "final")]
    last: Metrics,
    time_to_gap: Option<f64>,
    timings: SummaryTimings,
}

/// `timings` in `summary.json`.
#[derive(Clone, Debug, Deserialize)]
struct SummaryTimings {
    total_seconds: f64,
}

impl SummaryRow {
    fn read(path: &Path) -> Result<SummaryRow> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| Error::data(path, e.line(), e.to_string()))
    }

    /// The numeric value of a plottable metric, if any.
    fn metric(&self, name: &str) -> Option<f64> {
        let m = &self.last;
        match name {
            "loss" => Some(m.loss),
            "gap" => m.gap,
            "excess" => m.excess,
            "time_to_gap" => self.time_to_gap,
            "train_error" => m.train_error,
            "test_error" => m.test_error,
            "margin" => m.margin,
            "wall_seconds" => Some(self.timings.total_seconds),
            "second_moment" => Some(m.second_moment),
            "entropy" => m.entropy,
            "free_energy" => m.free_energy,
            "dual_free_energy" => m.dual_free_energy,
            "gap_free_energy" => m.gap_free_energy,
            _ => None,
        }
    }

    /// The `sweep.csv` cell of a metric column.
    fn cell(&self, name: &str) -> String {
        match name {
            "certificate" => self.last.certificate.clone().unwrap_or_default(),
            "certificate_free_energy" => self.last.certificate_free_energy.clone().unwrap_or_default(),
            _ => self.metric(name).map(|x| format!("{x:?}")).unwrap_or_default(),
        }
    }
}

/// What [`write_results`] found.
#[derive(Clone, Debug, PartialEq)]
pub struct Results {
    /// Runs with a `summary.json` (rows of `sweep.csv`).
    pub complete: usize,
    /// Runs of the sweep.
    pub total: usize,
    /// The first run without a `summary.json`, if any.
    pub first_missing: Option<RunSpec>,
    /// The figures written (file stems in the output folder).
    pub figures: Vec<String>,
}

/// Writes `out/sweep.csv` from the run folders (one row per complete run, in run order) and the
/// sweep's figures next to it.
pub fn write_results(sweep: &Sweep, out: &Path) -> Result<Results> {
    let mut rows: Vec<(&RunSpec, SummaryRow)> = Vec::new();
    let mut first_missing = None;
    for run in &sweep.runs {
        let path = run_dir(out, run).join("summary.json");
        if path.is_file() {
            rows.push((run, SummaryRow::read(&path)?));
        } else if first_missing.is_none() {
            first_missing = Some(run.clone());
        }
    }
    let csv_error = |e: csv::Error| Error::Invalid(format!("sweep.csv: {e}"));
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<&str> = sweep.axes.iter().map(|a| a.key.as_str()).collect();
    header.push("run");
    header.extend(METRICS);
    writer.write_record(&header).map_err(csv_error)?;
    for (run, summary) in &rows {
        let mut record: Vec<String> = run.values.iter().map(cell).collect();
        record.push(run.hash.clone());
        record.extend(METRICS.iter().map(|m| summary.cell(m)));
        writer.write_record(&record).map_err(csv_error)?;
    }
    let bytes = writer.into_inner().map_err(|e| Error::Invalid(format!("sweep.csv: {e}")))?;
    write_atomic(&out.join("sweep.csv"), &bytes)?;
    let mut figures = Vec::new();
    for config in &sweep.plots {
        let name = config.name.clone().unwrap_or_default();
        draw(sweep, config, &rows, &out.join(&name))?;
        figures.push(name);
    }
    Ok(Results { complete: rows.len(), total: sweep.runs.len(), first_missing, figures })
}

/// The distinct values of an axis, in order.
fn distinct(axis: &Axis) -> Vec<&toml::Value> {
    let mut seen: Vec<&toml::Value> = Vec::new();
    for v in &axis.values {
        if !seen.contains(&v) {
            seen.push(v);
        }
    }
    seen
}

/// Draws one figure of the sweep from the complete runs.
fn draw(sweep: &Sweep, config: &PlotConfig, rows: &[(&RunSpec, SummaryRow)], stem: &Path) -> Result<()> {
    let position = |key: &str| sweep.axes.iter().position(|a| a.key == key);
    let lookup = |key: &str| {
        position(key).ok_or_else(|| Error::Invalid(format!("{}: plot axis `{key}` is not an axis", sweep.source)))
    };
    let xi = lookup(&config.x)?;
    let x_axis = &sweep.axes[xi];
    let x_values = distinct(x_axis);
    let scale = config.scale.unwrap_or_default();
    let at = |conditions: &[(usize, &toml::Value)], metric: &str| -> Vec<f64> {
        rows.iter()
            .filter(|(run, _)| conditions.iter().all(|(i, v)| &&run.values[*i] == v))
            .filter_map(|(_, s)| s.metric(metric))
            .filter(|x| x.is_finite())
            .collect()
    };
    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
    let shown = [
        Some(config.x.as_str()),
        config.group.as_deref(),
        (config.kind == PlotKind::Heatmap).then_some(config.y.as_str()),
    ];
    let others: Vec<&str> = sweep.axes.iter().map(|a| a.key.as_str()).filter(|k| !shown.contains(&Some(*k))).collect();
    let over = if others.is_empty() { String::new() } else { format!(": mean over {}", others.join(", ")) };
    match config.kind {
        PlotKind::Line => {
            let groups: Vec<Option<(usize, &toml::Value)>> = match &config.group {
                Some(g) => {
                    let gi = lookup(g)?;
                    distinct(&sweep.axes[gi]).into_iter().map(|v| Some((gi, v))).collect()
                }
                None => vec![None],
            };
            let band = config.band.unwrap_or_default();
            let mut panel = Panel::new(
                format!(
                    "final {}{over}{}",
                    config.y,
                    match (others.is_empty(), band) {
                        (true, _) => "",
                        (false, Band::Std) => ", band +- std",
                        (false, Band::Minmax) => ", band min..max",
                    }
                ),
                &config.x,
                &config.y,
            );
            panel.x_scale = config.x_scale.unwrap_or(x_axis.scale).into();
            panel.y_scale = scale.into();
            for group in groups {
                let (mut x, mut y, mut lo, mut hi) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
                for xv in &x_values {
                    let mut conditions = vec![(xi, *xv)];
                    conditions.extend(group);
                    let values = at(&conditions, &config.y);
                    let Some(position) = number(xv) else { continue };
                    if values.is_empty() {
                        continue;
                    }
                    let m = mean(&values);
                    let (l, h) = match band {
                        Band::Minmax => {
                            values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(*v), h.max(*v)))
                        }
                        Band::Std => {
                            let sd = (values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / values.len() as f64).sqrt();
                            (m - sd, m + sd)
                        }
                    };
                    x.push(position);
                    y.push(m);
                    lo.push(l);
                    hi.push(h);
                }
                let label = group.map(|(gi, v)| format!("{} = {}", sweep.axes[gi].key, cell(v))).unwrap_or_default();
                // A log horizontal axis cannot show x <= 0 (e.g. tau = 0): such a value is drawn as a dashed baseline
                // across the curve's range, and a free-energy metric there (which needs tau > 0) as its tau = 0 limit.
                let positive: Vec<usize> = (0..x.len()).filter(|&k| x[k] > 0.0).collect();
                let baselines: Vec<Series> = if panel.x_scale == Scale::Log {
                    let (lo_x, hi_x) =
                        positive.iter().fold((f64::INFINITY, 0.0f64), |(a, b), &k| (a.min(x[k]), b.max(x[k])));
                    x_values
                        .iter()
                        .filter(|xv| number(xv).is_some_and(|p| p <= 0.0) && lo_x < hi_x)
                        .filter_map(|xv| {
                            let mut conditions = vec![(xi, *xv)];
                            conditions.extend(group);
                            let values = at(&conditions, &config.y);
                            let values =
                                if values.is_empty() { at(&conditions, zero_limit(&config.y)) } else { values };
                            (!values.is_empty()).then(|| (number(xv).unwrap_or(0.0), mean(&values)))
                        })
                        .map(|(at_x, m)| {
                            let label =
                                format!("{label}{}{} = {at_x}", if label.is_empty() { "" } else { ", " }, config.x);
                            Series { mark: Mark::Dashed, ..Series::new(label, vec![lo_x, hi_x], vec![m, m]) }
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                let keep = |v: &[f64]| {
                    if baselines.is_empty() {
                        v.to_vec()
                    } else {
                        positive.iter().map(|&k| v[k]).collect()
                    }
                };
                let mut series = Series::new(label.clone(), keep(&x), keep(&y));
                series.band = Some((keep(&lo), keep(&hi)));
                series.mark = Mark::LinePoints;
                panel.series.push(series);
                panel.series.extend(baselines);
            }
            plot::figure(stem, &[panel])
        }
        PlotKind::Heatmap => {
            let yi = lookup(&config.y)?;
            let y_axis = &sweep.axes[yi];
            let y_values = distinct(y_axis);
            let value = config.value.as_deref().unwrap_or("gap");
            let z = y_values
                .iter()
                .map(|yv| {
                    x_values
                        .iter()
                        .map(|xv| {
                            let values = at(&[(xi, xv), (yi, yv)], value);
                            if values.is_empty() {
                                f64::NAN
                            } else {
                                mean(&values)
                            }
                        })
                        .collect()
                })
                .collect();
            let numbers = |vs: &[&toml::Value]| vs.iter().map(|v| number(v).unwrap_or(f64::NAN)).collect();
            plot::heatmap(
                stem,
                &Heatmap {
                    title: format!("final {value}{over}"),
                    x_label: config.x.clone(),
                    y_label: config.y.clone(),
                    value_label: value.to_string(),
                    x: numbers(&x_values),
                    y: numbers(&y_values),
                    z,
                    x_scale: config.x_scale.unwrap_or(x_axis.scale).into(),
                    y_scale: y_axis.scale.into(),
                    z_scale: scale.into(),
                },
            )
        }
    }
}

/// The metric that a free-energy metric tends to as tau -> 0 (F_0 = L, its gap the gap G), drawn where a sweep
/// has tau = 0; other metrics are their own limit.
fn zero_limit(metric: &str) -> &str {
    match metric {
        "gap_free_energy" => "gap",
        "free_energy" => "loss",
        other => other,
    }
}

/// Merges the run folders of `dir` (from every shard) into `sweep.csv` and the figures, using the
/// resolved sweep saved in `dir/sweep.toml`.
///
/// # Errors
/// [`Error::SweepIncomplete`] (after writing the results of the complete runs) if a run has no
/// `summary.json`; I/O errors.
pub fn collect(dir: &Path) -> Result<Results> {
    let sweep = Sweep::read(dir)?;
    let results = write_results(&sweep, dir)?;
    match &results.first_missing {
        Some(run) => Err(Error::SweepIncomplete {
            dir: dir.to_path_buf(),
            missing: results.total - results.complete,
            total: results.total,
            first: format!("run {} in runs/{} ({})", run.index, run.hash, run.overrides.join(" ")),
        }),
        None => Ok(results),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[base]
lambda = 0.01
data = { kind = "teacher", d = 2, n = 10, test_n = 0 }
model = { m = 20 }
dynamics = { kind = "langevin", eta = 0.5, tau = 0.0 }
run = { steps = 5, plots = false }
"#;

    fn sweep(extra: &str) -> Result<Sweep> {
        SweepFile::parse(&format!("{extra}\n{BASE}"), "s.toml")?.check(Path::new("s.toml")).map(|(s, _)| s)
    }

    fn error(extra: &str) -> String {
        sweep(extra).expect_err("the sweep should be rejected").to_string()
    }

    #[test]
    fn fnv1a_matches_the_reference_values() {
        assert_eq!(fnv1a(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn grid_zip_spacing_and_seeds_resolve_in_order() {
        let s = sweep(
            "seeds = 2\n[[axis]]\nkey = \"dynamics.eta\"\nlinspace = { start = 0.1, stop = 0.3, num = 3 }\nzip = \"a\"\n\
             [[axis]]\nkey = \"dynamics.tau\"\nlogspace = { start = 1e-6, stop = 1e-4, num = 3 }\nzip = \"a\"",
        )
        .unwrap();
        assert_eq!(s.runs.len(), 6);
        assert_eq!(s.axes[1].scale, AxisScale::Log);
        let values: Vec<Vec<String>> = s.runs.iter().map(|r| r.values.iter().map(cell).collect()).collect();
        assert_eq!(values[0], ["0.1", "0.000001", "1"]);
        assert_eq!(values[1], ["0.1", "0.000001", "2"]);
        assert_eq!(values[2][0].parse::<f64>().unwrap(), 0.2);
        assert!((values[3][1].parse::<f64>().unwrap() - 1e-5).abs() < 1e-20);
        assert_eq!(values[5], ["0.3", "0.0001", "2"]);
        assert_eq!(s.runs[1].overrides, ["dynamics.eta=0.1", "dynamics.tau=0.000001", "seed=2"]);
        assert!(s.runs.iter().all(|r| r.hash.len() == 12));
        let round: Sweep = toml::from_str(&toml::to_string(&s).unwrap()).unwrap();
        assert_eq!(round, s);
    }

    #[test]
    fn bad_sweeps_are_rejected_with_precise_messages() {
        assert_eq!(error("colour = 1"), "s.toml: field `colour`: unknown field `colour`, expected one of `name`, `base`, `set`, `seeds`, `axis`, `plot`");
        assert_eq!(
            error("[[axis]]\nkey = \"dynamics.eta\"\nvalues = []"),
            "s.toml: field `axis[0].values` = []: an axis needs at least one value"
        );
        assert_eq!(
            error("[[axis]]\nkey = \"dynamics.eta\"\nvalues = [0.1, 0.2]\nzip = \"p\"\n[[axis]]\nkey = \"seed\"\nvalues = [1]\nzip = \"p\""),
            "s.toml: field `axis[1].zip` = \"p\": zipped axes need the same number of values: dynamics.eta has 2, seed has 1"
        );
        assert_eq!(
            error("[[axis]]\nkey = \"dynamics.eta\"\nvalues = [0.5, -1.0]"),
            "s.toml: run 1 (dynamics.eta=-1.0): s.toml: field `dynamics.eta` = -1: must be a finite number > 0"
        );
        assert_eq!(
            error("[[axis]]\nkey = \"dynamics.sgima\"\nvalues = [0.5]"),
            "s.toml: run 0 (dynamics.sgima=0.5): s.toml: field `dynamics.sgima`: unknown field `sgima`, expected one of `kind`, `eta`, `schedule`, `sigma`, `reinit_radius`, `tau`, `tau_decay`"
        );
        assert_eq!(
            error("[[axis]]\nkey = \"dynamics.eta\"\nlogspace = { start = 0.0, stop = 1.0, num = 2 }"),
            "s.toml: field `axis[0].logspace.start` = 0: must be a finite number > 0"
        );
        assert_eq!(
            error("seeds = 2\n[[plot]]\nkind = \"line\"\nx = \"seed\"\ny = \"gapp\""),
            "s.toml: field `plot[0].y` = \"gapp\": must be a metric: loss, gap, excess, time_to_gap, train_error, test_error, margin, wall_seconds, second_moment, entropy, free_energy, dual_free_energy, gap_free_energy"
        );
        assert_eq!(
            error("seeds = [1, 1]"),
            "s.toml: run 1 (seed=1): resolves to the same scenario as run 0 (seed=1); an axis does not change the scenario"
        );
    }

    #[test]
    fn shards_partition_the_runs_and_slurm_ids_are_offset_by_the_minimum() {
        let shards: Vec<Shard> = (1..=3).map(|i| Shard::parse(&format!("{i}/3")).unwrap()).collect();
        for index in 0..10 {
            assert_eq!(shards.iter().filter(|s| s.contains(index)).count(), 1);
        }
        assert!(shards[1].contains(4));
        assert!(Shard::parse("0/3").is_err() && Shard::parse("4/3").is_err() && Shard::parse("x").is_err());
        let env = |id: &'static str, min: Option<&'static str>| {
            move |k: &str| match k {
                "SLURM_ARRAY_TASK_ID" => Some(id.to_string()),
                "SLURM_ARRAY_TASK_COUNT" => Some("3".to_string()),
                "SLURM_ARRAY_TASK_MIN" => min.map(str::to_string),
                _ => None,
            }
        };
        assert_eq!(Shard::from_slurm(env("0", None)).unwrap(), Some(Shard { index: 1, count: 3 }));
        assert_eq!(Shard::from_slurm(env("3", Some("1"))).unwrap(), Some(Shard { index: 3, count: 3 }));
        assert!(Shard::from_slurm(env("4", Some("1"))).is_err());
        assert_eq!(Shard::from_slurm(|_| None).unwrap(), None);
    }
}
