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
//! Neighbours come from a k-d tree (the `kiddo` crate) for D <= [`TREE_MAX_DIM`]. Above it a k-d tree prunes
//! almost nothing, and every pair is compared, in tiles: for a block of rows a and a tile of columns b the
//! project's GEMM gives a . b, the squared distance is approximated by |a|^2 + |b|^2 - 2 a . b, and each row keeps
//! its k + [`SLACK`] smallest approximations; the distances of these candidates are then recomputed exactly in
//! f64 (as sum (a_i - b_i)^2), so that the cancellation in the GEMM form never reaches the estimate. A rounding
//! bound e on the approximations makes the result exact: every point left out has an approximation at least the
//! largest kept one, A, so an exact squared distance at least A - e; the answer from the candidates is the true
//! one when it is below A - e, and a row where it is not (many coincident points, or ties at rounding level) is
//! searched again by comparing every pair exactly. The neighbour distances are therefore those of the exhaustive
//! search, bit for bit. Rows run in parallel blocks and the sum is taken in point order, so the result does not
//! depend on the number of threads.
//!
//! Known bias: the estimator is consistent for k fixed as m -> infinity, but at fixed m its bias grows with D (it
//! resolves the density only at the scale of eps ~ m^(-1/D)); see the tests and the README.

use std::num::NonZero;

use kiddo::immutable::float::kdtree::ImmutableKdTree;
use kiddo::SquaredEuclidean;
use ndarray::{s, Array2, ArrayView2};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::numerics::linalg::{gemm, Simd};

/// Largest dimension D searched with the k-d tree; above it every pair of points is compared in GEMM tiles (at
/// D = 21 and m = 1e5 the tree took 1055 s on 2 loaded cores: see the README).
pub const TREE_MAX_DIM: usize = 8;
/// Candidates kept per row by the tiled search beyond the k needed.
pub const SLACK: usize = 8;
/// Rows per parallel block of the tiled search.
const ROW_BLOCK: usize = 128;
/// Columns per GEMM tile (a block's tile of a . b is ROW_BLOCK x COL_TILE f64, 1 MiB).
const COL_TILE: usize = 1024;
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
    let mut log_gamma = if dim.is_multiple_of(2) { 0.0 } else { 0.5 * std::f64::consts::PI.ln() };
    let mut x = if dim.is_multiple_of(2) { 1.0 } else { 0.5 };
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
                _ => tiled_neighbours(points, k),
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

/// The squared distance sum_i (a_i - b_i)^2, summed in coordinate order (every exact distance of the module).
#[inline]
fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The answer for row j from every pair: the number of others at distance 0 and the k smallest positive squared
/// distances, which give the same answer as [`first_positive`] on the sorted list of all distances.
fn exhaustive_row(flat: &[f64], dim: usize, j: usize, k: usize) -> Option<(f64, usize)> {
    let q = &flat[j * dim..(j + 1) * dim];
    let mut best = vec![f64::INFINITY; k];
    let mut zeros = 0usize;
    for p in flat.chunks_exact(dim) {
        let d2 = squared_distance(q, p);
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
}

/// Every pair compared exactly, row by row (the reference the tiled search is tested against).
#[cfg(test)]
fn exhaustive_neighbours(points: ArrayView2<f64>, k: usize) -> Vec<Option<(f64, usize)>> {
    let (m, dim) = points.dim();
    let flat: Vec<f64> = points.iter().copied().collect();
    (0..m).into_par_iter().with_min_len(TASK / 8).map(|j| exhaustive_row(&flat, dim, j, k)).collect()
}

/// Every pair compared in GEMM tiles, the candidates' distances recomputed exactly (see the module documentation).
fn tiled_neighbours(points: ArrayView2<f64>, k: usize) -> Vec<Option<(f64, usize)>> {
    let (m, dim) = points.dim();
    let points = points.as_standard_layout();
    let flat = points.as_slice().expect("standard layout");
    let norms: Vec<f64> = flat.chunks_exact(dim).map(|p| p.iter().map(|x| x * x).sum()).collect();
    let max_norm = norms.iter().copied().fold(0.0, f64::max);
    if max_norm > f64::MAX / 8.0 {
        // |a|^2 + |b|^2 could overflow: compare every pair exactly.
        return (0..m).into_par_iter().with_min_len(TASK / 8).map(|j| exhaustive_row(flat, dim, j, k)).collect();
    }
    // |fl(|a|^2 + |b|^2 - 2 a . b) - |a - b|^2| <= 4 (D + 4) u (|a|^2 + |b|^2), u the unit roundoff (a dot product
    // of D terms errs by at most D u |a| |b| to first order, with or without fused multiply-adds, and
    // 2 |a| |b| <= |a|^2 + |b|^2; three more roundings and a factor 2 of margin).
    let rounding = 4.0 * (dim as f64 + 4.0) * (f64::EPSILON / 2.0);
    let keep = (k + SLACK).min(m);
    (0..m.div_ceil(ROW_BLOCK))
        .into_par_iter()
        .flat_map_iter(|block| {
            let rows = block * ROW_BLOCK..((block + 1) * ROW_BLOCK).min(m);
            let a = points.slice(s![rows.clone(), ..]);
            // Per row: the `keep` smallest approximate squared distances so far, ascending, with their columns.
            let mut kept: Vec<Vec<(f64, usize)>> = vec![vec![(f64::INFINITY, usize::MAX); keep]; rows.len()];
            let mut tile = Array2::<f64>::zeros((rows.len(), COL_TILE));
            let simd = Simd::selected_or_panic();
            for c0 in (0..m).step_by(COL_TILE) {
                let cols = c0..(c0 + COL_TILE).min(m);
                let b = points.slice(s![cols.clone(), ..]);
                let mut dots = tile.slice_mut(s![.., ..cols.len()]);
                gemm(simd, 1.0, &a, &b.t(), 0.0, &mut dots);
                for ((i, list), dot) in rows.clone().zip(&mut kept).zip(dots.outer_iter()) {
                    let dot = dot.as_slice().expect("rows of a standard-layout tile");
                    scan_tile(norms[i], &norms[cols.clone()], dot, c0, list);
                }
            }
            rows.zip(kept)
                .map(|(i, list)| {
                    // Infinite approximations (overflow) prove nothing: then the row is searched exactly.
                    let bound = match list[keep - 1].0 {
                        _ if keep == m => f64::INFINITY,
                        worst if worst.is_finite() => worst - rounding * (norms[i] + max_norm),
                        _ => f64::NEG_INFINITY,
                    };
                    from_candidates(flat, dim, i, k, &list, bound).or_else(|| exhaustive_row(flat, dim, i, k))
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Adds to the ascending list `kept` (fixed length) the columns c0 + j whose approximate squared distance
/// |a|^2 + |b_j|^2 - 2 a . b_j is below its largest entry (strictly: ties keep the earlier column).
#[inline]
fn scan_tile(norm_a: f64, norms_b: &[f64], dot: &[f64], c0: usize, kept: &mut [(f64, usize)]) {
    const LANES: usize = 8;
    let last = kept.len() - 1;
    let mut worst = kept[last].0;
    let mut insert = |v: f64, col: usize, worst: &mut f64| {
        let at = kept.partition_point(|e| e.0 <= v);
        kept.copy_within(at..last, at + 1);
        kept[at] = (v, col);
        *worst = kept[last].0;
    };
    let n = norms_b.len();
    let whole = n - n % LANES;
    for j0 in (0..whole).step_by(LANES) {
        // Eight approximations and their minimum without a branch (vectorises); rarely one is below `worst`.
        let v: [f64; LANES] = std::array::from_fn(|l| norm_a + norms_b[j0 + l] - 2.0 * dot[j0 + l]);
        let low = v.iter().fold(f64::INFINITY, |m, &x| if x < m { x } else { m });
        if low < worst {
            for (l, &x) in v.iter().enumerate() {
                if x < worst {
                    insert(x, c0 + j0 + l, &mut worst);
                }
            }
        }
    }
    for j in whole..n {
        let x = norm_a + norms_b[j] - 2.0 * dot[j];
        if x < worst {
            insert(x, c0 + j, &mut worst);
        }
    }
}

/// Row i's answer from its candidates' exact distances, if it is certainly the exhaustive search's: every point
/// not among the candidates has an exact squared distance >= `bound`, so the answer must be below it.
fn from_candidates(
    flat: &[f64],
    dim: usize,
    i: usize,
    k: usize,
    candidates: &[(f64, usize)],
    bound: f64,
) -> Option<(f64, usize)> {
    let q = &flat[i * dim..(i + 1) * dim];
    let mut exact: Vec<f64> = candidates
        .iter()
        .filter(|c| c.1 != usize::MAX)
        .map(|&(_, j)| squared_distance(q, &flat[j * dim..(j + 1) * dim]))
        .collect();
    exact.sort_by(f64::total_cmp);
    let zeros = exact.iter().take_while(|&&d| d == 0.0).count();
    // The point itself must be a candidate (distance 0); c = zeros - 1 others coincide with it.
    let others = zeros.checked_sub(1)?;
    let index = if others < k { k } else { others + 1 };
    let d2 = *exact.get(zeros + index.saturating_sub(others + 1))?;
    (d2 > 0.0 && d2 < bound).then(|| (d2.sqrt(), index))
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

    /// A cloud with duplicate groups: rows 10..14 copy row 0 (5 coincident points), rows 20, 21 copy row 1, and
    /// rows 40..40 + `many` copy row 2 (more coincident points than the tiled search keeps candidates).
    fn cloud_with_duplicates(m: usize, dim: usize, many: usize, seed: u64) -> Array2<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut p = Array2::from_shape_fn((m, dim), |_| rng.sample::<f64, _>(StandardNormal));
        let copies = (10..14).map(|i| (i, 0)).chain([(20, 1), (21, 1)]).chain((40..40 + many).map(|i| (i, 2)));
        for (i, from) in copies {
            let r = p.row(from).to_owned();
            p.row_mut(i).assign(&r);
        }
        p
    }

    /// The GEMM-tiled search gives exactly the exhaustive search's neighbour distances and k_j, in high and low
    /// dimension, with duplicates (the rows with more duplicates than candidates take the exact fallback), on
    /// Gaussian and uniform clouds, and for a number of points that is not a multiple of the tiles.
    #[test]
    fn tiled_search_matches_exhaustive_search() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for (dim, m, many) in [(9, 1500, 0), (12, 2100, 3), (21, 1300, 2 * SLACK), (30, 700, 0), (3, 1100, 2 * SLACK)] {
            let gauss = cloud_with_duplicates(m, dim, many, dim as u64);
            let uniform = Array2::from_shape_fn((m, dim), |_| rng.random::<f64>());
            for (name, p) in [("gaussian", gauss), ("uniform", uniform)] {
                for k in [1, 3, 5] {
                    let a = tiled_neighbours(p.view(), k);
                    let b = exhaustive_neighbours(p.view(), k);
                    assert_eq!(a, b, "{name}, D = {dim}, m = {m}, k = {k}");
                    if name == "gaussian" {
                        assert_eq!(a[0].unwrap().1, 5.max(k));
                        assert_eq!(a[1].unwrap().1, 3.max(k));
                        if many > 0 {
                            assert_eq!(a[2].unwrap().1, (many + 1).max(k), "{many} copies of row 2");
                        }
                    }
                }
            }
        }
        // A cloud translated far from the origin (|a|^2 ~ 1e8, distances ~ 1): the GEMM form loses about 8 digits
        // to cancellation; the exact recomputation keeps the answer the exhaustive one.
        let mut far = cloud_with_duplicates(600, 10, 0, 4);
        far += 1e4;
        assert_eq!(tiled_neighbours(far.view(), 2), exhaustive_neighbours(far.view(), 2));
        // m <= k + SLACK: every point is a candidate.
        let few = Array2::from_shape_fn((SLACK + 3, 10), |_| rng.sample::<f64, _>(StandardNormal));
        assert_eq!(tiled_neighbours(few.view(), 3), exhaustive_neighbours(few.view(), 3));
        // Every point equal: no density.
        assert!(tiled_neighbours(Array2::from_elem((50, 10), 0.5).view(), 2).iter().all(Option::is_none));
    }

    /// The estimate from the tiled search equals the exhaustive one to the last bit (same distances, same sum).
    #[test]
    fn estimate_above_the_tree_dimension_equals_the_exhaustive_estimate() {
        let p = cloud_with_duplicates(2000, 21, 0, 9);
        let direct: Vec<Option<(f64, usize)>> = exhaustive_neighbours(p.view(), 3);
        let log_eps: f64 = direct.iter().map(|h| h.unwrap().0.ln()).sum();
        let psi: f64 = direct.iter().map(|h| digamma(h.unwrap().1)).sum();
        let expected = digamma(2000) - psi / 2000.0 + log_unit_ball_volume(21) + 21.0 * log_eps / 2000.0;
        assert_eq!(kl_entropy(p.view(), 3).unwrap().to_bits(), expected.to_bits());
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
        for dim in [3, 12, 30] {
            let p = Array2::from_shape_fn((3000, dim), |_| rng.sample::<f64, _>(StandardNormal));
            let run = |threads: usize| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(|| kl_entropy(p.view(), 3).unwrap())
            };
            let one = run(1).to_bits();
            assert_eq!(one, run(2).to_bits(), "D = {dim}");
            assert_eq!(one, run(3).to_bits(), "D = {dim}");
        }
    }
}
