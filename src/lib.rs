//! # meanfield
//!
//! A simulator of infinite-width two-layer ReLU networks, after Wei, Lee, Liu & Ma, "Regularization
//! Matters" (NeurIPS 2019). The network is a probability measure over neurons theta = (w, u), held
//! as a cloud of particles ([`model::Cloud`]) and moved by particle gradient descent, the paper's
//! perturbed flow or Langevin dynamics ([`dynamics`]). The formulas and names follow `docs/math.md`.
//! Every reduction is exact ([`exact`]), so results are bit-identical for any number of threads
//! and, with the `mpi` feature, for any number of processes sharing one cloud ([`comm`]).
//!
//! Load a scenario and run it, or build the pieces by hand:
//!
//! ```
//! use meanfield::data::Distribution;
//! use meanfield::dynamics::Gd;
//! use meanfield::loss::Loss;
//! use meanfield::model::{Cloud, Init};
//! use meanfield::rng::Purpose;
//! use meanfield::engine::{Problem, RunOptions, Simulation};
//!
//! let train = Distribution::Xor { d: 2, noise: Default::default() }.sample(40, 1, Purpose::TrainData)?;
//! let problem = Problem::<f64>::new(train, None, Loss::Logistic, 1e-3)?;
//! let cloud = Cloud::sample(500, 2, &Init::Gaussian { s_w: 1.0, s_u: 1.0 }, 1);
//! let options = RunOptions::new(0.5, 200, 50, 1);
//! let (mut sim, state) = Simulation::new(problem, Box::new(Gd), options, cloud)?;
//! let first = sim.metrics(&state)?.loss;
//! let state = sim.run(state, &mut [])?;
//! let last = sim.metrics(&state)?;
//! assert!(last.loss < first);
//! // The dual bound brackets the global minimum: D <= L* <= L.
//! assert!(last.dual_bound.unwrap() <= last.loss);
//! # Ok::<(), meanfield::Error>(())
//! ```

pub mod bench;
pub mod certificate_share;
pub mod certify;
pub mod cli;
pub mod config;
pub mod convex;
pub mod data;
pub mod diagnose;
pub mod dynamics;
pub mod engine;
pub mod entropy;
pub mod error;
pub mod figures;
pub mod footprint;
pub mod geometry;
pub mod initial;
pub mod interrupt;
pub mod lock;
pub mod loss;
pub mod metrics;
pub mod model;
pub mod ntk;
pub mod numerics;
pub mod observers;
pub mod optimum;
pub mod output;
pub mod paths;
pub mod plot;
pub mod report;
pub mod resources;
pub mod resume;
pub mod rng;
pub mod run_files;
pub mod runner;
pub mod setup;
pub mod signals;
pub mod sweep;

pub use error::{Error, Result};
pub use numerics::{comm, exact, linalg};

/// The scenario format under its former module name ([`config`]).
pub use config as scenario;
/// The engine's modules under their former top-level names ([`engine`]).
pub use engine::{checkpoint, simulation};
