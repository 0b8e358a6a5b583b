//! The dynamics of docs/math.md, section Dynamics. All share the gradient step
//! theta_j <- theta_j + eta v\[rho\](theta_j) (done by [`crate::model::ComputeKernel::step`]); a
//! [`Dynamics`] is what happens to the particles after it. One file per dynamics; they combine
//! with [`Combined`]. Each file declares its `KIND` (name, parameters, check) and is listed once
//! in `register!`.

mod registry;

/// Declares the dynamics modules and [`KINDS`], in the order the dynamics act when combined.
macro_rules! register {
    ($($module:ident),* $(,)?) => {
        $(pub mod $module;)*

        /// Every registered dynamics, in the order they act when combined.
        pub static KINDS: &[&Kind] = &[$(&$module::KIND),*];
    };
}

// The registration: one entry per dynamics file.
register!(gd, langevin, perturbed);

pub use gd::Gd;
pub use langevin::Langevin;
pub use perturbed::Perturbed;
pub use registry::{kind, param_keys, DynamicsSpec, Kind, Param, Params, Part};

use ndarray::{ArrayViewMut2, Axis};
use rand_chacha::ChaCha8Rng;

use crate::linalg::Real;
use crate::rng::{self, Purpose, CHUNK};

/// Where the simulation is when a dynamics acts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepContext {
    /// The scenario seed.
    pub seed: u64,
    /// The step being taken (0 for the first).
    pub step: u64,
    /// The time before this step.
    pub time: f64,
    /// The step size of this step.
    pub eta: f64,
}

impl StepContext {
    /// The random stream of one chunk of particles at this step, for one purpose.
    pub fn stream(&self, purpose: Purpose, chunk: usize) -> ChaCha8Rng {
        rng::stream(self.seed, purpose, chunk as u64, self.step)
    }

    /// The random stream of one chunk of particles at this step for a purpose code of a dynamics'
    /// own (see [`rng::stream_for_code`]), so that a new dynamics needs no [`Purpose`] variant.
    pub fn stream_for_code(&self, code: u64, chunk: usize) -> ChaCha8Rng {
        rng::stream_for_code(self.seed, code, chunk as u64, self.step)
    }
}

/// A dynamics: the move applied to every particle after the shared gradient step.
pub trait Dynamics<F: Real>: Send + Sync + std::fmt::Debug {
    /// The name used in scenarios and outputs (`gd`, `langevin`, `perturbed`).
    fn name(&self) -> String;

    /// Moves the particles `block` (rows `first..first + block.nrows()` of the cloud, `first` a
    /// multiple of [`CHUNK`]) after the gradient step of `ctx.step`. Random draws must come from
    /// [`StepContext::stream`] per chunk of [`CHUNK`] particles, so that the result does not
    /// depend on how blocks are scheduled.
    fn perturb(&self, block: ArrayViewMut2<F>, first: usize, ctx: &StepContext);

    /// The Langevin temperature tau of step `step` if this dynamics adds Langevin noise (the free energy
    /// L + tau integral rho log rho is then reported), `None` otherwise.
    fn langevin_temperature(&self, _step: u64) -> Option<f64> {
        None
    }
}

/// Calls `f(chunk, chunk_index)` on each chunk of [`CHUNK`] particles of a block starting at row
/// `first` of the cloud.
pub fn for_each_chunk<F: Real>(mut block: ArrayViewMut2<F>, first: usize, mut f: impl FnMut(ArrayViewMut2<F>, usize)) {
    debug_assert_eq!(first % CHUNK, 0, "blocks start on a chunk boundary");
    for (k, chunk) in block.axis_chunks_iter_mut(Axis(0), CHUNK).enumerate() {
        f(chunk, first / CHUNK + k);
    }
}

/// Several dynamics applied in turn after one gradient step (for example Langevin noise and
/// perturbed re-draws).
#[derive(Debug)]
pub struct Combined<F: Real>(pub Vec<Box<dyn Dynamics<F>>>);

impl<F: Real> Dynamics<F> for Combined<F> {
    fn name(&self) -> String {
        self.0.iter().map(|d| d.name()).collect::<Vec<_>>().join("+")
    }

    fn perturb(&self, mut block: ArrayViewMut2<F>, first: usize, ctx: &StepContext) {
        for dynamics in &self.0 {
            dynamics.perturb(block.view_mut(), first, ctx);
        }
    }

    fn langevin_temperature(&self, step: u64) -> Option<f64> {
        self.0.iter().find_map(|d| d.langevin_temperature(step))
    }
}

/// The step-size schedule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// eta_k = eta.
    #[default]
    Constant,
    /// eta_k = eta / sqrt(1 + t), t the time before step k.
    InvSqrt,
}

impl Schedule {
    /// The step size at time t for base step size eta.
    pub fn eta(self, eta: f64, time: f64) -> f64 {
        match self {
            Schedule::Constant => eta,
            Schedule::InvSqrt => eta / (1.0 + time).sqrt(),
        }
    }

    /// The time after `steps` steps, the last of size `last_eta` taken at time `before`: exactly
    /// steps * eta for a constant step, accumulated otherwise.
    pub fn time_after(self, eta: f64, steps: u64, before: f64, last_eta: f64) -> f64 {
        match self {
            Schedule::Constant => steps as f64 * eta,
            Schedule::InvSqrt => before + last_eta,
        }
    }
}
