//! The GEMM backend: the kernels of the `gemm` crate (`gemm-common` with the microkernels of
//! `gemm-f32` and `gemm-f64`), called directly for the selected [`Tier`] so that a forced tier
//! also forces the GEMM's instructions (the `gemm` crate itself picks the widest the CPU has).
//! Each tier computes every entry of C as a sum over k in the same order for any thread count;
//! tiers differ in rounding (fused multiply-adds, blocking).

use gemm_common::gemm::gemm_basic_generic;
use gemm_common::Parallelism;

use super::Tier;

/// The raw arguments of one GEMM, dst <- alpha dst + beta lhs rhs (`read_dst` false: alpha = 0), in
/// the `gemm` crate's convention (cs/rs column and row strides, in elements).
#[derive(Clone, Copy)]
pub struct Raw<T> {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub dst: *mut T,
    pub dst_cs: isize,
    pub dst_rs: isize,
    pub read_dst: bool,
    pub lhs: *const T,
    pub lhs_cs: isize,
    pub lhs_rs: isize,
    pub rhs: *const T,
    pub rhs_cs: isize,
    pub rhs_rs: isize,
    pub alpha: T,
    pub beta: T,
}

/// Calls `gemm_basic_generic` with the microkernels `$ukr` (a module of `gemm-f32`/`gemm-f64`), the
/// SIMD token `$simd` and N lanes, single-threaded.
macro_rules! call {
    ($t:ty, $ukr:path, $simd:expr, $lanes:expr, $raw:expr) => {{
        use $ukr as u;
        let r = $raw;
        gemm_basic_generic::<
            _,
            $t,
            { $lanes },
            { u::MR_DIV_N * $lanes },
            { u::NR },
            { u::MR_DIV_N },
            { u::H_M },
            { u::H_N },
        >(
            $simd,
            r.m,
            r.n,
            r.k,
            r.dst,
            r.dst_cs,
            r.dst_rs,
            r.read_dst,
            r.lhs,
            r.lhs_cs,
            r.lhs_rs,
            r.rhs,
            r.rhs_cs,
            r.rhs_rs,
            r.alpha,
            r.beta,
            false,
            false,
            false,
            |a, b, c| a * b + c,
            &u::UKR,
            &u::H_UKR,
            false,
            Parallelism::None,
        )
    }};
}

/// The AVX-512 tier uses the AVX-512 GEMM kernels only when every dimension of the product is at
/// least this, the AVX2+FMA kernels otherwise: on the 2-core Xeon (Sapphire Rapids class) these were
/// measured on, the AVX-512 kernels were 2x slower on the step's products (block x tile x d and
/// block x d x tile with d = 20, 0.9x with d = 100) and faster only on large squares (1.4x at 1000^3).
/// A choice by shape only, so results still do not depend on the thread count.
pub const AVX512_GEMM_MIN_DIM: usize = 128;

/// One GEMM in the tier's kernels (f32: `$m` lanes multiplier 2, f64: 1, as the `gemm` crate).
macro_rules! tier_gemm {
    ($name:ident, $t:ident, $krate:ident, $mult:expr) => {
        /// The GEMM `raw` with the kernels of `tier`.
        ///
        /// # Safety
        /// The pointers and strides of `raw` describe valid, non-overlapping matrices of its shape,
        /// and the CPU has `tier` (callers hold a [`super::Simd`] of it).
        pub unsafe fn $name(tier: Tier, raw: Raw<$t>) {
            match tier {
                #[cfg(target_arch = "x86_64")]
                Tier::Avx512 if raw.m.min(raw.n).min(raw.k) >= AVX512_GEMM_MIN_DIM => {
                    let simd = gemm_common::simd::V4::try_new().expect("the tier was checked");
                    call!($t, $krate::microkernel::avx512f::$t, simd, 8 * $mult, raw)
                }
                #[cfg(target_arch = "x86_64")]
                Tier::Avx2 | Tier::Avx512 => {
                    let simd = gemm_common::simd::V3::try_new().expect("the tier was checked");
                    call!($t, $krate::microkernel::fma::$t, simd, 4 * $mult, raw)
                }
                #[cfg(target_arch = "aarch64")]
                Tier::Neon => call!($t, $krate::microkernel::neon::$t, gemm_common::simd::Scalar, 2 * $mult, raw),
                _ => call!($t, $krate::microkernel::scalar::$t, gemm_common::simd::Scalar, 1, raw),
            }
        }
    };
}
tier_gemm!(gemm_f32, f32, gemm_f32, 2);
tier_gemm!(gemm_f64, f64, gemm_f64, 1);
