//! Training a network to a stopping rule with a time-averaged dual certificate (the figures
//! `sample-complexity` and `kernel-vs-net`).
//!
//! Fixed-step `gd` on a ReLU network does not settle at the regularised optimum when optimal neurons
//! sit on activation boundaries x_i . u = 0 (on the paper's distribution D half of the inputs lie on
//! the boundary of the optimal neurons u = +-e_1, +-e_2): near the optimum the cloud keeps crossing the
//! kinks, L oscillates at a level ~1e-5 relative above L*, and r_i = l'(y_i, F_i) / n jumps from step to
//! step. The dual bound D = -R*(c r), c = min(1, 2 lambda / S(r)) (docs/math.md, section Dual bound),
//! evaluated at one such r, is loose at first order in the jump of r
//! (S(r) overshoots 2 lambda).
//!
//! Every dual vector beta whose scaled version c beta is dual feasible gives a valid lower bound, so the
//! certified steps here evaluate D at two vectors: the current r (as a plain run does) and the average
//! r_bar = (1/k) sum_{s = t-k+1..t} r_s of the residuals of the k steps since the previous certified step,
//! and keep the larger D. By convexity of S and of R*, S(r_bar) <= mean S(r_s) and
//! -R*(r_bar) >= mean(-R*(r_s)): averaging removes the oscillation (as averaged subgradients certify
//! non-smooth descent). It does not remove a slow drift of r, which on D is what keeps many runs above
//! G / L = 1e-3 (README, section Sample complexity). The gap G = L_t - max(D(r_t), D(r_bar)) >= L_t - L* is a bound on the current
//! cloud, `estimated` where the sphere maximum is.
//!
//! The rules are those of [`crate::engine::stop`]: stop at the first logged step where L changed by at
//! most `rel_change` relative over `window` steps (a final certified step), or at the first certified
//! step with G / L <= `rel_gap`; else at the step cap.

use ndarray::{s, Array1, Array2};

use super::insertion;
use crate::certify;
use crate::dynamics::Gd;
use crate::engine::stop::{relative_gap, StopReason, StopRule};
use crate::engine::{Problem, RunOptions, Simulation, State};
use crate::error::{Error, Result};
use crate::linalg::Real;
use crate::metrics::Metrics;
use crate::model::{Cloud, StoreActivations};

/// Particle directions (at most this many, evenly strided) that seed the sphere maximum of r_bar.
const DIRECTIONS: usize = 128;

/// Past sphere-maximum directions kept as extra starts of the certificate's search (boosted runs).
const MEMORY: usize = 64;

/// The starts of the sphere maximum: at most [`DIRECTIONS`] evenly strided particle directions, then the rows of
/// `memory`.
fn starts<F: Real>(cloud: &Cloud<F>, memory: &[Array1<f64>]) -> Array2<f64> {
    let u = cloud.u();
    let stride = u.nrows().div_ceil(DIRECTIONS).max(1);
    let mut out: Array2<f64> = u.slice(s![..;stride, ..]).mapv(Real::f64);
    for v in memory {
        out.push_row(v.view()).expect("memory rows have length d");
    }
    out
}

/// How a network run ended.
#[derive(Clone, Debug)]
pub(super) struct Converged<F: Real> {
    /// The final state (cloud and training predictions).
    pub(super) state: State<F>,
    /// L at the last step.
    pub(super) loss: f64,
    /// G = L - D at the last step (NaN if no step was certified).
    pub(super) gap: f64,
    /// `exact` or `estimated`: the sphere maximum behind D.
    pub(super) certificate: String,
    /// Which dual vector gave D: `current` (r_t) or `averaged` (r_bar).
    pub(super) dual_from: &'static str,
    /// What ended the run.
    pub(super) stop_reason: StopReason,
    /// Particles added by mass insertion ([`train_inserting`]).
    pub(super) inserted: usize,
}

/// The schedule of one run: step size, step cap, logging and certification periods, the rules.
#[derive(Clone, Copy, Debug)]
pub(super) struct Schedule {
    pub(super) eta: f64,
    pub(super) cap: u64,
    pub(super) log_every: u64,
    pub(super) certify_every: u64,
    pub(super) stop: Option<StopRule>,
}

/// Runs `gd` on `problem` from `cloud` with the schedule, certifying every `certify_every` steps (and at
/// the last step) with the better of the current and the averaged dual vector.
pub(super) fn train<F: Real>(
    problem: Problem<F>,
    cloud: Cloud<F>,
    schedule: Schedule,
    seed: u64,
) -> Result<Converged<F>> {
    train_with(problem, cloud, schedule, Boost::NONE, seed)
}

/// A simulation of `sim`'s problem from `cloud` (a reweighted cloud, or one with an inserted particle),
/// and its state at the step and time of `state`.
fn restart<F: Real>(
    sim: &Simulation<F>,
    state: &State<F>,
    run: RunOptions,
    cloud: Cloud<F>,
) -> Result<(Simulation<F>, State<F>)> {
    let (next, fresh) = Simulation::new(sim.problem.clone(), Box::new(Gd), run, cloud)?;
    Ok((next, State { step: state.step, time: state.time, ..fresh }))
}

/// Keeps `v` among the last [`MEMORY`] directions.
fn remember(memory: &mut Vec<Array1<f64>>, v: &Array1<f64>) {
    if memory.len() == MEMORY {
        memory.remove(0);
    }
    memory.push(v.clone());
}

/// What [`train_with`] adds to plain `gd`: mass insertions and Nesterov momentum (the scenario table
/// `boost = { insertions = .., per_check = .., nesterov = .. }`).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Boost {
    /// At most this many mass insertions ([`super::insertion`]) in a run.
    pub(crate) insertions: usize,
    /// At most this many insertions at one certified step (each at the sphere maximum of the residual
    /// after the previous one).
    pub(crate) per_check: usize,
    /// Nesterov's accelerated gradient with function restart.
    pub(crate) nesterov: bool,
    /// At every certified step that stops nothing, the fully corrective step on the particles' masses
    /// ([`super::insertion::reweight`]), then the certificate of the reweighted cloud.
    #[serde(default)]
    pub(crate) reweight: bool,
    /// Stop by the gap rule only when it holds at this many certified steps in a row (0 or 1: the first).
    #[serde(default)]
    pub(crate) confirm: usize,
}

impl Boost {
    /// Plain `gd`.
    pub(crate) const NONE: Boost = Boost { insertions: 0, per_check: 0, nesterov: false, reweight: false, confirm: 0 };

    /// Insertions happen at certified steps: `insertions > 0` needs `per_check >= 1` and a run certified
    /// every `certify_every >= 1` steps. The error names `field` of `v`'s file.
    pub(crate) fn check(&self, v: &crate::config::Checker, field: &str, certify_every: u64) -> Result<()> {
        if self.insertions > 0 && (self.per_check < 1 || certify_every < 1) {
            return Err(v.value(
                field,
                format!("{self:?} with certify_every = {certify_every}"),
                "insertions > 0 needs per_check >= 1 and certify_every >= 1 (insertions happen at certified steps)",
            ));
        }
        Ok(())
    }
}

/// [`train`] with the additions of `boost`, both of them moves on the same objective L:
///
/// - mass insertions (at most `boost.insertions`, [`super::insertion`]): at a certified step that stops
///   nothing, one particle is added in the direction v of the sphere maximum of the current residual, sign
///   -sign(a_r(v)), with the mass t >= 0 that minimises L along that addition (every other particle scaled
///   by sqrt((m + 1) / m), which keeps the network and its penalty), so L never rises at an insertion;
/// - Nesterov momentum with function restart (O'Donoghue & Candes 2015): the gd step theta_{k+1} =
///   y_k + eta v(y_k) is taken at the extrapolated cloud y_k = theta_k + beta_k (theta_k - theta_{k-1}),
///   beta_k = j / (j + 3) with j the steps since the last restart; a step that raises L restarts (j = 0).
///   Losses, certificates and outputs are those of the iterates theta_k, never of y_k.
pub(super) fn train_with<F: Real>(
    problem: Problem<F>,
    cloud: Cloud<F>,
    schedule: Schedule,
    boost: Boost,
    seed: u64,
) -> Result<Converged<F>> {
    let mut run = RunOptions::new(schedule.eta, schedule.cap, schedule.log_every, seed);
    run.certify_every = 0;
    if boost.nesterov {
        // The extrapolation moves the cloud between steps: pre-activations kept from a step are stale.
        run.store_activations = StoreActivations::Never;
    }
    let method = run.certificate;
    let (mut sim, mut state) = Simulation::new(problem, Box::new(Gd), run, cloud)?;
    let loss_fn = sim.problem.loss;
    // The training data never change (insertions and reweighting change only the cloud).
    let (x, y) = (sim.problem.train.x.clone(), sim.problem.train.y.clone());
    let n = y.len();
    let residual = |state: &State<F>| Array1::from(loss_fn.risk_gradient(&y.to_vec(), &state.predictions.to_vec()));
    let mut sum = Array1::<f64>::zeros(n);
    let mut count = 0usize;
    let mut inserted = 0usize;
    let mut history: Vec<Metrics> = Vec::new();
    // Nesterov: theta_k, L(theta_k) and the steps since the last restart.
    let mut previous: Option<(Array2<F>, f64)> = None;
    let mut since_restart = 0u64;
    // Directions of past sphere maxima, and the certified steps in a row that met the gap rule.
    let mut memory: Vec<Array1<f64>> = Vec::new();
    let mut passes = 0usize;
    while state.step < schedule.cap {
        state = sim.step(state)?;
        for ((s, &yi), &fi) in sum.iter_mut().zip(y.iter()).zip(state.predictions.iter()) {
            *s += loss_fn.derivative(yi, fi) / n as f64;
        }
        count += 1;
        let step = state.step;
        if step % schedule.log_every == 0 || step == schedule.cap {
            let metrics = sim.metrics(&state)?;
            if !metrics.loss.is_finite() || !metrics.second_moment.is_finite() {
                return Err(Error::Diverged {
                    step,
                    quantity: "the loss".into(),
                    value: metrics.loss,
                    eta: schedule.eta,
                    suggested: schedule.eta / 10.0,
                });
            }
            let changed = schedule.stop.and_then(|r| r.by_change(&history, step, metrics.loss));
            let last = changed.is_some() || step == schedule.cap;
            let certified = last || (schedule.certify_every > 0 && step % schedule.certify_every == 0);
            if certified {
                let directions = starts(&state.cloud, &memory);
                // Boosted runs stop early: fresh random starts at every certified step.
                let seed = if boost == Boost::NONE { seed } else { seed.wrapping_add(step) };
                let dual_problem = sim.problem.dual();
                let mut r = residual(&state);
                let (mut current, mut argmax) =
                    certify::dual_value_argmax(&dual_problem, r.view(), Some(directions.view()), method, seed)?;
                let mean = &sum / count as f64;
                let averaged = certify::dual_value(&dual_problem, mean.view(), Some(directions.view()), method, seed)?;
                sum.fill(0.0);
                count = 0;
                let (dual, mut exact, mut dual_from) = if averaged.dual > current.dual {
                    (averaged.dual, averaged.exact, "averaged")
                } else {
                    (current.dual, current.exact, "current")
                };
                let mut loss = metrics.loss;
                let mut gap = loss - dual;
                let tolerance = schedule.stop.and_then(|r| r.rel_gap);
                let met = |loss: f64, gap: f64| tolerance.is_some_and(|tol| relative_gap(loss, gap) <= tol);
                if boost.reweight && !met(loss, gap) {
                    // The fully corrective step, then the certificate of the reweighted cloud.
                    let lambda = sim.problem.lambda;
                    let cloud =
                        insertion::reweight(&state.cloud, x.view(), y.view(), loss_fn, lambda, insertion::SWEEPS)?;
                    (sim, state) = restart(&sim, &state, run, cloud)?;
                    previous = None;
                    since_restart = 0;
                    loss = sim.problem.loss_of(&state.cloud);
                    r = residual(&state);
                    let directions = starts(&state.cloud, &memory);
                    (current, argmax) = certify::dual_value_argmax(
                        &sim.problem.dual(),
                        r.view(),
                        Some(directions.view()),
                        method,
                        seed,
                    )?;
                    if loss - current.dual < gap {
                        (gap, exact, dual_from) = (loss - current.dual, current.exact, "reweighted");
                    }
                }
                if boost != Boost::NONE {
                    remember(&mut memory, &argmax);
                }
                passes = if met(loss, gap) { passes + 1 } else { 0 };
                let by_gap = (passes >= boost.confirm.max(1)).then_some(StopReason::RelGap);
                let reason = changed.or(by_gap).or(last.then_some(StopReason::Cap));
                if let Some(stop_reason) = reason {
                    let certificate = if exact { "exact" } else { "estimated" }.to_string();
                    return Ok(Converged { state, loss, gap, certificate, dual_from, stop_reason, inserted });
                }
                if current.s > 2.0 * sim.problem.lambda {
                    let mut dir = argmax;
                    let mut res = r;
                    for k in 0..boost.per_check {
                        if inserted >= boost.insertions {
                            break;
                        }
                        if k > 0 {
                            res = residual(&state);
                            let dirs = starts(&state.cloud, &memory);
                            let sm = certify::sphere_max(x.view(), res.view(), Some(dirs.view()), method, seed)?;
                            if sm.value <= 2.0 * sim.problem.lambda {
                                break;
                            }
                            dir = sm.argmax;
                            remember(&mut memory, &dir);
                        }
                        let phi = insertion::features(x.view(), dir.view());
                        let sigma = -res.dot(&phi).signum();
                        let (t, _) = insertion::line_search(
                            loss_fn,
                            y.view(),
                            state.predictions.view(),
                            phi.view(),
                            sigma,
                            sim.problem.lambda,
                            state.cloud.second_moment(),
                        );
                        if t <= 0.0 {
                            break;
                        }
                        let cloud = insertion::insert(&state.cloud, dir.view(), sigma, t)?;
                        (sim, state) = restart(&sim, &state, run, cloud)?;
                        inserted += 1;
                        previous = None;
                        since_restart = 0;
                    }
                }
            }
            history.push(metrics);
        }
        if boost.nesterov {
            let p = sim
                .problem
                .objective(state.predictions.as_slice().expect("contiguous predictions"), state.cloud.second_moment());
            let theta = state.cloud.theta.clone();
            match previous.take() {
                Some((before, loss_before)) if p.loss <= loss_before => {
                    since_restart += 1;
                    let beta = F::of(since_restart as f64 / (since_restart as f64 + 3.0));
                    state.cloud.theta.zip_mut_with(&before, |t, &b| *t = *t + beta * (*t - b));
                    state.predictions = state.cloud.predict(sim.problem.x().view());
                }
                _ => since_restart = 0,
            }
            previous = Some((theta, p.loss));
        }
    }
    Err(Error::Invalid(format!("a run to a stopping rule needs a step cap >= 1 (cap {})", schedule.cap)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Dataset, Distribution, Task};
    use crate::loss::Loss;
    use crate::model::Init;
    use crate::rng::Purpose;

    #[test]
    fn a_boost_with_insertions_needs_certified_steps_to_insert_at() {
        let v = crate::config::Checker { file: "f.toml" };
        let boost = Boost { insertions: 10, per_check: 1, ..Boost::NONE };
        assert!(boost.check(&v, "net.boost", 200).is_ok() && Boost::NONE.check(&v, "net.boost", 0).is_ok());
        let err = boost.check(&v, "net.boost", 0).unwrap_err().to_string();
        assert!(err.starts_with("f.toml: field `net.boost` = Boost { insertions: 10, per_check: 1,"), "{err}");
        assert!(err.ends_with("with certify_every = 0: insertions > 0 needs per_check >= 1 and certify_every >= 1 (insertions happen at certified steps)"), "{err}");
        let none_per_check = Boost { per_check: 0, ..boost }.check(&v, "b", 200).unwrap_err().to_string();
        assert!(none_per_check.contains("per_check: 0,"), "{none_per_check}");
    }

    /// The quickstart problem (a 2-d teacher, n = 20: exact sphere maxima, and gd reaches its global
    /// minimum) and its exact optimum (the primal value of the convex program's network, an upper bound on
    /// L*, and its dual, a lower one).
    fn teacher_d2(lambda: f64) -> (Dataset, f64, f64) {
        let teacher =
            Distribution::Teacher { d: 2, hidden: 6, task: Task::Classification, margin: 0.1, label_noise: 0.0 };
        let train = teacher.sample(20, 1, Purpose::TrainData).unwrap();
        let (_, report) = crate::optimum::solve(&train, Loss::Logistic, lambda, 1).unwrap();
        assert!(report.exact && report.gap < 1e-7, "{report:?}");
        (train, report.value, report.dual)
    }

    fn run(train: &Dataset, lambda: f64, schedule: Schedule) -> Converged<f64> {
        let problem = Problem::<f64>::new(train.clone(), None, Loss::Logistic, lambda).unwrap();
        let cloud = Cloud::<f64>::sample(200, 2, &Init::Gaussian { s_w: 1.0, s_u: 1.0 }, 1);
        super::train(problem, cloud, schedule, 1).unwrap()
    }

    #[test]
    fn the_gap_rule_stops_a_run_whose_exact_gap_bounds_the_true_excess() {
        let lambda = 0.01;
        let (train, upper, lower) = teacher_d2(lambda);
        let rule = StopRule { rel_gap: Some(1e-3), rel_change: None, window: 1000 };
        let schedule = Schedule { eta: 0.5, cap: 50_000, log_every: 50, certify_every: 100, stop: Some(rule) };
        let out = run(&train, lambda, schedule);
        assert_eq!(out.stop_reason, StopReason::RelGap);
        assert_eq!(out.certificate, "exact");
        assert!(out.state.step < 50_000 && out.state.step.is_multiple_of(100), "{}", out.state.step);
        assert!(out.gap >= 0.0 && out.gap <= 1e-3 * out.loss, "G = {} at L = {}", out.gap, out.loss);
        // D = L - G is a lower bound on L* <= upper; and L >= L* >= lower.
        assert!(out.loss - out.gap <= upper + 1e-9, "D = {} above L* <= {upper}", out.loss - out.gap);
        assert!(out.loss >= lower - 1e-12 && out.loss - upper <= out.gap + 1e-9);
    }

    #[test]
    fn without_a_rule_the_run_ends_certified_at_the_cap() {
        let lambda = 0.01;
        let (train, upper, _) = teacher_d2(lambda);
        let schedule = Schedule { eta: 0.5, cap: 250, log_every: 100, certify_every: 100, stop: None };
        let out = run(&train, lambda, schedule);
        assert_eq!((out.stop_reason, out.state.step), (StopReason::Cap, 250));
        // The last step is certified although 250 is not a multiple of certify_every.
        assert!(out.gap.is_finite() && out.loss - out.gap <= upper + 1e-9, "{} {}", out.loss, out.gap);
        assert!(out.dual_from == "current" || out.dual_from == "averaged");
    }

    #[test]
    fn the_change_rule_stops_at_a_certified_logged_step() {
        let lambda = 0.01;
        let (train, upper, _) = teacher_d2(lambda);
        let rule = StopRule { rel_gap: None, rel_change: Some(1e-4), window: 200 };
        let schedule = Schedule { eta: 0.5, cap: 50_000, log_every: 50, certify_every: 1000, stop: Some(rule) };
        let out = run(&train, lambda, schedule);
        assert_eq!(out.stop_reason, StopReason::RelChange);
        assert!(out.state.step.is_multiple_of(50) && out.state.step >= 200 && out.state.step < 50_000);
        assert!(out.gap.is_finite() && out.loss - out.gap <= upper + 1e-9);
    }

    #[test]
    fn a_zero_cap_is_an_error() {
        let lambda = 0.01;
        let (train, _, _) = teacher_d2(lambda);
        let problem = Problem::<f64>::new(train, None, Loss::Logistic, lambda).unwrap();
        let cloud = Cloud::<f64>::sample(10, 2, &Init::Gaussian { s_w: 1.0, s_u: 1.0 }, 1);
        let schedule = Schedule { eta: 0.5, cap: 0, log_every: 10, certify_every: 10, stop: None };
        let err = super::train(problem, cloud, schedule, 1).unwrap_err().to_string();
        assert!(err.contains("needs a step cap >= 1 (cap 0)"), "{err}");
    }
}
