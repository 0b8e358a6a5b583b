//! The problem, the state and the loop that moves a cloud (an executor in the sense of the argmin crate: the loop, its timing, checkpoints and interruption).
//!
//! A [`Simulation`] owns the problem, the dynamics and the schedule; the [`State`] (cloud, step,
//! time, predictions) moves through [`Simulation::step`] by value. Logging, progress bars and
//! output files are [`Observer`]s, outside the numerical core.
//!
//! A simulation may hold one [`Shard`] of a cloud shared by several processes ([`Communicator`]):
//! every process runs the same loop on its particles, the kernels sum the predictions over the
//! processes, the metrics are reduced exactly, and the results are those of one process holding the
//! whole cloud.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use ndarray::{s, Array1, Array2};

use super::checkpoint::Checkpoint;
pub use super::problem::{Objective, Problem, State};
use super::stop::{StopReason, StopRule};
use crate::certify::free_energy::{self, FreeEnergyCertificate};
use crate::certify::{self, DualBound, SphereMethod};
use crate::comm::{Communicator, Shard, Single};
use crate::data::classification_error;
use crate::dynamics::{Dynamics, Schedule, StepContext};
use crate::error::{Error, Result};
use crate::linalg::Real;
use crate::linalg::Simd;
use crate::loss::Loss;
use crate::metrics::Metrics;
use crate::model::{Cloud, ComputeKernel as Kernel, StoreActivations};
use crate::rng::{self, Purpose};

/// How long and how a run steps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunOptions {
    /// Base step size eta > 0.
    pub eta: f64,
    /// Step-size schedule.
    pub schedule: Schedule,
    /// Total number of steps.
    pub steps: u64,
    /// Metrics every this many steps (and at the first and last step).
    pub log_every: u64,
    /// Seed of every random stream.
    pub seed: u64,
    /// Certify (dual bound and gap) at logged steps that are multiples of this, and at the last
    /// step; 0 never.
    pub certify_every: u64,
    /// How the sphere maximum behind the dual bound is computed.
    pub certificate: SphereMethod,
    /// Samples per step (drawn without replacement, reproducibly from the seed and the step);
    /// `None` for full-batch steps. Logged metrics always use all samples.
    pub batch: Option<usize>,
    /// Neighbours k of the entropy estimate of Langevin runs (see [`crate::entropy`]).
    pub entropy_k: usize,
    /// Whether the training (and mini-batch) kernels keep the pre-activations between the forward
    /// pass and the next gradient ([`StoreActivations`]); the results are the same.
    pub store_activations: StoreActivations,
    /// The SIMD tier of the kernels; `None` for [`Simd::selected`] (the widest the CPU has, or the
    /// one `MEANFIELD_SIMD` names).
    pub simd: Option<Simd>,
}

impl RunOptions {
    /// Options with the given step size, length, logging and seed; constant schedule, every logged
    /// step certified with the automatic method.
    pub fn new(eta: f64, steps: u64, log_every: u64, seed: u64) -> Self {
        RunOptions {
            eta,
            schedule: Schedule::Constant,
            steps,
            log_every,
            seed,
            certify_every: log_every,
            certificate: SphereMethod::Auto,
            batch: None,
            entropy_k: crate::entropy::DEFAULT_K,
            store_activations: StoreActivations::Auto,
            simd: None,
        }
    }
}

/// Particle directions used as starts of the estimated sphere maximum, at most this many.
const CERTIFY_DIRECTIONS: usize = 128;

/// r_i = l'(y_i, F_i) / n for the n samples given.
fn residuals(loss: Loss, y: &[f64], f: &[f64], r: &mut [f64]) {
    let n = y.len() as f64;
    for ((r, &y), &f) in r.iter_mut().zip(y).zip(f) {
        *r = loss.derivative(y, f) / n;
    }
}

/// Receives the state at logged steps (and optionally at every step).
pub trait Observer<F: Real> {
    /// Called at step 0, every `log_every` steps and at the last step.
    fn observe(&mut self, state: &State<F>, metrics: &Metrics) -> Result<()>;
    /// Called after every step.
    fn tick(&mut self, _state: &State<F>) {}
}

/// A problem, a dynamics and a schedule, with the kernels sized for them.
#[derive(Debug)]
pub struct Simulation<F: Real> {
    /// The objective.
    pub problem: Problem<F>,
    /// What happens after each gradient step.
    pub dynamics: Box<dyn Dynamics<F>>,
    /// Step size, schedule, length, logging and seed.
    pub options: RunOptions,
    initial: Cloud<F>,
    shard: Shard,
    comm: Arc<dyn Communicator>,
    kernel: Kernel<F>,
    test_kernel: Option<Kernel<F>>,
    r: Vec<f64>,
    started: Instant,
    wall_before: f64,
    optimum: Option<f64>,
    batch: Option<MiniBatch<F>>,
    history: Vec<Metrics>,
    certify_seconds: f64,
    checkpoints: Option<Checkpointing>,
    interrupt: Option<Arc<AtomicBool>>,
    stop: Option<StopRule>,
    stopped: Option<StopReason>,
}

/// Where and how often the executor writes checkpoints.
#[derive(Clone, Debug)]
struct Checkpointing {
    every: u64,
    path: PathBuf,
    scenario: String,
}

/// Predictions beyond this size in absolute value mean the run is exploding.
const EXPLODING: f64 = 1e8;

/// Buffers of mini-batch steps.
#[derive(Debug)]
struct MiniBatch<F: Real> {
    kernel: Kernel<F>,
    x: Array2<F>,
    y: Vec<f64>,
    f: Vec<f64>,
    r: Vec<f64>,
}

impl<F: Real> Simulation<F> {
    /// A simulation starting from `cloud`; returns it with the initial state (step 0).
    pub fn new(
        problem: Problem<F>,
        dynamics: Box<dyn Dynamics<F>>,
        options: RunOptions,
        cloud: Cloud<F>,
    ) -> Result<(Self, State<F>)> {
        let shard = Shard::whole(cloud.m());
        Simulation::sharded(problem, dynamics, options, cloud, shard, Arc::new(Single))
    }

    /// A simulation of the particles `cloud` of `shard` (from [`Shard::of`] with the groups of
    /// [`crate::model::Layout::group_size`]), run together with the other processes of `comm`,
    /// which hold the other shards; returns it with the initial state (step 0).
    pub fn sharded(
        problem: Problem<F>,
        dynamics: Box<dyn Dynamics<F>>,
        options: RunOptions,
        cloud: Cloud<F>,
        shard: Shard,
        comm: Arc<dyn Communicator>,
    ) -> Result<(Self, State<F>)> {
        if cloud.m() != shard.len {
            return Err(Error::Invalid(format!(
                "the cloud has {} particles but its shard {}..{} of m = {} has {}",
                cloud.m(),
                shard.start,
                shard.start + shard.len,
                shard.total,
                shard.len
            )));
        }
        if cloud.d() != problem.train.d() {
            return Err(Error::Invalid(format!(
                "the cloud has d = {} input weights but the data have d = {} inputs",
                cloud.d(),
                problem.train.d()
            )));
        }
        if !(options.eta > 0.0 && options.eta.is_finite()) {
            return Err(Error::Invalid(format!("eta = {}: must be a finite number > 0", options.eta)));
        }
        let simd = match options.simd {
            Some(simd) => simd,
            None => Simd::selected()?,
        };
        let (n, d) = (problem.train.n(), cloud.d());
        let store = |samples: usize| options.store_activations.stores(shard.len, samples, d, std::mem::size_of::<F>());
        let kernel_for =
            |samples: usize, store: bool| Kernel::on(shard, comm.clone(), samples, d).with_simd(simd).storing(store);
        let mut kernel = kernel_for(n, store(n));
        let test_kernel = problem.test.as_ref().map(|t| kernel_for(t.n(), false));
        let batch = match options.batch {
            Some(b) if b == 0 || b > n => {
                return Err(Error::Invalid(format!("batch = {b}: must be between 1 and the n = {n} training samples")))
            }
            Some(b) => Some(MiniBatch {
                kernel: kernel_for(b, store(b)),
                x: Array2::zeros((b, d)),
                y: vec![0.0; b],
                f: vec![0.0; b],
                r: vec![0.0; b],
            }),
            None => None,
        };
        let mut predictions = Array1::zeros(n);
        kernel.predict(cloud.theta.view(), problem.x.view(), predictions.as_slice_mut().expect("contiguous"));
        let state = State { cloud: cloud.clone(), step: 0, time: 0.0, predictions };
        let sim = Simulation {
            problem,
            dynamics,
            options,
            initial: cloud,
            shard,
            comm,
            kernel,
            test_kernel,
            r: vec![0.0; n],
            started: Instant::now(),
            wall_before: 0.0,
            optimum: None,
            batch,
            history: Vec::new(),
            certify_seconds: 0.0,
            checkpoints: None,
            interrupt: None,
            stop: None,
            stopped: None,
        };
        Ok((sim, state))
    }

    /// Whether the training kernels keep the pre-activations ([`RunOptions::store_activations`]).
    pub fn stores_activations(&self) -> bool {
        self.kernel.stores()
    }

    /// The SIMD tier the kernels run in.
    pub fn simd(&self) -> Simd {
        self.kernel.simd()
    }

    /// Declares the exact minimum L* of the problem, so that metrics report the excess L - L*.
    pub fn set_optimum(&mut self, value: f64) {
        self.optimum = Some(value);
    }

    /// The exact minimum L*, if known.
    pub fn optimum(&self) -> Option<f64> {
        self.optimum
    }

    /// The dual bound D <= L* at `state` (docs/math.md, section Dual bound), with every k-th particle direction
    /// of the cloud (at most 128) as starts when the sphere maximum is estimated. Computed on rank 0
    /// and sent to the other processes.
    pub fn dual_bound(&self, state: &State<F>) -> Result<DualBound> {
        let u = state.cloud.u();
        let stride = self.shard.total.div_ceil(CERTIFY_DIRECTIONS).max(1);
        let first = (stride - self.shard.start % stride) % stride;
        let local = u.slice(s![first.min(u.nrows())..;stride, ..]).mapv(Real::f64);
        let gathered = self.comm.gather(local.as_slice().expect("fresh array is contiguous"));
        let mut bound = [f64::NAN; 4];
        if let Some(all) = gathered {
            let directions =
                Array2::from_shape_vec((all.len() / u.ncols(), u.ncols()), all).expect("gathered whole directions");
            let b = certify::dual_bound(
                &self.problem.dual(),
                state.predictions.view(),
                Some(directions.view()),
                self.options.certificate,
                self.options.seed,
            );
            // Ctrl-C or SIGTERM during an exact search: this step goes uncertified (NaN, an empty
            // cell), and the executor stops after it with a checkpoint.
            match b {
                Ok(b) => bound = [b.dual, b.s, b.c, f64::from(u8::from(b.exact))],
                Err(Error::Stopped { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        self.comm.broadcast(&mut bound);
        Ok(DualBound { dual: bound[0], s: bound[1], c: bound[2], exact: bound[3] == 1.0 })
    }

    /// At a certified step of a Langevin run at temperature tau > 0 with lambda > 0: the entropy estimate of the
    /// whole cloud and the free-energy bound (docs/math.md, section Free energy), computed on rank 0 and sent to the other processes.
    fn free_energy(&self, state: &State<F>, bound: &DualBound, tau: f64) -> Result<(f64, f64, FreeEnergyCertificate)> {
        let mut out = [f64::NAN; 3];
        if let Some(cloud) = self.gather(&state.cloud) {
            let entropy = crate::entropy::kl_entropy(cloud.to_f64().view(), self.options.entropy_k)?;
            let train = &self.problem.train;
            let (y, f) = (train.y.as_slice().expect("contiguous"), state.predictions.as_slice().expect("contiguous"));
            let r = Array1::from(self.problem.loss.risk_gradient(y, f));
            let b = free_energy::dual_free_energy(
                &self.problem.dual(),
                r.view(),
                tau,
                bound.s,
                bound.exact,
                self.options.seed,
            )?;
            out = [entropy, b.dual, b.certificate as u8 as f64];
        }
        self.comm.broadcast(&mut out);
        let certificate =
            [FreeEnergyCertificate::Exact, FreeEnergyCertificate::Confidence, FreeEnergyCertificate::Estimated]
                [out[2] as usize];
        Ok((out[0], out[1], certificate))
    }

    /// The shard of the cloud this simulation moves.
    pub fn shard(&self) -> Shard {
        self.shard
    }

    /// The processes sharing the cloud.
    pub fn comm(&self) -> &Arc<dyn Communicator> {
        &self.comm
    }

    /// The whole cloud on rank 0 (`None` on the other ranks), from every process's shard `local`.
    /// Every process must call it.
    pub fn gather(&self, local: &Cloud<F>) -> Option<Cloud<F>> {
        let rows = local.to_f64();
        let all = self.comm.gather(rows.as_slice().expect("fresh array is contiguous"))?;
        let theta = Array2::from_shape_vec((self.shard.total, rows.ncols()), all).expect("gathered whole particles");
        Some(Cloud { theta: theta.mapv(F::of) })
    }

    /// The second moment integral |theta|^2 d rho of the whole cloud, from every shard.
    fn second_moment(&self, cloud: &Cloud<F>) -> f64 {
        let mut sum = [cloud.squared_norms()];
        self.comm.sum(&mut sum);
        sum[0].to_f64() / self.shard.total as f64
    }

    /// Wall-clock seconds spent computing dual bounds so far (in this process).
    pub fn certify_seconds(&self) -> f64 {
        self.certify_seconds
    }

    /// The metrics logged so far.
    pub fn history(&self) -> &[Metrics] {
        &self.history
    }

    /// Writes a checkpoint to `path` every `every` steps (0: only when interrupted), tagged with the
    /// resolved scenario text.
    pub fn set_checkpoints(&mut self, every: u64, path: PathBuf, scenario: String) {
        self.checkpoints = Some(Checkpointing { every, path, scenario });
    }

    /// A flag that, once set (by a Ctrl-C handler), stops [`Simulation::run`] after the current
    /// step with a checkpoint and [`Error::Interrupted`].
    pub fn set_interrupt(&mut self, flag: Arc<AtomicBool>) {
        self.interrupt = Some(flag);
    }

    /// Stops [`Simulation::run`] at the first logged step where `rule` holds (see [`crate::engine::stop`]);
    /// `options.steps` stays the cap and becomes the steps used when a rule stops the run.
    pub fn set_stop(&mut self, rule: StopRule) {
        self.stop = Some(rule);
    }

    /// Why the run ended: the rule that stopped it, or [`StopReason::Cap`].
    pub fn stop_reason(&self) -> StopReason {
        self.stopped.unwrap_or(StopReason::Cap)
    }

    /// The checkpoint of `state` (of the whole cloud), tagged with `scenario`: on rank 0, `None` on
    /// the other ranks. Every process must call it.
    pub fn checkpoint(&self, state: &State<F>, scenario: &str) -> Option<Checkpoint<F>> {
        let cloud = self.gather(&state.cloud);
        let initial = self.gather(&self.initial);
        Some(Checkpoint {
            scenario: scenario.to_string(),
            state: State { cloud: cloud?, ..state.clone() },
            initial: initial?,
            history: self.history.clone(),
            optimum: self.optimum,
            wall_seconds: self.wall_seconds(),
        })
    }

    /// Continues from a checkpoint of this simulation (of the whole cloud): returns its state,
    /// holding this process's shard.
    pub fn resume(&mut self, checkpoint: Checkpoint<F>) -> Result<State<F>> {
        let (m, width) = (self.shard.total, self.initial.theta.ncols());
        let n = self.problem.train.n();
        if checkpoint.state.cloud.theta.dim() != (m, width) || checkpoint.state.predictions.len() != n {
            return Err(Error::Invalid(format!(
                "the checkpoint holds {} particles of dimension {} on {} samples, but the run has m = {m}, d = {}, n = {n}",
                checkpoint.state.cloud.m(),
                checkpoint.state.cloud.d(),
                checkpoint.state.predictions.len(),
                width - 1
            )));
        }
        let rows = self.shard.rows();
        let shard = |cloud: Cloud<F>| Cloud { theta: cloud.theta.slice(s![rows.clone(), ..]).to_owned() };
        self.initial = shard(checkpoint.initial);
        self.history = checkpoint.history;
        self.optimum = checkpoint.optimum;
        self.wall_before = checkpoint.wall_seconds;
        Ok(State { cloud: shard(checkpoint.state.cloud), ..checkpoint.state })
    }

    fn wall_seconds(&self) -> f64 {
        self.wall_before + self.started.elapsed().as_secs_f64()
    }

    fn write_checkpoint(&self, state: &State<F>) -> Result<()> {
        match &self.checkpoints {
            Some(c) => self.checkpoint(state, &c.scenario).map_or(Ok(()), |k| k.write(&c.path)),
            None => Ok(()),
        }
    }

    /// The cloud (this process's shard of it) the run started from.
    pub fn initial(&self) -> &Cloud<F> {
        &self.initial
    }

    /// One step: the gradient step of every particle, the dynamics' move, the new predictions.
    /// With mini-batches the step uses the batch's samples only, and `state.predictions` (on all
    /// samples) is refreshed at the steps that are logged.
    pub fn step(&mut self, mut state: State<F>) -> Result<State<F>> {
        let ctx = StepContext {
            seed: self.options.seed,
            step: state.step,
            time: state.time,
            eta: self.options.schedule.eta(self.options.eta, state.time),
        };
        let (loss, lambda) = (self.problem.loss, self.problem.lambda);
        let dynamics = &self.dynamics;
        let post = |block: ndarray::ArrayViewMut2<F>, first: usize| dynamics.perturb(block, first, &ctx);
        let theta = state.cloud.theta.view_mut();
        let new_predictions = match &mut self.batch {
            None => {
                let (y, f) = (&self.problem.train.y, &state.predictions);
                residuals(loss, y.as_slice().expect("contiguous"), f.as_slice().expect("contiguous"), &mut self.r);
                let out = state.predictions.as_slice_mut().expect("contiguous");
                self.kernel.step(theta, self.problem.x.view(), &self.r, lambda, ctx.eta, &post, out);
                state.predictions.as_slice().expect("contiguous")
            }
            Some(b) => {
                let mut rng = rng::stream(self.options.seed, Purpose::Batch, 0, state.step);
                let mut rows = rand::seq::index::sample(&mut rng, self.problem.train.n(), b.y.len()).into_vec();
                rows.sort_unstable();
                for (k, &i) in rows.iter().enumerate() {
                    b.x.row_mut(k).assign(&self.problem.x.row(i));
                    b.y[k] = self.problem.train.y[i];
                }
                b.kernel.predict(theta.view(), b.x.view(), &mut b.f);
                residuals(loss, &b.y, &b.f, &mut b.r);
                b.kernel.step(theta, b.x.view(), &b.r, lambda, ctx.eta, &post, &mut b.f);
                &b.f[..]
            }
        };
        // NaN fails every comparison, so `is_nan` is checked explicitly.
        let bad = new_predictions.iter().find(|f| f.is_nan() || f.abs() > EXPLODING).copied();
        state.step += 1;
        state.time = self.options.schedule.time_after(self.options.eta, state.step, state.time, ctx.eta);
        if let Some(bad) = bad {
            return Err(Error::Diverged {
                step: state.step,
                quantity: "a training prediction".into(),
                value: bad,
                eta: ctx.eta,
                suggested: ctx.eta / 10.0,
            });
        }
        if self.batch.is_some() && self.is_logged(state.step) {
            let out = state.predictions.as_slice_mut().expect("contiguous");
            self.kernel.predict(state.cloud.theta.view(), self.problem.x.view(), out);
        }
        Ok(state)
    }

    /// L[rho] at `state` (every process must call it).
    fn loss_now(&self, state: &State<F>) -> f64 {
        let f = state.predictions.as_slice().expect("contiguous");
        self.problem.objective(f, self.second_moment(&state.cloud)).loss
    }

    /// Whether metrics are logged after `step` steps.
    fn is_logged(&self, step: u64) -> bool {
        step.is_multiple_of(self.options.log_every.max(1)) || step == self.options.steps
    }

    /// The metrics of docs/math.md, sections Objective and Dual bound, at `state` (certified when `state.step` is due).
    pub fn metrics(&mut self, state: &State<F>) -> Result<Metrics> {
        let every = self.options.certify_every;
        let due = every > 0 && (state.step.is_multiple_of(every) || state.step == self.options.steps);
        let certifying = Instant::now();
        let bound = if due { Some(self.dual_bound(state)?).filter(|b| !b.dual.is_nan()) } else { None };
        let tau = self.dynamics.langevin_temperature(state.step).filter(|&t| t > 0.0 && self.problem.lambda > 0.0);
        let free = match (&bound, tau) {
            (Some(b), Some(tau)) => Some((tau, self.free_energy(state, b, tau)?)),
            _ => None,
        };
        self.certify_seconds += certifying.elapsed().as_secs_f64();
        let problem = &self.problem;
        let second_moment = self.second_moment(&state.cloud);
        let f = state.predictions.as_slice().expect("contiguous");
        let objective = problem.objective(f, second_moment);
        let classification = problem.loss.is_classification();
        let train_error =
            classification.then(|| classification_error(problem.train.y.view(), state.predictions.view()));
        let margin = classification.then(|| {
            let min = problem.train.y.iter().zip(f).map(|(y, f)| y * f).fold(f64::INFINITY, f64::min);
            min / second_moment
        });
        let test = match (&problem.test, &problem.x_test, &mut self.test_kernel) {
            (Some(test), Some(x), Some(kernel)) => {
                let mut ft = vec![0.0; test.n()];
                kernel.predict(state.cloud.theta.view(), x.view(), &mut ft);
                let y = test.y.as_slice().expect("contiguous");
                Some((
                    problem.loss.risk(y, &ft),
                    classification.then(|| classification_error(test.y.view(), ft[..].into())),
                ))
            }
            _ => None,
        };
        let pattern_change =
            self.kernel.pattern_change(state.cloud.theta.view(), self.initial.theta.view(), problem.x.view());
        Ok(Metrics {
            step: state.step,
            time: state.time,
            loss: objective.loss,
            data_fit: objective.data_fit,
            penalty: objective.penalty,
            train_error,
            test_error: test.and_then(|t| t.1),
            train_loss: objective.data_fit,
            test_loss: test.map(|t| t.0),
            margin,
            second_moment,
            pattern_change,
            wall_seconds: self.wall_seconds(),
            dual_bound: bound.as_ref().map(|b| b.dual),
            gap: bound.as_ref().map(|b| objective.loss - b.dual),
            certificate: bound.map(|b| if b.exact { "exact" } else { "estimated" }.to_string()),
            excess: self.optimum.map(|l| objective.loss - l),
            entropy: free.map(|(_, (h, _, _))| h),
            free_energy: free.map(|(tau, (h, _, _))| objective.loss - tau * h),
            dual_free_energy: free.map(|(_, (_, dual, _))| dual),
            gap_free_energy: free.map(|(tau, (h, dual, _))| objective.loss - tau * h - dual),
            certificate_free_energy: free.map(|(_, (_, _, c))| c.as_str().to_string()),
        })
    }

    /// Runs the remaining steps from `state`, recording metrics (and calling the observers) at
    /// step 0 (if the state is at step 0), every `log_every` steps and at the last step, writing
    /// checkpoints when due, and stopping with a checkpoint when interrupted.
    pub fn run(&mut self, mut state: State<F>, observers: &mut [&mut dyn Observer<F>]) -> Result<State<F>> {
        self.started = Instant::now();
        let notify = |sim: &mut Self, state: &State<F>, observers: &mut [&mut dyn Observer<F>]| -> Result<()> {
            let metrics = sim.metrics(state)?;
            if !metrics.loss.is_finite() || !metrics.second_moment.is_finite() {
                return Err(Error::Diverged {
                    step: state.step,
                    quantity: "the loss".into(),
                    value: metrics.loss,
                    eta: sim.options.eta,
                    suggested: sim.options.eta / 10.0,
                });
            }
            observers.iter_mut().try_for_each(|o| o.observe(state, &metrics))?;
            sim.history.push(metrics);
            Ok(())
        };
        if state.step == 0 && self.history.is_empty() {
            notify(self, &state, observers)?;
        }
        while state.step < self.options.steps {
            state = self.step(state)?;
            observers.iter_mut().for_each(|o| o.tick(&state));
            if self.is_logged(state.step) {
                // A rule ends the run at this step (so that its metrics are those of a last step).
                let loss = self.stop.map(|_| self.loss_now(&state));
                self.stopped = self.stop.zip(loss).and_then(|(r, l)| r.by_change(&self.history, state.step, l));
                if self.stopped.is_some() {
                    self.options.steps = state.step;
                }
                notify(self, &state, observers)?;
                if self.stopped.is_none() {
                    self.stopped = self.stop.zip(self.history.last()).and_then(|(r, m)| r.by_gap(m));
                    if self.stopped.is_some() {
                        self.options.steps = state.step;
                    }
                }
            }
            if self.comm.any(self.interrupt.as_ref().is_some_and(|f| f.load(Ordering::SeqCst))) {
                self.write_checkpoint(&state)?;
                return Err(Error::Interrupted { step: state.step });
            }
            if self.checkpoints.as_ref().is_some_and(|c| c.every > 0 && state.step.is_multiple_of(c.every)) {
                self.write_checkpoint(&state)?;
            }
        }
        Ok(state)
    }
}
