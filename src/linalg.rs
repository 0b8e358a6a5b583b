//! The numeric backend: the floating-point types the kernels run in, and the one GEMM they call.
//!
//! Everything else in the crate names only [`Real`] and [`gemm`]; the BLAS-like backend
//! (`matrixmultiply` through ndarray, single-threaded inside a block) is a detail of this module.

use std::fmt::{Debug, Display};

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2, LinalgScalar, ScalarOperand};
use ndarray_npy::{ReadableElement, WritableElement};

/// A floating-point type the particle kernels run in: `f64` (default) or `f32`.
///
/// Predictions and reductions are always accumulated in f64, whatever the particle type.
pub trait Real:
    num_traits::Float
    + LinalgScalar
    + ScalarOperand
    + Send
    + Sync
    + Debug
    + Display
    + Default
    + WritableElement
    + ReadableElement
    + 'static
{
    /// The name used in scenarios and outputs (`"f64"` or `"f32"`).
    const NAME: &'static str;
    /// Conversion from f64 (rounding to nearest for f32).
    fn of(x: f64) -> Self;
    /// Exact widening to f64.
    fn f64(self) -> f64;
}

impl Real for f64 {
    const NAME: &'static str = "f64";
    #[inline(always)]
    fn of(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self
    }
}

impl Real for f32 {
    const NAME: &'static str = "f32";
    #[inline(always)]
    fn of(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        f64::from(self)
    }
}

/// C <- alpha A B + beta C, single-threaded (callers parallelise over blocks).
#[inline]
pub fn gemm<F: Real>(alpha: F, a: &ArrayView2<F>, b: &ArrayView2<F>, beta: F, c: &mut ArrayViewMut2<F>) {
    general_mat_mul(alpha, a, b, beta, c);
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn gemm_multiplies_and_accumulates() {
        let a = array![[1.0, 2.0], [3.0, 4.0]];
        let b = array![[5.0, 6.0], [7.0, 8.0]];
        let mut c = array![[1.0, 1.0], [1.0, 1.0]];
        gemm(2.0, &a.view(), &b.view(), 1.0, &mut c.view_mut());
        assert_eq!(c, array![[39.0, 45.0], [87.0, 101.0]]);
    }
}
