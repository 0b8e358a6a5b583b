//! The numeric backend: the floating-point types the kernels run in, and the one GEMM they call.
//!
//! Everything else in the crate names only [`Real`], [`gemm()`], [`vectorised`] and [`Pack`]; the
//! BLAS-like backend (the `gemm` crate, single-threaded inside a block), the
//! explicit AVX2 vectors and the CPU feature detection are details of this module.

use std::fmt::{Debug, Display};

use ndarray::{ArrayView2, ArrayViewMut2, LinalgScalar, ScalarOperand};
use ndarray_npy::{ReadableElement, WritableElement};

/// A floating-point type the particle kernels run in: `f64` (default) or `f32`.
///
/// Predictions and reductions are always accumulated in f64, whatever the particle type. As a
/// [`Pack`] of one lane it is the portable fallback of the vector kernels.
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
    + Pack<Self>
    + 'static
{
    /// The name used in scenarios and outputs (`"f64"` or `"f32"`).
    const NAME: &'static str;
    /// Conversion from f64 (rounding to nearest for f32).
    fn of(x: f64) -> Self;
    /// Exact widening to f64.
    fn f64(self) -> f64;
    /// `kernel.run::<V>()` with V the widest [`Pack`] of `Self` the CPU supports: 256-bit AVX2
    /// vectors on x86-64 CPUs that have AVX2, the scalar `Self` otherwise.
    fn vectorise<K: WithPack<Self>>(kernel: K) -> K::Output;
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
    fn vectorise<K: WithPack<Self>>(kernel: K) -> K::Output {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2.
            return unsafe { run_avx2::<f64, x86_64::__m256d, K>(kernel) };
        }
        kernel.run::<f64>()
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
    fn vectorise<K: WithPack<Self>>(kernel: K) -> K::Output {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2.
            return unsafe { run_avx2::<f32, x86_64::__m256, K>(kernel) };
        }
        kernel.run::<f32>()
    }
}

/// A vector of [`Pack::LEN`] values of F with the elementwise operations of the direct kernels.
///
/// Every operation rounds each lane exactly as the scalar operation of F does (no fused
/// multiply-adds), so a kernel computes the same numbers with any `Pack` of F. The AVX2 vectors
/// may only be used inside [`Real::vectorise`], which checks that the CPU has AVX2.
pub trait Pack<F>: Copy {
    /// Lanes per vector.
    const LEN: usize;
    /// Every lane equal to `x`.
    fn splat(x: F) -> Self;
    /// The first [`Pack::LEN`] values of `s`.
    fn load(s: &[F]) -> Self;
    /// Writes the lanes to the first [`Pack::LEN`] values of `out`.
    fn store(self, out: &mut [F]);
    /// Lanewise `self + b`.
    fn add(self, b: Self) -> Self;
    /// Lanewise `self * b`.
    fn mul(self, b: Self) -> Self;
    /// Lanewise `a` where `self > 0`, else 0 (also where `self` is NaN).
    fn if_positive(self, a: Self) -> Self;
    /// Lanewise relu: `self.if_positive(self)`.
    fn relu(self) -> Self;
}

/// A computation written once for any [`Pack`] of F, run by [`Real::vectorise`] with the widest.
pub trait WithPack<F> {
    /// What the computation returns.
    type Output;
    /// Runs the computation in vectors of type V. Implementations should be `#[inline(always)]`
    /// and call the [`Pack`] operations in loops and `#[inline(always)]` functions, not in closures:
    /// code LLVM leaves out of line is not compiled for the CPU features [`Real::vectorise`] enables,
    /// and then calls every vector operation.
    fn run<V: Pack<F>>(self) -> Self::Output;
}

/// The scalar (portable) [`Pack`]: one lane. `if_positive` is a bit mask of the comparison, so
/// that loops over it vectorise (LLVM may turn a plain `if` into a branch).
macro_rules! scalar_pack {
    ($t:ty, $bits:ty) => {
        impl Pack<$t> for $t {
            const LEN: usize = 1;
            #[inline(always)]
            fn splat(x: $t) -> Self {
                x
            }
            #[inline(always)]
            fn load(s: &[$t]) -> Self {
                s[0]
            }
            #[inline(always)]
            fn store(self, out: &mut [$t]) {
                out[0] = self;
            }
            #[inline(always)]
            fn add(self, b: Self) -> Self {
                self + b
            }
            #[inline(always)]
            fn mul(self, b: Self) -> Self {
                self * b
            }
            #[inline(always)]
            fn if_positive(self, a: Self) -> Self {
                <$t>::from_bits(a.to_bits() & <$bits>::wrapping_sub(0, <$bits>::from(self > 0.0)))
            }
            #[inline(always)]
            fn relu(self) -> Self {
                Pack::if_positive(self, self)
            }
        }
    };
}
scalar_pack!(f32, u32);
scalar_pack!(f64, u64);

/// `kernel.run::<V>()`, with AVX2 enabled for the code inlined into it.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn run_avx2<F, V: Pack<F>, K: WithPack<F>>(kernel: K) -> K::Output {
    kernel.run::<V>()
}

/// The AVX2 [`Pack`]s: `__m256` (8 x f32) and `__m256d` (4 x f64).
#[cfg(target_arch = "x86_64")]
mod x86_64 {
    pub use std::arch::x86_64::{__m256, __m256d};
    use std::arch::x86_64::{
        _mm256_add_pd, _mm256_add_ps, _mm256_and_pd, _mm256_and_ps, _mm256_cmp_pd, _mm256_cmp_ps, _mm256_loadu_pd,
        _mm256_loadu_ps, _mm256_max_pd, _mm256_max_ps, _mm256_mul_pd, _mm256_mul_ps, _mm256_set1_pd, _mm256_set1_ps,
        _mm256_setzero_pd, _mm256_setzero_ps, _mm256_storeu_pd, _mm256_storeu_ps, _CMP_GT_OQ,
    };

    use super::Pack;

    /// One AVX2 [`Pack`]. SAFETY (every `unsafe` below): these vectors exist only inside
    /// [`super::run_avx2`], on a CPU with AVX2; loads and stores are bounds-checked by slicing.
    /// `max(z, 0)` is `z if z > 0 else 0` lane by lane, NaN and -0 included (the second operand is
    /// returned unless the first is greater), and the ordered comparison is false for NaN, as in
    /// the scalar [`Pack`].
    macro_rules! avx_pack {
        ($v:ty, $t:ty, $len:expr, $set1:ident, $zero:ident, $loadu:ident, $storeu:ident, $addf:ident,
         $mulf:ident, $andf:ident, $cmpf:ident, $maxf:ident) => {
            impl Pack<$t> for $v {
                const LEN: usize = $len;
                #[inline(always)]
                fn splat(x: $t) -> Self {
                    unsafe { $set1(x) }
                }
                #[inline(always)]
                fn load(s: &[$t]) -> Self {
                    unsafe { $loadu(s[..$len].as_ptr()) }
                }
                #[inline(always)]
                fn store(self, out: &mut [$t]) {
                    unsafe { $storeu(out[..$len].as_mut_ptr(), self) }
                }
                #[inline(always)]
                fn add(self, b: Self) -> Self {
                    unsafe { $addf(self, b) }
                }
                #[inline(always)]
                fn mul(self, b: Self) -> Self {
                    unsafe { $mulf(self, b) }
                }
                #[inline(always)]
                fn if_positive(self, a: Self) -> Self {
                    unsafe { $andf($cmpf::<_CMP_GT_OQ>(self, $zero()), a) }
                }
                #[inline(always)]
                fn relu(self) -> Self {
                    unsafe { $maxf(self, $zero()) }
                }
            }
        };
    }
    avx_pack!(
        __m256,
        f32,
        8,
        _mm256_set1_ps,
        _mm256_setzero_ps,
        _mm256_loadu_ps,
        _mm256_storeu_ps,
        _mm256_add_ps,
        _mm256_mul_ps,
        _mm256_and_ps,
        _mm256_cmp_ps,
        _mm256_max_ps
    );
    avx_pack!(
        __m256d,
        f64,
        4,
        _mm256_set1_pd,
        _mm256_setzero_pd,
        _mm256_loadu_pd,
        _mm256_storeu_pd,
        _mm256_add_pd,
        _mm256_mul_pd,
        _mm256_and_pd,
        _mm256_cmp_pd,
        _mm256_max_pd
    );
}

/// C <- alpha A B + beta C, single-threaded (callers parallelise over blocks).
#[inline]
pub fn gemm<F: Real>(alpha: F, a: &ArrayView2<F>, b: &ArrayView2<F>, beta: F, c: &mut ArrayViewMut2<F>) {
    let (m, k, n) = (a.nrows(), a.ncols(), b.ncols());
    assert!(
        b.nrows() == k && c.nrows() == m && c.ncols() == n,
        "gemm: shapes {:?} {:?} {:?}",
        a.shape(),
        b.shape(),
        c.shape()
    );
    let (sa, sb, sc) = (&a.strides()[..2], &b.strides()[..2], [c.strides()[0], c.strides()[1]]);
    // SAFETY: the pointers and strides describe the three views, whose shapes match.
    unsafe {
        ::gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            sc[1],
            sc[0],
            beta != F::zero(),
            a.as_ptr(),
            sa[1],
            sa[0],
            b.as_ptr(),
            sb[1],
            sb[0],
            beta,
            alpha,
            false,
            false,
            false,
            ::gemm::Parallelism::None,
        );
    }
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
