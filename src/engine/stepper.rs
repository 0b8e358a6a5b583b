//! The numeric core of a run (a solver in the sense of the argmin crate): the problem, the dynamics,
//! the step-size schedule and the kernels with their buffers, sized once. [`Stepper::step`] moves a
//! [`State`] by value through one step; nothing here knows about timing, history, checkpoints files
//! or interruption (that is the loop, [`super::Simulation`]).
//!
//! A stepper may hold one [`Shard`] of a cloud shared by several processes ([`Communicator`]):
//! every process steps its particles, the kernels sum the predictions over the processes, and the
//! results are those of one process holding the whole cloud.

use std::sync::Arc;

use ndarray::{s, Array1, Array2};

use super::checkpoint::Checkpoint;
use super::problem::{Problem, State};
use crate::certify::SphereMethod;
use crate::comm::{Communicator, Shard, Single};
use crate::dynamics::{Dynamics, Schedule, StepContext};
use crate::error::{Error, Result};
use crate::linalg::{Real, Simd};
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

/// r_i = l'(y_i, F_i) / n for the n samples given (docs/math.md, section Velocity).
fn residuals(loss: Loss, y: &[f64], f: &[f64], r: &mut [f64]) {
    let n = y.len() as f64;
    for ((r, &y), &f) in r.iter_mut().zip(y).zip(f) {
        *r = loss.derivative(y, f) / n;
    }
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

/// A problem, a dynamics and a schedule, with the kernels and buffers sized for them: the numeric
/// state of a run apart from the [`State`] it moves.
#[derive(Debug)]
pub struct Stepper<F: Real> {
    /// The objective.
    pub problem: Problem<F>,
    /// What happens after each gradient step.
    pub dynamics: Box<dyn Dynamics<F>>,
    /// Step size, schedule, length, logging and seed.
    pub options: RunOptions,
    pub(super) initial: Cloud<F>,
    pub(super) shard: Shard,
    pub(super) comm: Arc<dyn Communicator>,
    pub(super) kernel: Kernel<F>,
    pub(super) test_kernel: Option<Kernel<F>>,
    r: Vec<f64>,
    batch: Option<MiniBatch<F>>,
}

impl<F: Real> Stepper<F> {
    /// A stepper of the whole cloud `cloud` in one process; returns it with the initial state (step 0).
    pub fn new(
        problem: Problem<F>,
        dynamics: Box<dyn Dynamics<F>>,
        options: RunOptions,
        cloud: Cloud<F>,
    ) -> Result<(Self, State<F>)> {
        let shard = Shard::whole(cloud.m());
        Stepper::sharded(problem, dynamics, options, cloud, shard, Arc::new(Single))
    }

    /// A stepper of the particles `cloud` of `shard` (from [`Shard::of`] with the groups of
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
        let stepper = Stepper {
            problem,
            dynamics,
            options,
            initial: cloud,
            shard,
            comm,
            kernel,
            test_kernel,
            r: vec![0.0; n],
            batch,
        };
        Ok((stepper, state))
    }

    /// Whether the training kernels keep the pre-activations ([`RunOptions::store_activations`]).
    pub fn stores_activations(&self) -> bool {
        self.kernel.stores()
    }

    /// The SIMD tier the kernels run in.
    pub fn simd(&self) -> Simd {
        self.kernel.simd()
    }

    /// The shard of the cloud this stepper moves.
    pub fn shard(&self) -> Shard {
        self.shard
    }

    /// The processes sharing the cloud.
    pub fn comm(&self) -> &Arc<dyn Communicator> {
        &self.comm
    }

    /// The cloud (this process's shard of it) the run started from.
    pub fn initial(&self) -> &Cloud<F> {
        &self.initial
    }

    /// The whole cloud on rank 0 (`None` on the other ranks), from every process's shard `local`.
    /// Every process must call it.
    pub fn gather(&self, local: &Cloud<F>) -> Option<Cloud<F>> {
        let rows = local.to_f64();
        let all = self.comm.gather(rows.as_slice().expect("fresh array is contiguous"))?;
        let theta = Array2::from_shape_vec((self.shard.total, rows.ncols()), all).expect("gathered whole particles");
        Some(Cloud { theta: theta.mapv(F::of) })
    }

    /// The second moment integral |theta|^2 d rho of the whole cloud, from every shard
    /// (docs/math.md, section Objective).
    pub(super) fn second_moment(&self, cloud: &Cloud<F>) -> f64 {
        let mut sum = [cloud.squared_norms()];
        self.comm.sum(&mut sum);
        sum[0].to_f64() / self.shard.total as f64
    }

    /// L\[rho\] at `state` (every process must call it).
    pub(super) fn loss_now(&self, state: &State<F>) -> f64 {
        let f = state.predictions.as_slice().expect("contiguous");
        self.problem.objective(f, self.second_moment(&state.cloud)).loss
    }

    /// Whether metrics are logged after `step` steps.
    pub(super) fn is_logged(&self, step: u64) -> bool {
        step.is_multiple_of(self.options.log_every.max(1)) || step == self.options.steps
    }

    /// The checkpoint of `state` (of the whole cloud) with the run's `history`, `optimum` and
    /// `wall_seconds`, tagged with `scenario`: on rank 0, `None` on the other ranks. Every process
    /// must call it.
    pub(super) fn checkpoint(
        &self,
        state: &State<F>,
        scenario: &str,
        history: &[Metrics],
        optimum: Option<f64>,
        wall_seconds: f64,
    ) -> Option<Checkpoint<F>> {
        let cloud = self.gather(&state.cloud);
        let initial = self.gather(&self.initial);
        Some(Checkpoint {
            scenario: scenario.to_string(),
            state: State { cloud: cloud?, ..state.clone() },
            initial: initial?,
            history: history.to_vec(),
            optimum,
            wall_seconds,
        })
    }

    /// Takes this process's shard of the initial cloud and of the state of a checkpoint of the
    /// whole cloud; returns the checkpoint's state (holding the shard) after checking its shape.
    pub(super) fn resume_shard(&mut self, checkpoint: &Checkpoint<F>) -> Result<State<F>> {
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
        let shard = |cloud: &Cloud<F>| Cloud { theta: cloud.theta.slice(s![rows.clone(), ..]).to_owned() };
        self.initial = shard(&checkpoint.initial);
        let state = &checkpoint.state;
        Ok(State {
            cloud: shard(&state.cloud),
            step: state.step,
            time: state.time,
            predictions: state.predictions.clone(),
        })
    }

    /// One step (docs/math.md, sections Velocity and Dynamics): the gradient step
    /// theta_j += eta v(theta_j) of every particle with r_i = l'(y_i, F_i)/n, the dynamics' move,
    /// the new predictions. With mini-batches the step uses the batch's samples only, and
    /// `state.predictions` (on all samples) is refreshed at the steps that are logged.
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
}
