//! The paper's Theorem 2.1 as this project's own measurement (the paper has no such figure): on
//! its distribution D (docs/math.md, section Distributions) the weakly regularised network learns
//! from O(d) samples, while every predictor of the network's kernel (its NTK, [`crate::ntk`])
//! needs Omega(d^2).
//!
//! For each dimension d, sample size n and seed s = 1..seeds, one training set of n samples and one
//! test set of `test_n` samples are drawn from D with seed s (training sets are nested: the first
//! n samples of seed s are the same for every n), and three predictors are fitted to it:
//! - the network trained by the simulator: m particles in f32, `gd` with step size eta on the
//!   logistic loss with weight decay lambda, until a stopping rule of [`crate::engine::stop`] holds (the
//!   relative gap G / L <= rel_gap, G estimated, or L changing by at most rel_change relative over
//!   `window` steps) or the step cap is reached. With `warm_start`, the run at n starts from the
//!   final cloud of the same seed at the next smaller n (the first from w ~ N(0, s_w^2),
//!   u ~ N(0, s_u^2 I)); the regularised optimum does not depend on the start, so a warm start
//!   changes the answer only by as much as the runs are away from the optimum, which the recorded
//!   final relative gaps bound;
//! - the NTK's minimum-norm interpolation of the labels, and the NTK's SVM (largest RKHS margin),
//!   on the dimensions `kernel_dims`.
//!
//! The n grid is coarse to fine: n = n_start 2^k until the mean test error over the seeds is at
//! most the smallest eps (or n_max); then each coarse interval where the mean error first falls to
//! one of the thresholds eps is filled with the sizes n_{k-1} 2^(j/refine), j = 1..refine-1.
//!
//! For each d, predictor and eps, e(n) is the mean test error over the seeds and n*(d) is where e
//! first falls to eps: with n_k the first grid size with e(n_k) <= eps, ln n* interpolates
//! linearly in e between (e(n_{k-1}), ln n_{k-1}) and (e(n_k), ln n_k); if already e(n_1) <= eps,
//! n* = n_1 (an upper bound); if e never reaches eps, n*(d) is censored and left out of the fit.
//!
//! The slope of ln n* against ln d is fitted by least squares over the dimensions with a known n*,
//! with a 95% t-interval (k - 2 degrees of freedom for k dimensions) and a 95% bootstrap interval
//! over seeds (resample the seeds with replacement, recompute every n*, refit; percentiles 2.5 and
//! 97.5 of the refitted slopes), for every eps, over all dimensions and over the lower and the
//! upper half of them (local slopes). The paper predicts a slope of about 1 for the network and 2
//! for the kernel.

mod params;
mod plotting;
mod records;
mod runs;
mod split;
mod statistics;
mod training;

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::json;

use crate::engine::stop::StopReason;
use crate::error::Result;
use crate::figures::{load_config, say, Figure, FigureOptions, FigureReport};
use crate::ntk::Ntk;

use params::Params;
use plotting::draw;
use records::{CurvePoint, Method, NetRun};
use runs::DimensionRuns;
pub(super) use statistics::student_t_975;
use statistics::{errors_by_method, n_stars, slope_report};

/// The figure `sample-complexity`.
pub struct SampleComplexity;

impl Figure for SampleComplexity {
    fn name(&self) -> &'static str {
        "sample-complexity"
    }

    fn about(&self) -> &'static str {
        "this project's test of Theorem 2.1: samples n* to reach a test error eps against d, the regularised net trained to a stopping rule (paper: ~d) and its NTK (paper: ~d^2)"
    }

    fn footprint(&self, options: &FigureOptions) -> Result<crate::footprint::Footprint> {
        let params: Params = load_config(self.name(), options)?;
        params.check(&crate::figures::config_path(self.name(), options).display().to_string())?;
        let mut f = crate::footprint::Footprint::default();
        if let Some(&d) = params.kernel_dims.last() {
            let (n, field) =
                (params.n_max, if params.test_n > params.n_max.saturating_mul(5) { "test_n" } else { "n_max" });
            let value = if field == "n_max" { n } else { params.test_n };
            let jobs = (rayon::current_num_threads() as u128).min(u128::from(params.seeds));
            f.add_ntk(field, value, jobs, (n as u128, params.test_n as u128, d as u128));
        }
        Ok(f)
    }

    fn run(&self, options: &FigureOptions) -> Result<FigureReport> {
        let started = Instant::now();
        let params: Params = load_config(self.name(), options)?;
        params.check(&crate::figures::config_path(self.name(), options).display().to_string())?;
        let kernel = Ntk::new(params.kernel.r_w, params.kernel.r_u)?;
        let mut curves: Vec<CurvePoint> = Vec::new();
        let reused = match &params.reuse {
            Some(path) => records::load_curves(path)?,
            None => Vec::new(),
        };
        for &d in &params.dims {
            let all: Vec<Method> =
                if params.kernel_dims.contains(&d) { Method::ALL.to_vec() } else { vec![Method::Net] };
            let earlier: Vec<CurvePoint> = reused
                .iter()
                .filter(|c| c.d == d && all.iter().any(|m| m.key() == c.method) && params.reuses(&c.method))
                .cloned()
                .collect();
            let methods: Vec<Method> =
                all.iter().copied().filter(|m| !earlier.iter().any(|c| c.method == m.key())).collect();
            if methods.is_empty() {
                say(
                    options,
                    format!(
                        "d = {d}: {} curve points taken from {}",
                        earlier.len(),
                        params.reuse.as_deref().unwrap_or("")
                    ),
                );
                curves.extend(earlier);
                continue;
            }
            if !earlier.is_empty() {
                say(
                    options,
                    format!(
                        "d = {d}: {} curve points of the other predictors taken from the reuse file",
                        earlier.len()
                    ),
                );
            }
            curves.extend(earlier);
            let mut dim = DimensionRuns::new(&params, kernel, d);
            // Coarse pass: n_start 2^k until every predictor's mean error is <= the smallest eps.
            let mut active = methods.clone();
            let mut n = params.n_start;
            while !active.is_empty() && n <= params.n_max {
                dim.evaluate(n, &active)?;
                say(options, dim.progress(n, &active, started));
                let smallest = params.eps[0];
                active.retain(|&m| mean(&dim.errors[&m][&n]) > smallest);
                n *= 2;
            }
            // Fine pass: fill the coarse intervals where the mean error first falls to an eps.
            for &method in &methods {
                let coarse: Vec<usize> = dim.errors[&method].keys().copied().collect();
                let mut fine: Vec<usize> = Vec::new();
                for &eps in &params.eps {
                    let Some(k) = coarse.iter().position(|n| mean(&dim.errors[&method][n]) <= eps) else { continue };
                    if k == 0 {
                        continue;
                    }
                    for j in 1..params.refine {
                        let n = (coarse[k - 1] as f64 * 2f64.powf(j as f64 / params.refine as f64)).round() as usize;
                        if n > coarse[k - 1] && n < coarse[k] && !fine.contains(&n) {
                            fine.push(n);
                        }
                    }
                }
                fine.sort_unstable();
                for n in fine {
                    dim.evaluate(n, &[method])?;
                    say(options, dim.progress(n, &[method], started));
                }
            }
            curves.extend(dim.curves());
            // The curves so far, so that an interrupted run keeps its finished dimensions.
            let stem = if options.quick { "sample-complexity-quick" } else { "sample-complexity" };
            let partial = options.out.join(format!("{stem}.partial.json"));
            crate::output::write_atomic(&partial, json!({ "curves": curves }).to_string().as_bytes())?;
        }
        let errors = errors_by_method(&curves);
        let mut n_star = BTreeMap::new();
        let mut slopes = BTreeMap::new();
        for method in Method::ALL {
            let per_d = &errors[method.key()];
            let dims: Vec<usize> = per_d.keys().copied().collect();
            let mut stars = BTreeMap::new();
            let mut fits = BTreeMap::new();
            for &eps in &params.eps {
                let all: Vec<usize> = (0..params.seeds as usize).collect();
                let known = n_stars(per_d, &all, eps);
                stars.insert(
                    eps_key(eps),
                    dims.iter().map(|d| json!({"d": d, "n_star": known.get(d).copied().flatten()})).collect::<Vec<_>>(),
                );
                let half = dims.len() / 2;
                let ranges = [
                    ("all", &dims[..]),
                    ("lower_half", &dims[..half.max(2).min(dims.len())]),
                    ("upper_half", &dims[dims.len().saturating_sub(half.max(2))..]),
                ];
                let mut by_range = BTreeMap::new();
                for (name, range) in ranges {
                    by_range.insert(name, slope_report(per_d, range, eps, params.seeds as usize, params.bootstrap));
                }
                fits.insert(eps_key(eps), by_range);
            }
            n_star.insert(method.key(), stars);
            slopes.insert(method.key(), fits);
        }
        let net_runs: Vec<(usize, usize, usize, &NetRun)> = curves
            .iter()
            .filter(|c| c.method == Method::Net.key())
            .flat_map(|c| c.runs.iter().enumerate().map(move |(s, r)| (c.d, c.n, s + 1, r)))
            .collect();
        let max_gap = net_runs.iter().map(|r| r.3.relative_gap).fold(0.0, f64::max);
        let capped: Vec<_> = net_runs
            .iter()
            .filter(|r| r.3.stop_reason == StopReason::Cap)
            .map(|(d, n, seed, r)| json!({"d": d, "n": n, "seed": seed, "steps": r.steps, "relative_gap": r.relative_gap}))
            .collect();
        let mut reasons = BTreeMap::new();
        for r in &net_runs {
            *reasons.entry(r.3.stop_reason.name()).or_insert(0usize) += 1;
        }
        let stem = if options.quick { "sample-complexity-quick" } else { "sample-complexity" };
        let files = draw(options, stem, &params, &curves, &n_star, &slopes)?;
        // Complete: the partial curves are no longer needed.
        let _ = std::fs::remove_file(options.out.join(format!("{stem}.partial.json")));
        let seconds = started.elapsed().as_secs_f64();
        let findings = json!({
            "definition": format!(
                "n*(d): the mean test error over {} seeds first falls to eps between two grid sizes; ln n* is \
                 interpolated linearly in the mean error; slope: least squares of ln n* on ln d with a 95% t-interval \
                 and a 95% bootstrap interval over seeds ({} resamples); null n*: eps not reached on the grid; \
                 every net trained until {} (G estimated), at most {} steps",
                params.seeds, params.bootstrap, params.net.stop, params.net.steps
            ),
            "params": params,
            "n_star": n_star,
            "slopes": slopes,
            "net_runs": net_runs.len(),
            "stop_reasons": reasons,
            "max_final_relative_gap": max_gap,
            "capped_runs": capped,
            "curves": curves,
            "seconds": seconds,
        });
        Ok(FigureReport { name: self.name().into(), files, seconds, findings })
    }
}

/// The JSON key of a threshold: `eps_0.1`.
pub(super) fn eps_key(eps: f64) -> String {
    format!("eps_{eps}")
}

pub(super) fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}
