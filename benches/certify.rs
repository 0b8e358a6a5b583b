//! The cost of certification: the sphere maximum S behind the dual bound (exact and estimated),
//! and the exact optimum by the convex reformulation.
//! Run with `cargo bench --bench certify`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use meanfield::certify::{sphere_max, SphereMethod};
use meanfield::convex::{solve, OptimumOptions};
use meanfield::data::{Distribution, XorNoise};
use meanfield::loss::Loss;
use meanfield::rng::Purpose;
use ndarray::Array1;

fn sphere(c: &mut Criterion) {
    let mut group = c.benchmark_group("sphere_max");
    group.sample_size(10);
    for d in [2, 3] {
        for n in [20, 200, 1000] {
            let data = Distribution::Xor { d, noise: XorNoise::Gaussian }.sample(n, 1, Purpose::TrainData).unwrap();
            let r = Array1::from_iter((0..n).map(|i| ((i * 7919) % 13) as f64 / 13.0 - 0.5));
            for method in [SphereMethod::Exact, SphereMethod::Estimate] {
                group.bench_with_input(BenchmarkId::new(format!("d{d}-{method:?}"), n), &n, |b, _| {
                    b.iter(|| sphere_max(data.x.view(), r.view(), None, method, 0).unwrap())
                });
            }
        }
    }
    group.finish();
}

fn optimum(c: &mut Criterion) {
    let mut group = c.benchmark_group("convex_optimum");
    group.sample_size(10);
    let cases = [
        (
            "teacher-n20-d2",
            Distribution::Teacher { d: 2, hidden: 6, task: Default::default(), margin: 0.1, label_noise: 0.0 }
                .sample(20, 1, Purpose::TrainData)
                .unwrap(),
        ),
        (
            "xor-sign-n40-d3",
            Distribution::Xor { d: 3, noise: XorNoise::Sign }.sample(40, 1, Purpose::TrainData).unwrap(),
        ),
    ];
    for (name, data) in cases {
        group.bench_function(name, |b| {
            b.iter(|| solve(&data, Loss::Logistic, 0.01, &OptimumOptions::default()).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, sphere, optimum);
criterion_main!(benches);
