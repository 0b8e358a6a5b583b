//! Splitting a trained cloud into more particles: the measure rho_m = (1/m) sum_j delta_{theta_j} is the
//! same measure as (1/(k m)) sum_j sum_{c=1..k} delta_{theta_j} (docs/math.md, section The infinite-width
//! network as a measure), so k exact copies of every particle leave the predictions, L and the dual bound
//! unchanged. Under `gd` exact copies move alike (they have the same velocity), so the copies are jittered
//! antithetically: for copy pairs (2q, 2q + 1) of particle j,
//!     theta_{j,2q} = theta_j + delta_{j,q},   theta_{j,2q+1} = theta_j - delta_{j,q},
//!     delta_{j,q} = jitter * |theta_j| * xi / sqrt(d + 1),   xi ~ N(0, I_{d+1}),
//! and an odd k keeps one unjittered copy. The mean of the copies of particle j is theta_j, so the
//! perturbation of every prediction and of L is of second order in `jitter` (first order only for a
//! copy that crosses an activation boundary x_i . u = 0).

use ndarray::{s, Array2};
use rand::Rng;
use rand_distr::StandardNormal;

use crate::error::{Error, Result};
use crate::linalg::Real;
use crate::model::Cloud;
use crate::rng::{stream, Purpose};

/// The stream step of the split's jitter draws (the initial cloud uses step 0 of the same purpose).
const SPLIT_STREAM_STEP: u64 = 1 << 40;

/// `k` copies of every particle of `cloud` (copies of particle j are rows j k .. j k + k - 1), jittered
/// antithetically with relative size `jitter` (module documentation); draws from `seed`.
pub(super) fn split<F: Real>(cloud: &Cloud<F>, k: usize, jitter: f64, seed: u64) -> Result<Cloud<F>> {
    if k < 1 || !(jitter >= 0.0 && jitter.is_finite()) {
        return Err(Error::Invalid(format!("split: k = {k}, jitter = {jitter}; need k >= 1 and a finite jitter >= 0")));
    }
    let (m, cols) = cloud.theta.dim();
    let mut theta = Array2::<F>::zeros((m * k, cols));
    for (j, row) in cloud.theta.outer_iter().enumerate() {
        let base: Vec<f64> = row.iter().map(|v| v.f64()).collect();
        let norm = base.iter().map(|v| v * v).sum::<f64>().sqrt();
        let scale = jitter * norm / (cols as f64).sqrt();
        let mut rng = stream(seed, Purpose::Init, j as u64, SPLIT_STREAM_STEP);
        let mut block = theta.slice_mut(s![j * k..(j + 1) * k, ..]);
        for q in 0..k / 2 {
            for (col, &b) in base.iter().enumerate() {
                let delta = if scale > 0.0 { scale * rng.sample::<f64, _>(StandardNormal) } else { 0.0 };
                block[[2 * q, col]] = F::of(b + delta);
                block[[2 * q + 1, col]] = F::of(b - delta);
            }
        }
        if k % 2 == 1 {
            for (col, &b) in base.iter().enumerate() {
                block[[k - 1, col]] = F::of(b);
            }
        }
    }
    Cloud::new(theta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Distribution as Data;
    use crate::engine::Problem;
    use crate::loss::Loss;
    use crate::model::Init;
    use crate::rng::Purpose as P;

    /// L of `cloud` on the problem's training data (predictions and the second moment).
    fn loss(problem: &Problem<f64>, cloud: &Cloud<f64>) -> f64 {
        let f = cloud.predict(problem.train.x.view());
        problem.objective(f.as_slice().unwrap(), cloud.second_moment()).loss
    }

    fn setup() -> (crate::data::Dataset, Cloud<f64>) {
        let train = Data::Paper { d: 8 }.sample(40, 3, P::TrainData).unwrap();
        let cloud = Cloud::<f64>::sample(50, 8, &Init::Gaussian { s_w: 1.0, s_u: 1.0 }, 3);
        (train, cloud)
    }

    #[test]
    fn exact_copies_leave_the_predictions_and_l_unchanged() {
        let (train, cloud) = setup();
        let problem = Problem::<f64>::new(train.clone(), None, Loss::Logistic, 1e-3).unwrap();
        for k in [1, 2, 3] {
            let copies = split(&cloud, k, 0.0, 7).unwrap();
            assert_eq!(copies.m(), 50 * k);
            for c in 0..k {
                assert_eq!(copies.theta.row(7 * k + c), cloud.theta.row(7));
            }
            let (f0, f1) = (cloud.predict(train.x.view()), copies.predict(train.x.view()));
            let worst = f0.iter().zip(&f1).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            assert!(worst <= 1e-14, "k = {k}: predictions differ by {worst}");
            let (l0, l1) = (loss(&problem, &cloud), loss(&problem, &copies));
            assert!((l0 - l1).abs() <= 1e-14, "k = {k}: L {l0} against {l1}");
            assert!((cloud.second_moment() - copies.second_moment()).abs() <= 1e-14);
        }
    }

    #[test]
    fn jittered_copies_average_to_the_particle_and_move_the_predictions_at_second_order() {
        let (train, cloud) = setup();
        let f = cloud.predict(train.x.view());
        let mut change = Vec::new();
        for jitter in [1e-3, 1e-4] {
            let copies = split(&cloud, 3, jitter, 7).unwrap();
            let mut sum_delta2 = 0.0;
            for j in 0..50 {
                let block = copies.theta.slice(s![3 * j..3 * j + 3, ..]);
                // Antithetic pair plus the unjittered copy: the mean of the copies is theta_j.
                assert_eq!(block.row(2), cloud.theta.row(j));
                let mean = (&block.row(0) + &block.row(1)) / 2.0;
                let worst = (&mean - &cloud.theta.row(j)).iter().fold(0.0f64, |a, v| a.max(v.abs()));
                assert!(worst <= 1e-15, "particle {j}: mean of the pair off by {worst}");
                let delta = (&block.row(0) - &block.row(1)) / 2.0;
                assert!(delta.iter().any(|v| *v != 0.0), "particle {j} was not jittered");
                sum_delta2 += delta.dot(&delta);
            }
            // |theta + delta|^2 + |theta - delta|^2 = 2 |theta|^2 + 2 |delta|^2: the second moment grows by exactly
            // (1 / (3 m)) sum_j 2 |delta_j|^2.
            let grown = copies.second_moment() - cloud.second_moment();
            let expected = 2.0 * sum_delta2 / (3.0 * 50.0);
            assert!((grown - expected).abs() <= 1e-12 * cloud.second_moment(), "{grown} against {expected}");
            // Deterministic in the seed.
            assert_eq!(copies.theta, split(&cloud, 3, jitter, 7).unwrap().theta);
            let g = copies.predict(train.x.view());
            change.push(f.iter().zip(&g).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max));
        }
        // The pair's first-order terms cancel (w +- dw)(u +- du) . x: ten times less jitter, a hundred times
        // less change in every prediction (no copy crosses a kink at these sizes here; at jitter 1e-2 one does).
        assert!(change[0] > 0.0 && (change[1] / change[0] - 1e-2).abs() < 2e-3, "predictions changed by {change:?}");
    }

    #[test]
    fn bad_arguments_are_errors() {
        let (_, cloud) = setup();
        let err = split(&cloud, 0, 0.1, 1).unwrap_err().to_string();
        assert!(err.contains("k = 0, jitter = 0.1; need k >= 1"), "{err}");
        assert!(split(&cloud, 2, f64::NAN, 1).is_err());
    }
}
