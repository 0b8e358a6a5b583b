//! The paper's claims as figures: each [`Figure`] is a named experiment whose parameters live in
//! `scenarios/paper/<name>.toml` and which one command regenerates into `plots/paper/`:
//! `meanfield figure <name> [--quick]`. A `[quick]` table in the file overrides the full settings
//! for a version that runs in seconds (used by the tests).

mod converge;
pub mod dynamics;
pub mod escape;
mod insertion;
pub mod kernel_vs_net;
pub mod margin;
mod quick;
pub mod regime;
mod reuse;
pub mod sample_complexity;
pub mod temperature;
pub mod width;

use std::path::{Path, PathBuf};

use ndarray::Array2;
use rayon::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::config::{Scenario, ValidScenario};
use crate::convex::{self, Optimum, OptimumOptions};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::linalg::Real;
use crate::metrics::Metrics;
use crate::plot::Series;
use crate::runner::Verbosity;

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

impl FigureReport {
    /// The report of figure `name` drawn into `<stem>.png` and `<stem>.svg`, started at `started`.
    pub fn new(name: &str, stem: &Path, started: std::time::Instant, findings: serde_json::Value) -> Self {
        FigureReport {
            name: name.into(),
            files: vec![stem.with_extension("png"), stem.with_extension("svg")],
            seconds: started.elapsed().as_secs_f64(),
            findings,
        }
    }
}

/// One of the paper's experiments.
pub trait Figure: Sync {
    /// The name used on the command line and for files.
    fn name(&self) -> &'static str;
    /// One line on what the figure shows and what the paper claims.
    fn about(&self) -> &'static str;
    /// Runs the experiment and draws the figure.
    fn run(&self, options: &FigureOptions) -> Result<FigureReport>;
    /// The memory of its largest allocations, estimated from the parameter file before anything
    /// is allocated or written ([`crate::footprint`]); none by default.
    fn footprint(&self, _options: &FigureOptions) -> Result<crate::footprint::Footprint> {
        Ok(crate::footprint::Footprint::default())
    }
}

/// Every figure, in the README's order.
pub fn all() -> Vec<&'static dyn Figure> {
    vec![
        &sample_complexity::SampleComplexity,
        &margin::Margin,
        &width::Width,
        &regime::Regime,
        &dynamics::DynamicsFigure,
        &temperature::Temperature,
        &kernel_vs_net::KernelVsNet,
        &escape::Escape,
    ]
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

/// The parameter file of a figure: `options.config`, or `scenarios/paper/<name>.toml` (see
/// [`config_source`] for the copy built into the program).
pub fn config_path(name: &str, options: &FigureOptions) -> PathBuf {
    options.config.clone().unwrap_or_else(|| Path::new("scenarios/paper").join(format!("{name}.toml")))
}

/// The parameter files of the figures as they were when this program was built: a figure run
/// outside the repository (where `scenarios/paper/<name>.toml` does not exist) uses these.
const BUILT_IN: [(&str, &str); 8] = [
    ("dynamics", include_str!("../../scenarios/paper/dynamics.toml")),
    ("escape", include_str!("../../scenarios/paper/escape.toml")),
    ("kernel-vs-net", include_str!("../../scenarios/paper/kernel-vs-net.toml")),
    ("margin", include_str!("../../scenarios/paper/margin.toml")),
    ("regime", include_str!("../../scenarios/paper/regime.toml")),
    ("sample-complexity", include_str!("../../scenarios/paper/sample-complexity.toml")),
    ("temperature", include_str!("../../scenarios/paper/temperature.toml")),
    ("width", include_str!("../../scenarios/paper/width.toml")),
];

/// Where a figure's parameters come from: `options.config`, else `scenarios/paper/<name>.toml`
/// relative to the current folder when it exists, else the copy built into the program (named
/// `scenarios/paper/<name>.toml (built in)`).
pub fn config_source(name: &str, options: &FigureOptions) -> String {
    let path = config_path(name, options);
    if options.config.is_none() && !path.exists() && BUILT_IN.iter().any(|(n, _)| *n == name) {
        format!("{} (built in)", path.display())
    } else {
        path.display().to_string()
    }
}

/// The text of a figure's parameter file and its name for messages ([`config_source`]).
fn config_text(name: &str, options: &FigureOptions) -> Result<(String, String)> {
    let path = config_path(name, options);
    if options.config.is_none() && !path.exists() {
        if let Some((_, text)) = BUILT_IN.iter().find(|(n, _)| *n == name) {
            return Ok((text.to_string(), config_source(name, options)));
        }
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    Ok((text, path.display().to_string()))
}

/// Reads a figure's parameters: the file's top-level keys, with its `[quick]` table laid over them
/// when `options.quick` (sections merge key by key, other values and inline tables replace whole; see the `quick` module).
/// Unknown keys are errors, in the quick settings too (use `#[serde(deny_unknown_fields)]`).
pub fn load_config<T: DeserializeOwned>(name: &str, options: &FigureOptions) -> Result<T> {
    let (text, file) = config_text(name, options)?;
    quick::settings(&text, &file, options.quick)
}

/// Checks a scenario written inline in a figure's parameter file (a `[scenario]` table with the keys of
/// `scenarios/*.toml`); errors name the parameter file, and relative paths are relative to its folder.
pub fn check_scenario(scenario: Scenario, name: &str, options: &FigureOptions) -> Result<ValidScenario> {
    scenario.check(&config_path(name, options))
}

/// The training set of a checked scenario and its exact optimum L* (the convex program of [`convex::solve`],
/// seeded by the scenario's seed), with the seconds the solve took: the reference of every figure that
/// compares runs with L*.
pub fn optimum_of(base: &ValidScenario) -> Result<(Dataset, Optimum, f64)> {
    let (train, _) = crate::setup::datasets(base)?;
    let solving = std::time::Instant::now();
    let opts = OptimumOptions { seed: base.seed(), ..OptimumOptions::default() };
    let optimum = convex::solve(&train, base.scenario.loss, base.scenario.lambda, &opts)?;
    Ok((train, optimum, solving.elapsed().as_secs_f64()))
}

/// Runs a checked scenario in its precision without writing files, with the exact minimum L* declared when given
/// (so that metrics carry the excess L - L*): the logged metrics and the final cloud (columns w, u).
pub fn simulate(scenario: &ValidScenario, optimum: Option<f64>) -> Result<(Vec<Metrics>, Array2<f64>)> {
    crate::with_precision!(scenario.scenario.precision, F => simulate_in::<F>(scenario, optimum))
}

fn simulate_in<F: Real>(scenario: &ValidScenario, optimum: Option<f64>) -> Result<(Vec<Metrics>, Array2<f64>)> {
    let (mut sim, state) = crate::setup::simulation::<F>(scenario)?;
    if let Some(value) = optimum {
        sim.set_optimum(value);
    }
    let state = sim.run(state, &mut [])?;
    Ok((sim.history().to_vec(), state.cloud.to_f64()))
}

/// Runs each of `variants` (scenarios of the figure's parameter file) with `seeds` seeds: the variant's seed s,
/// then s + 1, ... (the seed fixes data, initial cloud and noise). All runs go in parallel; the logged metrics
/// of each run, grouped by variant (outer) and seed (inner).
pub fn over_seeds(
    variants: &[Scenario],
    seeds: u64,
    name: &str,
    options: &FigureOptions,
) -> Result<Vec<Vec<Vec<Metrics>>>> {
    if seeds == 0 {
        return Err(Error::Invalid(format!("{name}: seeds = 0; need at least 1")));
    }
    let jobs: Vec<(usize, u64)> = (0..variants.len()).flat_map(|v| (0..seeds).map(move |k| (v, k))).collect();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let rows = jobs
        .par_iter()
        .map(|&(v, k)| {
            let mut scenario = variants[v].clone();
            scenario.seed += k;
            let (rows, _) = simulate(&check_scenario(scenario, name, options)?, None)?;
            let count = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            say(options, format!("{name}: {count}/{} runs done", jobs.len()));
            Ok(rows)
        })
        .collect::<Result<Vec<Vec<Metrics>>>>()?;
    let mut grouped = vec![Vec::new(); variants.len()];
    for (&(v, _), r) in jobs.iter().zip(rows) {
        grouped[v].push(r);
    }
    Ok(grouped)
}

/// A progress message on stderr unless quiet.
pub fn say(options: &FigureOptions, message: impl std::fmt::Display) {
    if options.verbosity == Verbosity::Normal {
        eprintln!("{message}");
    }
}

/// Mean and sample standard deviation (0 for one value) of each column of `runs` (one row per seed, all of one
/// length).
pub fn mean_sd(runs: &[Vec<f64>]) -> (Vec<f64>, Vec<f64>) {
    let k = runs.first().map_or(0, Vec::len);
    let count = runs.len() as f64;
    (0..k)
        .map(|j| {
            let mean = runs.iter().map(|r| r[j]).sum::<f64>() / count;
            let var = runs.iter().map(|r| (r[j] - mean).powi(2)).sum::<f64>() / (count - 1.0).max(1.0);
            (mean, var.sqrt())
        })
        .unzip()
}

/// The paired difference b - a over seeds (`a[k]`, `b[k]` from seed k): its mean, sample standard deviation
/// and 95% Student-t interval mean +- t_{0.975, k-1} sd / sqrt(k) (null with one seed).
pub fn paired_difference(a: &[f64], b: &[f64]) -> serde_json::Value {
    let diffs: Vec<Vec<f64>> = a.iter().zip(b).map(|(x, y)| vec![y - x]).collect();
    let (mean, sd) = mean_sd(&diffs);
    let k = diffs.len();
    let ci95 = (k > 1).then(|| {
        let half = sample_complexity::student_t_975(k - 1) * sd[0] / (k as f64).sqrt();
        [mean[0] - half, mean[0] + half]
    });
    serde_json::json!({ "mean": mean[0], "sd": sd[0], "ci95": ci95, "seeds": k })
}

/// A curve of the mean over seeds against `x` with a band of one standard deviation either side (`runs`: one
/// row per seed, one value per x).
pub fn band_series(label: &str, x: Vec<f64>, runs: &[Vec<f64>]) -> Series {
    let (mean, sd) = mean_sd(runs);
    let lower = mean.iter().zip(&sd).map(|(m, s)| m - s).collect();
    let upper = mean.iter().zip(&sd).map(|(m, s)| m + s).collect();
    Series { band: Some((lower, upper)), ..Series::new(label, x, mean) }
}

/// Where a figure's files go: `<out>/<name>`, or `<out>/<name>-quick` for the quick version (as the json of
/// `meanfield figure`), so that a quick run never replaces the full figure.
pub fn stem(name: &str, options: &FigureOptions) -> PathBuf {
    options.out.join(if options.quick { format!("{name}-quick") } else { name.to_string() })
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
