//! The logistic loss l(y, z) = log(1 + exp(-y z)) on labels in {-1, +1} (docs/math.md, section
//! Data and losses).

use super::{sigmoid, softplus, xlogx, Conic, LossFunction};

/// l(y, z) = log(1 + exp(-y z)), labels in {-1, +1}.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Logistic;

impl LossFunction for Logistic {
    fn classification(&self) -> bool {
        true
    }

    /// softplus(-y z).
    fn value(&self, y: f64, z: f64) -> f64 {
        softplus(-y * z)
    }

    /// l' = -y / (1 + exp(y z)) = -y sigmoid(-y z).
    fn derivative(&self, y: f64, z: f64) -> f64 {
        -y * sigmoid(-y * z)
    }

    /// l'' = sigmoid(y z) sigmoid(-y z).
    fn second_derivative(&self, y: f64, z: f64) -> f64 {
        sigmoid(y * z) * sigmoid(-y * z)
    }

    /// With t = -s y: l* = t log t + (1 - t) log(1 - t) for t in \[0, 1\], +inf outside
    /// (docs/math.md, section Dual bound).
    fn conjugate(&self, y: f64, s: f64) -> f64 {
        let t = -s * y;
        if !(0.0..=1.0).contains(&t) {
            return f64::INFINITY;
        }
        xlogx(t) + xlogx(1.0 - t)
    }

    fn conic(&self) -> Conic {
        Conic::Softplus
    }
}
