//! `data.kind = "xor"`: the XOR of the first two coordinates in dimension d >= 2 (docs/math.md,
//! section Distributions), padded by Gaussian or sign coordinates (`data.noise`).

use ndarray::{ArrayViewMut1, ArrayViewMut2};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::paper::sign;
use super::registry::{synthetic_size, Context, Kind};
use super::Distribution;
use crate::config::{Checker, DataConfig, DataSource};
use crate::error::Result;

/// The registration: `data.noise` (default `gaussian`); n, d >= 2 and test_n.
pub static KIND: Kind = Kind { name: "xor", keys: &["noise"], check };

/// Which coordinates pad the XOR inputs beyond the first two.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum XorNoise {
    /// x_k ~ N(0, 1) for k >= 3.
    #[default]
    Gaussian,
    /// x_k uniform on {-1, +1} for k >= 3 (the hypercube XOR).
    Sign,
}

fn check(v: &Checker, data: &mut DataConfig, _context: &Context) -> Result<DataSource> {
    let (n, d, test_n) = synthetic_size(v, data, KIND.name, 2)?;
    let noise = *data.noise.get_or_insert(XorNoise::Gaussian);
    Ok(DataSource::Synthetic { distribution: Distribution::Xor { d, noise }, n, test_n })
}

/// One draw: x_1, x_2 uniform signs, y = x_1 x_2, the other coordinates by `noise`.
pub(super) fn fill(mut x: ArrayViewMut2<f64>, mut y: ArrayViewMut1<f64>, noise: XorNoise, rng: &mut ChaCha8Rng) {
    for (mut row, yi) in x.outer_iter_mut().zip(y.iter_mut()) {
        row[0] = sign(rng);
        row[1] = sign(rng);
        *yi = row[0] * row[1];
        for v in row.iter_mut().skip(2) {
            *v = match noise {
                XorNoise::Gaussian => rng.sample(StandardNormal),
                XorNoise::Sign => sign(rng),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Purpose;

    #[test]
    fn xor_labels_are_the_product_of_the_first_two_coordinates() {
        for noise in [XorNoise::Gaussian, XorNoise::Sign] {
            let data = Distribution::Xor { d: 4, noise }.sample(300, 1, Purpose::TrainData).unwrap();
            for (row, &y) in data.x.outer_iter().zip(&data.y) {
                assert_eq!(y, row[0] * row[1]);
                assert!(row[0].abs() == 1.0 && row[1].abs() == 1.0);
                if noise == XorNoise::Sign {
                    assert!(row.iter().all(|v| v.abs() == 1.0));
                }
            }
        }
    }
}
