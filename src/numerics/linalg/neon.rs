//! The aarch64 [`Pack`]s: NEON `float32x4_t` (4 x f32) and `float64x2_t` (2 x f64).
//!
//! NEON is part of the aarch64 baseline, so no instructions need enabling; [`super::Real::vectorise`]
//! still uses them only with a [`super::Simd`] of the NEON tier. SAFETY (every `unsafe` below): loads
//! and stores are bounds-checked by slicing. relu is the comparison-and-mask of the scalar [`Pack`]
//! (NEON's `fmax` would return NaN for NaN, the scalar path 0). The sign bits are the comparison's lanes
//! and-ed with 2^l and added; `if_bits` tests lane l's bit 2^l of the broadcast bits.

#![allow(unused_unsafe)]

pub use std::arch::aarch64::{float32x4_t, float64x2_t};
use std::arch::aarch64::{
    vaddq_f32, vaddq_f64, vaddvq_u32, vaddvq_u64, vandq_u32, vandq_u64, vcgtq_f32, vcgtq_f64, vdupq_n_f32, vdupq_n_f64,
    vdupq_n_u32, vdupq_n_u64, vfmaq_f32, vfmaq_f64, vld1q_f32, vld1q_f64, vld1q_u32, vld1q_u64, vmulq_f32, vmulq_f64,
    vreinterpretq_f32_u32, vreinterpretq_f64_u64, vreinterpretq_u32_f32, vreinterpretq_u64_f64, vst1q_f32, vst1q_f64,
    vtstq_u32, vtstq_u64,
};

use super::Pack;

/// Bit 2^l in lane l of 4 x 32 bits.
const LANE_32: [u32; 4] = [1, 2, 4, 8];
/// Bit 2^l in lane l of 2 x 64 bits.
const LANE_64: [u64; 2] = [1, 2];

vector_pack!(float32x4_t, f32, 4, splat: vdupq_n_f32, load: vld1q_f32, store: vst1q_f32, add: vaddq_f32, mul: vmulq_f32,
    mul_add: |a, b, c| vfmaq_f32(c, a, b),
    if_positive: |v, a| vreinterpretq_f32_u32(vandq_u32(vcgtq_f32(v, vdupq_n_f32(0.0)), vreinterpretq_u32_f32(a))),
    relu: |v| Pack::if_positive(v, v),
    positive_bits: |v| u64::from(vaddvq_u32(vandq_u32(vcgtq_f32(v, vdupq_n_f32(0.0)), vld1q_u32(LANE_32.as_ptr())))),
    if_bits: |b, a| vreinterpretq_f32_u32(vandq_u32(
        vtstq_u32(vdupq_n_u32(b as u32), vld1q_u32(LANE_32.as_ptr())),
        vreinterpretq_u32_f32(a))));
vector_pack!(float64x2_t, f64, 2, splat: vdupq_n_f64, load: vld1q_f64, store: vst1q_f64, add: vaddq_f64, mul: vmulq_f64,
    mul_add: |a, b, c| vfmaq_f64(c, a, b),
    if_positive: |v, a| vreinterpretq_f64_u64(vandq_u64(vcgtq_f64(v, vdupq_n_f64(0.0)), vreinterpretq_u64_f64(a))),
    relu: |v| Pack::if_positive(v, v),
    positive_bits: |v| vaddvq_u64(vandq_u64(vcgtq_f64(v, vdupq_n_f64(0.0)), vld1q_u64(LANE_64.as_ptr()))),
    if_bits: |b, a| vreinterpretq_f64_u64(vandq_u64(
        vtstq_u64(vdupq_n_u64(b), vld1q_u64(LANE_64.as_ptr())),
        vreinterpretq_u64_f64(a))));
