//! Order-independent sums: terms rounded once to a fixed-point grid and added as integers.
//!
//! A floating-point sum depends on the order of its terms; an integer sum does not. Each term x
//! is rounded to the nearest multiple of 2^-[`FRACTION_BITS`] and held as an `i128`, so a sum of
//! [`Fixed`] values is exact and gives the same bits for any grouping of the terms: over threads,
//! over particle groups and over processes ([`crate::comm`]). Terms must be finite with
//! |x| < 2^[`MAGNITUDE_BITS`] (about 7e13); a term outside that range, or an overflowing sum,
//! makes the sum NaN, so that it is reported as a divergence rather than wrapped silently.

use std::iter::Sum;
use std::ops::Add;

/// Bits after the binary point: terms are rounded to multiples of 2^-72 (about 2e-22).
pub const FRACTION_BITS: u32 = 72;
/// Terms must have magnitude below 2^46 (about 7e13).
pub const MAGNITUDE_BITS: u32 = 46;

/// A fixed-point number x = value * 2^-[`FRACTION_BITS`], or NaN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fixed(i128);

/// The representation of NaN: never the result of a valid term or sum.
const NAN: i128 = i128::MIN;

impl Default for Fixed {
    fn default() -> Self {
        Fixed::ZERO
    }
}

impl Fixed {
    /// Zero.
    pub const ZERO: Fixed = Fixed(0);
    /// Not a number: the result of an invalid term or an overflow.
    pub const NAN: Fixed = Fixed(NAN);

    /// x rounded to the nearest multiple of 2^-72 (ties away from zero), or NaN when x is not
    /// finite or |x| >= 2^46. Exact integer arithmetic on the bits of x.
    #[inline]
    pub fn of(x: f64) -> Fixed {
        if x.is_nan() || x.abs() >= (1u64 << MAGNITUDE_BITS) as f64 {
            return Fixed::NAN;
        }
        let bits = x.to_bits();
        let exponent = ((bits >> 52) & 0x7ff) as i32;
        let fraction = bits & ((1u64 << 52) - 1);
        // x = mantissa * 2^(exponent - 1075), with the implicit leading bit for normal numbers.
        let (mantissa, exponent) = if exponent == 0 { (fraction, 1) } else { (fraction | (1u64 << 52), exponent) };
        let shift = exponent - 1075 + FRACTION_BITS as i32;
        let magnitude = if shift >= 0 {
            i128::from(mantissa) << shift
        } else if -shift > 64 {
            0
        } else {
            let down = (-shift) as u32;
            let half = 1u128 << (down - 1);
            ((u128::from(mantissa) + half) >> down) as i128
        };
        Fixed(if bits >> 63 == 1 { -magnitude } else { magnitude })
    }

    /// Whether this is NaN.
    pub fn is_nan(self) -> bool {
        self.0 == NAN
    }

    /// The nearest f64 (NaN for NaN).
    #[inline]
    pub fn to_f64(self) -> f64 {
        if self.is_nan() {
            f64::NAN
        } else {
            self.0 as f64 * (-(FRACTION_BITS as f64)).exp2()
        }
    }

    /// The value as three integer limbs of 43, 43 and 42 bits (the last signed), plus a NaN flag:
    /// limbs of up to 2^20 numbers can be added as i64 without overflow, and [`Fixed::from_limbs`]
    /// of the limbwise sum is the sum of the numbers.
    pub fn limbs(self) -> [i64; 4] {
        if self.is_nan() {
            return [0, 0, 0, 1];
        }
        let mask = (1i128 << 43) - 1;
        [(self.0 & mask) as i64, ((self.0 >> 43) & mask) as i64, (self.0 >> 86) as i64, 0]
    }

    /// The number whose [`Fixed::limbs`] are (a limbwise sum of) `limbs`.
    pub fn from_limbs(limbs: [i64; 4]) -> Fixed {
        if limbs[3] != 0 {
            return Fixed::NAN;
        }
        let top = i128::from(limbs[2]).checked_mul(1i128 << 86);
        let rest = i128::from(limbs[1]) * (1i128 << 43) + i128::from(limbs[0]);
        top.and_then(|t| t.checked_add(rest)).map_or(Fixed::NAN, Fixed)
    }
}

impl Add for Fixed {
    type Output = Fixed;

    /// The exact sum, or NaN if either is NaN or the sum overflows.
    #[inline]
    fn add(self, other: Fixed) -> Fixed {
        if self.is_nan() || other.is_nan() {
            return Fixed::NAN;
        }
        self.0.checked_add(other.0).filter(|&s| s != NAN).map_or(Fixed::NAN, Fixed)
    }
}

impl Sum for Fixed {
    fn sum<I: Iterator<Item = Fixed>>(iter: I) -> Fixed {
        iter.fold(Fixed::ZERO, Add::add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dyadic_values_are_exact() {
        for x in [0.0, 1.0, -1.0, 0.5, 3.25, -1e13, 2f64.powi(-72), -(2f64.powi(45)), 1234.5678] {
            assert_eq!(Fixed::of(x).to_f64(), x, "{x}");
        }
    }

    #[test]
    fn rounds_to_the_grid() {
        let ulp = 2f64.powi(-72);
        assert_eq!(Fixed::of(0.4 * ulp), Fixed::ZERO);
        assert_eq!(Fixed::of(0.5 * ulp).to_f64(), ulp);
        assert_eq!(Fixed::of(-0.6 * ulp).to_f64(), -ulp);
        assert_eq!(Fixed::of(1e-300), Fixed::ZERO);
        assert_eq!(Fixed::of(f64::MIN_POSITIVE / 2.0), Fixed::ZERO);
        let x = 0.1;
        assert!((Fixed::of(x).to_f64() - x).abs() <= ulp);
    }

    #[test]
    fn out_of_range_terms_are_nan() {
        for x in [f64::NAN, f64::INFINITY, -f64::INFINITY, 2f64.powi(46), -1e20] {
            assert!(Fixed::of(x).is_nan(), "{x}");
            assert!(Fixed::of(x).to_f64().is_nan());
        }
        assert!((Fixed::of(1.0) + Fixed::NAN).is_nan());
    }

    #[test]
    fn sums_do_not_depend_on_the_order() {
        let terms: Vec<f64> =
            (0..1000).map(|i| ((i * 7919) % 1013) as f64 * 1.37e-3 - 0.6 + 1e7 * f64::from(i % 3 == 0)).collect();
        let forward: Fixed = terms.iter().map(|&x| Fixed::of(x)).sum();
        let backward: Fixed = terms.iter().rev().map(|&x| Fixed::of(x)).sum();
        let pairs: Fixed = terms.chunks(2).map(|c| c.iter().map(|&x| Fixed::of(x)).sum::<Fixed>()).sum();
        assert_eq!(forward, backward);
        assert_eq!(forward, pairs);
        let float: f64 = terms.iter().sum();
        assert!((forward.to_f64() - float).abs() < 1e-6);
    }

    #[test]
    fn limbs_add_up() {
        let values = [1.5, -2.25e13, 3e-20, -7.0, 4.4e13];
        let mut limbs = [0i64; 4];
        for v in values {
            limbs.iter_mut().zip(Fixed::of(v).limbs()).for_each(|(a, b)| *a += b);
        }
        assert_eq!(Fixed::from_limbs(limbs), values.iter().map(|&v| Fixed::of(v)).sum());
        assert!(Fixed::from_limbs(Fixed::NAN.limbs()).is_nan());
    }
}
