//! The loop that moves a cloud (an executor in the sense of the argmin crate): its clock, the
//! metrics history, L* if known, stopping rules, interruption and the observers.
//!
//! A [`Simulation`] wraps a [`Stepper`] (the numeric core: problem, dynamics, options, kernels and
//! buffers; reachable through `Deref`, so `sim.problem` and `sim.step(state)` are the stepper's)
//! and adds only what belongs to the loop. The [`State`] (cloud, step, time, predictions) moves
//! through it by value. Progress bars, movies, `metrics.csv` and checkpoints are [`Observer`]s.

use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::checkpoint::Checkpoint;
pub use super::observe::{Checkpoints, End, Observer, View};
pub use super::problem::{Objective, Problem, State};
pub use super::stepper::{RunOptions, Stepper};
use super::stop::{StopReason, StopRule};
use crate::comm::{Communicator, Shard};
use crate::dynamics::Dynamics;
use crate::error::{Error, Result};
use crate::linalg::Real;
use crate::metrics::Metrics;
use crate::model::Cloud;

/// A stepper and the loop around it.
#[derive(Debug)]
pub struct Simulation<F: Real> {
    stepper: Stepper<F>,
    started: Instant,
    wall_before: f64,
    optimum: Option<f64>,
    history: Vec<Metrics>,
    certify_seconds: f64,
    checkpoints: Option<Checkpoints>,
    interrupt: Option<Arc<AtomicBool>>,
    stop: Option<StopRule>,
    stopped: Option<StopReason>,
}

impl<F: Real> Deref for Simulation<F> {
    type Target = Stepper<F>;

    fn deref(&self) -> &Stepper<F> {
        &self.stepper
    }
}

impl<F: Real> DerefMut for Simulation<F> {
    fn deref_mut(&mut self) -> &mut Stepper<F> {
        &mut self.stepper
    }
}

impl<F: Real> Simulation<F> {
    /// A simulation starting from `cloud`; returns it with the initial state (step 0).
    pub fn new(
        problem: Problem<F>,
        dynamics: Box<dyn Dynamics<F>>,
        options: RunOptions,
        cloud: Cloud<F>,
    ) -> Result<(Self, State<F>)> {
        let (stepper, state) = Stepper::new(problem, dynamics, options, cloud)?;
        Ok((Simulation::around(stepper), state))
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
        let (stepper, state) = Stepper::sharded(problem, dynamics, options, cloud, shard, comm)?;
        Ok((Simulation::around(stepper), state))
    }

    /// The loop around `stepper`: no history, no optimum, no stopping rule, no checkpoints.
    pub fn around(stepper: Stepper<F>) -> Self {
        Simulation {
            stepper,
            started: Instant::now(),
            wall_before: 0.0,
            optimum: None,
            history: Vec::new(),
            certify_seconds: 0.0,
            checkpoints: None,
            interrupt: None,
            stop: None,
            stopped: None,
        }
    }

    /// The numeric core.
    pub fn stepper(&self) -> &Stepper<F> {
        &self.stepper
    }

    /// Declares the exact minimum L* of the problem, so that metrics report the excess L - L*.
    pub fn set_optimum(&mut self, value: f64) {
        self.optimum = Some(value);
    }

    /// The exact minimum L*, if known.
    pub fn optimum(&self) -> Option<f64> {
        self.optimum
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
    /// resolved scenario text: a [`Checkpoints`] observer that [`Simulation::run`] calls first.
    pub fn set_checkpoints(&mut self, every: u64, path: PathBuf, scenario: String) {
        self.checkpoints = Some(Checkpoints::new(every, path, scenario));
    }

    /// A flag that, once set (by a Ctrl-C handler), stops [`Simulation::run`] after the current
    /// step with [`Error::Interrupted`] (the observers, a [`Checkpoints`] among them, are told
    /// with [`End::Interrupted`]).
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

    fn wall_seconds(&self) -> f64 {
        self.wall_before + self.started.elapsed().as_secs_f64()
    }

    /// The run at `state` as observers see it.
    fn view<'a>(&'a self, state: &'a State<F>) -> View<'a, F> {
        View {
            stepper: &self.stepper,
            state,
            history: &self.history,
            optimum: self.optimum,
            wall_seconds: self.wall_seconds(),
        }
    }

    /// The checkpoint of `state` (of the whole cloud), tagged with `scenario`: on rank 0, `None` on
    /// the other ranks. Every process must call it.
    pub fn checkpoint(&self, state: &State<F>, scenario: &str) -> Option<Checkpoint<F>> {
        self.view(state).checkpoint(scenario)
    }

    /// Continues from a checkpoint of this simulation (of the whole cloud): returns its state,
    /// holding this process's shard.
    pub fn resume(&mut self, checkpoint: Checkpoint<F>) -> Result<State<F>> {
        let state = self.stepper.resume_shard(&checkpoint)?;
        self.history = checkpoint.history;
        self.optimum = checkpoint.optimum;
        self.wall_before = checkpoint.wall_seconds;
        Ok(state)
    }

    /// The metrics of docs/math.md, sections Objective and Dual bound, at `state` (certified when
    /// `state.step` is due), timed by the loop's clock.
    pub fn metrics(&mut self, state: &State<F>) -> Result<Metrics> {
        let (mut metrics, certify_seconds) = self.stepper.measure(state, self.optimum)?;
        self.certify_seconds += certify_seconds;
        metrics.wall_seconds = self.wall_seconds();
        Ok(metrics)
    }

    /// Logs the metrics of `state`: checks them, shows them to the observers, keeps them.
    fn log(&mut self, state: &State<F>, observers: &mut [&mut dyn Observer<F>]) -> Result<()> {
        let metrics = self.metrics(state)?;
        if !metrics.loss.is_finite() || !metrics.second_moment.is_finite() {
            return Err(Error::Diverged {
                step: state.step,
                quantity: "the loss".into(),
                value: metrics.loss,
                eta: self.options.eta,
                suggested: self.options.eta / 10.0,
            });
        }
        observers.iter_mut().try_for_each(|o| o.observe(state, &metrics))?;
        self.history.push(metrics);
        Ok(())
    }

    /// Runs the remaining steps from `state`, recording metrics (and calling the observers) at
    /// step 0 (if the state is at step 0), every `log_every` steps and at the last step, stopping
    /// when a stopping rule holds or when interrupted. The observers (after the [`Checkpoints`] of
    /// [`Simulation::set_checkpoints`], if any) are told of every step and of the end.
    pub fn run(&mut self, state: State<F>, observers: &mut [&mut dyn Observer<F>]) -> Result<State<F>> {
        let mut own = self.checkpoints.take();
        let mut all: Vec<&mut dyn Observer<F>> = Vec::with_capacity(observers.len() + 1);
        if let Some(checkpoints) = own.as_mut() {
            all.push(checkpoints);
        }
        for o in observers.iter_mut() {
            all.push(&mut **o as &mut dyn Observer<F>);
        }
        let result = self.observed(state, &mut all);
        self.checkpoints = own;
        result
    }

    /// [`Simulation::run`] with the observers in one list, each told of the end.
    fn observed(&mut self, state: State<F>, observers: &mut [&mut dyn Observer<F>]) -> Result<State<F>> {
        self.started = Instant::now();
        match self.steps(state, observers) {
            Ok((state, interrupted)) => {
                let view = self.view(&state);
                let end = if interrupted { End::Interrupted(view) } else { End::Finished(view) };
                let told: Result<()> = observers.iter_mut().map(|o| o.finish(&end)).fold(Ok(()), Result::and);
                told?;
                match interrupted {
                    true => Err(Error::Interrupted { step: state.step }),
                    false => Ok(state),
                }
            }
            Err(e) => {
                let end = End::Failed { history: &self.history };
                for o in observers.iter_mut() {
                    let _ = o.finish(&end);
                }
                Err(e)
            }
        }
    }

    /// The steps of the loop; the state at the end and whether the run was interrupted.
    fn steps(&mut self, mut state: State<F>, observers: &mut [&mut dyn Observer<F>]) -> Result<(State<F>, bool)> {
        if state.step == 0 && self.history.is_empty() {
            self.log(&state, observers)?;
        }
        while state.step < self.options.steps {
            state = self.stepper.step(state)?;
            observers.iter_mut().for_each(|o| o.tick(&state));
            if self.is_logged(state.step) {
                // A rule ends the run at this step (so that its metrics are those of a last step).
                let loss = self.stop.map(|_| self.loss_now(&state));
                self.stopped = self.stop.zip(loss).and_then(|(r, l)| r.by_change(&self.history, state.step, l));
                if self.stopped.is_some() {
                    self.options.steps = state.step;
                }
                self.log(&state, observers)?;
                if self.stopped.is_none() {
                    self.stopped = self.stop.zip(self.history.last()).and_then(|(r, m)| r.by_gap(m));
                    if self.stopped.is_some() {
                        self.options.steps = state.step;
                    }
                }
            }
            if self.comm.any(self.interrupt.as_ref().is_some_and(|f| f.load(Ordering::SeqCst))) {
                return Ok((state, true));
            }
            let view = self.view(&state);
            observers.iter_mut().try_for_each(|o| o.after_step(&view))?;
        }
        Ok((state, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Distribution, XorNoise};
    use crate::dynamics::Gd;
    use crate::loss::Loss;
    use crate::model::Init;
    use crate::rng::Purpose;

    fn simulation(eta: f64, steps: u64, log_every: u64) -> (Simulation<f64>, State<f64>) {
        let train = Distribution::Xor { d: 2, noise: XorNoise::Gaussian }.sample(20, 1, Purpose::TrainData).unwrap();
        let problem = Problem::new(train, None, Loss::Logistic, 1e-3).unwrap();
        let cloud = Cloud::sample(64, 2, &Init::Gaussian { s_w: 1.0, s_u: 1.0 }, 1);
        Simulation::new(problem, Box::new(Gd), RunOptions::new(eta, steps, log_every, 1), cloud).unwrap()
    }

    /// Writes down every call it gets.
    #[derive(Default)]
    struct Log(Vec<String>);

    impl Observer<f64> for Log {
        fn observe(&mut self, state: &State<f64>, metrics: &Metrics) -> Result<()> {
            assert_eq!(state.step, metrics.step);
            self.0.push(format!("observe {}", state.step));
            Ok(())
        }
        fn tick(&mut self, state: &State<f64>) {
            self.0.push(format!("tick {}", state.step));
        }
        fn after_step(&mut self, view: &View<'_, f64>) -> Result<()> {
            self.0.push(format!("after {} ({} rows)", view.state.step, view.history.len()));
            Ok(())
        }
        fn finish(&mut self, end: &End<'_, f64>) -> Result<()> {
            let how = match end {
                End::Finished(view) => format!("finished at {}", view.state.step),
                End::Interrupted(view) => format!("interrupted at {}", view.state.step),
                End::Failed { .. } => "failed".to_string(),
            };
            self.0.push(format!("{how} ({} rows)", end.history().len()));
            Ok(())
        }
    }

    #[test]
    fn observers_see_every_step_then_the_end_once() {
        let (mut sim, state) = simulation(0.1, 3, 2);
        let mut log = Log::default();
        let state = sim.run(state, &mut [&mut log]).unwrap();
        assert_eq!(state.step, 3);
        let expected = [
            "observe 0",
            "tick 1",
            "after 1 (1 rows)",
            "tick 2",
            "observe 2",
            "after 2 (2 rows)",
            "tick 3",
            "observe 3",
            "after 3 (3 rows)",
            "finished at 3 (3 rows)",
        ];
        assert_eq!(log.0, expected);
        assert_eq!(sim.history().iter().map(|m| m.step).collect::<Vec<_>>(), [0, 2, 3]);
    }

    /// The loop adds nothing to the numbers: the stepper alone reaches the same state, bit for bit.
    #[test]
    fn the_loop_moves_the_state_as_the_stepper_alone_does() {
        let (mut sim, state) = simulation(0.1, 5, 1);
        let looped = sim.run(state, &mut []).unwrap();
        let (mut alone, mut state) = simulation(0.1, 5, 1);
        for _ in 0..5 {
            state = alone.stepper.step(state).unwrap();
        }
        assert_eq!(looped.cloud.theta, state.cloud.theta);
        assert_eq!(looped.predictions, state.predictions);
        assert_eq!(looped.time, state.time);
    }

    #[test]
    fn an_interrupted_run_tells_the_observers_and_writes_its_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoint.bin");
        let (mut sim, state) = simulation(0.1, 10, 2);
        sim.set_interrupt(Arc::new(AtomicBool::new(true)));
        sim.set_checkpoints(0, path.clone(), "scenario".into());
        let mut log = Log::default();
        let err = sim.run(state, &mut [&mut log]).unwrap_err();
        assert!(matches!(err, Error::Interrupted { step: 1 }), "{err}");
        assert_eq!(log.0, ["observe 0", "tick 1", "interrupted at 1 (1 rows)"]);
        let checkpoint = Checkpoint::<f64>::read(&path).unwrap();
        assert_eq!((checkpoint.state.step, checkpoint.history.len(), checkpoint.scenario.as_str()), (1, 1, "scenario"));
    }

    #[test]
    fn periodic_checkpoints_are_written_after_the_steps_due() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoint.bin");
        let (mut sim, state) = simulation(0.1, 5, 1);
        let mut checkpoints = Checkpoints::new(2, path.clone(), "s".into());
        sim.run(state, &mut [&mut checkpoints]).unwrap();
        // The last one due is step 4, with the rows of steps 0 to 4.
        let checkpoint = Checkpoint::<f64>::read(&path).unwrap();
        assert_eq!((checkpoint.state.step, checkpoint.history.len()), (4, 5));
    }

    #[test]
    fn a_failed_run_reports_its_failure_and_keeps_its_rows() {
        let (mut sim, state) = simulation(1e12, 4, 1);
        let mut log = Log::default();
        let err = sim.run(state, &mut [&mut log]).unwrap_err();
        assert!(matches!(err, Error::Diverged { step: 1, .. }), "{err}");
        assert_eq!(log.0, ["observe 0", "failed (1 rows)"]);
    }
}
