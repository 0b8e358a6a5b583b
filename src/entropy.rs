//! The Kozachenko-Leonenko k-nearest-neighbour estimate of the differential entropy of a cloud
//! (docs/math.md, section Free energy).
//!
//! For m points in R^D (the particles theta_j = (w_j, u_j), D = d + 1) and eps_j the Euclidean distance from
//! point j to its k-th nearest other point,
//!
//! ```text
//! H^ = psi(m) - (1/m) sum_j psi(k_j) + log V_D + (D/m) sum_j log eps_j,   V_D = pi^(D/2) / Gamma(D/2 + 1),
//! ```
//!
//! an estimate of H = -integral rho log rho (the differential entropy, in nats) of the law the points were drawn
//! from; k_j = k for every point that has fewer than k others at distance 0.
//!
//! Duplicates: a point with c >= k others at distance 0 (c + 1 coincident points) uses k_j = c + 1, the first
//! neighbour at a positive distance, with psi(k_j) in place of psi(k), so that log eps_j stays finite. If every
//! point coincides, the cloud has no density and [`kl_entropy`] returns an error (never -inf).
//!
//! Neighbours come from a k-d tree (the `kiddo` crate) for D <= [`TREE_MAX_DIM`], otherwise from an exhaustive
//! search; queries run in parallel and the sum is taken in point order, so the result does not depend on the
//! number of threads. Known bias: the estimator is consistent for k fixed as m -> infinity, but at fixed m its
//! bias grows with D (it resolves the density only at the scale of eps ~ m^(-1/D)); see the tests and the README.

use std::num::NonZero;

use kiddo::immutable::float::kdtree::ImmutableKdTree;
use kiddo::SquaredEuclidean;
use ndarray::ArrayView2;
use rayon::prelude::*;

use crate::error::{Error, Result};

/// Largest dimension D searched with the k-d tree; above it every pair of points is compared (at D = 21 and
/// m = 1e5 the tree took 1055 s on 2 loaded cores, the exhaustive search far less: see the README).
pub const TREE_MAX_DIM: usize = 8;
/// Bucket size of the k-d tree leaves.
const BUCKET: usize = 32;
/// Query points per parallel task.
const TASK: usize = 256;

/// The default k of [`kl_entropy`] (`run.entropy_k`): see the README, section Temperature.
pub const DEFAULT_K: usize = 2;

/// psi(n) for an integer n >= 1: -gamma + sum_{j < n} 1/j (exact sums below 64, asymptotic series above).
pub fn digamma(n: usize) -> f64 {
    const EULER: f64 = 0.577_215_664_901_532_9;
    if n < 64 {
        return -EULER + (1..n).map(|j| 1.0 / j as f64).sum::<f64>();
    }
    let x = n as f64;
    let x2 = 1.0 / (x * x);
    x.ln() - 0.5 / x - x2 * (1.0 / 12.0 - x2 * (1.0 / 120.0 - x2 * (1.0 / 252.0 - x2 / 240.0)))
}

/// log V_D = (D/2) log pi - log Gamma(D/2 + 1), the log-volume of the unit ball of R^D.
pub fn log_unit_ball_volume(dim: usize) -> f64 {
    // log Gamma(D/2 + 1) by the recurrence Gamma(x + 1) = x Gamma(x) from Gamma(1) = 1 or Gamma(1/2) = sqrt(pi).
    let mut log_gamma = if dim % 2 == 0 { 0.0 } else { 0.5 * std::f64::consts::PI.ln() };
    let mut x = if dim % 2 == 0 { 1.0 } else { 0.5 };
    while x < 0.5 * dim as f64 + 1.0 - 0.25 {
        log_gamma += x.ln();
        x += 1.0;
    }
    0.5 * dim as f64 * std::f64::consts::PI.ln() - log_gamma
}

/// For each point (row of `points`), (distance to its k_j-th nearest other point, k_j), with k_j as in the module
/// documentation; `None` for a point all of whose others coincide with it.
fn neighbours(points: ArrayView2<f64>, k: usize) -> Vec<Option<(f64, usize)>> {
    let dim = points.ncols();
    macro_rules! tree {
        ($($dim:literal)*) => {
            match dim {
                $($dim => tree_neighbours::<$dim>(points, k),)*
                _ => exhaustive_neighbours(points, k),
            }
        };
    }
    tree!(1 2 3 4 5 6 7 8)
}

/// The first positive distance at index >= k among sorted squared distances to the other points; (distance, index).
fn first_positive(sorted: &[f64], k: usize) -> Option<(f64, usize)> {
    sorted.iter().enumerate().skip(k - 1).find(|(_, &s)| s > 0.0).map(|(i, &s)| (s.sqrt(), i + 1))
}

fn tree_neighbours<const K: usize>(points: ArrayView2<f64>, k: usize) -> Vec<Option<(f64, usize)>> {
    let m = points.nrows();
    let rows: Vec<[f64; K]> = points.outer_iter().map(|p| std::array::from_fn(|i| p[i])).collect();
    let tree: ImmutableKdTree<f64, u32, K, BUCKET> = ImmutableKdTree::new_from_slice(&rows);
    rows.par_chunks(TASK)
        .flat_map_iter(|chunk| {
            chunk.iter().map(|q| {
                // k + 1 nearest including the point itself (distance 0); more while the k-th other is at distance 0.
                let mut qty = (k + 1).min(m);
                loop {
                    let found = tree.nearest_n::<SquaredEuclidean>(q, NonZero::new(qty).expect("qty >= 1"));
                    let sorted: Vec<f64> = found.iter().skip(1).map(|n| n.distance).collect();
                    match first_positive(&sorted, k) {
                        Some(hit) => return Some(hit),
                        None if qty >= m => return None,
                        None => qty = (2 * qty).min(m),
                    }
                }
            })
        })
        .collect()
}

/// Every pair compared: for each point, the number of others at distance 0 and its k smallest positive squared
/// distances, which give the same answer as [`first_positive`] on the sorted list of all distances.
fn exhaustive_neighbours(points: ArrayView2<f64>, k: usize) -> Vec<Option<(f64, usize)>> {
    let (m, dim) = points.dim();
    let flat: Vec<f64> = points.iter().copied().collect();
    (0..m)
        .into_par_iter()
        .with_min_len(TASK / 8)
        .map(|j| {
            let q = &flat[j * dim..(j + 1) * dim];
            let mut best = vec![f64::INFINITY; k];
            let mut zeros = 0usize;
            for p in flat.chunks_exact(dim) {
                let d2: f64 = q.iter().zip(p).map(|(a, b)| (a - b) * (a - b)).sum();
                if d2 == 0.0 {
                    zeros += 1;
                } else if d2 < best[k - 1] {
                    let at = best.partition_point(|&b| b <= d2);
                    best.insert(at, d2);
                    best.pop();
                }
            }
            // `zeros` counts the point itself: c = zeros - 1 others coincide with it.
            let others = zeros - 1;
            let (index, d2) = if others < k { (k, best[k - 1 - others]) } else { (others + 1, best[0]) };
            d2.is_finite().then(|| (d2.sqrt(), index))
        })
        .collect()
}

/// The Kozachenko-Leonenko estimate H^ (nats) of the differential entropy of the law of the rows of `points`
/// (m points in R^D), with k neighbours (see the module documentation). Errors: k = 0, m <= k, non-finite
/// coordinates, or all points equal.
pub fn kl_entropy(points: ArrayView2<f64>, k: usize) -> Result<f64> {
    let (m, dim) = points.dim();
    if k == 0 {
        return Err(Error::Invalid("entropy: k = 0; it must be at least 1".into()));
    }
    if dim == 0 || m <= k {
        return Err(Error::Invalid(format!(
            "entropy: {m} points in dimension {dim}; the estimate needs dimension >= 1 and more than k = {k} points"
        )));
    }
    if points.iter().any(|v| !v.is_finite()) {
        return Err(Error::Invalid("entropy: the points must be finite".into()));
    }
    let found = neighbours(points, k);
    let (mut log_eps, mut psi_k) = (0.0, 0.0);
    for hit in &found {
        let Some((eps, kj)) = hit else {
            return Err(Error::Invalid(format!(
                "entropy: all {m} points coincide: the cloud has no density (its entropy is -inf)"
            )));
        };
        log_eps += eps.ln();
        psi_k += digamma(*kj);
    }
    let mf = m as f64;
    Ok(digamma(m) - psi_k / mf + log_unit_ball_volume(dim) + dim as f64 * log_eps / mf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::StandardNormal;

    #[test]
    fn special_functions_match_known_values() {
        assert!((digamma(1) + 0.577_215_664_901_532_9).abs() < 1e-15);
        assert!((digamma(2) - (1.0 - 0.577_215_664_901_532_9)).abs() < 1e-15);
        // psi(100) = 4.600161852738087 (H_99 - gamma).
        let h99: f64 = (1..100).map(|j| 1.0 / j as f64).sum();
        assert!((digamma(100) - (h99 - 0.577_215_664_901_532_9)).abs() < 1e-13);
        assert!((digamma(100) - 4.600_161_852_738_087).abs() < 1e-13);
        // V_1 = 2, V_2 = pi, V_3 = 4 pi / 3, V_4 = pi^2 / 2, V_5 = 8 pi^2 / 15.
        let pi = std::f64::consts::PI;
        for (dim, v) in [(1, 2.0), (2, pi), (3, 4.0 * pi / 3.0), (4, pi * pi / 2.0), (5, 8.0 * pi * pi / 15.0)] {
            assert!((log_unit_ball_volume(dim) - f64::ln(v)).abs() < 1e-14, "D = {dim}");
        }
    }

    /// The tree and the exhaustive search agree exactly, with and without duplicate points.
    #[test]
    fn tree_matches_exhaustive_search_with_duplicates() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for dim in [1, 2, 5] {
            let mut p = Array2::from_shape_fn((500, dim), |_| rng.sample::<f64, _>(StandardNormal));
            // rows 10..14 copy row 0 (5 coincident points), rows 20, 21 copy row 1.
            for i in 10..14 {
                let r0 = p.row(0).to_owned();
                p.row_mut(i).assign(&r0);
            }
            for i in [20, 21] {
                let r1 = p.row(1).to_owned();
                p.row_mut(i).assign(&r1);
            }
            for k in [1, 3] {
                let a = neighbours(p.view(), k);
                let b = exhaustive_neighbours(p.view(), k);
                assert_eq!(a, b, "D = {dim}, k = {k}");
                // Row 0 has 4 others at distance 0: k_0 = 5 > k; row 1 has 2 others: k_1 = max(k, 3).
                assert_eq!(a[0].unwrap().1, 5);
                assert_eq!(a[1].unwrap().1, k.max(3));
                assert!(a.iter().all(|h| h.unwrap().0 > 0.0));
            }
            assert!(kl_entropy(p.view(), 3).unwrap().is_finite());
        }
    }

    #[test]
    fn bad_input_is_reported() {
        let same = Array2::from_elem((10, 3), 1.5);
        assert_eq!(
            kl_entropy(same.view(), 2).unwrap_err().to_string(),
            "entropy: all 10 points coincide: the cloud has no density (its entropy is -inf)"
        );
        assert_eq!(kl_entropy(same.view(), 0).unwrap_err().to_string(), "entropy: k = 0; it must be at least 1");
        assert_eq!(
            kl_entropy(same.view(), 10).unwrap_err().to_string(),
            "entropy: 10 points in dimension 3; the estimate needs dimension >= 1 and more than k = 10 points"
        );
        let mut nan = Array2::zeros((5, 2));
        nan[[2, 1]] = f64::NAN;
        assert_eq!(kl_entropy(nan.view(), 1).unwrap_err().to_string(), "entropy: the points must be finite");
    }

    #[test]
    fn results_do_not_depend_on_the_number_of_threads() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for dim in [3, 30] {
            let p = Array2::from_shape_fn((3000, dim), |_| rng.sample::<f64, _>(StandardNormal));
            let run = |threads: usize| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(|| kl_entropy(p.view(), 3).unwrap())
            };
            assert_eq!(run(1).to_bits(), run(3).to_bits());
        }
    }
}
