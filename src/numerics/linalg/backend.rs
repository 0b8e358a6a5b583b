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

impl<T: Copy> Raw<T> {
    /// The same product with a column-oriented destination and positive strides, as the `gemm`
    /// crate's entry point arranges it before its kernels (which prefer column-major
    /// destinations): a row-major C = A B is computed as C^T = B^T A^T.
    fn normalized(self) -> Raw<T> {
        let mut r = if self.dst_cs.abs() < self.dst_rs.abs() {
            Raw {
                m: self.n,
                n: self.m,
                dst_cs: self.dst_rs,
                dst_rs: self.dst_cs,
                lhs: self.rhs,
                lhs_cs: self.rhs_rs,
                lhs_rs: self.rhs_cs,
                rhs: self.lhs,
                rhs_cs: self.lhs_rs,
                rhs_rs: self.lhs_cs,
                ..self
            }
        } else {
            self
        };
        if r.dst_rs < 0 && r.m > 0 {
            r.dst = r.dst.wrapping_offset((r.m - 1) as isize * r.dst_rs);
            r.dst_rs = -r.dst_rs;
            r.lhs = r.lhs.wrapping_offset((r.m - 1) as isize * r.lhs_rs);
            r.lhs_rs = -r.lhs_rs;
        }
        if r.dst_cs < 0 && r.n > 0 {
            r.dst = r.dst.wrapping_offset((r.n - 1) as isize * r.dst_cs);
            r.dst_cs = -r.dst_cs;
            r.rhs = r.rhs.wrapping_offset((r.n - 1) as isize * r.rhs_cs);
            r.rhs_cs = -r.rhs_cs;
        }
        if r.lhs_cs < 0 && r.k > 0 {
            r.lhs = r.lhs.wrapping_offset((r.k - 1) as isize * r.lhs_cs);
            r.lhs_cs = -r.lhs_cs;
            r.rhs = r.rhs.wrapping_offset((r.k - 1) as isize * r.rhs_rs);
            r.rhs_rs = -r.rhs_rs;
        }
        r
    }
}

/// Calls `gemm_basic_generic` with the microkernels `$ukr` (a module of `gemm-f32`/`gemm-f64`), the
/// SIMD token `$simd` and N lanes, single-threaded.
macro_rules! call {
    ($t:ty, $ukr:path, $simd:expr, $lanes:expr, $raw:expr) => {{
        use $ukr as u;
        let r = $raw.normalized();
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
                Tier::Avx512 => {
                    let simd = gemm_common::simd::V4::try_new().expect("the tier was checked");
                    call!($t, $krate::microkernel::avx512f::$t, simd, 8 * $mult, raw)
                }
                #[cfg(target_arch = "x86_64")]
                Tier::Avx2 => {
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
