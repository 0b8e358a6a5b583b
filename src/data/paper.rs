//! `data.kind = "paper"`: the paper's distribution D in dimension d >= 2 (docs/math.md, section
//! Distributions), and the 4-neuron network that separates it.

use ndarray::{Array2, ArrayViewMut1, ArrayViewMut2};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::registry::{synthetic_size, Context, Kind};
use super::Distribution;
use crate::config::{Checker, DataConfig, DataSource};
use crate::error::Result;

/// The registration: no keys of its own; n, d >= 2 and test_n.
pub static KIND: Kind = Kind { name: "paper", keys: &[], check };

fn check(v: &Checker, data: &mut DataConfig, _context: &Context) -> Result<DataSource> {
    let (n, d, test_n) = synthetic_size(v, data, KIND.name, 2)?;
    Ok(DataSource::Synthetic { distribution: Distribution::Paper { d }, n, test_n })
}

/// A uniformly random sign.
pub(super) fn sign(rng: &mut ChaCha8Rng) -> f64 {
    if rng.random::<bool>() {
        1.0
    } else {
        -1.0
    }
}

/// One draw: (x_1, x_2) one of (+-1, 0) (label +1) and (0, +-1) (label -1), each with probability
/// 1/4; x_3, ..., x_d uniform signs. So y = |x_1| - |x_2|.
pub(super) fn fill(mut x: ArrayViewMut2<f64>, mut y: ArrayViewMut1<f64>, rng: &mut ChaCha8Rng) {
    const CORNERS: [(f64, f64, f64); 4] = [(1.0, 0.0, 1.0), (-1.0, 0.0, 1.0), (0.0, 1.0, -1.0), (0.0, -1.0, -1.0)];
    for (mut row, yi) in x.outer_iter_mut().zip(y.iter_mut()) {
        let (x1, x2, label) = CORNERS[rng.random_range(0..4)];
        row[0] = x1;
        row[1] = x2;
        *yi = label;
        for v in row.iter_mut().skip(2) {
            *v = sign(rng);
        }
    }
}

/// The paper's 4-neuron network |x_1| - |x_2| = relu(x_1) + relu(-x_1) - relu(x_2) - relu(-x_2) in input dimension
/// d >= 2, as a mean-field cloud of 4 balanced particles (rows (w, u) = sqrt(4) (w~, u~), w~ = +-1, u~ = +-e_1 or
/// +-e_2). On `paper` data min_i y_i F_i = 1 and integral |theta|^2 d rho = 8: normalised margin 1/8.
pub fn paper_network(d: usize) -> Array2<f64> {
    let mut p = Array2::zeros((4, d + 1));
    for (j, (w, k, sign)) in [(1.0, 1, 1.0), (1.0, 1, -1.0), (-1.0, 2, 1.0), (-1.0, 2, -1.0)].into_iter().enumerate() {
        p[[j, 0]] = 2.0 * w;
        p[[j, k]] = 2.0 * sign;
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Purpose;

    #[test]
    fn paper_distribution_has_its_defining_property() {
        let data = Distribution::Paper { d: 9 }.sample(500, 3, Purpose::TrainData).unwrap();
        for (row, &y) in data.x.outer_iter().zip(&data.y) {
            assert_eq!(row.dot(&row), 8.0, "|x|^2 = d - 1");
            assert_eq!(y, row[0].abs() - row[1].abs());
            assert!(row.iter().skip(2).all(|&v| v == 1.0 || v == -1.0));
        }
        let positives = data.y.iter().filter(|&&y| y > 0.0).count();
        assert!((200..300).contains(&positives), "{positives} of 500 positive");
    }
}
