//! The engine of a run (an executor in the sense of the argmin crate: the loop, its timing, checkpoints and interruption): the [`Problem`] and the [`State`] that moves
//! through the loop, the [`Simulation`] that steps it, and its [`Checkpoint`]s.
//!
//! Dependencies point one way: `problem` <- `checkpoint` <- `simulation`.

pub mod checkpoint;
pub mod problem;
pub mod simulation;
pub mod stop;

pub use checkpoint::Checkpoint;
pub use problem::{Objective, Problem, State};
pub use simulation::{Observer, RunOptions, Simulation};
