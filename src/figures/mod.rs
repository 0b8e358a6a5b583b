//! The paper's claims as figures: each [`Figure`] is a named experiment whose parameters live in
//! `scenarios/paper/<name>.toml` and which one command regenerates into `plots/paper/`:
//! `meanfield figure <name> [--quick]`. A `[quick]` table in the file overrides the full settings
//! for a version that runs in seconds (used by the tests).

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::runner::Verbosity;

pub mod sample_complexity;

/// How a figure is regenerated.
#[derive(Clone, Debug)]
pub struct FigureOptions {
    /// Use the `[quick]` settings.
    pub quick: bool,
    /// Folder of the figure files (default `plots/paper`).
    pub out: PathBuf,
    /// The parameter file (default `scenarios/paper/<name>.toml`).
    pub config: Option<PathBuf>,
    /// Progress messages.
    pub verbosity: Verbosity,
}

/// What a figure produced: its files and the numbers the README quotes.
#[derive(Clone, Debug, Serialize)]
pub struct FigureReport {
    /// The figure's name.
    pub name: String,
    /// Files written.
    pub files: Vec<PathBuf>,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// The measured numbers (slopes, margins, errors...), as quoted in the README.
    pub findings: serde_json::Value,
}

/// One of the paper's experiments.
pub trait Figure: Sync {
    /// The name used on the command line and for files.
    fn name(&self) -> &'static str;
    /// One line on what the figure shows and what the paper claims.
    fn about(&self) -> &'static str;
    /// Runs the experiment and draws the figure.
    fn run(&self, options: &FigureOptions) -> Result<FigureReport>;
}

/// Every figure, in the README's order.
pub fn all() -> Vec<&'static dyn Figure> {
    vec![&sample_complexity::SampleComplexity]
}

/// The figure called `name`.
pub fn find(name: &str) -> Result<&'static dyn Figure> {
    let figures = all();
    let names: Vec<&str> = figures.iter().map(|f| f.name()).collect();
    figures
        .into_iter()
        .find(|f| f.name() == name)
        .ok_or_else(|| Error::Invalid(format!("no figure named `{name}`; the figures are: {}", names.join(", "))))
}

/// The parameter file of a figure: `options.config`, or `scenarios/paper/<name>.toml`.
pub fn config_path(name: &str, options: &FigureOptions) -> PathBuf {
    options.config.clone().unwrap_or_else(|| Path::new("scenarios/paper").join(format!("{name}.toml")))
}

/// Reads a figure's parameters: the file's top-level keys, with its `[quick]` table laid over them
/// when `options.quick`. Unknown keys are errors (use `#[serde(deny_unknown_fields)]`).
pub fn load_config<T: DeserializeOwned>(name: &str, options: &FigureOptions) -> Result<T> {
    let path = config_path(name, options);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let file = path.display().to_string();
    let mut table: toml::Table = toml::from_str(&text)
        .map_err(|e| Error::ScenarioSyntax { file: file.clone(), message: e.message().trim().replace('\n', "; ") })?;
    let quick = table.remove("quick");
    if options.quick {
        if let Some(toml::Value::Table(quick)) = quick {
            overlay(&mut table, quick);
        }
    }
    serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| Error::ScenarioField {
        file,
        field: e.path().to_string(),
        message: e.into_inner().message().trim().to_string(),
    })
}

/// Lays `top` over `base`, table by table.
fn overlay(base: &mut toml::Table, top: toml::Table) {
    for (key, value) in top {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(t)) => overlay(b, t),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Demo {
        n: Vec<usize>,
        seeds: usize,
        inner: Inner,
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        a: f64,
        b: f64,
    }

    #[test]
    fn quick_settings_overlay_the_full_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo.toml");
        std::fs::write(
            &path,
            "n = [1, 2, 3]\nseeds = 20\n[inner]\na = 1.0\nb = 2.0\n[quick]\nseeds = 2\n[quick.inner]\nb = 5.0\n",
        )
        .unwrap();
        let options = |quick| FigureOptions {
            quick,
            out: dir.path().into(),
            config: Some(path.clone()),
            verbosity: Verbosity::Quiet,
        };
        let full: Demo = load_config("demo", &options(false)).unwrap();
        assert_eq!(full, Demo { n: vec![1, 2, 3], seeds: 20, inner: Inner { a: 1.0, b: 2.0 } });
        let quick: Demo = load_config("demo", &options(true)).unwrap();
        assert_eq!(quick, Demo { n: vec![1, 2, 3], seeds: 2, inner: Inner { a: 1.0, b: 5.0 } });
    }
}
