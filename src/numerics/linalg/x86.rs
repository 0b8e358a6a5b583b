//! The x86-64 [`Pack`]s: AVX2 (`__m256`, 8 x f32; `__m256d`, 4 x f64) and AVX-512
//! (`__m512`, 16 x f32; `__m512d`, 8 x f64), and the entry points that enable their instructions.
//!
//! SAFETY (every `unsafe` below): these vectors exist only inside [`run_avx2`] and
//! [`run_avx512`], which [`super::Real::vectorise`] calls only with a [`super::Simd`] of that tier,
//! that is on a CPU that has it; loads and stores are bounds-checked by slicing. `max(z, 0)` is
//! `z if z > 0 else 0` lane by lane, NaN and -0 included (the second operand is returned unless the
//! first is greater), and the ordered comparison is false for NaN, as in the scalar [`Pack`]. The AVX2
//! `if_bits` tests lane l's bit 2^l of the broadcast bits; AVX-512 uses the bits as the lane mask, and
//! `mul_add_if_positive` keeps t (the third operand) where the ordered comparison z > 0 is false.

pub use std::arch::x86_64::{__m256, __m256d, __m256i, __m512, __m512d};
use std::arch::x86_64::{
    _mm256_add_pd, _mm256_add_ps, _mm256_and_pd, _mm256_and_ps, _mm256_and_si256, _mm256_castsi256_pd,
    _mm256_castsi256_ps, _mm256_cmp_pd, _mm256_cmp_ps, _mm256_cmpeq_epi32, _mm256_cmpeq_epi64, _mm256_fmadd_pd,
    _mm256_fmadd_ps, _mm256_loadu_pd, _mm256_loadu_ps, _mm256_max_pd, _mm256_max_ps, _mm256_movemask_pd,
    _mm256_movemask_ps, _mm256_mul_pd, _mm256_mul_ps, _mm256_set1_epi32, _mm256_set1_epi64x, _mm256_set1_pd,
    _mm256_set1_ps, _mm256_setr_epi32, _mm256_setr_epi64x, _mm256_setzero_pd, _mm256_setzero_ps, _mm256_storeu_pd,
    _mm256_storeu_ps, _mm512_add_pd, _mm512_add_ps, _mm512_castpd_ps, _mm512_castps_pd, _mm512_cmp_pd_mask,
    _mm512_cmp_ps_mask, _mm512_fmadd_pd, _mm512_fmadd_ps, _mm512_loadu_pd, _mm512_loadu_ps, _mm512_mask3_fmadd_pd,
    _mm512_mask3_fmadd_ps, _mm512_mask_add_pd, _mm512_mask_add_ps, _mm512_maskz_mov_pd, _mm512_maskz_mov_ps,
    _mm512_max_pd, _mm512_max_ps, _mm512_mul_pd, _mm512_mul_ps, _mm512_set1_pd, _mm512_set1_ps, _mm512_setzero_pd,
    _mm512_setzero_ps, _mm512_shuffle_f32x4, _mm512_storeu_pd, _mm512_storeu_ps, _mm512_unpackhi_pd,
    _mm512_unpackhi_ps, _mm512_unpacklo_pd, _mm512_unpacklo_ps, _CMP_GT_OQ,
};

use super::{Pack, WithPack};

/// Declares a tier's entry points: `run` (`kernel.run::<V>()`) and `with` (`f()`), with the tier's
/// instructions (`features`, named `names` in the documentation) enabled for the code inlined into
/// them. `#[target_feature]` takes its features literally, so each tier has its own pair.
macro_rules! entry_points {
    ($($run:ident, $with:ident: $features:literal, $names:literal;)*) => {$(
        #[doc = concat!("`kernel.run::<V>()`, with ", $names, " enabled for the code inlined into it.")]
        ///
        /// # Safety
        #[doc = concat!("The CPU must have ", $names, ".")]
        #[target_feature(enable = $features)]
        pub unsafe fn $run<F, V: Pack<F>, K: WithPack<F>>(kernel: K) -> K::Output {
            kernel.run::<V>()
        }

        #[doc = concat!("`f()`, with ", $names, " enabled for the code inlined into it.")]
        ///
        /// # Safety
        #[doc = concat!("The CPU must have ", $names, ".")]
        #[target_feature(enable = $features)]
        pub unsafe fn $with<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
    )*};
}

entry_points! {
    run_avx2, with_avx2: "avx2,fma", "AVX2 and FMA";
    run_avx512, with_avx512: "avx512f,avx2,fma", "AVX-512F, AVX2 and FMA";
}

/// The AVX2 lanes of 8 x 32 bits: lane l all ones where bit l of `bits` is set (bit 2^l of the
/// broadcast bits tested), else 0.
#[inline(always)]
unsafe fn bit_lanes_32(bits: u64) -> __m256i {
    let lane = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(bits as i32), lane), lane)
}

/// [`bit_lanes_32`] for 4 lanes of 64 bits.
#[inline(always)]
unsafe fn bit_lanes_64(bits: u64) -> __m256i {
    let lane = _mm256_setr_epi64x(1, 2, 4, 8);
    _mm256_cmpeq_epi64(_mm256_and_si256(_mm256_set1_epi64x(bits as i64), lane), lane)
}

/// Lane i: the lanes of `v[i]` added in order from 0. A 16 x 16 transpose (rows v[i]) in three
/// stages of 64 shuffles makes column j the vector of every row's lane j; the columns are then added
/// in order.
#[inline(always)]
unsafe fn lane_sums_16(v: &[__m512; 16]) -> __m512 {
    // a[2 m], a[2 m + 1]: rows 2 m and 2 m + 1 interleaved, within each 128-bit lane.
    let mut a = [_mm512_setzero_ps(); 16];
    for m in (0..16).step_by(2) {
        a[m] = _mm512_unpacklo_ps(v[m], v[m + 1]);
        a[m + 1] = _mm512_unpackhi_ps(v[m], v[m + 1]);
    }
    // b[4 g + c]: in 128-bit lane L, rows 4 g..4 g + 3 at column 4 L + c.
    let mut b = [_mm512_setzero_ps(); 16];
    for g in (0..16).step_by(4) {
        for h in 0..2 {
            let (x, y) = (_mm512_castps_pd(a[g + h]), _mm512_castps_pd(a[g + h + 2]));
            b[g + 2 * h] = _mm512_castpd_ps(_mm512_unpacklo_pd(x, y));
            b[g + 2 * h + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(x, y));
        }
    }
    // Column 4 L + c: 128-bit lane L of b[c], b[4 + c], b[8 + c], b[12 + c] (0x88 takes 128-bit lanes
    // 0 and 2 of each operand, 0xdd lanes 1 and 3).
    let mut columns = [_mm512_setzero_ps(); 16];
    for c in 0..4 {
        let even_low = _mm512_shuffle_f32x4::<0x88>(b[c], b[4 + c]);
        let odd_low = _mm512_shuffle_f32x4::<0xdd>(b[c], b[4 + c]);
        let even_high = _mm512_shuffle_f32x4::<0x88>(b[8 + c], b[12 + c]);
        let odd_high = _mm512_shuffle_f32x4::<0xdd>(b[8 + c], b[12 + c]);
        columns[c] = _mm512_shuffle_f32x4::<0x88>(even_low, even_high);
        columns[8 + c] = _mm512_shuffle_f32x4::<0xdd>(even_low, even_high);
        columns[4 + c] = _mm512_shuffle_f32x4::<0x88>(odd_low, odd_high);
        columns[12 + c] = _mm512_shuffle_f32x4::<0xdd>(odd_low, odd_high);
    }
    columns.iter().fold(_mm512_setzero_ps(), |total, &column| _mm512_add_ps(total, column))
}

// AVX2: the selection is a bitwise and with the comparison's lane mask.
vector_pack!(__m256, f32, 8, splat: _mm256_set1_ps, load: _mm256_loadu_ps, store: _mm256_storeu_ps, add: _mm256_add_ps,
    mul: _mm256_mul_ps, mul_add: |a, b, c| _mm256_fmadd_ps(a, b, c),
    if_positive: |v, a| _mm256_and_ps(_mm256_cmp_ps::<_CMP_GT_OQ>(v, _mm256_setzero_ps()), a),
    relu: |v| _mm256_max_ps(v, _mm256_setzero_ps()),
    positive_bits: |v| u64::from(_mm256_movemask_ps(_mm256_cmp_ps::<_CMP_GT_OQ>(v, _mm256_setzero_ps())) as u32),
    if_bits: |b, a| _mm256_and_ps(_mm256_castsi256_ps(bit_lanes_32(b)), a));
vector_pack!(__m256d, f64, 4, splat: _mm256_set1_pd, load: _mm256_loadu_pd, store: _mm256_storeu_pd, add: _mm256_add_pd,
    mul: _mm256_mul_pd, mul_add: |a, b, c| _mm256_fmadd_pd(a, b, c),
    if_positive: |v, a| _mm256_and_pd(_mm256_cmp_pd::<_CMP_GT_OQ>(v, _mm256_setzero_pd()), a),
    relu: |v| _mm256_max_pd(v, _mm256_setzero_pd()),
    positive_bits: |v| u64::from(_mm256_movemask_pd(_mm256_cmp_pd::<_CMP_GT_OQ>(v, _mm256_setzero_pd())) as u32),
    if_bits: |b, a| _mm256_and_pd(_mm256_castsi256_pd(bit_lanes_64(b)), a));
// AVX-512: the selection is a zero-masking move under the comparison's mask.
vector_pack!(__m512, f32, 16, splat: _mm512_set1_ps, load: _mm512_loadu_ps, store: _mm512_storeu_ps, add: _mm512_add_ps,
    mul: _mm512_mul_ps, mul_add: |a, b, c| _mm512_fmadd_ps(a, b, c),
    if_positive: |v, a| _mm512_maskz_mov_ps(_mm512_cmp_ps_mask::<_CMP_GT_OQ>(v, _mm512_setzero_ps()), a),
    relu: |v| _mm512_max_ps(v, _mm512_setzero_ps()),
    positive_bits: |v| u64::from(_mm512_cmp_ps_mask::<_CMP_GT_OQ>(v, _mm512_setzero_ps())),
    if_bits: |b, a| _mm512_maskz_mov_ps(b as u16, a),
    add_if_bits: |s, b, a| _mm512_mask_add_ps(s, b as u16, s, a),
    mul_add_if_positive: |z, w, t| _mm512_mask3_fmadd_ps(z, w, t, _mm512_cmp_ps_mask::<_CMP_GT_OQ>(z, _mm512_setzero_ps())),
    lane_sums_16: |v| lane_sums_16(v));
vector_pack!(__m512d, f64, 8, splat: _mm512_set1_pd, load: _mm512_loadu_pd, store: _mm512_storeu_pd, add: _mm512_add_pd,
    mul: _mm512_mul_pd, mul_add: |a, b, c| _mm512_fmadd_pd(a, b, c),
    if_positive: |v, a| _mm512_maskz_mov_pd(_mm512_cmp_pd_mask::<_CMP_GT_OQ>(v, _mm512_setzero_pd()), a),
    relu: |v| _mm512_max_pd(v, _mm512_setzero_pd()),
    positive_bits: |v| u64::from(_mm512_cmp_pd_mask::<_CMP_GT_OQ>(v, _mm512_setzero_pd())),
    if_bits: |b, a| _mm512_maskz_mov_pd(b as u8, a),
    add_if_bits: |s, b, a| _mm512_mask_add_pd(s, b as u8, s, a),
    mul_add_if_positive: |z, w, t| _mm512_mask3_fmadd_pd(z, w, t, _mm512_cmp_pd_mask::<_CMP_GT_OQ>(z, _mm512_setzero_pd())));
