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

/// One product dst <- A B (`accumulate`: dst <- dst + A B) in the microkernels' convention: dst m x n
/// (dst_rs = 1 for whole vector stores), A the rows `row..row + m` and depths `depth..depth + k` of a
/// matrix packed in panels of MR rows (row r at depth j at (r / MR) MR `lhs_depth` + j MR + r % MR), B
/// k x n with strides `rhs_rs`, `rhs_cs`. Each entry is one chain of fused multiply-adds over the
/// depth in order, then stored (or added to dst in one fused multiply-add): the numbers of the `gemm`
/// crate for a depth within one of its blocks (k <= 512).
#[derive(Clone, Copy)]
pub struct Panels<T> {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub dst: *mut T,
    pub dst_cs: isize,
    pub dst_rs: isize,
    pub accumulate: bool,
    pub lhs: *const T,
    pub lhs_depth: usize,
    pub row: usize,
    pub depth: usize,
    pub rhs: *const T,
    pub rhs_rs: isize,
    pub rhs_cs: isize,
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

/// One product of a [`Panels`] with the microkernels `$ukr` (N lanes, MR = N `MR_DIV_N` rows): for
/// each NR columns, each run of at most MR rows within one panel, one microkernel call, as the `gemm`
/// crate's own loop makes them on its packed operands.
macro_rules! panels {
    ($t:ty, $ukr:path, $lanes:expr, $p:expr) => {{
        use $ukr as u;
        let (p, mr) = ($p, u::MR_DIV_N * $lanes);
        let (alpha, status) = if p.accumulate { (1.0, 1) } else { (0.0, 0) };
        for j in (0..p.n).step_by(u::NR) {
            let cols = u::NR.min(p.n - j);
            let mut row = p.row;
            while row < p.row + p.m {
                let rows = (mr - row % mr).min(p.row + p.m - row);
                let lhs = p.lhs.add(row / mr * mr * p.lhs_depth + p.depth * mr + row % mr);
                u::UKR[rows.div_ceil($lanes) - 1][cols - 1](
                    rows,
                    cols,
                    p.k,
                    p.dst.offset((row - p.row) as isize * p.dst_rs + j as isize * p.dst_cs),
                    lhs,
                    p.rhs.offset(j as isize * p.rhs_cs),
                    p.dst_cs,
                    p.dst_rs,
                    mr as isize,
                    p.rhs_rs,
                    p.rhs_cs,
                    alpha,
                    1.0,
                    status,
                    false,
                    false,
                    false,
                    lhs,
                );
                row += rows;
            }
        }
    }};
}

/// One GEMM in the tier's kernels (f32: `$m` lanes multiplier 2, f64: 1, as the `gemm` crate).
macro_rules! tier_gemm {
    ($name:ident, $panels:ident, $rows:ident, $t:ident, $krate:ident, $mult:expr) => {
        /// The rows MR of the microkernels of `tier`: the panel width of [`Panels`].
        pub fn $rows(tier: Tier) -> usize {
            match tier {
                #[cfg(target_arch = "x86_64")]
                Tier::Avx512 => $krate::microkernel::avx512f::$t::MR_DIV_N * 8 * $mult,
                #[cfg(target_arch = "x86_64")]
                Tier::Avx2 => $krate::microkernel::fma::$t::MR_DIV_N * 4 * $mult,
                #[cfg(target_arch = "aarch64")]
                Tier::Neon => $krate::microkernel::neon::$t::MR_DIV_N * 2 * $mult,
                _ => $krate::microkernel::scalar::$t::MR_DIV_N,
            }
        }

        /// The product `p` with the microkernels of `tier`.
        ///
        /// # Safety
        /// The pointers and strides of `p` describe valid, non-overlapping matrices of its shape (the
        /// packed one with whole panels and MR more elements), and the CPU has `tier`.
        pub unsafe fn $panels(tier: Tier, p: Panels<$t>) {
            match tier {
                #[cfg(target_arch = "x86_64")]
                Tier::Avx512 => panels!($t, $krate::microkernel::avx512f::$t, 8 * $mult, p),
                #[cfg(target_arch = "x86_64")]
                Tier::Avx2 => panels!($t, $krate::microkernel::fma::$t, 4 * $mult, p),
                #[cfg(target_arch = "aarch64")]
                Tier::Neon => panels!($t, $krate::microkernel::neon::$t, 2 * $mult, p),
                _ => panels!($t, $krate::microkernel::scalar::$t, 1, p),
            }
        }

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
tier_gemm!(gemm_f32, panels_f32, rows_f32, f32, gemm_f32, 2);
tier_gemm!(gemm_f64, panels_f64, rows_f64, f64, gemm_f64, 1);
