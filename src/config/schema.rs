//! The scenario file format: serde types of every table, parsing and `--set` overrides.
//!
//! A [`Scenario`] is what a file says, unchecked; [`Scenario::check`] (in `config::check`) turns it
//! into a [`super::ValidScenario`]. Nothing here builds data, clouds or simulations (see
//! [`crate::setup`]).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::data_table::DataConfig;
use super::keys::FieldKey;
use crate::certify::SphereMethod;
use crate::dynamics::{self, Params, Schedule};
use crate::engine::stop::StopRule;
use crate::error::{Error, Result};
use crate::loss::Loss;
use crate::model::StoreActivations;

/// Floating-point type of the particles. [`with_precision!`](crate::with_precision) turns it into a type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Double precision (default; what certificates are computed in).
    #[default]
    F64,
    /// Single precision particles, with f64 accumulation of predictions and reductions.
    F32,
}

/// `--dtype f32|f64` of `meanfield bench`: the serde names, listed without per-value help.
impl clap::ValueEnum for Precision {
    fn value_variants<'a>() -> &'a [Self] {
        &[Precision::F32, Precision::F64]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(match self {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        }))
    }
}

impl Precision {
    /// Bytes of one particle coordinate.
    pub fn bytes(self) -> usize {
        crate::with_precision!(self, F => std::mem::size_of::<F>())
    }
}

/// `with_precision!(precision, F => expression)`: the expression with the type `F` set to the particle type of
/// `precision` (`f64` or `f32`). The one place where a run's [`Precision`] becomes a type parameter.
#[macro_export]
macro_rules! with_precision {
    ($precision:expr, $F:ident => $body:expr) => {
        match $precision {
            $crate::config::Precision::F64 => {
                type $F = f64;
                $body
            }
            $crate::config::Precision::F32 => {
                type $F = f32;
                $body
            }
        }
    };
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
    pub units: Option<crate::initial::Units>,
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

/// The `[dynamics]` table: `kind`, `eta`, `schedule`, and the parameters of the dynamics named in
/// `kind` (each registered dynamics declares its own, see [`crate::dynamics::Kind`]).
#[derive(Clone, Debug, PartialEq)]
pub struct DynamicsConfig {
    /// `gd`, `langevin`, `perturbed`, or a combination such as `langevin+perturbed`.
    pub kind: String,
    /// Base step size eta.
    pub eta: f64,
    /// `constant` (default) or `inv_sqrt` (eta / sqrt(1 + t)).
    pub schedule: Schedule,
    /// `dynamics.KEY = value` for the parameters of the dynamics (`perturbed`: `sigma`,
    /// `reinit_radius`; `langevin`: `tau`, `tau_decay`).
    pub params: Params,
}

impl DynamicsConfig {
    /// `kind` with step size `eta`, a constant schedule and no parameters.
    pub fn new(kind: &str, eta: f64) -> Self {
        DynamicsConfig { kind: kind.to_string(), eta, schedule: Schedule::default(), params: Params::new() }
    }

    /// Sets parameter `key` if one of the dynamics named in `kind` declares it.
    pub fn set_where_used(&mut self, key: &str, value: f64) {
        let used = self
            .kind
            .split('+')
            .filter_map(|p| dynamics::kind(p.trim()))
            .any(|k| k.params.iter().any(|p| p.key == key));
        if used {
            self.params.insert(key.to_string(), value);
        }
    }
}

/// The keys of the `[dynamics]` table: its own, then every registered parameter.
fn dynamics_fields() -> &'static [&'static str] {
    static FIELDS: OnceLock<Vec<&'static str>> = OnceLock::new();
    FIELDS.get_or_init(|| ["kind", "eta", "schedule"].into_iter().chain(dynamics::param_keys()).collect())
}

impl Serialize for DynamicsConfig {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut table = serializer.serialize_struct("DynamicsConfig", 3 + self.params.len())?;
        table.serialize_field("kind", &self.kind)?;
        table.serialize_field("eta", &self.eta)?;
        table.serialize_field("schedule", &self.schedule)?;
        for key in dynamics::param_keys() {
            if let Some(value) = self.params.get(key) {
                table.serialize_field(key, value)?;
            }
        }
        table.end()
    }
}

impl<'de> Deserialize<'de> for DynamicsConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_struct("DynamicsConfig", dynamics_fields(), DynamicsVisitor)
    }
}

/// Reads a `[dynamics]` table as serde's derive with `deny_unknown_fields` would, with the keys of
/// [`dynamics_fields`].
struct DynamicsVisitor;

impl<'de> Visitor<'de> for DynamicsVisitor {
    type Value = DynamicsConfig;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("struct DynamicsConfig")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<DynamicsConfig, A::Error> {
        let (mut kind, mut eta, mut schedule, mut params) = (None, None, None, Params::new());
        while let Some(key) = map.next_key_seed(FieldKey(dynamics_fields()))? {
            match key {
                "kind" => kind = Some(map.next_value::<String>()?),
                "eta" => eta = Some(map.next_value::<f64>()?),
                "schedule" => schedule = Some(map.next_value::<Schedule>()?),
                key => {
                    params.insert(key.to_string(), map.next_value::<f64>()?);
                }
            }
        }
        let kind = kind.ok_or_else(|| de::Error::missing_field("kind"))?;
        let eta = eta.ok_or_else(|| de::Error::missing_field("eta"))?;
        Ok(DynamicsConfig { kind, eta, schedule: schedule.unwrap_or_default(), params })
    }
}

/// The `[run]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Number of steps (the cap when `stop` is set).
    #[serde(default = "default_steps")]
    pub steps: u64,
    /// Stopping rules (`rel_gap`, `rel_change`, `window`; see [`crate::engine::stop`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<StopRule>,
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
    /// Langevin runs: neighbours k of the Kozachenko-Leonenko entropy estimate behind `free_energy` (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entropy_k: Option<usize>,
    /// Keep the forward pass's pre-activations (m x n) for the next step's gradient instead of
    /// recomputing them: `auto` (default: when d > 8 and they take at most 2 GiB per process),
    /// `always` (d > 8) or `never`. The results are the same either way.
    #[serde(default, skip_serializing_if = "is_auto")]
    pub store_activations: StoreActivations,
}

fn is_auto(store: &StoreActivations) -> bool {
    *store == StoreActivations::Auto
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
            stop: None,
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
            entropy_k: None,
            store_activations: StoreActivations::Auto,
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

/// Applies one `KEY=VALUE` override (KEY a dotted path, VALUE a TOML value or a bare string) to a
/// parsed scenario table.
pub fn apply_override(table: &mut toml::Table, arg: &str) -> Result<()> {
    let bad = |message: &str| Error::Override { arg: arg.to_string(), message: message.to_string() };
    let (key, raw) = arg.split_once('=').ok_or_else(|| bad("expected KEY=VALUE, for example dynamics.eta=0.1"))?;
    let path: Vec<&str> = key.trim().split('.').collect();
    if path.iter().any(|p| p.is_empty()) {
        return Err(bad("the key must be a dotted path such as data.n"));
    }
    let value = super::edits::override_value(arg, raw.trim())?;
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
        Self::load_edited(path, &[], overrides)
    }

    /// Reads a scenario file, removes the keys `unsets` (dotted paths, `--unset`) and then applies
    /// the overrides; the result is not yet checked. A file that is not UTF-8 is an input error.
    pub fn load_edited(path: &Path, unsets: &[String], overrides: &[String]) -> Result<Scenario> {
        // A folder, pipe or device is named as such; a missing file is the reading error below.
        if let Some(problem) = crate::paths::not_a_regular_file(path).filter(|p| p.starts_with("is ")) {
            return Err(Error::data(path, "open", problem));
        }
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let file = path.display().to_string();
        let text = String::from_utf8(bytes).map_err(|e| {
            let valid = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(&e.as_bytes()[..valid]).into_owned();
            Error::ScenarioSyntax {
                file: file.clone(),
                message: format!(
                    "the file is not UTF-8 text: invalid byte at offset {valid}{}",
                    location(&text, Some(valid..valid))
                ),
            }
        })?;
        Self::parse_edited(&text, &file, unsets, overrides)
    }

    /// Parses scenario text; `file` names it in errors.
    pub fn parse(text: &str, file: &str, overrides: &[String]) -> Result<Scenario> {
        Self::parse_edited(text, file, &[], overrides)
    }

    /// Parses scenario text, removes the keys `unsets` and applies the overrides.
    pub fn parse_edited(text: &str, file: &str, unsets: &[String], overrides: &[String]) -> Result<Scenario> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| Error::ScenarioSyntax {
            file: file.to_string(),
            message: e.message().trim().replace('\n', "; ") + &location(text, e.span()),
        })?;
        for key in unsets {
            super::edits::unset(&mut table, key)?;
        }
        for arg in overrides {
            apply_override(&mut table, arg)?;
        }
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            let field = e.path().to_string();
            let message = super::edits::plain_message(e.into_inner().message().trim());
            Error::ScenarioField { file: file.to_string(), field, message }
        })
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
