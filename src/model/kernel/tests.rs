use super::*;
use crate::linalg::{Simd, LINE_BYTES};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// A block of particles, n samples and their panels, and residuals r (padded), reproducibly random.
fn problem<F: Real>(d: usize, n: usize) -> (Array2<F>, Array2<F>, Vec<F>, Vec<F>) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut normal = |shape| Array2::from_shape_simple_fn(shape, || F::of(rng.sample(StandardNormal)));
    let (theta, x) = (normal((37, d + 1)), normal((n, d)));
    let mut kernel = ComputeKernel::new(theta.nrows(), n, d);
    kernel.prepare(&theta.view(), &x.view());
    let r = normal((1, kernel.panels.len() / d));
    (theta, x, kernel.panels.to_vec(), r.into_raw_vec_and_offset().0)
}

/// The direct kernels in the widest vectors equal, bit for bit, the scalar ones (the gradient in
/// chunks of one panel), and the formulas.
fn direct_kernels_agree<F: Real, const D: usize>(n: usize) {
    let (theta, x, panels, r) = problem::<F>(D, n);
    let rows = theta.as_slice().unwrap();
    let (mut acc, mut acc1) = (vec![0.0; n], vec![0.0; n]);
    DirectPredictions::<F, D> { rows, panels: &panels, acc: &mut acc1 }.run::<F>();
    for simd in Simd::available() {
        acc.fill(0.0);
        direct_predictions::<F, D>(simd, theta.view(), &panels, &mut acc);
        assert_eq!(acc, acc1, "{}", simd.name());
    }
    let (mut g, mut g1) = (Array2::zeros((theta.nrows(), D)), Array2::zeros((theta.nrows(), D)));
    let (mut weighted, mut sums) = (vec![F::zero(); panels.len()], vec![F::zero(); theta.nrows() * D * LANES]);
    // The products r_i x_ik the chunked reference reads.
    direct_gradient::<F, D>(Simd::portable(), theta.view(), &panels, &r, &mut weighted, &mut sums, &mut g.view_mut());
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
    for simd in Simd::available() {
        g.fill(F::zero());
        direct_gradient::<F, D>(simd, theta.view(), &panels, &r, &mut weighted, &mut sums, &mut g.view_mut());
        assert_eq!(g, g1, "{}", simd.name());
    }
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

/// The fused kernels (d > DIRECT_MAX_D) give the same bits in every tier (the particle remainders
/// and partial panels and words included) and the formulas: F_i = sum_j w_j relu(u_j . x_i), the
/// pattern 1[u_j . x_i > 0] and g_jk = sum_i 1[u_j . x_i > 0] r_i x_ik.
fn fused_kernels_agree<F: Real>(d: usize, n: usize, tolerance: f64) {
    let (theta, x, panels, r) = problem::<F>(d, n);
    let (m, words, rows) = (theta.nrows(), store::words(n), theta.as_slice().unwrap());
    let mut weighted = vec![F::zero(); panels.len() / d * fused::padded_d(d)];
    fused::weigh_groups(&panels, &r, d, &mut weighted);
    let run = |simd: Simd| {
        let (mut acc, mut pattern, mut g) = (vec![0.0; n], vec![u64::MAX; m * words], Array2::zeros((m, d)));
        let mut t = vec![F::zero(); panels.len() / d];
        fused::fused_forward(simd, rows, d, &panels, Some(&mut acc), &mut t, &mut pattern, words);
        fused::fused_gradient(simd, &pattern, words, &weighted, &mut g.view_mut());
        (acc, pattern, g)
    };
    let portable = run(Simd::portable());
    for simd in Simd::available() {
        assert!(run(simd) == portable, "{} d = {d} n = {n}: {} differs from portable", F::NAME, simd.name());
    }
    let (acc, pattern, g) = portable;
    let z = |j: usize, i: usize| (0..d).map(|k| theta[[j, k + 1]].f64() * x[[i, k]].f64()).sum::<f64>();
    let bit = |j: usize, i: usize| pattern[j * words + i / 64] >> (i % 64) & 1 == 1;
    for (i, &a) in acc.iter().enumerate() {
        let f: f64 = (0..m).map(|j| theta[[j, 0]].f64() * z(j, i).max(0.0)).sum();
        assert!((a - f).abs() <= tolerance * (1.0 + f.abs()), "prediction {i}: {a} != {f}");
        for j in 0..m {
            assert!(bit(j, i) == (z(j, i) > 0.0) || z(j, i).abs() < tolerance, "pattern {j}, {i}: z = {}", z(j, i));
        }
    }
    for j in 0..m {
        assert!((n..64 * words).all(|i| !bit(j, i)), "particle {j}: bits set past n");
    }
    for j in 0..m {
        for k in 0..d {
            let gk: f64 = (0..n).filter(|&i| bit(j, i)).map(|i| r[i].f64() * x[[i, k]].f64()).sum();
            assert!(
                (g[[j, k]].f64() - gk).abs() <= tolerance * (1.0 + gk.abs()),
                "gradient {j}, {k}: {} != {gk}",
                g[[j, k]]
            );
        }
    }
}

#[test]
fn fused_kernels_agree_in_every_tier_and_with_the_formulas() {
    // The fused kernels run in f32 only (fused::uses).
    for n in [45, 1000] {
        for d in [9, 20, 37] {
            fused_kernels_agree::<f32>(d, n, 1e-4);
        }
    }
}

/// Max |a - b| over max |b| (0 when both are 0).
fn relative(a: impl Iterator<Item = f64>, b: impl Iterator<Item = f64>) -> f64 {
    let (diff, scale) = a.zip(b).fold((0.0f64, 0.0f64), |(d, s), (x, y)| (d.max((x - y).abs()), s.max(y.abs())));
    if scale == 0.0 {
        diff
    } else {
        diff / scale
    }
}

/// A cloud of m particles in dimension d and n samples, reproducibly random, and r_i for them.
fn cloud_and_data<F: Real>(m: usize, n: usize, d: usize) -> (Array2<F>, Array2<F>, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut normal = |shape| Array2::from_shape_simple_fn(shape, || F::of(rng.sample(StandardNormal)));
    let (theta, x) = (normal((m, d + 1)), normal((n, d)));
    let r = (0..n).map(|i| ((i * 7919) % 101) as f64 / 101.0 - 0.5).collect();
    (theta, x, r)
}

/// Predictions, then `steps` fused steps (with a deterministic move of every particle after each
/// gradient step, as a dynamics makes), in the tier `simd`, keeping the pre-activations or not:
/// the cloud and the predictions after each step.
fn steps<F: Real>(simd: Simd, store: bool, d: usize, steps: usize) -> Vec<(Array2<F>, Vec<f64>)> {
    packed_steps(simd, store, true, d, steps)
}

/// [`steps`], packing the inputs for the GEMMs (where [`packs`] says it pays) or not.
fn packed_steps<F: Real>(simd: Simd, store: bool, pack: bool, d: usize, steps: usize) -> Vec<(Array2<F>, Vec<f64>)> {
    let (m, n) = (1200, 300);
    let (mut theta, x, r) = cloud_and_data::<F>(m, n, d);
    let mut kernel = ComputeKernel::new(m, n, d).with_simd(simd).storing(store).packing(pack);
    assert_eq!(kernel.stores(), store && d > DIRECT_MAX_D);
    let mut f = vec![0.0; n];
    kernel.predict(theta.view(), x.view(), &mut f);
    let mut out = vec![(theta.clone(), f.clone())];
    let post = |mut block: ArrayViewMut2<F>, first: usize| {
        // A deterministic move of some particles after the gradient step, as a dynamics makes.
        if (first / CHUNK).is_multiple_of(3) {
            block[[0, 1]] = block[[0, 1]] * F::of(0.5);
        }
    };
    for k in 0..steps {
        let rk: Vec<f64> = r.iter().zip(&f).map(|(r, f)| r + 1e-3 * k as f64 * f).collect();
        kernel.step(theta.view_mut(), x.view(), &rk, 1e-2, 0.1, &post, &mut f);
        out.push((theta.clone(), f.clone()));
    }
    out
}

/// Every SIMD tier computes the step of the portable tier to 1e-12 (f64) or 1e-5 (f32) relative, on the
/// direct (d <= 8) and the GEMM path, with and without stored pre-activations.
fn tiers_agree<F: Real>(tolerance: f64) {
    for d in [2, 5, 20, FUSED_MAX_D + 2] {
        let portable = steps::<F>(Simd::portable(), false, d, 2);
        for simd in Simd::available() {
            for store in [false, true] {
                for ((theta, f), (theta0, f0)) in steps::<F>(simd, store, d, 2).iter().zip(&portable) {
                    let err_theta = relative(theta.iter().map(|v| v.f64()), theta0.iter().map(|v| v.f64()));
                    let err_f = relative(f.iter().copied(), f0.iter().copied());
                    assert!(
                        err_theta <= tolerance && err_f <= tolerance,
                        "{} d = {d} {} store {store}: relative differences {err_theta:e} (particles), {err_f:e} (predictions)",
                        F::NAME,
                        simd.name()
                    );
                }
            }
        }
    }
}

#[test]
fn every_tier_steps_as_the_portable_one() {
    tiers_agree::<f64>(1e-12);
    tiers_agree::<f32>(1e-5);
}

#[test]
fn the_direct_and_fused_kernels_are_bit_identical_in_every_tier() {
    let portable = steps::<f64>(Simd::portable(), false, 3, 2);
    for simd in Simd::available() {
        assert!(steps::<f64>(simd, false, 3, 2) == portable, "{} direct", simd.name());
    }
    let portable = steps::<f32>(Simd::portable(), false, 20, 2);
    for simd in Simd::available() {
        for store in [false, true] {
            assert!(steps::<f32>(simd, store, 20, 2) == portable, "{} fused, store {store}", simd.name());
        }
    }
}

#[test]
fn steps_are_bit_identical_for_any_thread_count_in_every_tier() {
    let in_pool = |threads: usize, simd: Simd, store: bool, d: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| (steps::<f32>(simd, store, d, 2), steps::<f64>(simd, store, d, 2)))
    };
    for simd in Simd::available() {
        for (d, store) in [(3, false), (20, false), (20, true), (FUSED_MAX_D + 2, true)] {
            let one = in_pool(1, simd, store, d);
            assert!(one == in_pool(2, simd, store, d), "{} d = {d} store {store}: 1 and 2 threads", simd.name());
            assert!(one == in_pool(3, simd, store, d), "{} d = {d} store {store}: 1 and 3 threads", simd.name());
        }
    }
}

#[test]
fn stored_pre_activations_give_bit_identical_steps() {
    for simd in Simd::available() {
        assert!(steps::<f64>(simd, true, 20, 3) == steps::<f64>(simd, false, 20, 3), "{} f64", simd.name());
        assert!(steps::<f32>(simd, true, 12, 3) == steps::<f32>(simd, false, 12, 3), "{} f32", simd.name());
        let gemm = FUSED_MAX_D + 2;
        assert!(steps::<f32>(simd, true, gemm, 2) == steps::<f32>(simd, false, gemm, 2), "{} f32 GEMM", simd.name());
    }
}

#[test]
fn inputs_packed_once_give_the_bits_of_the_gemms_own_packing() {
    let mut packed = 0;
    for simd in Simd::available() {
        for store in [false, true] {
            for d in [20, 100] {
                packed += usize::from(packs::<f64>(simd, 300, d));
                let (with, without) =
                    (packed_steps::<f64>(simd, store, true, d, 2), packed_steps::<f64>(simd, store, false, d, 2));
                assert!(with == without, "{} f64 d = {d} store {store}", simd.name());
            }
            let d = FUSED_MAX_D + 2;
            packed += usize::from(packs::<f32>(simd, 300, d));
            assert!(
                packed_steps::<f32>(simd, store, true, d, 2) == packed_steps::<f32>(simd, store, false, d, 2),
                "{} f32",
                simd.name()
            );
        }
    }
    // The portable tier packs on every CPU (panels of 2 rows divide 64), so the comparison is never empty.
    assert!(packed > 0, "no tier packed");
}

#[test]
fn stored_pre_activations_follow_new_samples_and_moved_particles() {
    let (m, n, d) = (600, 100, 10);
    let (theta, x, r) = cloud_and_data::<f64>(m, n, d);
    let run = |store: bool| {
        let mut kernel = ComputeKernel::new(m, n, d).storing(store);
        let (mut theta, mut x, mut f) = (theta.clone(), x.clone(), vec![0.0; n]);
        kernel.predict(theta.view(), x.view(), &mut f);
        // New samples, and particles moved outside the kernel, between the forward pass and the step.
        x[[3, 4]] += 1.0;
        theta[[70, 2]] = -theta[[70, 2]];
        kernel.step(theta.view_mut(), x.view(), &r, 1e-3, 0.1, &|_, _| {}, &mut f);
        (theta, f)
    };
    assert_eq!(run(true), run(false));
}

/// The operands the vector kernels read in vectors (the packed inputs and products, the per-thread t)
/// start on a cache line for the direct and fused kernels, also when large enough for the allocator
/// to map them (with glibc, a `Vec` of that size starts 16 bytes past a page). The GEMM path's
/// operands are [`Packed`] (`panels_start_on_a_cache_line` in linalg).
#[test]
fn packed_operands_start_on_a_cache_line() {
    for d in [5, 20] {
        let (m, n) = (300, 8000);
        let (theta, x) = (Array2::<f32>::ones((m, d + 1)), Array2::<f32>::ones((n, d)));
        let mut kernel = ComputeKernel::<f32>::new(m, n, d);
        kernel.prepare(&theta.view(), &x.view());
        let t = kernel.scratch.iter().map(|s| {
            let s = s.lock().expect("not poisoned");
            (s.t.as_ptr() as usize, s.t.len())
        });
        let buffers = [
            ("panels", (kernel.panels.as_ptr() as usize, kernel.panels.len())),
            ("weighted", (kernel.weighted.as_ptr() as usize, kernel.weighted.len())),
        ];
        // Only the fused kernels have products; an empty buffer holds nothing.
        let held = buffers.into_iter().chain(t.map(|t| ("t", t))).filter(|(_, (_, len))| *len > 0).collect::<Vec<_>>();
        let largest = held.iter().map(|(_, (_, len))| len * std::mem::size_of::<f32>()).max().unwrap_or(0);
        assert!(largest > 128 * 1024, "d = {d}: no buffer is large enough to be mapped ({largest} bytes)");
        for (name, (at, _)) in held {
            assert_eq!(at % LINE_BYTES, 0, "d = {d}: {name} at {at:#x}");
        }
    }
}
