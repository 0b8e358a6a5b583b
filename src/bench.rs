//! Throughput measurement of the full step (`meanfield bench`), used to size runs.
//!
//! Useful work per step is 4 n m d flops (the forward and the backward GEMM-shaped products); the
//! recomputation of the pre-activations costs 2 n m d more but is not counted. Under MPI
//! ([`bench_on`]) the cloud is sharded over the processes and the report adds the cost of the one
//! allreduce of the n predictions per step.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::comm::{Communicator, Shard, Single};
use crate::config::{DynamicsSpec, Precision};
use crate::data::{Distribution, XorNoise};
use crate::engine::{Problem, RunOptions, Simulation};
use crate::error::{Error, Result};
use crate::exact::Fixed;
use crate::linalg::Real;
use crate::loss::Loss;
use crate::model::{Cloud, Init, Layout};
use crate::resources::peak_rss_bytes;
use crate::rng::Purpose;

/// What to time.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchConfig {
    /// Particles.
    pub m: usize,
    /// Samples.
    pub n: usize,
    /// Input dimension.
    pub d: usize,
    /// Particle precision.
    pub precision: Precision,
    /// The dynamics (step size, noise).
    pub dynamics: DynamicsSpec,
    /// Timed steps (after one warm-up step).
    pub steps: u64,
}

/// What `meanfield bench` prints.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BenchReport {
    /// Particles.
    pub m: usize,
    /// Samples.
    pub n: usize,
    /// Input dimension.
    pub d: usize,
    /// `f32` or `f64`.
    pub dtype: String,
    /// Dynamics name.
    pub dynamics: String,
    /// rayon threads (per process).
    pub threads: usize,
    /// Processes sharing the cloud (MPI ranks).
    pub processes: usize,
    /// Wall time of one allreduce of the n predictions (4 n i64), included in `seconds_per_step`.
    pub allreduce_seconds: f64,
    /// Timed steps.
    pub steps: u64,
    /// Mean wall time of one step.
    pub seconds_per_step: f64,
    /// m / seconds_per_step.
    pub particle_steps_per_sec: f64,
    /// Useful flops per second, 4 n m d / seconds_per_step, in units of 1e9.
    pub gflops: f64,
    /// Peak resident memory of the process (VmHWM), if the platform reports it.
    pub peak_rss_bytes: Option<u64>,
}

/// Times `config.steps` steps on `xor` data with Gaussian padding, after one warm-up step.
pub fn bench(config: &BenchConfig) -> Result<BenchReport> {
    bench_on(config, Arc::new(Single))
}

/// [`bench()`] with the cloud sharded over the processes of `comm` (every process calls it and
/// gets the same report).
pub fn bench_on(config: &BenchConfig, comm: Arc<dyn Communicator>) -> Result<BenchReport> {
    if config.m == 0 || config.n == 0 || config.d < 2 || config.steps == 0 {
        return Err(Error::Invalid(format!(
            "bench: m = {}, n = {}, d = {}, steps = {}: need m, n, steps >= 1 and d >= 2",
            config.m, config.n, config.d, config.steps
        )));
    }
    crate::with_precision!(config.precision, F => bench_in::<F>(config, comm))
}

/// Allreduces timed to measure one.
const ALLREDUCE_REPEATS: u32 = 100;

fn bench_in<F: Real>(config: &BenchConfig, comm: Arc<dyn Communicator>) -> Result<BenchReport> {
    let data = Distribution::Xor { d: config.d, noise: XorNoise::Gaussian }.sample(config.n, 0, Purpose::TrainData)?;
    let problem = Problem::<F>::new(data, None, Loss::Logistic, 1e-3)?;
    let shard = Shard::of(config.m, Layout::group_size(config.m), comm.rank(), comm.size())?;
    let cloud = Cloud::<F>::sample_shard(shard, config.d, &Init::Gaussian { s_w: 1.0, s_u: 1.0 }, 0);
    let options = RunOptions {
        schedule: config.dynamics.schedule,
        ..RunOptions::new(config.dynamics.eta, config.steps + 1, u64::MAX, 0)
    };
    let dynamics = config.dynamics.build::<F>();
    let name = dynamics.name();
    let (mut sim, state) = Simulation::sharded(problem, dynamics, options, cloud, shard, comm.clone())?;
    let mut state = sim.step(state)?;
    comm.barrier();
    let start = Instant::now();
    for _ in 0..config.steps {
        state = sim.step(state)?;
    }
    comm.barrier();
    let seconds_per_step = start.elapsed().as_secs_f64() / config.steps as f64;
    let mut sums = vec![Fixed::of(1.0); config.n];
    let start = Instant::now();
    for _ in 0..ALLREDUCE_REPEATS {
        comm.sum(&mut sums);
    }
    let allreduce_seconds = start.elapsed().as_secs_f64() / f64::from(ALLREDUCE_REPEATS);
    let work = 4.0 * config.n as f64 * config.m as f64 * config.d as f64;
    Ok(BenchReport {
        m: config.m,
        n: config.n,
        d: config.d,
        dtype: F::NAME.to_string(),
        dynamics: name,
        threads: rayon::current_num_threads(),
        processes: comm.size(),
        allreduce_seconds,
        steps: config.steps,
        seconds_per_step,
        particle_steps_per_sec: config.m as f64 / seconds_per_step,
        gflops: work / seconds_per_step / 1e9,
        peak_rss_bytes: peak_rss_bytes(),
    })
}

/// Which size a scaling series varies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScalingAxis {
    /// The number of particles m.
    M,
    /// The number of samples n.
    N,
}

/// Times the step for each value of `axis` (the other sizes from `base`), once with one thread and
/// once with every thread of the current pool; returns the reports in that order.
pub fn scaling(base: &BenchConfig, axis: ScalingAxis, values: &[usize]) -> Result<Vec<BenchReport>> {
    let mut thread_counts = vec![1, rayon::current_num_threads()];
    thread_counts.dedup();
    let mut reports = Vec::new();
    for &threads in &thread_counts {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| Error::Invalid(format!("bench: cannot start {threads} threads: {e}")))?;
        for &v in values {
            let config = match axis {
                ScalingAxis::M => BenchConfig { m: v, ..base.clone() },
                ScalingAxis::N => BenchConfig { n: v, ..base.clone() },
            };
            reports.push(pool.install(|| bench(&config))?);
        }
    }
    Ok(reports)
}

/// `<stem>.{png,svg}`: seconds per step against the varied size, one curve per thread count, log-log.
pub fn scaling_figure(stem: &std::path::Path, axis: ScalingAxis, reports: &[BenchReport]) -> Result<()> {
    use crate::plot::{figure, Mark, Panel, Scale, Series};
    let name = match axis {
        ScalingAxis::M => "particles m",
        ScalingAxis::N => "samples n",
    };
    let first = reports.first().ok_or_else(|| Error::Invalid("bench: no measurements to plot".into()))?;
    let title = format!("Step time ({}, {}, d = {})", first.dtype, first.dynamics, first.d);
    let mut panel = Panel::new(title, name, "seconds per step");
    panel.x_scale = Scale::Log;
    panel.y_scale = Scale::Log;
    let mut threads: Vec<usize> = reports.iter().map(|r| r.threads).collect();
    threads.dedup();
    for t in threads {
        let (x, y): (Vec<f64>, Vec<f64>) = reports
            .iter()
            .filter(|r| r.threads == t)
            .map(|r| (if axis == ScalingAxis::M { r.m } else { r.n } as f64, r.seconds_per_step))
            .unzip();
        let mut series = Series::new(format!("{t} thread{}", if t == 1 { "" } else { "s" }), x, y);
        series.mark = Mark::LinePoints;
        panel.series.push(series);
    }
    figure(stem, &[panel])
}
