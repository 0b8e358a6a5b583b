//! `regime` (the paper's Figure 2): regularisation takes the network out of the kernel regime. From the same
//! initialisation and data, runs without weight decay and with a small one are compared over seeds: test
//! error, normalised margin and the fraction of activation patterns changed since initialisation
//! (`pattern_change`; a network in the kernel regime keeps its patterns) against the step. Each pair is run
//! from the paper's initialisation (N(0, 1) finite-width weights: `units = "paper"`, s_w = s_u = sqrt(m) in
//! mean-field units; docs/math.md, section The paper's units) and from the same scales in mean-field units
//! (a finite-width std of 1/sqrt(m)), side by side. The findings add the paired test-error difference
//! (lambda = 0 minus lambda > 0, same seed: same data and initial cloud) with a 95% t-interval over seeds.

use std::time::Instant;

use serde::Deserialize;
use serde_json::json;

use super::{band_series, mean_sd, over_seeds, paired_difference, stem, Figure, FigureOptions, FigureReport};
use crate::config::Scenario;
use crate::error::{Error, Result};
use crate::initial::Units;
use crate::metrics::Metrics;
use crate::plot::{self, Panel};

/// The `regime` figure.
pub struct Regime;

/// `scenarios/paper/regime.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The weight decays compared (each >= 0); the first is the reference of the paired differences.
    lambdas: Vec<f64>,
    /// The units of the scenario's init scales, one pair of runs each (replaces `model.init.units`).
    units: Vec<Units>,
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
        "the paper's Figure 2: lambda = 0 against a small lambda from the paper's and from mean-field initial scales"
    }

    fn run(&self, options: &FigureOptions) -> Result<FigureReport> {
        let started = Instant::now();
        let config: Config = super::load_config(self.name(), options)?;
        let (base, lambdas) = (&config.scenario, &config.lambdas);
        let variants: Vec<Scenario> = config
            .units
            .iter()
            .flat_map(|&units| {
                lambdas.iter().map(move |&lambda| {
                    let mut scenario = Scenario { lambda, ..base.clone() };
                    scenario.model.init.units = Some(units);
                    scenario
                })
            })
            .collect();
        let runs = over_seeds(&variants, config.seeds, self.name(), options)?;
        let steps: Vec<f64> = runs
            .first()
            .and_then(|r| r.first())
            .map(|rows| rows.iter().map(|r| r.step as f64).collect())
            .ok_or_else(|| Error::Invalid("regime: lambdas and units must not be empty".into()))?;
        let mut panels = [
            Panel::new("The paper's Figure 2: test error", "step", "test error"),
            Panel::new("Normalised margin", "step", "min_i y_i F_i / E|theta|^2"),
            Panel::new("Activation patterns", "step", "fraction changed since initialisation"),
        ];
        let mut finals = Vec::new();
        let mut differences = Vec::new();
        let last_values = |values: &Vec<Vec<f64>>| values.iter().map(|v| v[v.len() - 1]).collect::<Vec<f64>>();
        for (u, &units) in config.units.iter().enumerate() {
            let name = units.name();
            let mut reference = None;
            for (l, lambda) in config.lambdas.iter().enumerate() {
                let curves = Curves::of(&runs[u * config.lambdas.len() + l])?;
                let label = format!("{name} units, lambda = {lambda}");
                let all = [&curves.test_error, &curves.margin, &curves.pattern_change];
                for (panel, values) in panels.iter_mut().zip(all) {
                    panel.series.push(band_series(&label, steps.clone(), values));
                }
                let last = |values: &Vec<Vec<f64>>| {
                    let (mean, sd) = mean_sd(&last_values(values).into_iter().map(|v| vec![v]).collect::<Vec<_>>());
                    json!({ "mean": mean[0], "sd": sd[0] })
                };
                finals.push(json!({
                    "units": name,
                    "lambda": lambda,
                    "test_error": last(&curves.test_error),
                    "margin": last(&curves.margin),
                    "pattern_change": last(&curves.pattern_change),
                    "test_error_by_seed": last_values(&curves.test_error),
                    "pattern_change_by_seed": last_values(&curves.pattern_change),
                }));
                let errors = last_values(&curves.test_error);
                match &reference {
                    None => reference = Some((*lambda, errors)),
                    Some((lambda0, errors0)) => {
                        let mut difference = paired_difference(&errors, errors0);
                        difference["units"] = json!(name);
                        difference["lambda_reference"] = json!(lambda0);
                        difference["lambda"] = json!(lambda);
                        differences.push(difference);
                    }
                }
            }
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
            "init": s.model.init,
            "final": finals,
            "test_error_difference": differences,
        });
        Ok(FigureReport::new(self.name(), &stem, started, findings))
    }
}
