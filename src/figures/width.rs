//! `width`: the margin grows with the width. Clouds of m = 2^4 .. 2^10 particles are trained with weak
//! regularisation on the same teacher problem over seeds; the final normalised margin and test error are drawn
//! against m (the paper: the max normalised margin is non-decreasing in width, and a larger margin goes with a
//! smaller test error).

use std::time::Instant;

use serde::Deserialize;
use serde_json::json;

use super::{band_series, mean_sd, over_seeds, stem, Figure, FigureOptions, FigureReport};
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::plot::{self, Mark, Panel, Scale};
use crate::config::{ModelConfig, Scenario};

/// The `width` figure.
pub struct Width;

/// `scenarios/paper/width.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The numbers of particles m compared.
    widths: Vec<usize>,
    /// Runs per width: seeds s, s + 1, ... from the scenario's seed s.
    seeds: u64,
    /// The run; its `model.m` is replaced by each of `widths`. A classification problem with test data.
    scenario: Scenario,
}

impl Figure for Width {
    fn name(&self) -> &'static str {
        "width"
    }

    fn about(&self) -> &'static str {
        "final normalised margin and test error against the number of particles m, mean and band over seeds"
    }

    fn run(&self, options: &FigureOptions) -> Result<FigureReport> {
        let started = Instant::now();
        let config: Config = super::load_config(self.name(), options)?;
        if config.widths.is_empty() {
            return Err(Error::Invalid("width: widths is empty; give at least one number of particles".into()));
        }
        let variants: Vec<Scenario> = config
            .widths
            .iter()
            .map(|&m| {
                let model = ModelConfig { m: Some(m), ..config.scenario.model.clone() };
                Scenario { model, ..config.scenario.clone() }
            })
            .collect();
        let runs = over_seeds(&variants, config.seeds, self.name(), options)?;
        // One row per seed, one value per width.
        let last = |get: fn(&Metrics) -> Option<f64>, what: &str| -> Result<Vec<Vec<f64>>> {
            (0..config.seeds as usize)
                .map(|k| runs.iter().map(|seeds| seeds[k].last().and_then(get)).collect::<Option<Vec<f64>>>())
                .collect::<Option<Vec<Vec<f64>>>>()
                .ok_or_else(|| Error::Invalid(format!("width: no {what}; use the logistic loss with test data")))
        };
        let margin = last(|r| r.margin, "margin")?;
        let test_error = last(|r| r.test_error, "test error")?;
        let train_error = last(|r| r.train_error, "training error")?;
        let widths: Vec<f64> = config.widths.iter().map(|&m| m as f64).collect();
        let mut panels = [
            Panel::new("Normalised margin at the end of training", "particles m", "min_i y_i F_i / E|theta|^2"),
            Panel::new("Test error at the end of training", "particles m", "test error"),
        ];
        for (panel, (label, values)) in panels.iter_mut().zip([("margin", &margin), ("test error", &test_error)]) {
            panel.x_scale = Scale::Log;
            let mut series = band_series(&format!("{label} (mean, band: 1 sd over seeds)"), widths.clone(), values);
            series.mark = Mark::LinePoints;
            panel.series.push(series);
        }
        let stem = stem(self.name(), options);
        plot::figure(&stem, &panels)?;
        let summary = |values: &[Vec<f64>]| {
            let (mean, sd) = mean_sd(values);
            json!({ "mean": mean, "sd": sd })
        };
        let s = &config.scenario;
        let findings = json!({
            "widths": config.widths,
            "seeds": config.seeds,
            "steps": s.run.steps,
            "n": s.data.n,
            "d": s.data.d,
            "lambda": s.lambda,
            "eta": s.dynamics.eta,
            "margin": summary(&margin),
            "test_error": summary(&test_error),
            "train_error": summary(&train_error),
        });
        Ok(FigureReport::new(self.name(), &stem, started, findings))
    }
}
