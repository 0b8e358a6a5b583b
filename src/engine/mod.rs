//! The engine of a run, after the argmin crate: the [`Problem`] and the [`State`] that moves
//! through the loop, the [`Stepper`] (the numeric core: kernels, buffers, one step, the metrics
//! row), the [`Simulation`] (the loop: clock, history, stopping rules, interruption), its
//! [`Observer`]s, and its [`Checkpoint`]s.
//!
//! Dependencies point one way: `problem` <- `checkpoint` <- `stepper` (<- `measure`) <- `observe`
//! <- `simulation`.

pub mod checkpoint;
mod measure;
pub mod observe;
pub mod problem;
pub mod simulation;
pub mod stepper;
pub mod stop;

pub use checkpoint::Checkpoint;
pub use observe::{Checkpoints, End, Observer, View};
pub use problem::{Objective, Problem, State};
pub use simulation::Simulation;
pub use stepper::{RunOptions, Stepper};
