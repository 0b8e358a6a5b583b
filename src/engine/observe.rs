//! Observers of the loop (argmin's observers): what a run writes or shows while it steps, kept out of
//! the numeric core. The loop ([`super::Simulation::run`]) calls every observer at logged steps
//! ([`Observer::observe`]), after every step ([`Observer::tick`], [`Observer::after_step`]) and once
//! when it ends, however it ends ([`Observer::finish`]). The checkpoint file is one of them
//! ([`Checkpoints`]); the runner adds the progress bar, the movie and `metrics.csv`
//! ([`crate::observers`]).

use std::path::PathBuf;

use super::checkpoint::Checkpoint;
use super::problem::State;
use super::stepper::Stepper;
use crate::error::Result;
use crate::linalg::Real;
use crate::metrics::Metrics;

/// The run as the loop shows it to observers: the stepper, the current state and what the loop
/// keeps (the rows logged so far, L* if known, the wall time used).
pub struct View<'a, F: Real> {
    /// The numeric core (problem, dynamics, options, shard).
    pub stepper: &'a Stepper<F>,
    /// Where the run is.
    pub state: &'a State<F>,
    /// The metrics logged so far (with those of a resumed run's earlier part).
    pub history: &'a [Metrics],
    /// The exact minimum L*, if known.
    pub optimum: Option<f64>,
    /// Wall-clock seconds of the run so far, earlier parts of a resumed run included.
    pub wall_seconds: f64,
}

impl<F: Real> View<'_, F> {
    /// The checkpoint of this moment (of the whole cloud), tagged with the resolved scenario text
    /// `scenario`: on rank 0, `None` on the other ranks. Every process must call it.
    pub fn checkpoint(&self, scenario: &str) -> Option<Checkpoint<F>> {
        self.stepper.checkpoint(self.state, scenario, self.history, self.optimum, self.wall_seconds)
    }
}

/// How the loop ended, as [`Observer::finish`] is told.
pub enum End<'a, F: Real> {
    /// Every step was taken, or a stopping rule ended the run.
    Finished(View<'a, F>),
    /// Interrupted (Ctrl-C, SIGTERM) after the step of the view; the run returns
    /// [`crate::Error::Interrupted`].
    Interrupted(View<'a, F>),
    /// A step, a metric or an observer failed (a divergence, say); the state is lost, the rows
    /// logged before remain.
    Failed {
        /// The metrics logged before the failure.
        history: &'a [Metrics],
    },
}

impl<F: Real> End<'_, F> {
    /// The metrics logged until the end.
    pub fn history(&self) -> &[Metrics] {
        match self {
            End::Finished(view) | End::Interrupted(view) => view.history,
            End::Failed { history } => history,
        }
    }
}

/// Receives the state at logged steps (and optionally at every step) and the end of the loop.
pub trait Observer<F: Real> {
    /// Called at step 0, every `log_every` steps and at the last step, with the row just logged.
    fn observe(&mut self, state: &State<F>, metrics: &Metrics) -> Result<()>;

    /// Called after every step.
    fn tick(&mut self, _state: &State<F>) {}

    /// Called after every step once the step's row (if logged) is in the history and the run was
    /// not interrupted; every process calls it (so it may gather the cloud).
    fn after_step(&mut self, _view: &View<'_, F>) -> Result<()> {
        Ok(())
    }

    /// Called once when the loop ends, on every process. An error here is the run's error when
    /// the run finished or was interrupted; after a failure the failure is reported instead.
    fn finish(&mut self, _end: &End<'_, F>) -> Result<()> {
        Ok(())
    }
}

/// Writes `checkpoint.bin` every `every` steps (0: never periodically) and when the run is
/// interrupted, tagged with the resolved scenario text (rank 0 writes, every process gathers).
#[derive(Clone, Debug)]
pub struct Checkpoints {
    every: u64,
    path: PathBuf,
    scenario: String,
}

impl Checkpoints {
    /// Checkpoints to `path` every `every` steps (0: only when interrupted), tagged with `scenario`.
    pub fn new(every: u64, path: PathBuf, scenario: String) -> Self {
        Checkpoints { every, path, scenario }
    }

    fn write<F: Real>(&self, view: &View<'_, F>) -> Result<()> {
        view.checkpoint(&self.scenario).map_or(Ok(()), |k| k.write(&self.path))
    }
}

impl<F: Real> Observer<F> for Checkpoints {
    fn observe(&mut self, _state: &State<F>, _metrics: &Metrics) -> Result<()> {
        Ok(())
    }

    fn after_step(&mut self, view: &View<'_, F>) -> Result<()> {
        if self.every > 0 && view.state.step.is_multiple_of(self.every) {
            self.write(view)?;
        }
        Ok(())
    }

    fn finish(&mut self, end: &End<'_, F>) -> Result<()> {
        match end {
            End::Interrupted(view) => self.write(view),
            _ => Ok(()),
        }
    }
}
