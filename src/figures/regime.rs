//! `regime`: regularisation takes the network out of the kernel regime. From the same N(0, 1) initialisation
//! and data, runs without weight decay and with a small one are compared over seeds: test error, normalised
//! margin and the fraction of activation patterns changed since initialisation (`pattern_change`; a network
//! in the kernel regime keeps its patterns) against the step.

use std::time::Instant;

use serde::Deserialize;
use serde_json::json;

use super::{band_series, mean_sd, over_seeds, stem, Figure, FigureOptions, FigureReport};
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::plot::{self, Panel};
use crate::config::Scenario;

/// The `regime` figure.
pub struct Regime;

/// `scenarios/paper/regime.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The weight decays compared (each >= 0).
    lambdas: Vec<f64>,
    /// Runs per lambda: seeds s, s + 1, ... from the scenario's seed s.
    seeds: u64,
    /// The run; its `lambda` is replaced by each of `lambdas`. A classification problem with test data.
    scenario: Scenario,
}

/// The logged quantities of the figure, one row per seed, one value per logged step.
struct Curves {
    test_error: Vec<Vec<f64>>,
    margin: Vec<Vec<f64>>,
    pattern_change: Vec<Vec<f64>>,
}

impl Curves {
    fn of(runs: &[Vec<Metrics>]) -> Result<Curves> {
        let column = |get: fn(&Metrics) -> Option<f64>, what: &str| {
            runs.iter()
                .map(|rows| rows.iter().map(get).collect::<Option<Vec<f64>>>())
                .collect::<Option<Vec<Vec<f64>>>>()
                .ok_or_else(|| Error::Invalid(format!("regime: no {what}; use the logistic loss with test data")))
        };
        Ok(Curves {
            test_error: column(|r| r.test_error, "test error")?,
            margin: column(|r| r.margin, "margin")?,
            pattern_change: column(|r| Some(r.pattern_change), "pattern change")?,
        })
    }
}

impl Figure for Regime {
    fn name(&self) -> &'static str {
        "regime"
    }

    fn about(&self) -> &'static str {
        "lambda = 0 against a small lambda from N(0, 1): test error, margin and activation-pattern change over time"
    }

    fn run(&self, options: &FigureOptions) -> Result<FigureReport> {
        let started = Instant::now();
        let config: Config = super::load_config(self.name(), options)?;
        let variants: Vec<Scenario> =
            config.lambdas.iter().map(|&lambda| Scenario { lambda, ..config.scenario.clone() }).collect();
        let runs = over_seeds(&variants, config.seeds, self.name(), options)?;
        let steps: Vec<f64> = runs
            .first()
            .and_then(|r| r.first())
            .map(|rows| rows.iter().map(|r| r.step as f64).collect())
            .ok_or_else(|| Error::Invalid("regime: lambdas is empty".into()))?;
        let mut panels = [
            Panel::new("Test error", "step", "test error"),
            Panel::new("Normalised margin", "step", "min_i y_i F_i / E|theta|^2"),
            Panel::new("Activation patterns", "step", "fraction changed since initialisation"),
        ];
        let mut finals = Vec::new();
        for (lambda, seeds) in config.lambdas.iter().zip(&runs) {
            let curves = Curves::of(seeds)?;
            let label = format!("lambda = {lambda}");
            let all = [&curves.test_error, &curves.margin, &curves.pattern_change];
            for (panel, values) in panels.iter_mut().zip(all) {
                panel.series.push(band_series(&label, steps.clone(), values));
            }
            let last = |values: &Vec<Vec<f64>>| {
                let (mean, sd) = mean_sd(&values.iter().map(|v| vec![v[v.len() - 1]]).collect::<Vec<_>>());
                json!({ "mean": mean[0], "sd": sd[0] })
            };
            finals.push(json!({
                "lambda": lambda,
                "test_error": last(&curves.test_error),
                "margin": last(&curves.margin),
                "pattern_change": last(&curves.pattern_change),
            }));
        }
        let stem = stem(self.name(), options);
        plot::figure(&stem, &panels)?;
        let s = &config.scenario;
        let findings = json!({
            "seeds": config.seeds,
            "steps": s.run.steps,
            "m": s.model.m,
            "n": s.data.n,
            "d": s.data.d,
            "eta": s.dynamics.eta,
            "final": finals,
        });
        Ok(FigureReport::new(self.name(), &stem, started, findings))
    }
}
