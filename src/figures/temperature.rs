//! `temperature`: Langevin dynamics minimises the free energy F_tau = L + tau integral rho log rho, not L
//! (docs/math.md, section Free energy). On a d = 2 problem
//! (exact certificates) the figure shows, for each temperature tau and one annealed run, the estimated free energy
//! `free_energy` and its certified lower bound `dual_free_energy` against time (they meet when the run has reached
//! the entropic optimum), and the final L - L* against tau with the fitted log-log slope: the excess of L is the
//! price of the entropy term, not a failure to converge.
//!
//! Every run trains to a stopping rule on the free energy (`StopOnFreeEnergy`) with the scenario's `steps` as the
//! cap; the figure records, per run, the steps used and what stopped it.

use std::time::Instant;

use rayon::prelude::*;
use serde::Deserialize;
use serde_json::json;

use super::{check_scenario, mean_sd, say, stem, Figure, FigureOptions, FigureReport};
use crate::config::{Scenario, ValidScenario};
use crate::error::{Error, Result};
use crate::linalg::Real;
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
    /// When a run stops (the scenario's `run.steps` is the cap).
    stop: StopOnFreeEnergy,
    /// The problem; the runs set `dynamics.kind = "langevin"` and the temperature.
    scenario: Scenario,
}

/// Final numbers of one variant, over seeds.
#[derive(Debug, serde::Serialize)]
struct Outcome {
    label: String,
    tau: f64,
    /// The temperature at the last step of each seed (tau, or the annealed one).
    final_tau: Vec<f64>,
    /// Steps used by each seed.
    steps: Vec<u64>,
    /// What ended each seed's run: `free_energy_change` (the rule) or `cap`.
    stop_reason: Vec<String>,
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
        config.stop.check()?;
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
                let valid = check_scenario(s, self.name(), options)?;
                let (rows, reason) = config.stop.simulate(&valid, optima[k as usize])?;
                let steps = rows.last().map_or(0, |r| r.step);
                say(options, format!("temperature: {} seed {k} done: {steps} steps ({reason})", variants[v].0));
                Ok((rows, reason))
            })
            .collect::<Result<Vec<(Vec<Metrics>, &str)>>>()?;
        let mut grouped: Vec<Vec<Vec<Metrics>>> = vec![Vec::new(); variants.len()];
        let mut reasons: Vec<Vec<String>> = vec![Vec::new(); variants.len()];
        for (&(v, _), (rows, reason)) in jobs.iter().zip(runs) {
            grouped[v].push(rows);
            reasons[v].push(reason.to_string());
        }
        let certified = |rows: &[Metrics]| -> Vec<Metrics> {
            rows.iter().filter(|r| r.dual_free_energy.is_some()).cloned().collect()
        };
        let mut panels = Vec::new();
        let mut outcomes = Vec::new();
        let mut gap_panel = Panel::new(
            "gap_free_energy = free_energy - dual_free_energy",
            "time t",
            "gap (mean over the seeds running)",
        );
        gap_panel.x_scale = Scale::Log;
        gap_panel.y_scale = Scale::Log;
        for (((label, tau, scenario), runs), reasons) in variants.iter().zip(&grouped).zip(reasons) {
            let runs: Vec<Vec<Metrics>> = runs.iter().map(|r| certified(r)).collect();
            if runs.iter().any(|r| r.is_empty()) {
                return Err(Error::Invalid(format!("temperature: {label}: no certified step with a free energy")));
            }
            // Runs stop at different steps; every run logs the same steps, so the longest one gives the times.
            let longest = runs.iter().max_by_key(|r| r.len()).expect("at least one seed");
            let time: Vec<f64> = longest.iter().map(|r| r.time).collect();
            // Each seed has its own data (and its own F*_tau): the free energy and its bound are means over all
            // seeds, so up to the first seed's stop; the gaps (comparable across seeds) are means over the seeds
            // still running. No bands.
            let shortest = runs.iter().map(Vec::len).min().unwrap_or(0);
            let mean = |f: fn(&Metrics) -> Option<f64>, end: usize| mean_of_running(&runs, f)[1..end].to_vec();
            let mut panel =
                Panel::new(format!("Langevin, {label} (mean over seeds, to the first stop)"), "time t", "free energy");
            panel.x_scale = Scale::Log;
            let t = time[1..shortest].to_vec();
            panel.series.push(Series::new("free_energy (estimate)", t.clone(), mean(|m| m.free_energy, shortest)));
            panel.series.push(Series {
                mark: Mark::Dashed,
                ..Series::new("dual_free_energy (certified bound)", t, mean(|m| m.dual_free_energy, shortest))
            });
            panels.push(panel);
            let gaps = mean(|m| m.gap_free_energy, time.len());
            gap_panel.series.push(Series::new(label.clone(), time[1..].to_vec(), gaps));
            let last = |f: fn(&Metrics) -> Option<f64>| -> Vec<f64> {
                runs.iter().map(|r| r.last().and_then(f).unwrap_or(f64::NAN)).collect()
            };
            let decay = scenario.dynamics.params.get("tau_decay").copied().unwrap_or(1.0);
            let steps: Vec<u64> = runs.iter().map(|r| r.last().map_or(0, |m| m.step)).collect();
            outcomes.push(Outcome {
                label: label.clone(),
                tau: *tau,
                final_tau: steps.iter().map(|&n| tau * decay.powf(n as f64)).collect(),
                steps,
                stop_reason: reasons,
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
            "stop": config.stop,
            "seeds": config.seeds,
            "taus": config.taus,
            "excess_mean": excess_mean,
            "slope": slope.map(|(_, b)| b),
            "runs": outcomes,
        });
        Ok(FigureReport::new(self.name(), &stem, started, findings))
    }
}

/// The figure's stopping rule (`stop = { tau_change, window }`): at a certified logged step t >= 2 window, with
/// F1 the mean of `free_energy` over the certified steps in (t - window, t] and F0 its mean over
/// (t - 2 window, t - window], the run stops when |F1 - F0| <= tau_change tau_t, tau_t the temperature at step t;
/// otherwise it runs to `run.steps`. The tolerance is in units of tau because the entropy term tau H and the
/// fluctuations of its estimate scale with tau (tau_change is a change of the entropy in nats); means over a window,
/// not single values, because the estimate fluctuates from step to step.
#[derive(Clone, Copy, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct StopOnFreeEnergy {
    /// Largest change of the windowed mean of the free energy, in units of the current temperature.
    tau_change: f64,
    /// Window length in steps.
    window: u64,
}

impl StopOnFreeEnergy {
    /// The rule's parameters are finite and positive.
    fn check(&self) -> Result<()> {
        if !(self.tau_change > 0.0 && self.tau_change.is_finite()) || self.window == 0 {
            return Err(Error::Invalid(format!(
                "temperature: stop = {{ tau_change = {}, window = {} }}: tau_change must be a finite number > 0 and \
                 window at least 1 step",
                self.tau_change, self.window
            )));
        }
        Ok(())
    }

    /// Whether the rule holds at the last entry of `history` (logged metrics in step order), at temperature `tau`.
    fn holds(&self, history: &[Metrics], tau: f64) -> bool {
        let Some(t) = history.last().map(|m| m.step) else { return false };
        let Some(start) = t.checked_sub(2 * self.window) else { return false };
        let mean = |from: u64, to: u64| {
            let v: Vec<f64> =
                history.iter().filter(|m| m.step > from && m.step <= to).filter_map(|m| m.free_energy).collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        };
        match (mean(start, t - self.window), mean(t - self.window, t)) {
            (Some(f0), Some(f1)) => (f1 - f0).abs() <= self.tau_change * tau,
            _ => false,
        }
    }

    /// Runs `scenario` (with the exact minimum `optimum` declared) until the rule holds at a certified step or
    /// `run.steps`: the logged metrics and `free_energy_change` or `cap`. The run advances from certified step to
    /// certified step, which logs and certifies exactly the steps of an uninterrupted run.
    fn simulate(&self, scenario: &ValidScenario, optimum: f64) -> Result<(Vec<Metrics>, &'static str)> {
        crate::with_precision!(scenario.scenario.precision, F => self.simulate_in::<F>(scenario, optimum))
    }

    fn simulate_in<F: Real>(&self, scenario: &ValidScenario, optimum: f64) -> Result<(Vec<Metrics>, &'static str)> {
        let (mut sim, mut state) = crate::setup::simulation::<F>(scenario)?;
        sim.set_optimum(optimum);
        let (cap, every, log) = (sim.options.steps, sim.options.certify_every, sim.options.log_every.max(1));
        if every == 0 || every % log != 0 {
            return Err(Error::Invalid(format!(
                "temperature: the stopping rule needs certified logged steps: run.certify_every = {every} must be a \
                 positive multiple of run.log_every = {log}"
            )));
        }
        loop {
            sim.options.steps = ((state.step / every + 1) * every).min(cap);
            state = sim.run(state, &mut [])?;
            let tau = sim.dynamics.langevin_temperature(state.step).unwrap_or(0.0);
            if self.holds(sim.history(), tau) {
                return Ok((sim.history().to_vec(), "free_energy_change"));
            }
            if state.step >= cap {
                return Ok((sim.history().to_vec(), "cap"));
            }
        }
    }
}

/// Per logged step (index j), the mean of `f` over the runs that have reached it (all runs log the same steps).
fn mean_of_running(runs: &[Vec<Metrics>], f: fn(&Metrics) -> Option<f64>) -> Vec<f64> {
    let longest = runs.iter().map(Vec::len).max().unwrap_or(0);
    (0..longest)
        .map(|j| {
            let v: Vec<f64> = runs.iter().filter_map(|r| r.get(j)).map(|m| f(m).unwrap_or(f64::NAN)).collect();
            v.iter().sum::<f64>() / v.len() as f64
        })
        .collect()
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

    /// Logged metrics at `step` with free energy `f` (the other columns do not matter to the rule).
    fn logged(step: u64, f: Option<f64>) -> Metrics {
        let mut m: Metrics = serde_json::from_value(json!({
            "step": step, "time": step as f64, "loss": 1.0, "data_fit": 1.0, "penalty": 0.0, "train_error": null,
            "test_error": null, "train_loss": 1.0, "test_loss": null, "margin": null, "second_moment": 1.0,
            "pattern_change": 0.0, "wall_seconds": 0.0, "dual_bound": null, "gap": null, "certificate": null,
            "excess": null, "entropy": null, "free_energy": null, "dual_free_energy": null, "gap_free_energy": null,
            "certificate_free_energy": null
        }))
        .unwrap();
        m.free_energy = f;
        m
    }

    #[test]
    fn the_rule_compares_window_means_of_the_free_energy() {
        let rule = StopOnFreeEnergy { tau_change: 0.1, window: 100 };
        let tau = 1e-2;
        // Logged every 50 steps; the free energy alternates 1.0 +- 0.01 (noise a single-value rule would see).
        let noisy = |n: u64, drift: f64| -> Vec<Metrics> {
            (0..=n)
                .map(|j| logged(50 * j, Some(1.0 + if j % 2 == 0 { 0.01 } else { -0.01 } - drift * j as f64)))
                .collect()
        };
        // Window means over (100, 200] and (200, 300] are both 1.0: the rule holds at step 300 ...
        assert!(rule.holds(&noisy(6, 0.0), tau));
        // ... but not before two whole windows have passed,
        assert!(!rule.holds(&noisy(3, 0.0), tau));
        // nor with a drift of 2e-3 per window of 100 steps (1e-3 per logged step): 2e-3 > 0.1 tau = 1e-3,
        assert!(!rule.holds(&noisy(6, 1e-3), tau));
        // which holds at a temperature 2.5 times higher: 2e-3 <= 0.1 * 2.5e-2.
        assert!(rule.holds(&noisy(6, 1e-3), 2.5e-2));
        // A drift of 4e-4 per window: |F1 - F0| = 4e-4 <= 1e-3.
        assert!(rule.holds(&noisy(6, 2e-4), tau));
        // Uncertified steps (no free energy) do not count; an empty window never stops.
        let mut gaps = noisy(6, 0.0);
        gaps[5].free_energy = None;
        gaps[6].free_energy = None;
        assert!(!rule.holds(&gaps, tau));
        assert!(!rule.holds(&[], tau));
        assert!(StopOnFreeEnergy { tau_change: 0.0, window: 10 }.check().is_err());
        assert!(StopOnFreeEnergy { tau_change: 1e-3, window: 0 }.check().is_err());
        assert!(rule.check().is_ok());
    }

    /// A run advanced certified step by certified step logs exactly what the uninterrupted run logs.
    #[test]
    fn a_run_stopped_by_the_rule_is_the_uninterrupted_run_up_to_its_stop() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/langevin.toml");
        let overrides: Vec<String> =
            ["model.m=300", "run.steps=600", "run.log_every=50", "run.plots=false"].map(String::from).to_vec();
        let scenario = Scenario::load(&path, &overrides).unwrap().check(&path).unwrap();
        let (whole, _) = super::super::simulate(&scenario, Some(0.1)).unwrap();
        // A rule that cannot hold runs to the cap; a loose one stops at step 2 * window.
        for (rule, steps, reason) in [
            (StopOnFreeEnergy { tau_change: 1e-300, window: 100 }, 600, "cap"),
            (StopOnFreeEnergy { tau_change: 1e6, window: 100 }, 200, "free_energy_change"),
        ] {
            let (rows, why) = rule.simulate(&scenario, 0.1).unwrap();
            assert_eq!((rows.last().unwrap().step, why), (steps, reason));
            let strip =
                |r: &[Metrics]| r.iter().map(|m| Metrics { wall_seconds: 0.0, ..m.clone() }).collect::<Vec<_>>();
            assert_eq!(strip(&rows), strip(&whole[..rows.len()]));
            assert!(rows.iter().all(|m| m.free_energy.is_some()), "every logged step is certified");
        }
    }

    #[test]
    fn slope_of_a_power_law_is_its_exponent() {
        let x = [1e-4, 1e-3, 1e-2];
        let y: Vec<f64> = x.iter().map(|t: &f64| 3.0 * t.powf(0.7)).collect();
        let (a, b) = log_log_slope(&x, &y).unwrap();
        assert!((b - 0.7).abs() < 1e-12 && (a - 3f64.ln()).abs() < 1e-10);
        assert_eq!(log_log_slope(&[1.0, 2.0], &[1.0, -1.0]), None);
    }
}
