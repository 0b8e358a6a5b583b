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

use std::ops::ControlFlow;

use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2};

use super::insertion;
use crate::certify::{self, DualBound};
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
    /// Particles added by mass insertion ([`Boost`]).
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
    let mut trainer = Trainer::new(problem, cloud, schedule, boost, seed)?;
    while trainer.state.step < schedule.cap {
        trainer = match trainer.step()? {
            ControlFlow::Continue(trainer) => trainer,
            ControlFlow::Break(converged) => return Ok(converged),
        };
    }
    Err(Error::Invalid(format!("a run to a stopping rule needs a step cap >= 1 (cap {})", schedule.cap)))
}

/// One run of [`train_with`]: the simulation and its state, the fixed inputs (the options of every
/// simulation of the run, the schedule, the boost), and what carries over from step to step. The training
/// data are those of `sim.problem` (insertions and reweighting change only the cloud).
struct Trainer<F: Real> {
    sim: Simulation<F>,
    state: State<F>,
    /// The options of the first simulation and of every restart: certification off (the trainer certifies).
    run: RunOptions,
    schedule: Schedule,
    boost: Boost,
    /// sum_s r_s and the number k of steps s since the previous certified step: r_bar = sum / k.
    sum: Array1<f64>,
    count: usize,
    /// The metrics of the logged steps, the window of the change rule.
    history: Vec<Metrics>,
    /// Nesterov: theta_k and L(theta_k) (`None` after a restart of the simulation), and j, the steps since
    /// the last restart.
    previous: Option<(Array2<F>, f64)>,
    since_restart: u64,
    /// Directions of past sphere maxima (at most [`MEMORY`]).
    memory: Vec<Array1<f64>>,
    /// The certified steps in a row that met the gap rule.
    passes: usize,
    /// Particles added by mass insertion.
    inserted: usize,
}

impl<F: Real> Trainer<F> {
    /// `gd` on `problem` from `cloud` with the step size, cap and logging of the schedule and `seed`, at
    /// step 0 with an empty history.
    fn new(problem: Problem<F>, cloud: Cloud<F>, schedule: Schedule, boost: Boost, seed: u64) -> Result<Self> {
        let mut run = RunOptions::new(schedule.eta, schedule.cap, schedule.log_every, seed);
        run.certify_every = 0;
        if boost.nesterov {
            // The extrapolation moves the cloud between steps: pre-activations kept from a step are stale.
            run.store_activations = StoreActivations::Never;
        }
        let (sim, state) = Simulation::new(problem, Box::new(Gd), run, cloud)?;
        let n = sim.problem.train.y.len();
        Ok(Trainer {
            sim,
            state,
            run,
            schedule,
            boost,
            sum: Array1::zeros(n),
            count: 0,
            history: Vec::new(),
            previous: None,
            since_restart: 0,
            memory: Vec::new(),
            passes: 0,
            inserted: 0,
        })
    }

    /// One gd step, its residual r_t added to the running sum; at a logged step the metrics, and at a
    /// certified one (every `certify_every` logged steps, the step cap, or the change rule met)
    /// [`Trainer::certify`]; then Nesterov's extrapolation. `Break` with the result when a rule ends the run.
    fn step(mut self) -> Result<ControlFlow<Converged<F>, Self>> {
        self.state = self.sim.step(self.state)?;
        self.sum += &self.residual();
        self.count += 1;
        let (step, schedule) = (self.state.step, self.schedule);
        if step % schedule.log_every == 0 || step == schedule.cap {
            let metrics = self.metrics()?;
            let changed = schedule.stop.and_then(|r| r.by_change(&self.history, step, metrics.loss));
            let last = changed.is_some() || step == schedule.cap;
            if last || (schedule.certify_every > 0 && step % schedule.certify_every == 0) {
                self = match self.certify(&metrics, changed, last)? {
                    ControlFlow::Continue(trainer) => trainer,
                    ControlFlow::Break(converged) => return Ok(ControlFlow::Break(converged)),
                };
            }
            self.history.push(metrics);
        }
        if self.boost.nesterov {
            self.extrapolate();
        }
        Ok(ControlFlow::Continue(self))
    }

    /// The metrics of the current state; an error if L or the second moment is not finite.
    fn metrics(&mut self) -> Result<Metrics> {
        let metrics = self.sim.metrics(&self.state)?;
        if !metrics.loss.is_finite() || !metrics.second_moment.is_finite() {
            let eta = self.schedule.eta;
            return Err(Error::Diverged {
                step: self.state.step,
                quantity: "the loss".into(),
                value: metrics.loss,
                eta,
                suggested: eta / 10.0,
            });
        }
        Ok(metrics)
    }

    /// The certified step at the logged `metrics` (`changed`: what the change rule decided; `last`: the
    /// run ends here): D at the current residual r_t and at r_bar (the sum restarts), the larger one kept;
    /// with `boost.reweight`, when the gap rule does not hold, the fully corrective step and D of the
    /// reweighted cloud where that gives a smaller G. `Break` with the result when a rule stops the run
    /// (the gap rule when it held at `boost.confirm` certified steps in a row), else the insertions at the
    /// sphere maximum of r_t if it exceeds 2 lambda.
    fn certify(
        mut self,
        metrics: &Metrics,
        changed: Option<StopReason>,
        last: bool,
    ) -> Result<ControlFlow<Converged<F>, Self>> {
        let directions = self.starts();
        let mut r = self.residual();
        let (mut current, mut argmax) = self.dual(r.view(), directions.view())?;
        let mean = &self.sum / self.count as f64;
        let (averaged, _) = self.dual(mean.view(), directions.view())?;
        self.sum.fill(0.0);
        self.count = 0;
        let (dual, mut exact, mut dual_from) = if averaged.dual > current.dual {
            (averaged.dual, averaged.exact, "averaged")
        } else {
            (current.dual, current.exact, "current")
        };
        let mut loss = metrics.loss;
        let mut gap = loss - dual;
        if self.boost.reweight && !self.met(loss, gap) {
            // The fully corrective step, then the certificate of the reweighted cloud.
            let problem = &self.sim.problem;
            let (x, y) = (problem.train.x.view(), problem.train.y.view());
            let cloud = insertion::reweight(&self.state.cloud, x, y, problem.loss, problem.lambda, insertion::SWEEPS)?;
            self.restart(cloud)?;
            loss = self.sim.problem.loss_of(&self.state.cloud);
            r = self.residual();
            (current, argmax) = self.dual(r.view(), self.starts().view())?;
            if loss - current.dual < gap {
                (gap, exact, dual_from) = (loss - current.dual, current.exact, "reweighted");
            }
        }
        if self.boost != Boost::NONE {
            self.remember(&argmax);
        }
        self.passes = if self.met(loss, gap) { self.passes + 1 } else { 0 };
        let by_gap = (self.passes >= self.boost.confirm.max(1)).then_some(StopReason::RelGap);
        if let Some(stop_reason) = changed.or(by_gap).or(last.then_some(StopReason::Cap)) {
            let certificate = if exact { "exact" } else { "estimated" }.to_string();
            return Ok(ControlFlow::Break(Converged {
                state: self.state,
                loss,
                gap,
                certificate,
                dual_from,
                stop_reason,
                inserted: self.inserted,
            }));
        }
        if current.s > 2.0 * self.sim.problem.lambda {
            self.insert(argmax, r)?;
        }
        Ok(ControlFlow::Continue(self))
    }

    /// D at the dual vector `beta` and the direction v of the sphere maximum S(beta), searched from
    /// `directions` with the seed of the step.
    fn dual(&self, beta: ArrayView1<f64>, directions: ArrayView2<f64>) -> Result<(DualBound, Array1<f64>)> {
        let (problem, method) = (self.sim.problem.dual(), self.run.certificate);
        certify::dual_value_argmax(&problem, beta, Some(directions), method, self.seed())
    }

    /// r = l'(y_i, F_i) / n at the current predictions.
    fn residual(&self) -> Array1<f64> {
        let (problem, f) = (&self.sim.problem, &self.state.predictions);
        let y = problem.train.y.as_slice().expect("labels are contiguous");
        Array1::from(problem.loss.risk_gradient(y, f.as_slice().expect("contiguous predictions")))
    }

    /// The seed of the sphere maxima at the current step: boosted runs stop early, so they take fresh
    /// random starts at every certified step.
    fn seed(&self) -> u64 {
        let seed = self.run.seed;
        if self.boost == Boost::NONE {
            seed
        } else {
            seed.wrapping_add(self.state.step)
        }
    }

    /// Whether the gap rule G / L <= `rel_gap` holds at L = `loss`, G = `gap` (never without the rule).
    fn met(&self, loss: f64, gap: f64) -> bool {
        let tolerance = self.schedule.stop.and_then(|r| r.rel_gap);
        tolerance.is_some_and(|tol| relative_gap(loss, gap) <= tol)
    }

    /// At most `boost.per_check` mass insertions, while fewer than `boost.insertions` were made: the first
    /// in the direction `dir` of the sphere maximum of the residual `res`, each further one at the sphere
    /// maximum of the residual after the previous insertion as long as that exceeds 2 lambda; each with sign
    /// sigma = -sign(a_r(v)) and the mass t of [`insertion::line_search`], none once t <= 0.
    fn insert(&mut self, mut dir: Array1<f64>, mut res: Array1<f64>) -> Result<()> {
        for k in 0..self.boost.per_check {
            if self.inserted >= self.boost.insertions {
                break;
            }
            if k > 0 {
                res = self.residual();
                let (x, dirs) = (self.sim.problem.train.x.view(), self.starts());
                let sm = certify::sphere_max(x, res.view(), Some(dirs.view()), self.run.certificate, self.seed())?;
                if sm.value <= 2.0 * self.sim.problem.lambda {
                    break;
                }
                dir = sm.argmax;
                self.remember(&dir);
            }
            let problem = &self.sim.problem;
            let phi = insertion::features(problem.train.x.view(), dir.view());
            let sigma = -res.dot(&phi).signum();
            let (t, _) = insertion::line_search(
                problem.loss,
                problem.train.y.view(),
                self.state.predictions.view(),
                phi.view(),
                sigma,
                problem.lambda,
                self.state.cloud.second_moment(),
            );
            if t <= 0.0 {
                break;
            }
            let cloud = insertion::insert(&self.state.cloud, dir.view(), sigma, t)?;
            self.restart(cloud)?;
            self.inserted += 1;
        }
        Ok(())
    }

    /// Nesterov's extrapolation after the gd step to theta_{k+1}: if L(theta_{k+1}) <= L(theta_k), j rises
    /// by one and the cloud moves to y_{k+1} = theta_{k+1} + beta (theta_{k+1} - theta_k), beta = j / (j + 3);
    /// else a restart (j = 0) leaves it at theta_{k+1}. theta_{k+1} and its L are kept for the next step.
    fn extrapolate(&mut self) {
        let predictions = self.state.predictions.as_slice().expect("contiguous predictions");
        let p = self.sim.problem.objective(predictions, self.state.cloud.second_moment());
        let theta = self.state.cloud.theta.clone();
        match self.previous.take() {
            Some((before, loss_before)) if p.loss <= loss_before => {
                self.since_restart += 1;
                let beta = F::of(self.since_restart as f64 / (self.since_restart as f64 + 3.0));
                self.state.cloud.theta.zip_mut_with(&before, |t, &b| *t = *t + beta * (*t - b));
                self.state.predictions = self.state.cloud.predict(self.sim.problem.x().view());
            }
            _ => self.since_restart = 0,
        }
        self.previous = Some((theta, p.loss));
    }

    /// Continues from `cloud` (a reweighted cloud, or one with an inserted particle): a new simulation of
    /// the same problem, its state at the current step and time, and Nesterov's momentum restarted.
    fn restart(&mut self, cloud: Cloud<F>) -> Result<()> {
        let (sim, fresh) = Simulation::new(self.sim.problem.clone(), Box::new(Gd), self.run, cloud)?;
        self.state = State { step: self.state.step, time: self.state.time, ..fresh };
        self.sim = sim;
        self.previous = None;
        self.since_restart = 0;
        Ok(())
    }

    /// The starts of the sphere maximum: at most [`DIRECTIONS`] evenly strided particle directions, then the
    /// remembered directions.
    fn starts(&self) -> Array2<f64> {
        let u = self.state.cloud.u();
        let stride = u.nrows().div_ceil(DIRECTIONS).max(1);
        let mut out: Array2<f64> = u.slice(s![..;stride, ..]).mapv(Real::f64);
        for v in &self.memory {
            out.push_row(v.view()).expect("memory rows have length d");
        }
        out
    }

    /// Keeps `v` among the last [`MEMORY`] directions.
    fn remember(&mut self, v: &Array1<f64>) {
        if self.memory.len() == MEMORY {
            self.memory.remove(0);
        }
        self.memory.push(v.clone());
    }
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
