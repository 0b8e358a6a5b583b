//! `margin`: weak regularisation gives the maximum normalised margin (docs/math.md, section Margin). On small separable
//! data the normalised margin gamma = min_i y_i F_i / integral |theta|^2 d rho of (a) the cloud trained by
//! gradient descent and (b) the exact regularised optimum ([`convex::solve`]) is drawn against lambda, with the
//! exact maximum gamma* ([`convex::max_margin`]) as a horizontal line: as lambda -> 0, gamma rises to gamma*
//! and never exceeds it.

use std::time::Instant;

use rayon::prelude::*;
use serde::Deserialize;
use serde_json::json;

use super::{check_scenario, say, simulate, stem, Figure, FigureOptions, FigureReport};
use crate::config::{DataSource, Scenario};
use crate::convex::{self, OptimumOptions};
use crate::data::{paper_network, Distribution};
use crate::error::{Error, Result};
use crate::plot::{self, Mark, Panel, Scale, Series};

/// The `margin` figure.
pub struct Margin;

/// `scenarios/paper/margin.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The weights of decay lambda, each > 0 (one training run and one exact solve each).
    lambdas: Vec<f64>,
    /// The step size of the run at lambda is min(dynamics.eta, max_eta_lambda / lambda): fixed-step gd on data
    /// whose optimal neurons sit on activation boundaries (the paper's distribution) stalls at an excess over L*
    /// proportional to eta (and to lambda), while small lambda needs long times.
    max_eta_lambda: f64,
    /// Largest number of activation patterns of the exact programs (all patterns are used).
    max_patterns: usize,
    /// The training run (its `lambda` is replaced by each of `lambdas`); a classification problem.
    scenario: Scenario,
}

/// One lambda: the margins of the trained cloud and of the exact optimum, and how far training got.
struct Point {
    lambda: f64,
    trained: f64,
    exact: f64,
    excess: f64,
}

impl Figure for Margin {
    fn name(&self) -> &'static str {
        "margin"
    }

    fn about(&self) -> &'static str {
        "normalised margin against lambda: trained and exact regularised optimum rise to the max margin gamma*"
    }

    fn run(&self, options: &FigureOptions) -> Result<FigureReport> {
        let started = Instant::now();
        let config: Config = super::load_config(self.name(), options)?;
        if config.lambdas.is_empty() || config.lambdas.iter().any(|l| !(*l > 0.0 && l.is_finite())) {
            return Err(Error::Invalid(format!("margin: lambdas = {:?}: need finite values > 0", config.lambdas)));
        }
        if !(config.max_eta_lambda > 0.0 && config.max_eta_lambda.is_finite()) {
            return Err(Error::Invalid(format!(
                "margin: max_eta_lambda = {}: need a finite value > 0",
                config.max_eta_lambda
            )));
        }
        let base = check_scenario(config.scenario.clone(), self.name(), options)?;
        let (train, _) = crate::setup::datasets(&base)?;
        let star = convex::max_margin(&train, config.max_patterns)?;
        say(options, format!("margin: gamma* = {} (dual bound {})", star.gamma, star.upper));
        let etas: Vec<f64> =
            config.lambdas.iter().map(|l| base.scenario.dynamics.eta.min(config.max_eta_lambda / l)).collect();
        let points = config
            .lambdas
            .par_iter()
            .map(|&lambda| {
                let mut scenario = config.scenario.clone();
                scenario.lambda = lambda;
                scenario.dynamics.eta = scenario.dynamics.eta.min(config.max_eta_lambda / lambda);
                let scenario = check_scenario(scenario, self.name(), options)?;
                let opts = OptimumOptions { max_patterns: config.max_patterns, ..OptimumOptions::default() };
                let optimum = convex::solve(&train, scenario.scenario.loss, lambda, &opts)?;
                let (rows, _) = simulate(&scenario, Some(optimum.value))?;
                let last = rows.last().ok_or_else(|| Error::Invalid("margin: a run logged nothing".into()))?;
                let point = Point {
                    lambda,
                    trained: last.margin.ok_or_else(|| Error::Invalid("margin: the loss must be logistic".into()))?,
                    exact: convex::cloud_margin(train.x.view(), train.y.view(), optimum.particles.view()),
                    excess: last.excess.unwrap_or(f64::NAN),
                };
                say(options, format!("margin: lambda = {lambda:e}: trained {}, exact {}", point.trained, point.exact));
                Ok(point)
            })
            .collect::<Result<Vec<Point>>>()?;
        let lambdas: Vec<f64> = points.iter().map(|p| p.lambda).collect();
        let trained: Vec<f64> = points.iter().map(|p| p.trained).collect();
        let exact: Vec<f64> = points.iter().map(|p| p.exact).collect();
        let stem = stem(self.name(), options);
        plot::figure(&stem, &panels(&lambdas, &trained, &exact, star.gamma))?;
        let paper = match base.data {
            DataSource::Synthetic { distribution: Distribution::Paper { d }, .. } => {
                Some(convex::cloud_margin(train.x.view(), train.y.view(), paper_network(d).view()))
            }
            _ => None,
        };
        let run = &base.scenario.run;
        let findings = json!({
            "gamma_star": star.gamma,
            "gamma_star_upper_bound": star.upper,
            "max_margin_neurons": star.neurons,
            "paper_network_margin": paper,
            "n": train.n(),
            "d": train.d(),
            "m": base.scenario.model.m,
            "steps": run.steps,
            "eta": etas,
            "lambda": lambdas,
            "gamma_trained": trained,
            "gamma_exact_optimum": exact,
            "trained_excess_over_optimum": points.iter().map(|p| p.excess).collect::<Vec<f64>>(),
            "largest_trained_minus_gamma_star": trained.iter().map(|g| g - star.gamma).fold(f64::NEG_INFINITY, f64::max),
        });
        Ok(FigureReport::new(self.name(), &stem, started, findings))
    }
}

/// Left: gamma of the trained cloud and of the exact optimum against lambda (log axis), gamma* dashed. Right:
/// the shortfall gamma* - gamma on log-log axes.
fn panels(lambdas: &[f64], trained: &[f64], exact: &[f64], star: f64) -> [Panel; 2] {
    let mut margin = Panel::new("Normalised margin against weight decay", "lambda", "min_i y_i F_i / E|theta|^2");
    let mut shortfall = Panel::new("Distance to the max margin", "lambda", "gamma* - gamma");
    for panel in [&mut margin, &mut shortfall] {
        panel.x_scale = Scale::Log;
    }
    shortfall.y_scale = Scale::Log;
    let curve = |label: &str, y: Vec<f64>| Series { mark: Mark::LinePoints, ..Series::new(label, lambdas.to_vec(), y) };
    let below = |g: &[f64]| g.iter().map(|v| star - v).collect::<Vec<f64>>();
    margin.series = vec![
        curve("exact regularised optimum", exact.to_vec()),
        curve("trained by gd", trained.to_vec()),
        Series { mark: Mark::Dashed, ..Series::new("max margin gamma*", lambdas.to_vec(), vec![star; lambdas.len()]) },
    ];
    shortfall.series = vec![curve("exact regularised optimum", below(exact)), curve("trained by gd", below(trained))];
    [margin, shortfall]
}
