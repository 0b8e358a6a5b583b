//! From a checked scenario to the objects of a run: the data sets, this process's shard of the
//! initial cloud, the memory estimate, the dynamics and the [`Simulation`].
//!
//! Data flow one way: [`crate::config`] checks a file into a [`ValidScenario`]; this module builds
//! from it; the engine never looks back at the scenario.

use std::path::PathBuf;
use std::sync::Arc;

use crate::comm::{Communicator, Shard, Single};
use crate::config::{DataSource, InitSource, ValidScenario};
use crate::data::Dataset;
use crate::engine::{Problem, RunOptions, Simulation, State};
use crate::error::{Error, Result};
use crate::footprint::memory_estimate;
use crate::linalg::Real;
use crate::model::{Cloud, Layout};
use crate::output::read_npy;
use crate::resources::{available_memory_bytes, human_bytes};
use crate::rng::Purpose;

/// Training and test data (bias appended if asked).
pub fn datasets(scenario: &ValidScenario) -> Result<(Dataset, Option<Dataset>)> {
    let (train, test) = match &scenario.data {
        DataSource::Synthetic { distribution, n, test_n } => {
            let seed = scenario.seed();
            let train = distribution.sample(*n, seed, Purpose::TrainData)?;
            let test = (*test_n > 0).then(|| distribution.sample(*test_n, seed, Purpose::TestData)).transpose()?;
            (train, test)
        }
        DataSource::Csv { path, test_path } => {
            let train = Dataset::from_csv(path)?;
            let test = test_path.as_ref().map(|p| Dataset::from_csv(p)).transpose()?;
            if let Some(t) = &test {
                if t.d() != train.d() {
                    return Err(Error::data(
                        test_path.as_ref().expect("test data come from a file"),
                        "1",
                        format!("{} input columns, but the training file has {}", t.d(), train.d()),
                    ));
                }
            }
            (train, test)
        }
    };
    let loss = scenario.scenario.loss;
    let name =
        |p: &Option<PathBuf>, fallback: &str| p.as_ref().map_or(fallback.to_string(), |p| p.display().to_string());
    let (train_name, test_name) = match &scenario.data {
        DataSource::Csv { path, test_path } => (path.display().to_string(), name(test_path, "test data")),
        DataSource::Synthetic { .. } => ("training data".to_string(), "test data".to_string()),
    };
    train.check_labels(loss, &train_name)?;
    if let Some(t) = &test {
        t.check_labels(loss, &test_name)?;
    }
    if scenario.scenario.data.bias {
        Ok((train.with_bias(), test.map(|t| t.with_bias())))
    } else {
        Ok((train, test))
    }
}

/// The initial cloud for the training set `train` (with its bias coordinate, if any).
pub fn initial_cloud<F: Real>(scenario: &ValidScenario, train: &Dataset) -> Result<Cloud<F>> {
    initial_shard(scenario, train, &Single).map(|(cloud, _)| cloud)
}

/// This process's shard of [`initial_cloud`] shared by the processes of `comm`.
fn initial_shard<F: Real>(
    scenario: &ValidScenario,
    train: &Dataset,
    comm: &dyn Communicator,
) -> Result<(Cloud<F>, Shard)> {
    let d = train.d();
    let shard_of = |m: usize| {
        Shard::of(m, Layout::group_size(m), comm.rank(), comm.size())
            .map_err(|e| Error::Invalid(format!("{}: {e}", scenario.source)))
    };
    match &scenario.init {
        InitSource::Sampled { m, init } => {
            let shard = shard_of(*m)?;
            Ok((Cloud::sample_shard(shard, d, init, scenario.seed()), shard))
        }
        InitSource::Dead { m, radius } => {
            let shard = shard_of(*m)?;
            let cloud = crate::initial::dead_cloud(shard, train.x.view(), *radius, scenario.seed()).map_err(|e| {
                Error::ScenarioValue {
                    file: scenario.source.clone(),
                    field: "model.init.kind".into(),
                    value: "\"dead\"".into(),
                    allowed: e,
                }
            })?;
            Ok((cloud, shard))
        }
        InitSource::File { path, m } => {
            let theta = read_npy(path)?;
            if theta.ncols() != d + 1 {
                return Err(Error::data(
                    path,
                    "shape",
                    format!("{} columns, but the data need 1 + d = {}", theta.ncols(), d + 1),
                ));
            }
            if let Some(m) = m {
                if theta.nrows() != *m {
                    return Err(Error::data(path, "shape", format!("{} particles, but model.m = {m}", theta.nrows())));
                }
            }
            let shard = shard_of(theta.nrows())?;
            let rows = theta.slice(ndarray::s![shard.rows(), ..]).mapv(F::of);
            Ok((Cloud::new(rows).map_err(|e| Error::data(path, "values", e.to_string()))?, shard))
        }
    }
}

/// The number of particles: model.m, or the rows of the init file (from its size).
fn particles(scenario: &ValidScenario, d: usize) -> Result<usize> {
    match &scenario.init {
        InitSource::Sampled { m, .. } | InitSource::Dead { m, .. } | InitSource::File { m: Some(m), .. } => Ok(*m),
        InitSource::File { path, m: None } => {
            let bytes = std::fs::metadata(path).map_err(|e| Error::io(path, e))?.len() as usize;
            Ok(bytes / (8 * (d + 1)))
        }
    }
}

/// [`memory_estimate`] of a scenario, for one of `processes` processes sharing the cloud.
fn memory_per_process(scenario: &ValidScenario, n: usize, n_test: usize, d: usize, processes: usize) -> Result<usize> {
    let m = particles(scenario, d)?.div_ceil(processes.max(1));
    let (batch, store) = (scenario.scenario.run.batch, scenario.scenario.run.store_activations);
    Ok(crate::with_precision!(scenario.scenario.precision, F => memory_estimate::<F>(m, n, n_test, d, batch, store)))
}

/// A simulation built from a scenario, with its initial state and the memory it was estimated to
/// need (per process).
#[derive(Debug)]
pub struct Setup<F: Real> {
    /// The simulation of this process's shard.
    pub simulation: Simulation<F>,
    /// Its state at step 0.
    pub state: State<F>,
    /// The estimated bytes this process allocates.
    pub memory_bytes: usize,
    /// How often the run certifies ([`crate::certificate_share`]).
    pub certify: crate::certificate_share::CertifyPlan,
}

/// The simulation and its initial state, in one process. Refuses, before allocating the cloud, a
/// scenario that needs more memory than the machine has available.
pub fn simulation<F: Real>(scenario: &ValidScenario) -> Result<(Simulation<F>, State<F>)> {
    build(scenario, Arc::new(Single)).map(|s| (s.simulation, s.state))
}

/// The simulation of this process's shard of the cloud shared by the processes of `comm` (every
/// process generates the same data from the seed, or reads the same files), its initial state and
/// its memory estimate. Refuses, before allocating the cloud, a scenario that needs more memory
/// than the machine has available.
pub fn build<F: Real>(scenario: &ValidScenario, comm: Arc<dyn Communicator>) -> Result<Setup<F>> {
    let (train, test) = datasets(scenario)?;
    let n_test = test.as_ref().map_or(0, Dataset::n);
    let needed = memory_per_process(scenario, train.n(), n_test, train.d(), comm.size())?;
    if let Some(available) = available_memory_bytes() {
        if needed as u64 > available {
            return Err(Error::Invalid(format!(
                "{}: the run needs about {} (m = {}, n = {}, test_n = {n_test}, d = {}) but only {} are available; \
                 reduce model.m, data.n or data.test_n, or use precision = \"f32\"",
                scenario.source,
                human_bytes(needed as u64),
                particles(scenario, train.d())?,
                train.n(),
                train.d(),
                human_bytes(available)
            )));
        }
    }
    let (cloud, shard) = initial_shard::<F>(scenario, &train, comm.as_ref())?;
    let problem = Problem::new(train, test, scenario.scenario.loss, scenario.scenario.lambda)?;
    let run = &scenario.scenario.run;
    let certify = crate::certificate_share::plan(
        run.certify_every.unwrap_or(run.log_every),
        // The checked scenario holds log_every when certify_every was not given.
        run.certify_every.is_some_and(|every| every != run.log_every),
        run.steps,
        run.certificate,
        (shard.total, problem.train.n(), problem.train.d(), run.batch),
    );
    let options = RunOptions {
        eta: scenario.dynamics.eta,
        schedule: scenario.dynamics.schedule,
        steps: run.steps,
        log_every: run.log_every,
        seed: scenario.seed(),
        certify_every: certify.every,
        certificate: run.certificate,
        batch: run.batch,
        entropy_k: run.entropy_k.unwrap_or(crate::entropy::DEFAULT_K),
        store_activations: run.store_activations,
        simd: None,
    };
    let (mut simulation, state) = Simulation::sharded(problem, scenario.dynamics.build(), options, cloud, shard, comm)?;
    let predictions = state.predictions.as_slice().expect("fresh predictions are contiguous");
    crate::diagnose::check_initial(scenario, &simulation.problem.train, &state.cloud, predictions)?;
    if let Some(rule) = run.stop {
        simulation.set_stop(rule);
    }
    Ok(Setup { simulation, state, memory_bytes: needed, certify })
}
