//! Checking a scenario: every rule in one place, each error naming the file, the field, the value
//! and what is allowed. The result, a [`ValidScenario`], holds only values in range.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::schema::{DynamicsConfig, InitKind, ModelConfig, Scenario};
use crate::data::Distribution;
use crate::dynamics::{kind, DynamicsSpec, Kind, Params, KINDS};
use crate::error::{Error, Result};
use crate::model::{Init, StoreActivations, DIRECT_MAX_D};

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

impl Scenario {
    /// Checks every value; `file` is the scenario's path (for messages and relative paths).
    pub fn check(mut self, file: &Path) -> Result<ValidScenario> {
        let source = file.display().to_string();
        let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let v = Checker { file: &source };
        v.finite_at_least("lambda", self.lambda, 0.0)?;
        let data = crate::data::check(&v, &mut self.data, &crate::data::Context { base: &base, loss: self.loss })?;
        let init = check_init(&v, &mut self.model, &base)?;
        let dynamics = check_dynamics(&v, &mut self.dynamics)?;
        v.positive_int("run.log_every", self.run.log_every)?;
        let certify_every = *self.run.certify_every.get_or_insert(self.run.log_every);
        if let Some(stop) = &self.run.stop {
            stop.check(&v, "run.stop", certify_every)?;
        }
        v.finite_positive("run.gap_eps", self.run.gap_eps)?;
        if let Some(batch) = self.run.batch {
            v.positive_int("run.batch", batch)?;
            if let DataSource::Synthetic { n, .. } = data {
                if batch > n {
                    return Err(v.value("run.batch", batch, format!("must be at most data.n = {n}")));
                }
            }
        }
        if let Some(k) = self.run.entropy_k {
            v.positive_int("run.entropy_k", k)?;
        }
        if let (StoreActivations::Always, DataSource::Synthetic { distribution, .. }) =
            (self.run.store_activations, &data)
        {
            let d = distribution.d() + usize::from(self.data.bias);
            if d <= DIRECT_MAX_D {
                return Err(v.value(
                    "run.store_activations",
                    "\"always\"",
                    format!(
                        "needs an input dimension d > {DIRECT_MAX_D} (here d = {d}, bias included): below it the \
                         kernels compute the pre-activations in registers and keep none; use \"auto\" or \"never\""
                    ),
                ));
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
                if name.is_empty()
                    || name.contains(['/', '\\'])
                    || name.starts_with('.')
                    || name.contains(char::is_control)
                {
                    return Err(v.value(
                        "name",
                        format!("{name:?}"),
                        "a non-empty name without / or \\ or control characters (newline, tab, NUL, ESC...) that does \
                         not start with .",
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

    pub(crate) fn finite_at_least(&self, field: &str, x: f64, min: f64) -> Result<f64> {
        if x.is_finite() && x >= min {
            Ok(x)
        } else {
            Err(self.value(field, crate::error::short(x), format!("must be a finite number >= {min}")))
        }
    }

    pub(crate) fn finite_positive(&self, field: &str, x: f64) -> Result<f64> {
        if x.is_finite() && x > 0.0 {
            Ok(x)
        } else {
            Err(self.value(field, crate::error::short(x), "must be a finite number > 0"))
        }
    }

    pub(crate) fn positive_int<T: PartialOrd + Default + ToString + Copy>(&self, field: &str, x: T) -> Result<T> {
        if x > T::default() {
            Ok(x)
        } else {
            Err(self.value(field, x.to_string(), "must be at least 1"))
        }
    }

    pub(crate) fn required<T>(&self, field: &str, x: Option<T>, context: &str) -> Result<T> {
        x.ok_or_else(|| self.field(field, format!("missing; required {context}")))
    }

    /// An error if a field that does not apply is set.
    pub(crate) fn absent<T: Serialize>(&self, field: &str, x: &Option<T>, context: &str) -> Result<()> {
        match x {
            None => Ok(()),
            Some(v) => Err(self.value(field, toml_text(v), format!("only applies {context}; remove it"))),
        }
    }

    /// An error if a file named by a field does not exist or is not a regular file (a folder, a
    /// named pipe, a device).
    pub(crate) fn existing(&self, field: &str, path: &Path) -> Result<()> {
        match crate::paths::not_a_regular_file(path) {
            None => Ok(()),
            Some(problem) => Err(self.value(field, format!("{:?}", path.display().to_string()), problem)),
        }
    }
}

/// A value as it would be written in TOML.
fn toml_text<T: Serialize>(v: &T) -> String {
    toml::Value::try_from(v).map(|v| v.to_string()).unwrap_or_else(|_| "(set)".into())
}

/// `path` relative to `base` (the scenario's folder) made absolute.
pub(crate) fn absolute(base: &Path, path: &Path) -> PathBuf {
    let joined = if path.is_absolute() { path.to_path_buf() } else { base.join(path) };
    std::path::absolute(&joined).unwrap_or(joined)
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
        init.units.get_or_insert(crate::initial::Units::MeanField);
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
    let combinable: Vec<&str> = KINDS.iter().filter(|k| !k.alone).map(|k| k.name).collect();
    let mut allowed: Vec<String> = KINDS.iter().map(|k| format!("{:?}", k.name)).collect();
    if combinable.len() > 1 {
        allowed.push(format!("{:?}", combinable.join("+")));
    }
    let parts: Vec<&str> = dynamics.kind.split('+').map(str::trim).collect();
    let known: Option<Vec<&Kind>> = parts.iter().map(|p| kind(p)).collect();
    let valid = known.is_some_and(|kinds| {
        !(kinds.iter().any(|k| k.alone) && kinds.len() > 1) && (1..parts.len()).all(|i| !parts[..i].contains(&parts[i]))
    });
    if !valid {
        let allowed = format!("one of {}", allowed.join(", "));
        return Err(v.value("dynamics.kind", format!("{:?}", dynamics.kind), format!("must be {allowed}")));
    }
    let eta = v.finite_positive("dynamics.eta", dynamics.eta)?;
    let mut checked = Vec::new();
    for kind in KINDS.iter().copied() {
        let context = format!("{} dynamics", kind.name);
        if parts.contains(&kind.name) {
            let mut params = Params::new();
            for p in kind.params {
                let given = dynamics.params.get(p.key).copied().or(p.default);
                let value = v.required(&format!("dynamics.{}", p.key), given, &format!("with {context}"))?;
                dynamics.params.insert(p.key.to_string(), value);
                params.insert(p.key.to_string(), value);
            }
            let part = (kind.check)(v, &params)?;
            checked.push((kind.name, params, part));
        } else {
            for p in kind.params {
                v.absent(&format!("dynamics.{}", p.key), &dynamics.params.get(p.key), &format!("to {context}"))?;
            }
        }
    }
    Ok(DynamicsSpec::new(eta, dynamics.schedule, checked))
}

impl ValidScenario {
    /// Reads, overrides and checks a scenario file.
    pub fn load(path: &Path, overrides: &[String]) -> Result<ValidScenario> {
        Scenario::load(path, overrides)?.check(path)
    }

    /// As [`ValidScenario::load`] from the command line: `unsets` (`--unset KEY`) are removed
    /// first, then the overrides (`--set KEY=VALUE`) applied, and an error in a field an override
    /// set names that override ([`super::blame_override`]).
    pub fn load_cli(path: &Path, unsets: &[String], overrides: &[String]) -> Result<ValidScenario> {
        Scenario::load_edited(path, unsets, overrides)
            .and_then(|s| s.check(path))
            .map_err(|e| super::blame_override(e, overrides))
    }

    /// The resolved scenario as TOML (running it reproduces this run).
    pub fn to_toml(&self) -> String {
        shorten_long_floats(&toml::to_string(&self.scenario).expect("a scenario always serialises"))
    }

    /// The scenario seed.
    pub fn seed(&self) -> u64 {
        self.scenario.seed
    }
}

/// TOML's serializer writes a float in positional notation (in a run's scenario.toml, `validate`'s
/// output and a sweep's sweep.toml), so `lambda = 1e308` comes out with 309
/// digits and `1e-300` with 300 zeros. Numbers longer than 24 characters outside strings are rewritten in
/// Rust's shortest exponent form (`1e308`, valid TOML and the same f64); the text is kept as it was unless
/// both parse to the same TOML value.
pub(crate) fn shorten_long_floats(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices().peekable();
    let mut quote: Option<char> = None;
    while let Some((i, c)) = chars.next() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == '\\' && q == '"' {
                    if let Some((_, escaped)) = chars.next() {
                        out.push(escaped);
                    }
                } else if c == q {
                    quote = None;
                }
            }
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '-' || c.is_ascii_digit() => {
                let mut end = i + c.len_utf8();
                while let Some(&(j, d)) = chars.peek() {
                    if d.is_ascii_digit() || d == '.' || d == '-' || d == '+' || d == 'e' || d == 'E' {
                        end = j + d.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                let number = &text[i..end];
                match number.parse::<f64>() {
                    Ok(x) if number.len() > 24 && number.contains('.') && x.is_finite() => {
                        out.push_str(&format!("{x:e}"))
                    }
                    _ => out.push_str(number),
                }
            }
            None => out.push(c),
        }
    }
    let parsed = |t: &str| t.parse::<toml::Table>().ok();
    match parsed(&out) {
        Some(table) if Some(&table) == parsed(text).as_ref() => out,
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::shorten_long_floats;

    #[test]
    fn long_floats_are_written_in_exponent_form_and_nothing_else_changes() {
        let text = "lambda = 1000000000000000000000000000000.0\ntiny = 0.0000000000000000000000000015\n\
                    eta = 0.00000001\nsteps = 1000000000000000000\npath = \"a/1000000000000000000000000.5\"\n\
                    list = [-2000000000000000000000000000.0, 0.5]\n";
        assert_eq!(
            shorten_long_floats(text),
            "lambda = 1e30\ntiny = 1.5e-27\neta = 0.00000001\nsteps = 1000000000000000000\n\
             path = \"a/1000000000000000000000000.5\"\nlist = [-2e27, 0.5]\n"
        );
        let huge = toml::to_string(&toml::toml! { lambda = 1e308 }).unwrap();
        assert_eq!(huge.len(), "lambda = ".len() + 309 + 3);
        assert_eq!(shorten_long_floats(&huge), "lambda = 1e308\n");
    }
}
