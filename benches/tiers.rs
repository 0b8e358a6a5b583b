//! The full `gd` step in every SIMD tier this CPU has (AVX-512, AVX2 with FMA, NEON, portable), as
//! particle-steps per second (`Throughput::Elements(m)`), with the activation patterns kept when they
//! fit (`run.store_activations = "auto"`): d = 2 runs the direct kernels, d = 20 and 100 the fused
//! kernels in f32 and the GEMMs in f64.
//!
//! `cargo bench --bench tiers` runs d in {2, 20, 100} x m in {1e4, 1e5} (and 1e6 at d = 2), n = 2000,
//! f32 and f64, per tier (the portable tier only m = 1e4 for d > 2); filter with a name, e.g. `cargo bench --bench tiers -- 'avx512/f32/d20'`.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use meanfield::data::{Distribution, XorNoise};
use meanfield::dynamics::Gd;
use meanfield::engine::{Problem, RunOptions, Simulation};
use meanfield::linalg::{Real, Simd, Tier};
use meanfield::loss::Loss;
use meanfield::model::{Cloud, Init};
use meanfield::rng::Purpose;

/// (d, m) of the grid; n = 2000.
fn sizes() -> impl Iterator<Item = (usize, usize)> {
    [(2, 10_000), (2, 100_000), (2, 1_000_000), (20, 10_000), (20, 100_000), (100, 10_000), (100, 100_000)].into_iter()
}

/// Benchmarks the `gd` step in precision F and the tier `simd` over the grid.
fn bench_tier<F: Real>(c: &mut Criterion, simd: Simd) {
    let n = 2000;
    let mut group = c.benchmark_group(format!("{}/{}", simd.name(), F::NAME));
    group.sample_size(10).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(2));
    for (d, m) in sizes() {
        if simd.tier() == Tier::Portable && d > 2 && m > 10_000 {
            continue; // the scalar GEMM takes seconds per step there
        }
        let data = Distribution::Xor { d, noise: XorNoise::Gaussian }.sample(n, 0, Purpose::TrainData).unwrap();
        let problem = Problem::<F>::new(data, None, Loss::Logistic, 1e-3).unwrap();
        let cloud = Cloud::<F>::sample(m, d, &Init::Gaussian { s_w: 1.0, s_u: 1.0 }, 0);
        let options = RunOptions { simd: Some(simd), ..RunOptions::new(0.1, u64::MAX, u64::MAX, 0) };
        let (mut sim, state) = Simulation::new(problem, Box::new(Gd), options, cloud).unwrap();
        let mut state = Some(state);
        group.throughput(Throughput::Elements(m as u64));
        group.bench_function(BenchmarkId::from_parameter(format!("d{d}/n{n}/m{m}")), |b| {
            b.iter(|| state = Some(sim.step(state.take().expect("the state is put back")).unwrap()))
        });
    }
    group.finish();
}

fn tiers(c: &mut Criterion) {
    for simd in Simd::available() {
        bench_tier::<f32>(c, simd);
        bench_tier::<f64>(c, simd);
    }
}

criterion_group!(benches, tiers);
criterion_main!(benches);
