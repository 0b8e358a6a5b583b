//! The numeric backend: the floating-point types the kernels run in, the SIMD tier they run in and
//! the one GEMM they call.
//!
//! Everything else in the crate names only [`Real`], [`Simd`], [`gemm()`] (and [`gemm_packed`] on a
//! [`Packed`] operand), [`vectorised`] and [`Pack`]; the BLAS-like backend (the kernels of the `gemm`
//! crate, single-threaded inside a block), the explicit vectors (AVX-512, AVX2, NEON) and the CPU
//! feature detection are details of this module and its files. The tier is chosen at run time
//! ([`Simd::selected`]: the widest the CPU has, or the one `MEANFIELD_SIMD` names), never by the
//! build's target CPU.

use std::fmt::{Debug, Display};

use ndarray::{Array2, ArrayView2, ArrayViewMut2, LinalgScalar, ScalarOperand};
use ndarray_npy::{ReadableElement, WritableElement};

/// Implements [`Pack`] for the vector type `$v` of `$len` lanes of `$t` from its intrinsics, each
/// called in `unsafe` (the vector files state why that is sound).
macro_rules! vector_pack {
    ($v:ty, $t:ty, $len:expr, splat: $splat:path, load: $load:path, store: $store:path, add: $add:path,
     mul: $mul:path, mul_add: |$ma:ident, $mb:ident, $mc:ident| $fma:expr, if_positive: |$x:ident, $a:ident| $select:expr, relu: |$y:ident| $relu:expr,
     positive_bits: |$p:ident| $bits:expr, if_bits: |$b:ident, $c:ident| $unpack:expr
     $(, add_if_bits: |$ss:ident, $sb:ident, $sa:ident| $masked:expr)?
     $(, mul_add_if_positive: |$fz:ident, $fw:ident, $ft:ident| $masked_fma:expr)?
     $(, lane_sums_16: |$lv:ident| $lane_sums:expr)?) => {
        impl Pack<$t> for $v {
            const LEN: usize = $len;
            #[inline(always)]
            fn splat(x: $t) -> Self {
                unsafe { $splat(x) }
            }
            #[inline(always)]
            fn load(s: &[$t]) -> Self {
                unsafe { $load(s[..$len].as_ptr()) }
            }
            #[inline(always)]
            fn store(self, out: &mut [$t]) {
                unsafe { $store(out[..$len].as_mut_ptr(), self) }
            }
            #[inline(always)]
            fn add(self, b: Self) -> Self {
                unsafe { $add(self, b) }
            }
            #[inline(always)]
            fn mul(self, b: Self) -> Self {
                unsafe { $mul(self, b) }
            }
            #[inline(always)]
            fn mul_add(self, b: Self, c: Self) -> Self {
                let ($ma, $mb, $mc) = (self, b, c);
                unsafe { $fma }
            }
            #[inline(always)]
            fn if_positive(self, a: Self) -> Self {
                let ($x, $a) = (self, a);
                unsafe { $select }
            }
            #[inline(always)]
            fn relu(self) -> Self {
                let $y = self;
                unsafe { $relu }
            }
            #[inline(always)]
            fn positive_bits(self) -> u64 {
                let $p = self;
                unsafe { $bits }
            }
            #[inline(always)]
            fn if_bits(bits: u64, a: Self) -> Self {
                let ($b, $c) = (bits, a);
                unsafe { $unpack }
            }
            $(
            #[inline(always)]
            fn add_if_bits(self, bits: u64, a: Self) -> Self {
                let ($ss, $sb, $sa) = (self, bits, a);
                unsafe { $masked }
            }
            )?
            $(
            #[inline(always)]
            fn mul_add_if_positive(self, w: Self, t: Self) -> Self {
                let ($fz, $fw, $ft) = (self, w, t);
                unsafe { $masked_fma }
            }
            )?
            $(
            #[inline(always)]
            fn lane_sums_16($lv: &[Self; 16]) -> Option<Self> {
                Some(unsafe { $lane_sums })
            }
            )?
        }
    };
}

mod backend;
#[cfg(target_arch = "aarch64")]
mod neon;
mod packed;
mod tier;
#[cfg(target_arch = "x86_64")]
mod x86;

pub use packed::{gemm_packed, Packed, PACKED_MAX_DEPTH};
pub use tier::{Simd, Tier, SIMD_ENV};

/// Bytes of a cache line, and of an AVX-512 vector: the alignment of [`Lines`].
pub const LINE_BYTES: usize = 64;

/// Numbers in memory that starts on a cache line. The kernels read their packed operands in vectors
/// at multiples of 64 bytes from the start of such a buffer, so that no vector straddles two cache
/// lines (which costs two accesses of the L1 cache; with glibc's allocator a `Vec` of more than
/// 128 KiB starts 16 bytes past a page, so that every 64-byte vector of it straddled two lines).
/// Alignment changes no number.
pub type Lines<F> = aligned_vec::AVec<F, aligned_vec::ConstAlign<LINE_BYTES>>;

/// `len` copies of `value` in [`Lines`].
pub fn lines<F: Clone>(len: usize, value: F) -> Lines<F> {
    let mut lines = Lines::new(LINE_BYTES);
    lines.resize(len, value);
    lines
}

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
    /// `kernel.run::<V>()` with V the [`Pack`] of `Self` of the tier `simd`: 512-bit AVX-512 or
    /// 256-bit AVX2 vectors on x86-64, 128-bit NEON vectors on aarch64, the scalar `Self` for
    /// [`Tier::Portable`]. Every tier computes the same numbers (see [`Pack`]).
    fn vectorise<K: WithPack<Self>>(simd: Simd, kernel: K) -> K::Output;
    /// The GEMM `raw` in the kernels of `tier`.
    ///
    /// # Safety
    /// As [`backend::gemm_f32`]: valid matrices, and a tier the CPU has.
    #[doc(hidden)]
    unsafe fn gemm_raw(tier: Tier, raw: backend::Raw<Self>);
    /// The product `p` in the microkernels of `tier`.
    ///
    /// # Safety
    /// As [`backend::panels_f32`]: valid matrices, and a tier the CPU has.
    #[doc(hidden)]
    unsafe fn panels_raw(tier: Tier, p: backend::Panels<Self>);
    /// The panel width of [`Packed`] in `tier`.
    #[doc(hidden)]
    fn panel_rows(tier: Tier) -> usize;
}

/// The [`Real`] impl of `$t` with its packs per tier.
macro_rules! real {
    ($t:ident, $m256:ident, $m512:ident, $neon:ident, $gemm:ident, $panels:ident, $rows:ident, of($x:ident) $of:expr, f64($y:ident) $widen:expr) => {
        impl Real for $t {
            const NAME: &'static str = stringify!($t);
            #[inline(always)]
            fn of($x: f64) -> Self {
                $of
            }
            #[inline(always)]
            fn f64(self) -> f64 {
                let $y = self;
                $widen
            }
            #[inline(always)]
            fn vectorise<K: WithPack<Self>>(simd: Simd, kernel: K) -> K::Output {
                match simd.tier() {
                    // SAFETY: a `Simd` of this tier exists only on a CPU that has it.
                    #[cfg(target_arch = "x86_64")]
                    Tier::Avx512 => unsafe { x86::run_avx512::<$t, x86::$m512, K>(kernel) },
                    #[cfg(target_arch = "x86_64")]
                    Tier::Avx2 => unsafe { x86::run_avx2::<$t, x86::$m256, K>(kernel) },
                    #[cfg(target_arch = "aarch64")]
                    Tier::Neon => kernel.run::<neon::$neon>(),
                    _ => kernel.run::<$t>(),
                }
            }
            unsafe fn gemm_raw(tier: Tier, raw: backend::Raw<Self>) {
                backend::$gemm(tier, raw)
            }
            unsafe fn panels_raw(tier: Tier, p: backend::Panels<Self>) {
                backend::$panels(tier, p)
            }
            fn panel_rows(tier: Tier) -> usize {
                backend::$rows(tier)
            }
        }
    };
}
real!(f64, __m256d, __m512d, float64x2_t, gemm_f64, panels_f64, rows_f64, of(x) x, f64(y) y);
real!(f32, __m256, __m512, float32x4_t, gemm_f32, panels_f32, rows_f32, of(x) x as f32, f64(y) f64::from(y));

/// A vector of [`Pack::LEN`] values of F with the elementwise operations of the direct kernels.
///
/// Every operation rounds each lane exactly as the scalar operation of F does (`mul` and `add`
/// separately; `mul_add` once, as the scalar `mul_add`), so a kernel computes the same numbers with
/// any `Pack` of F. The AVX2 vectors
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
    /// Lanewise `self * b + c` rounded once (a fused multiply-add: the same number in every tier, the
    /// portable one calling the C library's `fma`).
    fn mul_add(self, b: Self, c: Self) -> Self;
    /// Lanewise `a` where `self > 0`, else 0 (also where `self` is NaN).
    fn if_positive(self, a: Self) -> Self;
    /// Lanewise relu: `self.if_positive(self)`.
    fn relu(self) -> Self;
    /// The signs as bits: bit l is `1[lane l > 0]` (0 for NaN), for l < [`Pack::LEN`]; higher bits 0.
    fn positive_bits(self) -> u64;
    /// Lanewise `a` where bit l of `bits` is set, else 0 (bits from [`Pack::LEN`] on are ignored), so
    /// that `V::if_bits(z.positive_bits(), a) == z.if_positive(a)`.
    fn if_bits(bits: u64, a: Self) -> Self;
    /// `self.add(Self::if_bits(bits, a))`, where `self` is not -0: lanes whose bit is clear keep their
    /// value (AVX-512: one masked addition). Sums that start at +0 are never -0.
    #[inline(always)]
    fn add_if_bits(self, bits: u64, a: Self) -> Self {
        self.add(Self::if_bits(bits, a))
    }
    /// `self.relu().mul_add(w, t)`, the term t + w relu(z) of a forward pass rounded once, for finite
    /// `w` and `t` not -0: lanes where `self <= 0` keep t (AVX-512: one fused multiply-add under the
    /// comparison's mask). Sums that start at +0 are never -0.
    #[inline(always)]
    fn mul_add_if_positive(self, w: Self, t: Self) -> Self {
        self.relu().mul_add(w, t)
    }
    /// For 16 vectors of 16 lanes (AVX-512 f32; `None` in other packs): lane i of the result is the
    /// sum of the lanes of `v[i]` added in order from 0, (((0 + v_i0) + v_i1) + ...) + v_i15, the
    /// numbers the scalar loop gives (a transpose, then 16 vector additions).
    #[inline(always)]
    fn lane_sums_16(v: &[Self; 16]) -> Option<Self> {
        let _ = v;
        None
    }
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
            fn mul_add(self, b: Self, c: Self) -> Self {
                <$t>::mul_add(self, b, c)
            }
            #[inline(always)]
            fn if_positive(self, a: Self) -> Self {
                <$t>::from_bits(a.to_bits() & <$bits>::wrapping_sub(0, <$bits>::from(self > 0.0)))
            }
            #[inline(always)]
            fn relu(self) -> Self {
                Pack::if_positive(self, self)
            }
            #[inline(always)]
            fn positive_bits(self) -> u64 {
                u64::from(self > 0.0)
            }
            #[inline(always)]
            fn if_bits(bits: u64, a: Self) -> Self {
                <$t>::from_bits(a.to_bits() & <$bits>::wrapping_sub(0, (bits & 1) as $bits))
            }
        }
    };
}
scalar_pack!(f32, u32);
scalar_pack!(f64, u64);

/// C <- alpha A B + beta C in the GEMM kernels of the tier `simd`, single-threaded (callers
/// parallelise over blocks). Each entry of C is a sum over the inner dimension in an order fixed
/// by the shapes and the tier.
#[inline]
pub fn gemm<F: Real>(simd: Simd, alpha: F, a: &ArrayView2<F>, b: &ArrayView2<F>, beta: F, c: &mut ArrayViewMut2<F>) {
    let (m, k, n) = (a.nrows(), a.ncols(), b.ncols());
    assert!(
        b.nrows() == k && c.nrows() == m && c.ncols() == n,
        "gemm: shapes {:?} {:?} {:?}",
        a.shape(),
        b.shape(),
        c.shape()
    );
    let (sa, sb, sc) = (&a.strides()[..2], &b.strides()[..2], [c.strides()[0], c.strides()[1]]);
    let raw = backend::Raw {
        m,
        n,
        k,
        dst: c.as_mut_ptr(),
        dst_cs: sc[1],
        dst_rs: sc[0],
        read_dst: beta != F::zero(),
        lhs: a.as_ptr(),
        lhs_cs: sa[1],
        lhs_rs: sa[0],
        rhs: b.as_ptr(),
        rhs_cs: sb[1],
        rhs_rs: sb[0],
        alpha: beta,
        beta: alpha,
    };
    // SAFETY: the pointers and strides describe the three views, whose shapes match (C is borrowed
    // mutably, so it overlaps neither A nor B), and `simd` is a tier this CPU has.
    unsafe { F::gemm_raw(simd.tier(), raw) }
}

/// Runs `f` compiled for the instructions of the tier `simd` (AVX-512 or AVX2 with FMA on x86-64;
/// as compiled otherwise).
///
/// The kernels wrap their per-block work in it, as an `#[inline(always)]` closure calling
/// `#[inline(always)]` helpers, so that their elementwise loops, inlined into `f`, vectorise over
/// wide registers without building for one CPU (`-C target-cpu`). Every tier does the same
/// arithmetic in the same order (no fused multiply-adds: Rust never contracts `a * b + c`), so
/// results do not depend on it.
#[inline(always)]
pub fn vectorised<R>(simd: Simd, f: impl FnOnce() -> R) -> R {
    match simd.tier() {
        // SAFETY: a `Simd` of this tier exists only on a CPU that has it.
        #[cfg(target_arch = "x86_64")]
        Tier::Avx512 => unsafe { x86::with_avx512(f) },
        #[cfg(target_arch = "x86_64")]
        Tier::Avx2 => unsafe { x86::with_avx2(f) },
        _ => f(),
    }
}

/// The GEMM peak of this machine: C = A B with A, B, C of `size` x `size`, the best of `repeats`
/// timings, in GFLOP/s (2 size^3 flops), for the backends `meanfield` links, with every thread of
/// the current rayon pool.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Peak {
    /// Matrix order.
    pub size: usize,
    /// `f32` or `f64`.
    pub dtype: String,
    /// Threads.
    pub threads: usize,
    /// The highest of the rates below.
    pub gflops: f64,
    /// The backend that reached it.
    pub backend: String,
    /// Each backend's rate: `gemm` (the `gemm` crate's own parallel GEMM, its widest kernels) and
    /// `blocks` (how the step runs: one single-threaded GEMM of the selected tier per block of
    /// columns, rayon over the blocks).
    pub backends: Vec<(String, f64)>,
}

/// Measures [`Peak`] for `size` x `size` matrices in precision F with the tier `simd` for `blocks`.
pub fn peak<F: Real>(simd: Simd, size: usize, repeats: usize) -> Peak {
    use rayon::prelude::*;
    let threads = rayon::current_num_threads();
    let a = Array2::from_shape_fn((size, size), |(i, j)| F::of(((i * 7 + j * 3) % 11) as f64 / 11.0 - 0.5));
    let b = Array2::from_shape_fn((size, size), |(i, j)| F::of(((i * 5 + j * 2) % 13) as f64 / 13.0 - 0.5));
    let mut c = Array2::<F>::zeros((size, size));
    let flops = 2.0 * (size as f64).powi(3);
    let best = |f: &mut dyn FnMut()| {
        (0..repeats.max(1))
            .map(|_| {
                let start = std::time::Instant::now();
                f();
                start.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    };
    let crate_time = best(&mut || {
        let (sa, sb, sc) = (a.strides(), b.strides(), c.strides().to_vec());
        // SAFETY: the pointers and strides describe the three arrays, of matching shapes.
        unsafe {
            ::gemm::gemm(
                size,
                size,
                size,
                c.as_mut_ptr(),
                sc[1],
                sc[0],
                false,
                a.as_ptr(),
                sa[1],
                sa[0],
                b.as_ptr(),
                sb[1],
                sb[0],
                F::zero(),
                F::one(),
                false,
                false,
                false,
                ::gemm::Parallelism::Rayon(threads),
            )
        }
    });
    let columns = size.div_ceil(4 * threads).max(1);
    let blocks_time = best(&mut || {
        c.axis_chunks_iter_mut(ndarray::Axis(1), columns).into_par_iter().enumerate().for_each(|(k, mut ck)| {
            let bk = b.slice(ndarray::s![.., k * columns..k * columns + ck.ncols()]);
            gemm(simd, F::one(), &a.view(), &bk, F::zero(), &mut ck);
        })
    });
    let backends = vec![
        ("gemm".to_string(), flops / crate_time / 1e9),
        (format!("blocks ({})", simd.name()), flops / blocks_time / 1e9),
    ];
    let (backend, gflops) =
        backends
            .iter()
            .cloned()
            .fold((String::new(), 0.0), |best, (name, g)| if g > best.1 { (name, g) } else { best });
    Peak { size, dtype: F::NAME.to_string(), threads, gflops, backend, backends }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn gemm_multiplies_and_accumulates() {
        let a = array![[1.0, 2.0], [3.0, 4.0]];
        let b = array![[5.0, 6.0], [7.0, 8.0]];
        let c = array![[1.0, 1.0], [1.0, 1.0]];
        for simd in Simd::available() {
            let mut c = c.clone();
            gemm(simd, 2.0, &a.view(), &b.view(), 1.0, &mut c.view_mut());
            assert_eq!(c, array![[39.0, 45.0], [87.0, 101.0]], "{}", simd.name());
        }
    }

    /// Max |a - b| over max |b|.
    fn relative<F: Real>(a: &Array2<F>, b: &Array2<F>) -> f64 {
        let scale = b.iter().fold(0.0f64, |m, v| m.max(v.f64().abs()));
        a.iter().zip(b).fold(0.0f64, |m, (x, y)| m.max((x.f64() - y.f64()).abs())) / scale
    }

    /// Every tier's GEMM (on strided views, accumulating) agrees with the portable one, for a product
    /// of m x k by k x n (small, and large enough for the AVX-512 kernels).
    fn tiers_agree<F: Real>(tolerance: f64, m: usize, k: usize, n: usize) {
        let value = |i: usize, j: usize, s: usize| F::of(((i * 31 + j * 17 + s) % 23) as f64 / 7.0 - 1.5);
        let a = Array2::from_shape_fn((m, k), |(i, j)| value(i, j, 1));
        let b = Array2::from_shape_fn((2 * k, n), |(i, j)| value(i, j, 2));
        let c0 = Array2::from_shape_fn((m, n), |(i, j)| value(i, j, 3));
        let run = |simd: Simd| {
            let mut c = c0.clone();
            gemm(simd, F::of(0.5), &a.view(), &b.slice(ndarray::s![..;2, ..]), F::one(), &mut c.view_mut());
            c
        };
        let portable = run(Simd::portable());
        for simd in Simd::available() {
            let err = relative(&run(simd), &portable);
            assert!(err <= tolerance, "{} {}: relative difference {err:e}", F::NAME, simd.name());
        }
    }

    #[test]
    fn every_tier_gemm_agrees_with_the_portable_one() {
        for (m, k, n) in [(150, 37, 41), (131, 131, 131)] {
            tiers_agree::<f64>(1e-12, m, k, n);
            tiers_agree::<f32>(1e-5, m, k, n);
        }
    }

    #[test]
    fn if_positive_selects_on_the_sign() {
        assert_eq!(2.0f64.if_positive(3.0), 3.0);
        assert_eq!((-2.0f32).if_positive(3.0), 0.0);
        assert_eq!(0.0f32.if_positive(3.0), 0.0);
        assert_eq!(f64::NAN.if_positive(3.0), 0.0);
    }

    /// In every tier, positive_bits packs the signs of the lanes (NaN and -0 as not positive), and
    /// 0.5 + if_bits, 0.5 + if_positive and 0.5 add_if_bits select and add the same.
    struct Bits<F>(Vec<F>);

    impl<F: Real> WithPack<F> for Bits<F> {
        type Output = (Vec<u64>, [Vec<F>; 3]);

        fn run<V: Pack<F>>(self) -> Self::Output {
            let a: Vec<F> = (0..self.0.len()).map(|i| F::of(i as f64 + 1.0)).collect();
            let (mut bits, mut out) = (vec![], [(); 3].map(|_| vec![F::zero(); a.len()]));
            let half = V::splat(F::of(0.5));
            for (q, z) in self.0.chunks_exact(V::LEN).enumerate() {
                let (z, aq, at) = (V::load(z), V::load(&a[q * V::LEN..]), q * V::LEN);
                bits.push(z.positive_bits());
                let high = z.positive_bits() | (u64::MAX << V::LEN);
                half.add(V::if_bits(high, aq)).store(&mut out[0][at..]);
                half.add(z.if_positive(aq)).store(&mut out[1][at..]);
                half.add_if_bits(high, aq).store(&mut out[2][at..]);
            }
            (bits, out)
        }
    }

    fn bits_in_every_tier<F: Real>() {
        let values = [1.0, -1.0, 0.0, -0.0, f64::NAN, 2.5, f64::INFINITY, f64::NEG_INFINITY];
        let z: Vec<F> = (0..32).map(|i| F::of(values[(i * 3 + i / 8) % 8])).collect();
        for simd in Simd::available() {
            let (bits, [selected, positive, masked]) = F::vectorise(simd, Bits(z.clone()));
            let lanes = 32 / bits.len();
            let mut expected = vec![0u64; bits.len()];
            for (i, v) in z.iter().enumerate() {
                expected[i / lanes] |= u64::from(*v > F::zero()) << (i % lanes);
            }
            assert_eq!(bits, expected, "{} {}", F::NAME, simd.name());
            let expected: Vec<F> =
                z.iter().enumerate().map(|(i, v)| F::of(if *v > F::zero() { i as f64 + 1.5 } else { 0.5 })).collect();
            for (name, got) in [("if_bits", selected), ("if_positive", positive), ("add_if_bits", masked)] {
                assert!(got == expected, "{} {}: {name} {got:?}", F::NAME, simd.name());
            }
        }
    }

    /// t + w relu(z) rounded once, in vectors of any tier.
    struct ForwardTerm<F>(Vec<F>, F, Vec<F>);

    impl<F: Real> WithPack<F> for ForwardTerm<F> {
        type Output = Vec<F>;

        fn run<V: Pack<F>>(self) -> Vec<F> {
            let (z, w, mut t) = (self.0, V::splat(self.1), self.2);
            for (zq, tq) in z.chunks_exact(V::LEN).zip(t.chunks_exact_mut(V::LEN)) {
                V::load(zq).mul_add_if_positive(w, V::load(tq)).store(tq);
            }
            t
        }
    }

    /// Every tier's mul_add_if_positive is the scalar fused multiply-add where z > 0 and t elsewhere
    /// (NaN, -0 and -inf included), on values where one rounding differs from two.
    fn forward_term_in_every_tier<F: Real>() {
        let special = [f64::NAN, -0.0, 0.0, f64::NEG_INFINITY, f64::INFINITY];
        let z: Vec<F> =
            (0..64).map(|i| F::of(if i % 13 == 5 { special[i / 13] } else { i as f64 * 0.731 - 17.3 })).collect();
        let t: Vec<F> = (0..64).map(|i| F::of(i as f64 / 7.0 + 0.1)).collect();
        let w = F::of(1.0 / 3.0);
        let expected: Vec<F> = z
            .iter()
            .zip(&t)
            .map(|(&z, &t)| if z > F::zero() { num_traits::Float::mul_add(z, w, t) } else { t })
            .collect();
        let twice = z
            .iter()
            .zip(&t)
            .filter(|&(&z, &t)| z > F::zero() && z.is_finite() && z * w + t != num_traits::Float::mul_add(z, w, t));
        assert!(twice.count() > 0, "{}: no value where the roundings differ", F::NAME);
        for simd in Simd::available() {
            let got = F::vectorise(simd, ForwardTerm(z.clone(), w, t.clone()));
            assert!(got == expected, "{} {}: {got:?}", F::NAME, simd.name());
        }
    }

    #[test]
    fn the_forward_term_is_one_fused_multiply_add_in_every_tier() {
        forward_term_in_every_tier::<f32>();
        forward_term_in_every_tier::<f64>();
    }

    /// lane_sums_16 in the packs that have it, against the scalar sums in lane order.
    struct LaneSums(Vec<f32>);

    impl WithPack<f32> for LaneSums {
        type Output = Option<Vec<f32>>;

        fn run<V: Pack<f32>>(self) -> Option<Vec<f32>> {
            if V::LEN != 16 {
                return None;
            }
            let v: [V; 16] = std::array::from_fn(|i| V::load(&self.0[16 * i..]));
            let mut out = vec![0.0; 16];
            V::lane_sums_16(&v)?.store(&mut out);
            Some(out)
        }
    }

    #[test]
    fn lane_sums_add_each_vector_in_lane_order() {
        // Magnitudes from 1e-8 to 1e8, so that any other order of the additions rounds differently.
        let values: Vec<f32> =
            (0..256).map(|i| ((i * 37 % 101) as f32 - 50.0) * 10f32.powi((i * 7 % 17) - 8)).collect();
        let expected: Vec<f32> = values.chunks(16).map(|row| row.iter().fold(0.0, |s, &l| s + l)).collect();
        let reversed: Vec<f32> = values.chunks(16).map(|row| row.iter().rev().fold(0.0, |s, &l| s + l)).collect();
        assert_ne!(expected, reversed, "the test values must depend on the order");
        for simd in Simd::available() {
            if let Some(got) = f32::vectorise(simd, LaneSums(values.clone())) {
                assert_eq!(got, expected, "{}", simd.name());
            }
        }
    }

    #[test]
    fn sign_bits_pack_and_select_in_every_tier() {
        bits_in_every_tier::<f32>();
        bits_in_every_tier::<f64>();
    }
}
