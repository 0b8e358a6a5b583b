//! The resolved sweep: every run of the grid with its overrides and the hash of its scenario.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::file::{AxisConfig, AxisScale, Base, PlotConfig, Seeds, SweepFile};
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
