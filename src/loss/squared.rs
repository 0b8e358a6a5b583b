//! The squared loss l(y, z) = (z - y)^2 / 2 on real labels (docs/math.md, section Data and
//! losses).

use super::{Conic, LossFunction};

/// l(y, z) = (z - y)^2 / 2, real labels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Squared;

impl LossFunction for Squared {
    fn classification(&self) -> bool {
        false
    }

    /// (z - y)^2 / 2.
    fn value(&self, y: f64, z: f64) -> f64 {
        0.5 * (z - y) * (z - y)
    }

    /// l' = z - y.
    fn derivative(&self, y: f64, z: f64) -> f64 {
        z - y
    }

    /// l'' = 1.
    fn second_derivative(&self, _y: f64, _z: f64) -> f64 {
        1.0
    }

    /// l* = s^2 / 2 + s y (docs/math.md, section Dual bound).
    fn conjugate(&self, y: f64, s: f64) -> f64 {
        0.5 * s * s + s * y
    }

    fn conic(&self) -> Conic {
        Conic::Quadratic
    }
}
