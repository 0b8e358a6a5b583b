//! The numeric backend: the floating-point types the kernels run in, and the one GEMM they call.
//!
//! Everything else in the crate names only [`Real`], [`gemm`] and [`vectorised`]; the BLAS-like
//! backend (`matrixmultiply` through ndarray, single-threaded inside a block) and the CPU feature
//! detection are details of this module.

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
    /// `a` if `self > 0`, else 0: a bit mask of the comparison, so that loops over it vectorise
    /// (LLVM may turn a plain `if` into a branch).
    fn if_positive(self, a: Self) -> Self;
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
    #[inline(always)]
    fn if_positive(self, a: Self) -> Self {
        f64::from_bits(a.to_bits() & 0u64.wrapping_sub(u64::from(self > 0.0)))
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
    #[inline(always)]
    fn if_positive(self, a: Self) -> Self {
        f32::from_bits(a.to_bits() & 0u32.wrapping_sub(u32::from(self > 0.0)))
    }
}

/// C <- alpha A B + beta C, single-threaded (callers parallelise over blocks).
#[inline]
pub fn gemm<F: Real>(alpha: F, a: &ArrayView2<F>, b: &ArrayView2<F>, beta: F, c: &mut ArrayViewMut2<F>) {
    general_mat_mul(alpha, a, b, beta, c);
}

/// Runs `f`, compiled for AVX2 when the CPU has it (x86-64), as compiled otherwise.
///
/// The kernels wrap their per-block work in it, as an `#[inline(always)]` closure calling
/// `#[inline(always)]` helpers, so that their elementwise loops, inlined into `f`, vectorise over 256-bit registers without building for one CPU (`-C target-cpu`). Both paths do
/// the same arithmetic in the same order (no fused multiply-adds), so results do not depend on it.
#[inline(always)]
pub fn vectorised<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, the only feature `with_avx2` is compiled for.
        return unsafe { with_avx2(f) };
    }
    f()
}

/// `f()`, with AVX2 enabled for the code inlined into it.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
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

    #[test]
    fn if_positive_selects_on_the_sign() {
        assert_eq!(2.0f64.if_positive(3.0), 3.0);
        assert_eq!((-2.0f32).if_positive(3.0), 0.0);
        assert_eq!(0.0f32.if_positive(3.0), 0.0);
        assert_eq!(f64::NAN.if_positive(3.0), 0.0);
    }
}
