//! The full step (gradient step, dynamics, new predictions) over a grid of sizes, as particle-steps
//! per second (`Throughput::Elements(m)`).
//!
//! `cargo bench --bench step` runs the grid d in {2, 20, 100} x n in {200, 2000} x m in {1e3, 1e4,
//! 1e5} (and m = 1e6 at d = 2), f32 and f64, for `gd` and `langevin`, in a few minutes; filter
//! with a name, e.g. `cargo bench --bench step -- 'gd/f32/d20'`.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use meanfield::data::{Distribution, XorNoise};
use meanfield::dynamics::{Dynamics, Gd, Langevin};
use meanfield::engine::{Problem, RunOptions, Simulation};
use meanfield::linalg::Real;
use meanfield::loss::Loss;
use meanfield::model::{Cloud, Init};
use meanfield::rng::Purpose;

/// (d, n, m) of the grid.
fn sizes() -> impl Iterator<Item = (usize, usize, usize)> {
    [2, 20, 100].into_iter().flat_map(|d| {
        let ms: &[usize] = if d == 2 { &[1_000, 10_000, 100_000, 1_000_000] } else { &[1_000, 10_000, 100_000] };
        [200, 2000].into_iter().flat_map(move |n| ms.iter().map(move |&m| (d, n, m)))
    })
}

/// Benchmarks `steps` of the dynamics built by `dynamics` in precision F over the grid.
fn bench_precision<F: Real>(c: &mut Criterion, name: &str, dynamics: fn() -> Box<dyn Dynamics<F>>) {
    let mut group = c.benchmark_group(format!("{name}/{}", F::NAME));
    group.sample_size(10).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    for (d, n, m) in sizes() {
        let data = Distribution::Xor { d, noise: XorNoise::Gaussian }.sample(n, 0, Purpose::TrainData).unwrap();
        let problem = Problem::<F>::new(data, None, Loss::Logistic, 1e-3).unwrap();
        let cloud = Cloud::<F>::sample(m, d, &Init::Gaussian { s_w: 1.0, s_u: 1.0 }, 0);
        let options = RunOptions::new(0.1, u64::MAX, u64::MAX, 0);
        let (mut sim, state) = Simulation::new(problem, dynamics(), options, cloud).unwrap();
        let mut state = Some(state);
        group.throughput(Throughput::Elements(m as u64));
        group.bench_function(BenchmarkId::from_parameter(format!("d{d}/n{n}/m{m}")), |b| {
            b.iter(|| state = Some(sim.step(state.take().expect("the state is put back")).unwrap()))
        });
    }
    group.finish();
}

fn gd(c: &mut Criterion) {
    bench_precision::<f32>(c, "gd", || Box::new(Gd));
    bench_precision::<f64>(c, "gd", || Box::new(Gd));
}

fn langevin(c: &mut Criterion) {
    bench_precision::<f32>(c, "langevin", || Box::new(Langevin { tau: 1e-4, tau_decay: 1.0 }));
    bench_precision::<f64>(c, "langevin", || Box::new(Langevin { tau: 1e-4, tau_decay: 1.0 }));
}

criterion_group!(benches, gd, langevin);
criterion_main!(benches);
