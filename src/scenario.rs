//! Scenario files: what to simulate, in TOML.
//!
//! A [`Scenario`] is parsed with serde (unknown keys are errors), `--set KEY=VALUE` overrides are
//! applied by dotted path, and [`Scenario::check`] turns it into a [`ValidScenario`] or an error
//! that names the file, the field, the value and what is allowed. Invalid values never reach the
//! numerics. Relative paths in a scenario are relative to the scenario file's folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::certify::SphereMethod;
use crate::comm::{Communicator, Shard, Single};
use crate::data::{Dataset, Distribution, Task, XorNoise};
use crate::dynamics::{Combined, Dynamics, Gd, Langevin, Perturbed, Schedule};
use crate::error::{Error, Result};
use crate::initial::Units;
use crate::linalg::Real;
use crate::loss::Loss;
use crate::model::{Cloud, Init, Layout};
use crate::output::read_npy;
use crate::resources::{available_memory_bytes, human_bytes};
use crate::rng::Purpose;
use crate::simulation::{memory_estimate, Problem, RunOptions, Simulation, State};

/// Floating-point type of the particles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Double precision (default; what certificates are computed in).
    #[default]
    F64,
    /// Single precision particles, with f64 accumulation of predictions and reductions.
    F32,
}

/// Which data a scenario uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataKind {
    /// The paper's distribution.
    Paper,
    /// XOR of the first two coordinates.
    Xor,
    /// A random ReLU teacher.
    Teacher,
    /// A csv file `x1,...,xd,y`.
    Csv,
}

/// The `[data]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// `paper`, `xor`, `teacher` or `csv`.
    pub kind: DataKind,
    /// Training samples (synthetic data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<usize>,
    /// Input dimension before the bias (synthetic data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<usize>,
    /// Test samples (synthetic data; default 10000; 0 for none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_n: Option<usize>,
    /// Append a constant coordinate 1 to every input.
    #[serde(default)]
    pub bias: bool,
    /// `xor` only: `gaussian` (default) or `sign` padding coordinates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<XorNoise>,
    /// `teacher` only: hidden units k (default 6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden: Option<usize>,
    /// `teacher` only: `classification` (default) or `regression`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<Task>,
    /// `teacher` classification only: keep inputs with |f*(x)| >= margin (default 0.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub margin: Option<f64>,
    /// `teacher` regression only: standard deviation of the label noise (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_noise: Option<f64>,
    /// `csv` only: the training file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// `csv` only: an optional test file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_path: Option<PathBuf>,
}

/// How the initial cloud is drawn: `kind = "gaussian"` (default, `s_w`, `s_u`), `"sphere"`
/// (`radius`), or `file = "cloud.npy"` (an m x (1+d) float64 array).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitConfig {
    /// `gaussian`, `sphere` or `file` (implied by `file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<InitKind>,
    /// Standard deviation of w (gaussian; default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s_w: Option<f64>,
    /// Standard deviation of each u coordinate (gaussian; default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s_u: Option<f64>,
    /// Radius of the sphere in R^{1+d} (sphere; default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub radius: Option<f64>,
    /// A `.npy` cloud to start from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// Units of s_w, s_u (gaussian) or radius (sphere): `"mean-field"` (default) or `"paper"` (times sqrt(m)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units: Option<Units>,
}

/// Kinds of initial cloud.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InitKind {
    /// Independent Gaussians.
    Gaussian,
    /// Uniform on a sphere.
    Sphere,
    /// Read from `file`.
    File,
    /// Dead on every training input (`radius`; 0 is the zero cloud), see [`crate::initial`].
    Dead,
}

/// The `[model]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Number of particles m (may be omitted with an init file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub m: Option<usize>,
    /// The initial cloud.
    #[serde(default)]
    pub init: InitConfig,
}

/// The `[dynamics]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DynamicsConfig {
    /// `gd`, `langevin`, `perturbed`, or a combination such as `langevin+perturbed`.
    pub kind: String,
    /// Base step size eta.
    pub eta: f64,
    /// `constant` (default) or `inv_sqrt` (eta / sqrt(1 + t)).
    #[serde(default)]
    pub schedule: Schedule,
    /// `perturbed`: re-draw rate sigma.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigma: Option<f64>,
    /// `perturbed`: radius of the re-draw sphere (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reinit_radius: Option<f64>,
    /// `langevin`: temperature tau.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tau: Option<f64>,
    /// `langevin`: geometric annealing factor per step (default 1: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tau_decay: Option<f64>,
}

/// The `[run]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Number of steps.
    #[serde(default = "default_steps")]
    pub steps: u64,
    /// Metrics every this many steps (and at the first and last).
    #[serde(default = "default_log_every")]
    pub log_every: u64,
    /// Draw the plots at the end of the run.
    #[serde(default = "default_true")]
    pub plots: bool,
    /// Compute the dual bound at logged steps that are multiples of this (default: every logged
    /// step; 0: never). The last step is always certified unless 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certify_every: Option<u64>,
    /// How the sphere maximum behind the dual bound is computed: `auto` (exact when affordable),
    /// `exact` or `estimate`.
    #[serde(default)]
    pub certificate: SphereMethod,
    /// Compute the exact L* before the run (small problems) and report the excess L - L*.
    #[serde(default)]
    pub reference: bool,
    /// The gap threshold of `time_to_gap` in summary.json.
    #[serde(default = "default_gap_eps")]
    pub gap_eps: f64,
    /// Write `checkpoint.bin` every this many steps (0: only when interrupted).
    #[serde(default)]
    pub checkpoint_every: u64,
    /// Samples per step (mini-batch gradient steps); omitted for full-batch steps. Logged metrics
    /// and certificates always use every sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<usize>,
    /// Write `cloud.gif`, a movie of the particles (the cloud figure's view: |w| u for d = 2, the projection on
    /// (u1, u2) otherwise) at step 0, every `movie_every` steps and at the last step, on fixed axes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub movie: bool,
    /// Steps between movie frames (default: steps / 100 rounded up, about 100 frames); only with `movie`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub movie_every: Option<u64>,
}

fn default_steps() -> u64 {
    1000
}
fn default_log_every() -> u64 {
    10
}
fn default_true() -> bool {
    true
}
fn default_gap_eps() -> f64 {
    1e-6
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            steps: default_steps(),
            log_every: default_log_every(),
            plots: true,
            certify_every: None,
            certificate: SphereMethod::default(),
            reference: false,
            gap_eps: default_gap_eps(),
            checkpoint_every: 0,
            batch: None,
            movie: false,
            movie_every: None,
        }
    }
}

/// A scenario as written (see `scenarios/*.toml` for every field, commented).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Name of the run (default: the file name without extension); outputs go to `runs/<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Seed of every random draw (data, initial cloud, noise).
    #[serde(default)]
    pub seed: u64,
    /// `f64` (default) or `f32`.
    #[serde(default)]
    pub precision: Precision,
    /// `logistic` (default) or `squared`.
    #[serde(default)]
    pub loss: Loss,
    /// Weight decay lambda >= 0.
    pub lambda: f64,
    /// The data.
    pub data: DataConfig,
    /// The cloud.
    pub model: ModelConfig,
    /// The dynamics and step size.
    pub dynamics: DynamicsConfig,
    /// Length and logging.
    #[serde(default)]
    pub run: RunConfig,
}

/// Where the data come from, after checking.
#[derive(Clone, Debug, PartialEq)]
pub enum DataSource {
    /// Drawn from a distribution: n training and `test_n` test samples.
    Synthetic { distribution: Distribution, n: usize, test_n: usize },
    /// Read from csv files.
    Csv { path: PathBuf, test_path: Option<PathBuf> },
}

/// Where the initial cloud comes from, after checking.
#[derive(Clone, Debug, PartialEq)]
pub enum InitSource {
    /// Drawn with m particles.
    Sampled { m: usize, init: Init },
    /// Read from a `.npy` file (with the expected m, if the scenario gave one).
    File { path: PathBuf, m: Option<usize> },
    /// m particles of norm `radius`, dead on the training inputs ([`crate::initial::dead_cloud`]).
    Dead { m: usize, radius: f64 },
}

/// The dynamics, after checking.
#[derive(Clone, Debug, PartialEq)]
pub struct DynamicsSpec {
    /// Langevin noise, if any.
    pub langevin: Option<Langevin>,
    /// Perturbed re-draws, if any.
    pub perturbed: Option<Perturbed>,
    /// Base step size.
    pub eta: f64,
    /// Step-size schedule.
    pub schedule: Schedule,
}

impl DynamicsSpec {
    /// The dynamics object: `gd` alone, or the noises in the order langevin, perturbed.
    pub fn build<F: Real>(&self) -> Box<dyn Dynamics<F>> {
        let mut parts: Vec<Box<dyn Dynamics<F>>> = Vec::new();
        if let Some(l) = self.langevin {
            parts.push(Box::new(l));
        }
        if let Some(p) = self.perturbed {
            parts.push(Box::new(p));
        }
        match parts.len() {
            0 => Box::new(Gd),
            1 => parts.pop().expect("one part"),
            _ => Box::new(Combined(parts)),
        }
    }
}

/// A checked scenario: every value in range, ready to build a simulation.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidScenario {
    /// The resolved scenario (defaults filled in, paths absolute): writing it back reproduces the run.
    pub scenario: Scenario,
    /// The file it came from (for messages).
    pub source: String,
    /// The run name.
    pub name: String,
    /// The data source.
    pub data: DataSource,
    /// The initial cloud.
    pub init: InitSource,
    /// The dynamics.
    pub dynamics: DynamicsSpec,
}

/// Applies one `KEY=VALUE` override (KEY a dotted path, VALUE a TOML value or a bare string) to a
/// parsed scenario table.
pub fn apply_override(table: &mut toml::Table, arg: &str) -> Result<()> {
    let bad = |message: &str| Error::Override { arg: arg.to_string(), message: message.to_string() };
    let (key, raw) = arg.split_once('=').ok_or_else(|| bad("expected KEY=VALUE, for example dynamics.eta=0.1"))?;
    let path: Vec<&str> = key.trim().split('.').collect();
    if path.iter().any(|p| p.is_empty()) {
        return Err(bad("the key must be a dotted path such as data.n"));
    }
    let raw = raw.trim();
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let (last, parents) = path.split_last().expect("path is not empty");
    let mut node = table;
    for (depth, part) in parents.iter().enumerate() {
        let entry = node.entry(part.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        node = entry.as_table_mut().ok_or_else(|| bad(&format!("`{}` is not a table", path[..=depth].join("."))))?;
    }
    node.insert(last.to_string(), value);
    Ok(())
}

impl Scenario {
    /// Reads a scenario file and applies the overrides; the result is not yet checked.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Scenario> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text, &path.display().to_string(), overrides)
    }

    /// Parses scenario text; `file` names it in errors.
    pub fn parse(text: &str, file: &str, overrides: &[String]) -> Result<Scenario> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| Error::ScenarioSyntax {
            file: file.to_string(),
            message: e.message().trim().replace('\n', "; ") + &location(text, e.span()),
        })?;
        for arg in overrides {
            apply_override(&mut table, arg)?;
        }
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            let field = e.path().to_string();
            Error::ScenarioField { file: file.to_string(), field, message: e.into_inner().message().trim().to_string() }
        })
    }

    /// Checks every value; `file` is the scenario's path (for messages and relative paths).
    pub fn check(mut self, file: &Path) -> Result<ValidScenario> {
        let source = file.display().to_string();
        let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let v = Checker { file: &source };
        v.finite_at_least("lambda", self.lambda, 0.0)?;
        let data = check_data(&v, &mut self.data, &base, self.loss)?;
        let init = check_init(&v, &mut self.model, &base)?;
        let dynamics = check_dynamics(&v, &mut self.dynamics)?;
        v.positive_int("run.log_every", self.run.log_every)?;
        self.run.certify_every.get_or_insert(self.run.log_every);
        v.finite_positive("run.gap_eps", self.run.gap_eps)?;
        if let Some(batch) = self.run.batch {
            v.positive_int("run.batch", batch)?;
            if let DataSource::Synthetic { n, .. } = data {
                if batch > n {
                    return Err(v.value("run.batch", batch, format!("must be at most data.n = {n}")));
                }
            }
        }
        match self.run.movie_every {
            Some(every) if self.run.movie => {
                v.positive_int("run.movie_every", every)?;
            }
            _ => v.absent("run.movie_every", &self.run.movie_every, "with run.movie = true")?,
        }
        let name = match &self.name {
            Some(name) => {
                if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
                    return Err(v.value(
                        "name",
                        format!("{name:?}"),
                        "a non-empty name without / or \\ that does not start with .",
                    ));
                }
                name.clone()
            }
            None => file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "run".into()),
        };
        self.name = Some(name.clone());
        Ok(ValidScenario { scenario: self, source, name, data, init, dynamics })
    }
}

/// " at line L, column C" for a byte span of `text`.
fn location(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    span.map(|s| {
        let before = &text[..s.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        format!(" (line {line}, column {column})")
    })
    .unwrap_or_default()
}

/// Builds the errors of one input file (a scenario or a sweep), naming its fields by dotted path.
pub(crate) struct Checker<'a> {
    pub(crate) file: &'a str,
}

impl Checker<'_> {
    /// `FILE: field `FIELD` = VALUE: ALLOWED`.
    pub(crate) fn value(&self, field: impl Into<String>, value: impl ToString, allowed: impl Into<String>) -> Error {
        Error::ScenarioValue {
            file: self.file.to_string(),
            field: field.into(),
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }

    /// `FILE: field `FIELD`: MESSAGE`.
    pub(crate) fn field(&self, field: impl Into<String>, message: impl Into<String>) -> Error {
        Error::ScenarioField { file: self.file.to_string(), field: field.into(), message: message.into() }
    }

    fn finite_at_least(&self, field: &str, x: f64, min: f64) -> Result<f64> {
        if x.is_finite() && x >= min {
            Ok(x)
        } else {
            Err(self.value(field, x, format!("must be a finite number >= {min}")))
        }
    }

    fn finite_positive(&self, field: &str, x: f64) -> Result<f64> {
        if x.is_finite() && x > 0.0 {
            Ok(x)
        } else {
            Err(self.value(field, x, "must be a finite number > 0"))
        }
    }

    fn positive_int<T: PartialOrd + Default + ToString + Copy>(&self, field: &str, x: T) -> Result<T> {
        if x > T::default() {
            Ok(x)
        } else {
            Err(self.value(field, x.to_string(), "must be at least 1"))
        }
    }

    fn required<T>(&self, field: &str, x: Option<T>, context: &str) -> Result<T> {
        x.ok_or_else(|| self.field(field, format!("missing; required {context}")))
    }

    /// An error if a field that does not apply is set.
    fn absent<T: Serialize>(&self, field: &str, x: &Option<T>, context: &str) -> Result<()> {
        match x {
            None => Ok(()),
            Some(v) => Err(self.value(field, toml_text(v), format!("only applies {context}; remove it"))),
        }
    }

    /// An error if a file named by a field does not exist.
    fn existing(&self, field: &str, path: &Path) -> Result<()> {
        if path.is_file() {
            Ok(())
        } else {
            Err(self.value(field, format!("{:?}", path.display().to_string()), "no such file"))
        }
    }
}

/// A value as it would be written in TOML.
fn toml_text<T: Serialize>(v: &T) -> String {
    toml::Value::try_from(v).map(|v| v.to_string()).unwrap_or_else(|_| "(set)".into())
}

fn absolute(base: &Path, path: &Path) -> PathBuf {
    let joined = if path.is_absolute() { path.to_path_buf() } else { base.join(path) };
    std::path::absolute(&joined).unwrap_or(joined)
}

fn check_data(v: &Checker, data: &mut DataConfig, base: &Path, loss: Loss) -> Result<DataSource> {
    let kind = data.kind;
    let name = format!("{kind:?}").to_lowercase();
    let only = |what: &str| format!("to data.kind = \"{what}\"");
    if kind != DataKind::Xor {
        v.absent("data.noise", &data.noise, &only("xor"))?;
    }
    if kind != DataKind::Teacher {
        v.absent("data.hidden", &data.hidden, &only("teacher"))?;
        v.absent("data.task", &data.task, &only("teacher"))?;
        v.absent("data.margin", &data.margin, &only("teacher"))?;
        v.absent("data.label_noise", &data.label_noise, &only("teacher"))?;
    }
    if kind == DataKind::Csv {
        for (field, value) in [("data.n", data.n), ("data.d", data.d), ("data.test_n", data.test_n)] {
            v.absent(field, &value, "to synthetic data; a csv file sets its own size")?;
        }
        let path = v.required("data.path", data.path.as_ref(), "with data.kind = \"csv\"")?;
        let path = absolute(base, path);
        let test_path = data.test_path.as_ref().map(|p| absolute(base, p));
        v.existing("data.path", &path)?;
        if let Some(p) = &test_path {
            v.existing("data.test_path", p)?;
        }
        data.path = Some(path.clone());
        data.test_path = test_path.clone();
        return Ok(DataSource::Csv { path, test_path });
    }
    v.absent("data.path", &data.path, &only("csv"))?;
    v.absent("data.test_path", &data.test_path, &only("csv"))?;
    let context = format!("with data.kind = \"{name}\"");
    let n = v.positive_int("data.n", v.required("data.n", data.n, &context)?)?;
    let d = v.required("data.d", data.d, &context)?;
    let min_d = if kind == DataKind::Teacher { 1 } else { 2 };
    if d < min_d {
        return Err(v.value("data.d", d, format!("must be at least {min_d} for data.kind = \"{name}\"")));
    }
    let test_n = *data.test_n.get_or_insert(10_000);
    let distribution = match kind {
        DataKind::Paper => Distribution::Paper { d },
        DataKind::Xor => Distribution::Xor { d, noise: *data.noise.get_or_insert(XorNoise::Gaussian) },
        DataKind::Teacher => {
            let hidden = v.positive_int("data.hidden", *data.hidden.get_or_insert(6))?;
            let task = *data.task.get_or_insert(Task::Classification);
            if task == Task::Regression && loss.is_classification() {
                return Err(v.value(
                    "data.task",
                    "regression",
                    "needs loss = \"squared\"; the logistic loss needs labels in {-1, +1}",
                ));
            }
            let (margin, label_noise) = match task {
                Task::Classification => {
                    v.absent("data.label_noise", &data.label_noise, "to data.task = \"regression\"")?;
                    (v.finite_at_least("data.margin", *data.margin.get_or_insert(0.1), 0.0)?, 0.0)
                }
                Task::Regression => {
                    v.absent("data.margin", &data.margin, "to data.task = \"classification\"")?;
                    (0.0, v.finite_at_least("data.label_noise", *data.label_noise.get_or_insert(0.0), 0.0)?)
                }
            };
            Distribution::Teacher { d, hidden, task, margin, label_noise }
        }
        DataKind::Csv => unreachable!("csv returned above"),
    };
    Ok(DataSource::Synthetic { distribution, n, test_n })
}

fn check_init(v: &Checker, model: &mut ModelConfig, base: &Path) -> Result<InitSource> {
    let init = &mut model.init;
    let kind = match (init.kind, &init.file) {
        (None, Some(_)) | (Some(InitKind::File), Some(_)) => InitKind::File,
        (Some(InitKind::File), None) => {
            return Err(v.required::<()>("model.init.file", None, "with model.init.kind = \"file\"").unwrap_err())
        }
        (Some(kind), Some(_)) => {
            return Err(v.value(
                "model.init.file",
                toml_text(&init.file),
                format!("only applies to model.init.kind = \"file\", not {}", toml_text(&kind)),
            ))
        }
        (Some(kind), None) => kind,
        (None, None) => InitKind::Gaussian,
    };
    init.kind = Some(kind);
    if kind != InitKind::Gaussian {
        v.absent("model.init.s_w", &init.s_w, "to model.init.kind = \"gaussian\"")?;
        v.absent("model.init.s_u", &init.s_u, "to model.init.kind = \"gaussian\"")?;
    }
    if kind != InitKind::Sphere && kind != InitKind::Dead {
        v.absent("model.init.radius", &init.radius, "to model.init.kind = \"sphere\" or \"dead\"")?;
    }
    if kind == InitKind::Gaussian || kind == InitKind::Sphere {
        init.units.get_or_insert(Units::MeanField);
    } else {
        v.absent("model.init.units", &init.units, "to model.init.kind = \"gaussian\" or \"sphere\"")?;
    }
    if kind == InitKind::File {
        let path = absolute(base, init.file.as_ref().expect("file kind has a file"));
        v.existing("model.init.file", &path)?;
        init.file = Some(path.clone());
        let m = model.m.map(|m| v.positive_int("model.m", m)).transpose()?;
        return Ok(InitSource::File { path, m });
    }
    let m = v.positive_int("model.m", v.required("model.m", model.m, "unless model.init.file is given")?)?;
    let scale = init.units.unwrap_or_default().to_mean_field(m);
    let init = match kind {
        InitKind::Gaussian => Init::Gaussian {
            s_w: scale * v.finite_positive("model.init.s_w", *init.s_w.get_or_insert(1.0))?,
            s_u: scale * v.finite_positive("model.init.s_u", *init.s_u.get_or_insert(1.0))?,
        },
        InitKind::Sphere => {
            Init::Sphere { radius: scale * v.finite_positive("model.init.radius", *init.radius.get_or_insert(1.0))? }
        }
        InitKind::Dead => {
            let radius = v.finite_at_least("model.init.radius", *init.radius.get_or_insert(1.0), 0.0)?;
            return Ok(InitSource::Dead { m, radius });
        }
        InitKind::File => unreachable!("file returned above"),
    };
    Ok(InitSource::Sampled { m, init })
}

impl DynamicsConfig {
    /// Checks a `[dynamics]` table on its own; `source` names it in errors.
    pub fn check(&mut self, source: &str) -> Result<DynamicsSpec> {
        check_dynamics(&Checker { file: source }, self)
    }
}

fn check_dynamics(v: &Checker, dynamics: &mut DynamicsConfig) -> Result<DynamicsSpec> {
    const ALLOWED: &str = "one of \"gd\", \"langevin\", \"perturbed\", \"langevin+perturbed\"";
    let parts: Vec<&str> = dynamics.kind.split('+').map(str::trim).collect();
    if parts.iter().any(|p| !["gd", "langevin", "perturbed"].contains(p))
        || (parts.contains(&"gd") && parts.len() > 1)
        || (1..parts.len()).any(|i| parts[..i].contains(&parts[i]))
    {
        return Err(v.value("dynamics.kind", format!("{:?}", dynamics.kind), format!("must be {ALLOWED}")));
    }
    let eta = v.finite_positive("dynamics.eta", dynamics.eta)?;
    let langevin = if parts.contains(&"langevin") {
        let tau = v.finite_at_least(
            "dynamics.tau",
            v.required("dynamics.tau", dynamics.tau, "with langevin dynamics")?,
            0.0,
        )?;
        let tau_decay = *dynamics.tau_decay.get_or_insert(1.0);
        if !(tau_decay > 0.0 && tau_decay <= 1.0) {
            return Err(v.value("dynamics.tau_decay", tau_decay, "must be in (0, 1]"));
        }
        Some(Langevin { tau, tau_decay })
    } else {
        v.absent("dynamics.tau", &dynamics.tau, "to langevin dynamics")?;
        v.absent("dynamics.tau_decay", &dynamics.tau_decay, "to langevin dynamics")?;
        None
    };
    let perturbed = if parts.contains(&"perturbed") {
        let sigma = v.finite_at_least(
            "dynamics.sigma",
            v.required("dynamics.sigma", dynamics.sigma, "with perturbed dynamics")?,
            0.0,
        )?;
        let reinit_radius = v.finite_positive("dynamics.reinit_radius", *dynamics.reinit_radius.get_or_insert(1.0))?;
        Some(Perturbed { sigma, reinit_radius })
    } else {
        v.absent("dynamics.sigma", &dynamics.sigma, "to perturbed dynamics")?;
        v.absent("dynamics.reinit_radius", &dynamics.reinit_radius, "to perturbed dynamics")?;
        None
    };
    Ok(DynamicsSpec { langevin, perturbed, eta, schedule: dynamics.schedule })
}

impl ValidScenario {
    /// Reads, overrides and checks a scenario file.
    pub fn load(path: &Path, overrides: &[String]) -> Result<ValidScenario> {
        Scenario::load(path, overrides)?.check(path)
    }

    /// The resolved scenario as TOML (running it reproduces this run).
    pub fn to_toml(&self) -> String {
        toml::to_string(&self.scenario).expect("a scenario always serialises")
    }

    /// The scenario seed.
    pub fn seed(&self) -> u64 {
        self.scenario.seed
    }

    /// Training and test data (bias appended if asked).
    pub fn datasets(&self) -> Result<(Dataset, Option<Dataset>)> {
        let (train, test) = match &self.data {
            DataSource::Synthetic { distribution, n, test_n } => {
                let seed = self.seed();
                let train = distribution.sample(*n, seed, Purpose::TrainData)?;
                let test = (*test_n > 0).then(|| distribution.sample(*test_n, seed, Purpose::TestData)).transpose()?;
                (train, test)
            }
            DataSource::Csv { path, test_path } => {
                let train = Dataset::from_csv(path)?;
                let test = test_path.as_ref().map(|p| Dataset::from_csv(p)).transpose()?;
                if let Some(t) = &test {
                    if t.d() != train.d() {
                        return Err(Error::data(
                            test_path.as_ref().expect("test data come from a file"),
                            "1",
                            format!("{} input columns, but the training file has {}", t.d(), train.d()),
                        ));
                    }
                }
                (train, test)
            }
        };
        let loss = self.scenario.loss;
        let name =
            |p: &Option<PathBuf>, fallback: &str| p.as_ref().map_or(fallback.to_string(), |p| p.display().to_string());
        let (train_name, test_name) = match &self.data {
            DataSource::Csv { path, test_path } => (path.display().to_string(), name(test_path, "test data")),
            DataSource::Synthetic { .. } => ("training data".to_string(), "test data".to_string()),
        };
        train.check_labels(loss, &train_name)?;
        if let Some(t) = &test {
            t.check_labels(loss, &test_name)?;
        }
        if self.scenario.data.bias {
            Ok((train.with_bias(), test.map(|t| t.with_bias())))
        } else {
            Ok((train, test))
        }
    }

    /// The initial cloud for the training set `train` (with its bias coordinate, if any).
    pub fn initial_cloud<F: Real>(&self, train: &Dataset) -> Result<Cloud<F>> {
        self.initial_shard(train, &Single).map(|(cloud, _)| cloud)
    }

    /// This process's shard of [`ValidScenario::initial_cloud`] shared by the processes of `comm`.
    fn initial_shard<F: Real>(&self, train: &Dataset, comm: &dyn Communicator) -> Result<(Cloud<F>, Shard)> {
        let d = train.d();
        let shard_of = |m: usize| {
            Shard::of(m, Layout::group_size(m), comm.rank(), comm.size())
                .map_err(|e| Error::Invalid(format!("{}: {e}", self.source)))
        };
        match &self.init {
            InitSource::Sampled { m, init } => {
                let shard = shard_of(*m)?;
                Ok((Cloud::sample_shard(shard, d, init, self.seed()), shard))
            }
            InitSource::Dead { m, radius } => {
                let shard = shard_of(*m)?;
                let cloud = crate::initial::dead_cloud(shard, train.x.view(), *radius, self.seed())
                    .map_err(|e| Checker { file: &self.source }.value("model.init.kind", "\"dead\"", e))?;
                Ok((cloud, shard))
            }
            InitSource::File { path, m } => {
                let theta = read_npy(path)?;
                if theta.ncols() != d + 1 {
                    return Err(Error::data(
                        path,
                        "shape",
                        format!("{} columns, but the data need 1 + d = {}", theta.ncols(), d + 1),
                    ));
                }
                if let Some(m) = m {
                    if theta.nrows() != *m {
                        return Err(Error::data(
                            path,
                            "shape",
                            format!("{} particles, but model.m = {m}", theta.nrows()),
                        ));
                    }
                }
                let shard = shard_of(theta.nrows())?;
                let rows = theta.slice(ndarray::s![shard.rows(), ..]).mapv(F::of);
                Ok((Cloud::new(rows).map_err(|e| Error::data(path, "values", e.to_string()))?, shard))
            }
        }
    }

    /// The number of particles: model.m, or the rows of the init file (from its size).
    fn particles(&self, d: usize) -> Result<usize> {
        match &self.init {
            InitSource::Sampled { m, .. } | InitSource::Dead { m, .. } | InitSource::File { m: Some(m), .. } => Ok(*m),
            InitSource::File { path, m: None } => {
                let bytes = std::fs::metadata(path).map_err(|e| Error::io(path, e))?.len() as usize;
                Ok(bytes / (8 * (d + 1)))
            }
        }
    }

    /// The bytes a run of this scenario allocates (estimate), for data of n training and
    /// `n_test` test samples in dimension d.
    pub fn memory_estimate(&self, n: usize, n_test: usize, d: usize) -> Result<usize> {
        self.memory_per_process(n, n_test, d, 1)
    }

    /// [`ValidScenario::memory_estimate`] of one of `processes` processes sharing the cloud.
    pub fn memory_per_process(&self, n: usize, n_test: usize, d: usize, processes: usize) -> Result<usize> {
        let m = self.particles(d)?.div_ceil(processes.max(1));
        let batch = self.scenario.run.batch;
        Ok(match self.scenario.precision {
            Precision::F64 => memory_estimate::<f64>(m, n, n_test, d, batch),
            Precision::F32 => memory_estimate::<f32>(m, n, n_test, d, batch),
        })
    }

    /// The simulation and its initial state. Refuses, before allocating the cloud, a scenario that
    /// needs more memory than the machine has available.
    pub fn simulation<F: Real>(&self) -> Result<(Simulation<F>, State<F>)> {
        self.simulation_on(Arc::new(Single))
    }

    /// The simulation of this process's shard of the cloud shared by the processes of `comm`
    /// (every process generates the same data from the seed, or reads the same files), and its
    /// initial state.
    pub fn simulation_on<F: Real>(&self, comm: Arc<dyn Communicator>) -> Result<(Simulation<F>, State<F>)> {
        let (train, test) = self.datasets()?;
        let n_test = test.as_ref().map_or(0, Dataset::n);
        let needed = self.memory_per_process(train.n(), n_test, train.d(), comm.size())?;
        if let Some(available) = available_memory_bytes() {
            if needed as u64 > available {
                return Err(Error::Invalid(format!(
                    "{}: the run needs about {} (m = {}, n = {}, test_n = {n_test}, d = {}) but only {} are available; \
                     reduce model.m, data.n or data.test_n, or use precision = \"f32\"",
                    self.source,
                    human_bytes(needed as u64),
                    self.particles(train.d())?,
                    train.n(),
                    train.d(),
                    human_bytes(available)
                )));
            }
        }
        let (cloud, shard) = self.initial_shard::<F>(&train, comm.as_ref())?;
        let problem = Problem::new(train, test, self.scenario.loss, self.scenario.lambda)?;
        let run = &self.scenario.run;
        let options = RunOptions {
            eta: self.dynamics.eta,
            schedule: self.dynamics.schedule,
            steps: run.steps,
            log_every: run.log_every,
            seed: self.seed(),
            certify_every: run.certify_every.unwrap_or(run.log_every),
            certificate: run.certificate,
            batch: run.batch,
        };
        Simulation::sharded(problem, self.dynamics.build(), options, cloud, shard, comm)
    }
}
