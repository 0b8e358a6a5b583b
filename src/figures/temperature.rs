//! `temperature`: Langevin dynamics minimises the free energy F_tau = L + tau integral rho log rho, not L
//! (docs/math.md, section Free energy). On a d = 2 problem
//! (exact certificates) the figure shows, for each temperature tau and one annealed run, the estimated free energy
//! `free_energy` and its certified lower bound `dual_free_energy` against time (they meet when the run has reached
//! the entropic optimum), and the final L - L* against tau with the fitted log-log slope: the excess of L is the
//! price of the entropy term, not a failure to converge.

use std::time::Instant;

use rayon::prelude::*;
use serde::Deserialize;
use serde_json::json;

use super::{check_scenario, mean_sd, say, simulate, stem, Figure, FigureOptions, FigureReport};
use crate::config::Scenario;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::plot::{self, Mark, Panel, Scale, Series};

/// The `temperature` figure.
pub struct Temperature;

/// `scenarios/paper/temperature.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Temperatures of the constant-temperature runs.
    taus: Vec<f64>,
    /// The annealed run: initial temperature and geometric factor per step.
    anneal_tau: f64,
    /// See `anneal_tau`.
    anneal_decay: f64,
    /// Seeds per run (the seed fixes data, initial cloud and noise): seeds s, s + 1, ...
    seeds: u64,
    /// The problem; the runs set `dynamics.kind = "langevin"` and the temperature.
    scenario: Scenario,
}

/// Final numbers of one variant, over seeds.
#[derive(Debug, serde::Serialize)]
struct Outcome {
    label: String,
    tau: f64,
    /// The temperature at the last step (tau, or the annealed one).
    final_tau: f64,
    /// Final gap_free_energy per seed.
    gap_free_energy: Vec<f64>,
    /// Final L - L* per seed.
    excess: Vec<f64>,
    /// Final dual_free_energy per seed.
    dual_free_energy: Vec<f64>,
    /// certificate_free_energy at the last step of each seed.
    certificate_free_energy: Vec<String>,
}

impl Figure for Temperature {
    fn name(&self) -> &'static str {
        "temperature"
    }

    fn about(&self) -> &'static str {
        "Langevin: the estimated free energy and its certified lower bound meet; L - L* against tau"
    }

    fn run(&self, options: &FigureOptions) -> Result<FigureReport> {
        let started = Instant::now();
        let config: Config = super::load_config(self.name(), options)?;
        if config.seeds == 0 || config.taus.is_empty() {
            return Err(Error::Invalid("temperature: needs at least one seed and one temperature".into()));
        }
        let mut variants: Vec<(String, f64, Scenario)> = Vec::new();
        for &tau in &config.taus {
            variants.push((format!("tau = {tau:e}"), tau, langevin(&config.scenario, tau, 1.0)));
        }
        let annealed = langevin(&config.scenario, config.anneal_tau, config.anneal_decay);
        variants.push((format!("annealed from {:e}", config.anneal_tau), config.anneal_tau, annealed));
        // L* of each seed's data (the seed fixes the data).
        let seeds: Vec<u64> = (0..config.seeds).collect();
        let optima = seeds
            .par_iter()
            .map(|&k| {
                let mut s = config.scenario.clone();
                s.seed += k;
                let base = check_scenario(s, self.name(), options)?;
                let (_, optimum, _) = super::optimum_of(&base)?;
                if !optimum.exact {
                    return Err(Error::Invalid(format!("temperature: L* of seed {} is not exact", base.seed())));
                }
                Ok(optimum.value)
            })
            .collect::<Result<Vec<f64>>>()?;
        let jobs: Vec<(usize, u64)> = (0..variants.len()).flat_map(|v| seeds.iter().map(move |&k| (v, k))).collect();
        let runs = jobs
            .par_iter()
            .map(|&(v, k)| {
                let mut s = variants[v].2.clone();
                s.seed += k;
                let (rows, _) = simulate(&check_scenario(s, self.name(), options)?, Some(optima[k as usize]))?;
                say(options, format!("temperature: {} seed {k} done", variants[v].0));
                Ok(rows)
            })
            .collect::<Result<Vec<Vec<Metrics>>>>()?;
        let mut grouped: Vec<Vec<Vec<Metrics>>> = vec![Vec::new(); variants.len()];
        for (&(v, _), rows) in jobs.iter().zip(runs) {
            grouped[v].push(rows);
        }
        let certified = |rows: &[Metrics]| -> Vec<Metrics> {
            rows.iter().filter(|r| r.dual_free_energy.is_some()).cloned().collect()
        };
        let mut panels = Vec::new();
        let mut outcomes = Vec::new();
        let mut gap_panel =
            Panel::new("gap_free_energy = free_energy - dual_free_energy", "time t", "gap (mean over seeds)");
        gap_panel.x_scale = Scale::Log;
        gap_panel.y_scale = Scale::Log;
        for ((label, tau, scenario), runs) in variants.iter().zip(&grouped) {
            let runs: Vec<Vec<Metrics>> = runs.iter().map(|r| certified(r)).collect();
            if runs.iter().any(|r| r.is_empty()) {
                return Err(Error::Invalid(format!("temperature: {label}: no certified step with a free energy")));
            }
            let time: Vec<f64> = runs[0].iter().map(|r| r.time).collect();
            let column = |f: fn(&Metrics) -> Option<f64>| -> Vec<Vec<f64>> {
                runs.iter().map(|r| r.iter().map(|m| f(m).unwrap_or(f64::NAN)).collect()).collect()
            };
            // Each seed has its own data (and its own F*_tau): curves are means over seeds, without bands.
            let mean = |f: fn(&Metrics) -> Option<f64>| mean_sd(&column(f)).0[1..].to_vec();
            let mut panel = Panel::new(format!("Langevin, {label} (mean over seeds)"), "time t", "free energy");
            panel.x_scale = Scale::Log;
            panel.series.push(Series::new("free_energy (estimate)", time[1..].to_vec(), mean(|m| m.free_energy)));
            panel.series.push(Series {
                mark: Mark::Dashed,
                ..Series::new("dual_free_energy (certified bound)", time[1..].to_vec(), mean(|m| m.dual_free_energy))
            });
            panels.push(panel);
            gap_panel.series.push(Series::new(label.clone(), time[1..].to_vec(), mean(|m| m.gap_free_energy)));
            let last = |f: fn(&Metrics) -> Option<f64>| -> Vec<f64> {
                runs.iter().map(|r| r.last().and_then(f).unwrap_or(f64::NAN)).collect()
            };
            let decay = scenario.dynamics.params.get("tau_decay").copied().unwrap_or(1.0);
            let steps = scenario.run.steps;
            outcomes.push(Outcome {
                label: label.clone(),
                tau: *tau,
                final_tau: tau * decay.powf(steps as f64),
                gap_free_energy: last(|m| m.gap_free_energy),
                excess: last(|m| m.excess),
                dual_free_energy: last(|m| m.dual_free_energy),
                certificate_free_energy: runs
                    .iter()
                    .map(|r| r.last().and_then(|m| m.certificate_free_energy.clone()).unwrap_or_default())
                    .collect(),
            });
        }
        // L - L* against tau (constant-temperature runs), and the least-squares slope of log(L - L*) on log tau.
        let constant = &outcomes[..config.taus.len()];
        let (excess_mean, excess_sd): (Vec<f64>, Vec<f64>) = constant
            .iter()
            .map(|o| mean_sd(&o.excess.iter().map(|&e| vec![e]).collect::<Vec<_>>()))
            .map(|(m, s)| (m[0], s[0]))
            .unzip();
        let slope = log_log_slope(&config.taus, &excess_mean);
        let mut excess_panel = Panel::new("Final L - L* against the temperature", "tau", "L - L*");
        excess_panel.x_scale = Scale::Log;
        excess_panel.y_scale = Scale::Log;
        let lower = excess_mean.iter().zip(&excess_sd).map(|(m, s)| m - s).collect();
        let upper = excess_mean.iter().zip(&excess_sd).map(|(m, s)| m + s).collect();
        excess_panel.series.push(Series {
            band: Some((lower, upper)),
            mark: Mark::LinePoints,
            ..Series::new("Langevin (mean, sd over seeds)", config.taus.clone(), excess_mean.clone())
        });
        if let Some((a, b)) = slope {
            let fit = config.taus.iter().map(|t| (a + b * t.ln()).exp()).collect();
            excess_panel.series.push(Series {
                mark: Mark::Dashed,
                ..Series::new(format!("fit: slope {b:.3}"), config.taus.clone(), fit)
            });
        }
        panels.push(gap_panel);
        panels.push(excess_panel);
        let stem = stem(self.name(), options);
        plot::figure(&stem, &panels)?;
        let base = &config.scenario;
        let findings = json!({
            "optimum": optima,
            "n": base.data.n,
            "d": base.data.d,
            "m": base.model.m,
            "lambda": base.lambda,
            "eta": base.dynamics.eta,
            "steps": base.run.steps,
            "seeds": config.seeds,
            "taus": config.taus,
            "excess_mean": excess_mean,
            "slope": slope.map(|(_, b)| b),
            "runs": outcomes,
        });
        Ok(FigureReport::new(self.name(), &stem, started, findings))
    }
}

/// The scenario with Langevin dynamics at temperature tau and decay factor `decay`.
fn langevin(scenario: &Scenario, tau: f64, decay: f64) -> Scenario {
    let mut s = scenario.clone();
    s.dynamics.kind = "langevin".into();
    s.dynamics.params.clear();
    s.dynamics.params.insert("tau".into(), tau);
    s.dynamics.params.insert("tau_decay".into(), decay);
    s
}

/// Least-squares fit log y = a + b log x over the points with x, y > 0: Some((a, b)) with at least two points.
fn log_log_slope(x: &[f64], y: &[f64]) -> Option<(f64, f64)> {
    let pts: Vec<(f64, f64)> =
        x.iter().zip(y).filter(|(x, y)| **x > 0.0 && **y > 0.0).map(|(x, y)| (x.ln(), y.ln())).collect();
    if pts.len() < 2 {
        return None;
    }
    let k = pts.len() as f64;
    let (mx, my) = (pts.iter().map(|p| p.0).sum::<f64>() / k, pts.iter().map(|p| p.1).sum::<f64>() / k);
    let sxy: f64 = pts.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = pts.iter().map(|(x, _)| (x - mx) * (x - mx)).sum();
    let b = sxy / sxx;
    Some((my - b * mx, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_of_a_power_law_is_its_exponent() {
        let x = [1e-4, 1e-3, 1e-2];
        let y: Vec<f64> = x.iter().map(|t: &f64| 3.0 * t.powf(0.7)).collect();
        let (a, b) = log_log_slope(&x, &y).unwrap();
        assert!((b - 0.7).abs() < 1e-12 && (a - 3f64.ln()).abs() < 1e-10);
        assert_eq!(log_log_slope(&[1.0, 2.0], &[1.0, -1.0]), None);
    }
}
