use super::*;
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// A block of particles, n samples and their panels, and residuals r (padded), reproducibly random.
fn problem<F: Real>(d: usize, n: usize) -> (Array2<F>, Array2<F>, Vec<F>, Vec<F>) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut normal = |shape| Array2::from_shape_simple_fn(shape, || F::of(rng.sample(StandardNormal)));
    let (theta, x, r) = (normal((37, d + 1)), normal((n, d)), normal((1, n.div_ceil(LANES) * LANES)));
    let mut kernel = ComputeKernel::new(theta.nrows(), n, d);
    kernel.prepare(&theta.view(), &x.view());
    (theta, x, kernel.panels, r.into_raw_vec_and_offset().0)
}

/// The direct kernels in the widest vectors equal, bit for bit, the scalar ones (the gradient in
/// chunks of one panel), and the formulas.
fn direct_kernels_agree<F: Real, const D: usize>(n: usize) {
    let (theta, x, panels, r) = problem::<F>(D, n);
    let rows = theta.as_slice().unwrap();
    let (mut acc, mut acc1) = (vec![0.0; n], vec![0.0; n]);
    direct_predictions::<F, D>(theta.view(), &panels, &mut acc);
    DirectPredictions::<F, D> { rows, panels: &panels, acc: &mut acc1 }.run::<F>();
    assert_eq!(acc, acc1);
    let (mut g, mut g1) = (Array2::zeros((theta.nrows(), D)), Array2::zeros((theta.nrows(), D)));
    let (mut weighted, mut sums) = (vec![F::zero(); panels.len()], vec![F::zero(); theta.nrows() * D * LANES]);
    direct_gradient::<F, D>(theta.view(), &panels, &r, &mut weighted, &mut sums, &mut g.view_mut());
    let chunk = D * LANES;
    DirectGradient::<F, D> {
        rows,
        panels: &panels,
        weighted: &weighted,
        chunk,
        sums: &mut sums,
        g: &mut g1.view_mut(),
    }
    .run::<F>();
    assert_eq!(g, g1);
    for (i, xi) in x.outer_iter().enumerate() {
        let f: f64 = theta.outer_iter().map(|t| t[0].f64() * t.slice(s![1..]).dot(&xi).f64().max(0.0)).sum();
        assert!((acc[i] - f).abs() < 1e-4 * (1.0 + f.abs()), "prediction {i}: {} != {f}", acc[i]);
    }
    for (j, t) in theta.outer_iter().enumerate() {
        for k in 0..D {
            let gk: f64 = (0..n)
                .filter(|&i| t.slice(s![1..]).dot(&x.row(i)) > F::zero())
                .map(|i| r[i].f64() * x[[i, k]].f64())
                .sum();
            assert!((g[[j, k]].f64() - gk).abs() < 1e-4 * (1.0 + gk.abs()), "gradient {j}, {k}");
        }
    }
}

#[test]
fn direct_kernels_agree_in_every_vector_width() {
    for n in [45, 1000] {
        direct_kernels_agree::<f32, 1>(n);
        direct_kernels_agree::<f32, 2>(n);
        direct_kernels_agree::<f32, 5>(n);
        direct_kernels_agree::<f32, 8>(n);
        direct_kernels_agree::<f64, 1>(n);
        direct_kernels_agree::<f64, 3>(n);
        direct_kernels_agree::<f64, 8>(n);
    }
}
