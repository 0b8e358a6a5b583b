//! The fused kernels for f32 and d > [`DIRECT_MAX_D`] up to [`FUSED_MAX_D`] ([`uses`]): the
//! pre-activations of a
//! register block of particles and samples are summed over the d inputs with fused multiply-adds and
//! used where they are, never written to memory.
//!
//! - Forward ([`fused_forward`]): z_ji = u_j1 x_i1 + ... + u_jd x_id (added in order, each step one
//!   fused multiply-add from 0), then t_i <- w_j relu(z_ji) + t_i rounded once (a fused multiply-add)
//!   over the particles of the block in order, and the activation pattern bit 1[z_ji > 0] (see
//!   [`super::store`]).
//! - Gradient ([`fused_gradient`]): g_jk = sum_i 1[z_ji > 0] (r_i x_ik) from the pattern bits, in
//!   [`LANES`] partial sums per (j, k) (sample i into partial sum i mod [`LANES`], samples in order),
//!   added over the lanes in order. The same numbers as masking r first, (r_i 1[z_ji > 0]) x_ik, for
//!   finite x.
//!
//! Every tier computes the same numbers (the [`Pack`] operations round as the scalar ones; the order
//! of every sum is fixed by the shapes), and the pattern the gradient reads is either the stored one
//! or recomputed by the same forward arithmetic, so storing it changes nothing.

use std::ops::Range;

use super::*;

/// Input dimensions above [`DIRECT_MAX_D`] up to this use the fused kernels in f32, larger ones GEMMs.
pub const FUSED_MAX_D: usize = 128;

/// Whether the kernels for d inputs in F use the fused kernels: f32 and [`DIRECT_MAX_D`] < d <=
/// [`FUSED_MAX_D`]. In f64 the GEMMs were as fast at d = 20 and faster at d = 50 and 100 (measured on
/// an AVX-512 Xeon), so f64 keeps them.
pub(super) fn uses<F>(d: usize) -> bool {
    d > DIRECT_MAX_D && d <= FUSED_MAX_D && std::mem::size_of::<F>() == 4
}

/// Bytes of packed inputs per sweep of [`fused_forward`] over the particles of a block (a third of a
/// 48 KiB L1 data cache; at least one panel).
const SWEEP_BYTES: usize = 16 * 1024;

/// Vectors of samples per register block of [`fused_forward`] (at most [`WIDE`] samples).
const SAMPLE_VECTORS: usize = 4;

/// Samples per panel of the packed inputs the fused kernels read (x_{c W + l, k} at c W d + k W + l),
/// and per word of the activation patterns.
pub(super) const WIDE: usize = 64;

/// Inputs k per group of [`fused_gradient`] (the products r_i x_ik are packed in groups of it, zeros
/// past d).
pub(super) const K_GROUP: usize = 4;

/// Whether V is a 512-bit vector (32 registers of the ISA: larger register blocks).
#[inline(always)]
fn wide<F, V: Pack<F>>() -> bool {
    V::LEN * std::mem::size_of::<F>() >= 64
}

/// d rounded up to a multiple of [`K_GROUP`].
pub(super) fn padded_d(d: usize) -> usize {
    d.div_ceil(K_GROUP) * K_GROUP
}

/// For the particles `rows` (row-major, (w_j, u_j) of 1 + d each) on the samples of `panels` (the
/// [`Samples`] panels of [`WIDE`] samples, d inputs): acc_i += sum_j w_j relu(z_ji) (when `acc` is
/// given, n long; the sum over the block taken in the particle precision in particle order in `t`,
/// padded n long, then added in f64) and the patterns: bit i mod 64 of word j `words` + i / 64 of
/// `pattern` set to 1[z_ji > 0] (0 past n).
#[allow(clippy::too_many_arguments)]
pub(super) fn fused_forward<F: Real>(
    simd: Simd,
    rows: &[F],
    d: usize,
    panels: &[F],
    acc: Option<&mut [f64]>,
    t: &mut [F],
    pattern: &mut [u64],
    words: usize,
) {
    let t = &mut t[..panels.len() / d];
    t.iter_mut().for_each(|t| *t = F::zero());
    let sums = acc.is_some();
    F::vectorise(simd, Forward { rows, d, panels, t, sums, pattern, words });
    if let Some(acc) = acc {
        acc.iter_mut().zip(t.iter()).for_each(|(a, t)| *a += t.f64());
    }
}

/// The arguments of [`fused_forward`], run in any [`Pack`].
struct Forward<'a, F> {
    rows: &'a [F],
    d: usize,
    panels: &'a [F],
    t: &'a mut [F],
    /// Whether to sum t (else only the patterns).
    sums: bool,
    pattern: &'a mut [u64],
    words: usize,
}

impl<F: Real> WithPack<F> for Forward<'_, F> {
    type Output = ();

    #[inline(always)]
    fn run<V: Pack<F>>(mut self) {
        let count = self.rows.len() / (self.d + 1);
        let p = if wide::<F, V>() { 6 } else { 2 };
        let whole = count / p * p;
        // Every particle of the block on a sweep of samples whose panels stay in the L1 cache, then
        // the next sweep: each t_i still adds the particles in order.
        let sweep = (SWEEP_BYTES / (WIDE * self.d * std::mem::size_of::<F>())).max(1) * WIDE;
        for start in (0..self.t.len()).step_by(sweep) {
            let samples = start..(start + sweep).min(self.t.len());
            for j in (0..whole).step_by(p) {
                if wide::<F, V>() {
                    self.particles::<V, 6, SAMPLE_VECTORS>(j, samples.clone());
                } else {
                    self.particles::<V, 2, SAMPLE_VECTORS>(j, samples.clone());
                }
            }
            for j in whole..count {
                self.particles::<V, 1, SAMPLE_VECTORS>(j, samples.clone());
            }
        }
    }
}

impl<F: Real> Forward<'_, F> {
    /// Particles j..j + P on the `samples` (whole panels but the last), Q LEN samples at a time (at
    /// most [`WIDE`], within one panel and one pattern word): z in registers, then t and the pattern
    /// bits.
    #[inline(always)]
    fn particles<V: Pack<F>, const P: usize, const Q: usize>(&mut self, j: usize, samples: Range<usize>) {
        let (d, width, span) = (self.d, self.d + 1, Q * V::LEN);
        let mut u = [&self.rows[..0]; P];
        for (p, up) in u.iter_mut().enumerate() {
            *up = &self.rows[(j + p) * width + 1..][..d];
        }
        let mut w = [V::splat(F::zero()); P];
        for (p, wp) in w.iter_mut().enumerate() {
            *wp = V::splat(self.rows[(j + p) * width]);
        }
        for i0 in samples.step_by(span) {
            let (panel, at) = (&self.panels[i0 / WIDE * WIDE * d..][..WIDE * d], i0 % WIDE);
            let mut z = [[V::splat(F::zero()); Q]; P];
            for (k, xk) in (0..d).zip(panel.chunks_exact(WIDE)) {
                let xk = &xk[at..][..span];
                let mut x = [V::splat(F::zero()); Q];
                for (q, xq) in x.iter_mut().enumerate() {
                    *xq = V::load(&xk[q * V::LEN..]);
                }
                for (zp, up) in z.iter_mut().zip(&u) {
                    let uk = V::splat(up[k]);
                    for (zq, xq) in zp.iter_mut().zip(&x) {
                        *zq = xq.mul_add(uk, *zq);
                    }
                }
            }
            // One vector of t at a time (P Q vectors of z, P of w and one of t fit the registers),
            // each z used once for its term of t and its pattern bits (one comparison).
            let (word, shift) = (i0 / 64, i0 % 64);
            let mut bits = [0u64; P];
            let halves = halves_mut(self.pattern);
            for q in 0..Q {
                let t = &mut self.t[i0 + q * V::LEN..][..V::LEN];
                let mut tv = V::load(t);
                for (p, (zp, wp)) in z.iter().zip(&w).enumerate() {
                    if self.sums {
                        tv = zp[q].mul_add_if_positive(*wp, tv);
                    }
                    if V::LEN == 16 {
                        // A 16-bit word of the pattern (an AVX-512 mask register stored to memory).
                        halves[(j + p) * self.words * 4 + i0 / 16 + q] = zp[q].positive_bits() as u16;
                    } else {
                        bits[p] |= zp[q].positive_bits() << (shift + q * V::LEN);
                    }
                }
                if self.sums {
                    tv.store(t);
                }
            }
            if V::LEN != 16 {
                for (p, bits) in bits.iter().enumerate() {
                    let slot = &mut self.pattern[(j + p) * self.words + word];
                    *slot = if shift == 0 { *bits } else { *slot | bits };
                }
            }
        }
    }
}

/// The products y_ik = r_i x_ik for [`fused_gradient`], from the panels (d inputs, [`WIDE`] samples
/// each) and r (padded to whole panels): grouped by [`K_GROUP`] inputs, y_{c L + l, g K + k} at
/// ((g C + c) K + k) L + l for C blocks of L = [`LANES`] samples (zeros past d), so that one group's
/// products are contiguous.
pub(super) fn weigh_groups<F: Real>(panels: &[F], r: &[F], d: usize, weighted: &mut [F]) {
    let count = panels.len() / (d * LANES);
    for (g, wg) in weighted.chunks_exact_mut(count * K_GROUP * LANES).enumerate() {
        for (c, wc) in wg.chunks_exact_mut(K_GROUP * LANES).enumerate() {
            for (kk, wck) in wc.chunks_exact_mut(LANES).enumerate() {
                let k = g * K_GROUP + kk;
                for (l, w) in wck.iter_mut().enumerate() {
                    let i = c * LANES + l;
                    *w = if k < d { r[i] * panels[i / WIDE * WIDE * d + k * WIDE + i % WIDE] } else { F::zero() };
                }
            }
        }
    }
}

/// The activation patterns as 16-bit words: word 4 w + h is bits 16 h..16 h + 15 of the 64-bit word
/// w (samples 16 (4 w + h) + l at bit l of a row), the order of the 64-bit words' bytes in memory on
/// the little-endian targets meanfield builds for.
fn halves(pattern: &[u64]) -> &[u16] {
    bytemuck::cast_slice(pattern)
}

/// [`halves`], to write.
fn halves_mut(pattern: &mut [u64]) -> &mut [u16] {
    bytemuck::cast_slice_mut(pattern)
}

// One 16-bit word of the patterns per chunk of LANES samples in `Gradient::particles`.
const _: () = assert!(LANES == 16);

#[cfg(not(target_endian = "little"))]
compile_error!("the fused kernels read the activation patterns as little-endian 16-bit words");

/// For the particles of `g` (rows x d) with activation patterns `pattern` (as [`fused_forward`] writes
/// them, `words` a row): g_jk = sum_i 1[z_ji > 0] y_ik with y from [`weigh_groups`], in [`LANES`]
/// partial sums per (j, k) kept in registers over all the samples, then added over the lanes in order.
pub(super) fn fused_gradient<F: Real>(
    simd: Simd,
    pattern: &[u64],
    words: usize,
    weighted: &[F],
    g: &mut ArrayViewMut2<F>,
) {
    F::vectorise(simd, Gradient { pattern, words, weighted, g });
}

/// The arguments of [`fused_gradient`], run in any [`Pack`].
struct Gradient<'a, 'b, F> {
    pattern: &'a [u64],
    words: usize,
    weighted: &'a [F],
    g: &'a mut ArrayViewMut2<'b, F>,
}

impl<F: Real> WithPack<F> for Gradient<'_, '_, F> {
    type Output = ();

    #[inline(always)]
    fn run<V: Pack<F>>(self) {
        // Accumulators: P particles x K_GROUP inputs x LANES / LEN vectors, 16 (wide) or 8.
        match (LANES / V::LEN, wide::<F, V>()) {
            (1, true) => self.by::<V, 4>(),
            (2, true) | (1, false) => self.by::<V, 2>(),
            _ => self.by::<V, 1>(),
        }
    }
}

impl<F: Real> Gradient<'_, '_, F> {
    /// Every group of inputs for every particle, P particles at a time (then one at a time).
    #[inline(always)]
    fn by<V: Pack<F>, const P: usize>(mut self) {
        let (rows, d) = (self.g.nrows(), self.g.ncols());
        let group = self.weighted.len() / padded_d(d) * K_GROUP;
        let whole = rows / P * P;
        for (k0, wg) in (0..d).step_by(K_GROUP).zip(self.weighted.chunks_exact(group)) {
            for j in (0..whole).step_by(P) {
                self.particles::<V, P>(j, k0, wg);
            }
            for j in whole..rows {
                self.particles::<V, 1>(j, k0, wg);
            }
        }
    }

    /// Particles j..j + P, inputs k0..k0 + K_GROUP, from the group's products `wg`: the masked
    /// products added panel after panel in registers, in [`LANES`] partial sums per (particle, input),
    /// then each particle's partial sums added in lane order into g (16 at once by
    /// [`Pack::lane_sums_16`] where the pack has it).
    #[inline(always)]
    fn particles<V: Pack<F>, const P: usize>(&mut self, j: usize, k0: usize, wg: &[F]) {
        let chunks = wg.len() / (K_GROUP * LANES);
        let halves = halves(self.pattern);
        let mut rows = [&halves[..0]; P];
        for (p, row) in rows.iter_mut().enumerate() {
            *row = &halves[(j + p) * self.words * 4..][..chunks];
        }
        let inputs = self.g.ncols().saturating_sub(k0).min(K_GROUP);
        if V::LEN == LANES && P * K_GROUP == 16 {
            let acc = masked_sums::<F, V, P>(&rows, wg, 0);
            if let Some(sums) = V::lane_sums_16(&std::array::from_fn(|i| acc[i / K_GROUP][i % K_GROUP])) {
                let mut out = [F::zero(); 16];
                sums.store(&mut out);
                for (p, op) in out.chunks_exact(K_GROUP).enumerate() {
                    for (k, &o) in op.iter().enumerate().take(inputs) {
                        self.g[[j + p, k0 + k]] = o;
                    }
                }
                return;
            }
        }
        let mut lanes = [[[F::zero(); LANES]; K_GROUP]; P];
        for at in (0..LANES).step_by(V::LEN) {
            let acc = masked_sums::<F, V, P>(&rows, wg, at);
            for (ap, lp) in acc.iter().zip(lanes.iter_mut()) {
                for (ak, lk) in ap.iter().zip(lp.iter_mut()) {
                    ak.store(&mut lk[at..]);
                }
            }
        }
        for (p, lp) in lanes.iter().enumerate() {
            for (k, lk) in lp.iter().enumerate().take(inputs) {
                self.g[[j + p, k0 + k]] = lk.iter().fold(F::zero(), |s, &l| s + l);
            }
        }
    }
}

/// The partial sums of lanes at..at + LEN of [`Gradient::particles`]: for each particle p (pattern
/// `rows[p]`, one 16-bit word per chunk of [`LANES`] samples) and input k of the group, the products
/// y of the chunks added in order where the particle's bit is set.
#[inline(always)]
fn masked_sums<F: Real, V: Pack<F>, const P: usize>(rows: &[&[u16]; P], wg: &[F], at: usize) -> [[V; K_GROUP]; P] {
    let mut acc = [[V::splat(F::zero()); K_GROUP]; P];
    for (c, wc) in wg.chunks_exact(K_GROUP * LANES).enumerate() {
        let mut y = [V::splat(F::zero()); K_GROUP];
        for (k, yk) in y.iter_mut().enumerate() {
            *yk = V::load(&wc[k * LANES + at..]);
        }
        for (ap, row) in acc.iter_mut().zip(rows) {
            let bits = u64::from(row[c]) >> at;
            for (ak, yk) in ap.iter_mut().zip(&y) {
                *ak = ak.add_if_bits(bits, *yk);
            }
        }
    }
    acc
}
