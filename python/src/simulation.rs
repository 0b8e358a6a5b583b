//! `meanfield.Simulation`: a scenario's cloud, stepped from Python, looked at and changed between
//! steps.

use meanfield::certify::DualBound;
use meanfield::config::{DynamicsSpec, ValidScenario};
use meanfield::engine::{Objective, Simulation, State};
use meanfield::linalg::Real;
use meanfield::model::Cloud;
use meanfield::Error;
use ndarray::{Array1, Array2};
use numpy::{IntoPyArray, PyArray1, PyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::arrays;
use crate::errors::{scenario_error, value_error};
use crate::scenario::resolve;
use crate::work::{detached, Threads};

/// A simulation in one particle precision and its current state.
struct Engine<F: Real> {
    sim: Simulation<F>,
    state: State<F>,
}

/// The precision-independent operations of [`Engine`].
trait Stepper: Send + Sync {
    fn step(&mut self) -> Result<(), Error>;
    fn particles(&self) -> Array2<f64>;
    fn set_particles(&mut self, theta: Array2<f64>, dynamics: &DynamicsSpec) -> Result<(), Error>;
    fn predict(&self, x: &Array2<f64>) -> Array1<f64>;
    fn objective(&self) -> Objective;
    fn dual_bound(&self) -> Result<DualBound, Error>;
    fn time(&self) -> f64;
    fn steps(&self) -> u64;
    fn m(&self) -> usize;
    fn d(&self) -> usize;
    fn data(&self) -> (Array2<f64>, Array1<f64>);
}

impl<F: Real> Engine<F> {
    /// The state with the training predictions of its cloud: mini-batch steps refresh them only at
    /// logged steps, so they are recomputed then.
    fn current(&self) -> std::borrow::Cow<'_, State<F>> {
        if self.sim.options.batch.is_none() {
            return std::borrow::Cow::Borrowed(&self.state);
        }
        let predictions = self.state.cloud.predict(self.sim.problem.x().view());
        std::borrow::Cow::Owned(State { predictions, ..self.state.clone() })
    }
}

impl<F: Real> Stepper for Engine<F> {
    /// One step of the crate's [`Simulation::step`]; after a divergence the state stays at the
    /// last step.
    fn step(&mut self) -> Result<(), Error> {
        self.state = self.sim.step(self.state.clone())?;
        Ok(())
    }

    fn particles(&self) -> Array2<f64> {
        self.state.cloud.to_f64()
    }

    /// Replaces the cloud (any number of particles) keeping step, time and schedule: a new
    /// simulation of the same problem and dynamics starting from `theta` (which becomes the
    /// reference of the pattern change).
    fn set_particles(&mut self, theta: Array2<f64>, dynamics: &DynamicsSpec) -> Result<(), Error> {
        let cloud = Cloud::new(theta.mapv(F::of))?;
        let (sim, state) = Simulation::new(self.sim.problem.clone(), dynamics.build(), self.sim.options, cloud)?;
        let (step, time) = (self.state.step, self.state.time);
        self.sim = sim;
        self.state = State { step, time, ..state };
        Ok(())
    }

    fn predict(&self, x: &Array2<f64>) -> Array1<f64> {
        self.state.cloud.predict(x.mapv(F::of).view())
    }

    fn objective(&self) -> Objective {
        let state = self.current();
        let f = state.predictions.as_slice().expect("predictions are contiguous");
        self.sim.problem.objective(f, state.cloud.second_moment())
    }

    fn dual_bound(&self) -> Result<DualBound, Error> {
        self.sim.dual_bound(&self.current())
    }

    fn time(&self) -> f64 {
        self.state.time
    }

    fn steps(&self) -> u64 {
        self.state.step
    }

    fn m(&self) -> usize {
        self.state.cloud.m()
    }

    fn d(&self) -> usize {
        self.state.cloud.d()
    }

    fn data(&self) -> (Array2<f64>, Array1<f64>) {
        let train = &self.sim.problem.train;
        (train.x.clone(), train.y.clone())
    }
}

fn engine<F: Real>(scenario: &ValidScenario) -> Result<Box<dyn Stepper>, Error> {
    let (sim, state) = meanfield::setup::simulation::<F>(scenario)?;
    Ok(Box::new(Engine { sim, state }))
}

/// A scenario's simulation, stepped from Python (the data, the initial cloud and the dynamics of
/// the scenario; `run.steps` does not limit it).
///
/// Each step moves every particle theta_j = (w_j, u_j) by the velocity
/// v(theta) = -grad_theta (sum_i r_i w relu(u . x_i) + lambda |theta|^2), r_i = l'(y_i, F_i) / n,
/// times the step size eta, then applies the dynamics (Langevin noise, perturbed re-draws;
/// docs/math.md, sections Velocity and Dynamics), as
/// `meanfield run` does: `step(k)` from the start gives the particles of a run of k steps, bit
/// for bit. Ctrl-C during `step(k)` stops after the current step (KeyboardInterrupt). The GIL is
/// released while stepping; `threads` sets the rayon threads (default `RAYON_NUM_THREADS`). Other
/// Python threads run meanwhile, but one that uses this same simulation during `step` gets a
/// RuntimeError (already borrowed) rather than a half-updated cloud.
#[pyclass(name = "Simulation", module = "meanfield")]
pub struct PySimulation {
    scenario: ValidScenario,
    engine: Box<dyn Stepper>,
    threads: Threads,
}

#[pymethods]
impl PySimulation {
    /// The simulation of `scenario` (a `Scenario` or a scenario file) at step 0.
    #[new]
    #[pyo3(signature = (scenario, threads=None))]
    fn new(py: Python<'_>, scenario: &Bound<'_, PyAny>, threads: Option<usize>) -> PyResult<PySimulation> {
        let scenario = resolve(py, scenario, &[])?;
        let threads = Threads::new(threads)?;
        let engine = detached(
            py,
            &threads,
            || meanfield::with_precision!(scenario.scenario.precision, F => engine::<F>(&scenario)),
        )
        .map_err(scenario_error)?;
        Ok(PySimulation { scenario, engine, threads })
    }

    /// Takes `k` steps (k >= 0). Raises DivergedError if a step diverges (the state stays at the
    /// last finite step) and KeyboardInterrupt on Ctrl-C (after the current step).
    #[pyo3(signature = (k=1))]
    fn step(&mut self, py: Python<'_>, k: u64) -> PyResult<()> {
        for _ in 0..k {
            let engine = &mut self.engine;
            detached(py, &self.threads, || engine.step()).map_err(value_error)?;
            py.check_signals()?;
        }
        Ok(())
    }

    /// The particles, a new (m, 1 + d) float64 array (columns w, u_1..u_d); changing it does not
    /// change the simulation.
    #[getter]
    fn particles<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        let engine = &self.engine;
        detached(py, &self.threads, || engine.particles()).into_pyarray(py)
    }

    /// Replaces the particles by a copy of `particles`, an (m, 1 + d) float64 array (any m >= 1,
    /// finite values); step and time are kept. In precision f32 the values are rounded to f32.
    fn set_particles(&mut self, py: Python<'_>, particles: &Bound<'_, PyAny>) -> PyResult<()> {
        let d = self.engine.d();
        let theta = arrays::matrix(particles, "particles", Some((d + 1, "the particles (w, u_1..u_d)")))?;
        let (engine, dynamics) = (&mut self.engine, &self.scenario.dynamics);
        detached(py, &self.threads, || engine.set_particles(theta, dynamics)).map_err(value_error)
    }

    /// The network's predictions F(x) = (1/m) sum_j w_j relu(u_j . x) at the rows of `x`, an
    /// (n, d) float64 array with the model's d inputs (including the constant bias coordinate of
    /// scenarios with data.bias = true, as in `data()`).
    fn predict<'py>(&self, py: Python<'py>, x: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let d = self.engine.d();
        let x = arrays::matrix(x, "x", Some((d, "the model's inputs")))?;
        let engine = &self.engine;
        Ok(detached(py, &self.threads, || engine.predict(&x)).into_pyarray(py))
    }

    /// The objective at the current cloud: {"loss": L, "data_fit": R, "penalty": P} with
    /// R = (1/n) sum_i l(y_i, F_i), P = lambda integral |theta|^2 d rho and L = R + P
    /// (docs/math.md, section Objective).
    fn loss<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let engine = &self.engine;
        let o = detached(py, &self.threads, || engine.objective());
        let dict = PyDict::new(py);
        dict.set_item("loss", o.loss)?;
        dict.set_item("data_fit", o.data_fit)?;
        dict.set_item("penalty", o.penalty)?;
        Ok(dict)
    }

    /// The certificate at the current cloud: {"dual_bound": D, "gap": G, "certificate": "exact" or
    /// "estimated"}, with D = -(1/n) sum_i l*(y_i, c n r_i) <= L* <= L, c = min(1, 2 lambda / S),
    /// S = max over unit v of |sum_i r_i relu(v . x_i)| and G = L - D >= L - L*. G is a
    /// certificate when S was computed exactly ("exact"), per the scenario's run.certificate
    /// (docs/math.md, sections Dual bound and Sphere maximum).
    fn certificate<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let engine = &self.engine;
        let (bound, objective) = detached(py, &self.threads, || engine.dual_bound().map(|b| (b, engine.objective())))
            .map_err(value_error)?;
        let dict = PyDict::new(py);
        dict.set_item("dual_bound", bound.dual)?;
        dict.set_item("gap", objective.loss - bound.dual)?;
        dict.set_item("certificate", if bound.exact { "exact" } else { "estimated" })?;
        Ok(dict)
    }

    /// The training data (x, y) as new float64 arrays: x is (n, d) with the bias coordinate when
    /// data.bias = true.
    fn data<'py>(&self, py: Python<'py>) -> (Bound<'py, PyArray2<f64>>, Bound<'py, PyArray1<f64>>) {
        let (x, y) = self.engine.data();
        (x.into_pyarray(py), y.into_pyarray(py))
    }

    /// The time t = sum of the step sizes taken.
    #[getter]
    fn time(&self) -> f64 {
        self.engine.time()
    }

    /// The number of steps taken.
    #[getter]
    fn steps(&self) -> u64 {
        self.engine.steps()
    }

    /// The number of particles m.
    #[getter]
    fn m(&self) -> usize {
        self.engine.m()
    }

    /// The input dimension d (with the bias coordinate).
    #[getter]
    fn d(&self) -> usize {
        self.engine.d()
    }

    /// The threads the steps run on.
    #[getter]
    fn threads(&self) -> usize {
        self.threads.count()
    }

    /// The scenario.
    #[getter]
    fn scenario(&self) -> crate::scenario::PyScenario {
        crate::scenario::PyScenario { inner: self.scenario.clone() }
    }

    fn __repr__(&self) -> String {
        format!(
            "Simulation(name={:?}, m={}, d={}, steps={}, time={})",
            self.scenario.name,
            self.engine.m(),
            self.engine.d(),
            self.engine.steps(),
            self.engine.time()
        )
    }
}
