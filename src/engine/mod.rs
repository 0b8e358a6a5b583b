//! The engine of a run (the executor of STYLE.md): the [`Problem`] and the [`State`] that moves
//! through the loop, the [`Simulation`] that steps it, and its [`Checkpoint`]s.
//!
//! Dependencies point one way: `problem` <- `checkpoint` <- `simulation`.

pub mod checkpoint;
pub mod problem;
pub mod simulation;

pub use checkpoint::Checkpoint;
pub use problem::{Objective, Problem, State};
pub use simulation::{Observer, RunOptions, Simulation};
