//! The aarch64 [`Pack`]s: NEON `float32x4_t` (4 x f32) and `float64x2_t` (2 x f64).
//!
//! NEON is part of the aarch64 baseline, so no instructions need enabling; [`super::Real::vectorise`]
//! still uses them only with a [`super::Simd`] of the NEON tier. SAFETY (every `unsafe` below): loads
//! and stores are bounds-checked by slicing. relu is the comparison-and-mask of the scalar [`Pack`]
//! (NEON's `fmax` would return NaN for NaN, the scalar path 0).

#![allow(unused_unsafe)]

pub use std::arch::aarch64::{float32x4_t, float64x2_t};
use std::arch::aarch64::{
    vaddq_f32, vaddq_f64, vandq_u32, vandq_u64, vcgtq_f32, vcgtq_f64, vdupq_n_f32, vdupq_n_f64, vld1q_f32, vld1q_f64,
    vmulq_f32, vmulq_f64, vreinterpretq_f32_u32, vreinterpretq_f64_u64, vreinterpretq_u32_f32, vreinterpretq_u64_f64,
    vst1q_f32, vst1q_f64,
};

use super::Pack;

vector_pack!(float32x4_t, f32, 4, splat: vdupq_n_f32, load: vld1q_f32, store: vst1q_f32, add: vaddq_f32, mul: vmulq_f32,
    if_positive: |v, a| vreinterpretq_f32_u32(vandq_u32(vcgtq_f32(v, vdupq_n_f32(0.0)), vreinterpretq_u32_f32(a))),
    relu: |v| Pack::if_positive(v, v));
vector_pack!(float64x2_t, f64, 2, splat: vdupq_n_f64, load: vld1q_f64, store: vst1q_f64, add: vaddq_f64, mul: vmulq_f64,
    if_positive: |v, a| vreinterpretq_f64_u64(vandq_u64(vcgtq_f64(v, vdupq_n_f64(0.0)), vreinterpretq_u64_f64(a))),
    relu: |v| Pack::if_positive(v, v));
