//! The resolved sweep: the check of each table of the sweep file, every run of the grid with its overrides
//! and the hash of its scenario.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::file::{AxisConfig, AxisScale, Band, Base, PlotConfig, PlotKind, Seeds, Spacing, SweepFile, METRICS};
use super::shard::SweepShard;
use crate::config::{Checker, Scenario, ValidScenario};
use crate::error::{Error, Result};

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
pub(super) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The run folder name of a scenario: the first 12 hex digits of the FNV-1a hash of its resolved
/// TOML text.
pub fn scenario_hash(scenario: &ValidScenario) -> String {
    format!("{:016x}", fnv1a(scenario.to_toml().as_bytes()))[..12].to_string()
}

/// A value as written in an override and in `sweep.csv` (strings without quotes there).
pub(super) fn value_text(v: &toml::Value) -> String {
    v.to_string()
}

/// A value as a `sweep.csv` cell.
pub(super) fn cell(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => value_text(other),
    }
}

/// A numeric axis value as f64.
pub(super) fn number(v: &toml::Value) -> Option<f64> {
    match v {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(f) => Some(*f),
        _ => None,
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

/// The metric of a `sweep.csv` row that figures can show: a numeric column of [`METRICS`] (all but
/// the labels `certificate` and `certificate_free_energy`).
fn plottable(name: &str) -> bool {
    METRICS.contains(&name) && crate::metrics::column(name).is_none_or(|c| c.is_numeric())
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
        Sweep::load_with(path, &[])
    }

    /// [`Sweep::load`] with `KEY=VALUE` overrides of the base scenario (`sweep --set`), applied after the
    /// file's `set` and before the axis values.
    pub fn load_with(path: &Path, set: &[String]) -> Result<(Sweep, Vec<ValidScenario>)> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut file = SweepFile::parse(&text, &path.display().to_string())?;
        file.set.extend_from_slice(set);
        file.check(path)
    }

    /// Reads the resolved sweep saved as `DIR/sweep.toml` by [`run_sweep`](super::run_sweep).
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
    pub fn shard(&self, shard: Option<SweepShard>) -> impl Iterator<Item = &RunSpec> {
        self.runs.iter().filter(move |r| shard.is_none_or(|s| s.contains(r.index)))
    }

    /// A table of the runs of `shard` for `--dry-run`: index, hash, status in `out`, axis values.
    pub fn describe(&self, out: &Path, shard: Option<SweepShard>) -> String {
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
