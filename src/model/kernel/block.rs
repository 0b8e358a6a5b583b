//! The per-block kernels of [`super::ComputeKernel`]: one block of particles against the samples, by
//! GEMMs over sample tiles or, for d <= [`super::DIRECT_MAX_D`], by direct SIMD kernels over panels.

use super::fused::{fused_forward, fused_gradient};
use super::*;

/// Particles per call of [`output_gradients`].
pub(super) const OVERLAP: usize = 8;

/// The output-weight gradients sum_i r_i relu(u_j . x_i) = u_j . g_j of the first (at most
/// [`OVERLAP`]) particles theta_j = (w_j, u_j) of `theta`, from their input-weight gradients g_j =
/// sum_i r_i 1[u_j . x_i > 0] x_i (relu(z) = 1[z > 0] z), rows of `g`. Each sum adds its d terms in
/// order from 0; the sums of the particles advance together, so that their additions overlap.
#[inline(always)]
pub(super) fn output_gradients<F: Real>(theta: ArrayView2<F>, g: ArrayView2<F>) -> [F; OVERLAP] {
    let mut sums = [F::zero(); OVERLAP];
    let rows = theta.nrows().min(OVERLAP);
    for k in 0..g.ncols() {
        for (j, sum) in sums.iter_mut().enumerate().take(rows) {
            *sum = *sum + theta[[j, k + 1]] * g[[j, k]];
        }
    }
    sums
}

/// Calls `$f::<_, D>(args)` with the constant D equal to `$d` in 1..=[`DIRECT_MAX_D`].
macro_rules! with_dim {
    ($d:expr, $f:ident($($arg:expr),*)) => {
        match $d {
            1 => $f::<_, 1>($($arg),*),
            2 => $f::<_, 2>($($arg),*),
            3 => $f::<_, 3>($($arg),*),
            4 => $f::<_, 4>($($arg),*),
            5 => $f::<_, 5>($($arg),*),
            6 => $f::<_, 6>($($arg),*),
            7 => $f::<_, 7>($($arg),*),
            8 => $f::<_, 8>($($arg),*),
            d => unreachable!("the direct kernels take d <= {DIRECT_MAX_D}, not {d}"),
        }
    };
}

/// acc_i += sum_j w_j relu(u_j . x_i) over the particles of `theta` (at most one block): the sum
/// over the block is taken in the particle precision, in particle order, then added to acc in f64.
/// With `store` (GEMM path), the block's activation patterns 1[u_j . x_i > 0] are written there (see
/// [`Store`]).
#[inline(always)]
pub(super) fn accumulate_predictions<F: Real>(
    layout: &Layout,
    simd: Simd,
    theta: ArrayView2<F>,
    samples: Samples<F>,
    s: &mut Scratch<F>,
    acc: &mut [f64],
    store: Option<&mut [u64]>,
) {
    let d = theta.ncols() - 1;
    if samples.panels.is_empty() {
        gemm_predictions(layout, simd, theta, samples, s, acc, store);
    } else if d <= DIRECT_MAX_D {
        with_dim!(d, direct_predictions(simd, theta, samples.panels, acc));
    } else {
        let (rows, words) =
            (theta.to_slice().expect("particles are in standard layout"), store::words(samples.x.nrows()));
        let pattern = store.unwrap_or(&mut s.pattern[..theta.nrows() * words]);
        fused_forward(simd, rows, d, samples.panels, Some(acc), &mut s.t, pattern, words);
    }
}

/// For the particles of `theta` (at most one block): s.g_j = sum_i r_i 1[u_j . x_i > 0] x_i. With
/// `stored` (GEMM path), the block's current activation patterns, read instead of recomputing the
/// pre-activations.
#[inline(always)]
pub(super) fn block_gradient<F: Real>(
    layout: &Layout,
    simd: Simd,
    theta: ArrayView2<F>,
    samples: Samples<F>,
    r: &[F],
    s: &mut Scratch<F>,
    stored: Option<&[u64]>,
) {
    let d = theta.ncols() - 1;
    if samples.panels.is_empty() {
        gemm_gradient(layout, simd, theta, samples, r, s, stored);
    } else if d > DIRECT_MAX_D {
        let (rows, words) =
            (theta.to_slice().expect("particles are in standard layout"), store::words(samples.x.nrows()));
        let pattern = match stored {
            Some(pattern) => pattern,
            None => {
                let pattern = &mut s.pattern[..theta.nrows() * words];
                fused_forward(simd, rows, d, samples.panels, None, &mut s.t, pattern, words);
                pattern
            }
        };
        fused_gradient(simd, pattern, words, samples.weighted, &mut s.g.slice_mut(s![..theta.nrows(), ..]));
    } else {
        let mut g = s.g.slice_mut(s![..theta.nrows(), ..]);
        let sums = s.z.as_slice_mut().expect("scratch is contiguous");
        with_dim!(theta.ncols() - 1, direct_gradient(simd, theta, samples.panels, r, &mut s.t, sums, &mut g));
    }
}

/// Calls `f(start, end, z)` for each tile of at most `layout.tile` samples start..end (start a
/// multiple of 64, as the patterns' words), z the scratch's rows x (end - start) tile, holding the
/// pre-activations Z = U X_tile^T computed by one GEMM when `compute`, else for `f` to fill.
#[inline(always)]
fn for_each_tile<F: Real>(
    layout: &Layout,
    simd: Simd,
    theta: ArrayView2<F>,
    samples: Samples<F>,
    z: &mut Array2<F>,
    compute: bool,
    mut f: impl FnMut(usize, usize, ArrayViewMut2<F>),
) {
    let x = samples.x;
    debug_assert!(layout.tile.is_multiple_of(64) || layout.tile >= x.nrows(), "tiles start on whole words");
    let u = theta.slice(s![.., 1..]);
    for start in (0..x.nrows()).step_by(layout.tile) {
        let end = (start + layout.tile).min(x.nrows());
        let mut tile = z.slice_mut(s![..theta.nrows(), ..end - start]);
        if compute {
            match samples.packed {
                Some([by_sample, _]) => gemm_packed(&u, by_sample, start..end, 0..x.ncols(), false, &mut tile),
                None => gemm(simd, F::one(), &u, &x.slice(s![start..end, ..]).t(), F::zero(), &mut tile),
            }
        }
        f(start, end, tile);
    }
}

/// [`accumulate_predictions`] with one GEMM Z = U X^T per sample tile, then [`Activate`] on it.
#[inline(always)]
fn gemm_predictions<F: Real>(
    layout: &Layout,
    simd: Simd,
    theta: ArrayView2<F>,
    samples: Samples<F>,
    s: &mut Scratch<F>,
    acc: &mut [f64],
    mut store: Option<&mut [u64]>,
) {
    let (t, words) = (&mut s.t, store::words(samples.x.nrows()));
    for_each_tile(layout, simd, theta, samples, &mut s.z, true, |start, end, z| {
        let t = &mut t[..end - start];
        t.iter_mut().for_each(|t| *t = F::zero());
        let pattern = store.as_deref_mut().map(|p| (p, words, start / 64));
        F::vectorise(simd, Activate { z: z.view(), w: theta.column(0), t: &mut *t, pattern });
        acc[start..end].iter_mut().zip(t.iter()).for_each(|(a, t)| *a += t.f64());
    });
}

/// The forward pass's elementwise work on one tile Z (rows x L, the samples of the tile from word
/// `first` of each pattern on): t_i += w_j relu(z_ji) over the rows j in order and, with a pattern
/// (of `words` words a row), bit i of row j set to 1[z_ji > 0].
struct Activate<'a, F> {
    z: ArrayView2<'a, F>,
    w: ArrayView1<'a, F>,
    t: &'a mut [F],
    pattern: Option<(&'a mut [u64], usize, usize)>,
}

impl<F: Real> WithPack<F> for Activate<'_, F> {
    type Output = ();

    #[inline(always)]
    fn run<V: Pack<F>>(mut self) {
        for (j, (zj, &w)) in self.z.outer_iter().zip(self.w).enumerate() {
            let zj = zj.to_slice().expect("scratch rows are contiguous");
            let wv = V::splat(w);
            for (c, (zc, tc)) in zj.chunks(64).zip(self.t.chunks_mut(64)).enumerate() {
                let mut bits = 0u64;
                let (mut zs, mut ts) = (zc.chunks_exact(V::LEN), tc.chunks_exact_mut(V::LEN));
                for (q, (zq, tq)) in zs.by_ref().zip(ts.by_ref()).enumerate() {
                    let z = V::load(zq);
                    V::load(tq).add(wv.mul(z.relu())).store(tq);
                    bits |= z.positive_bits() << (q * V::LEN);
                }
                let done = zc.len() - zs.remainder().len();
                for (l, (&z, t)) in zs.remainder().iter().zip(ts.into_remainder()).enumerate() {
                    *t = *t + w * z.relu();
                    bits |= z.positive_bits() << (done + l);
                }
                if let Some((pattern, words, first)) = self.pattern.as_mut() {
                    pattern[j * *words + *first + c] = bits;
                }
            }
        }
    }
}

/// The masked residuals M_ji = r_i 1[z_ji > 0] of one tile (rows x L) from the stored patterns (of
/// `words` words a row, the tile's samples from word `first` on): r_i where bit i of row j is set.
struct Unpack<'a, F> {
    m: ArrayViewMut2<'a, F>,
    r: &'a [F],
    pattern: &'a [u64],
    words: usize,
    first: usize,
}

impl<F: Real> WithPack<F> for Unpack<'_, F> {
    type Output = ();

    #[inline(always)]
    fn run<V: Pack<F>>(mut self) {
        for (j, mj) in self.m.outer_iter_mut().enumerate() {
            let mj = mj.into_slice().expect("scratch rows are contiguous");
            let row = &self.pattern[j * self.words + self.first..];
            for ((mc, rc), &bits) in mj.chunks_mut(64).zip(self.r.chunks(64)).zip(row) {
                let done = mc.len() - mc.len() % V::LEN;
                let mut ms = mc.chunks_exact_mut(V::LEN);
                for (q, mq) in ms.by_ref().enumerate() {
                    V::if_bits(bits >> (q * V::LEN), V::load(&rc[q * V::LEN..])).store(mq);
                }
                for (l, m) in ms.into_remainder().iter_mut().enumerate() {
                    *m = F::if_bits(bits >> (done + l), rc[done + l]);
                }
            }
        }
    }
}

/// [`block_gradient`] with two GEMMs per sample tile: Z = U X^T, then G += M X for the masked
/// residuals M_ji = r_i 1[z_ji > 0] (built from the `stored` patterns instead of Z when given).
#[inline(always)]
fn gemm_gradient<F: Real>(
    layout: &Layout,
    simd: Simd,
    theta: ArrayView2<F>,
    samples: Samples<F>,
    r: &[F],
    s: &mut Scratch<F>,
    stored: Option<&[u64]>,
) {
    let x = samples.x;
    let (rows, words) = (theta.nrows(), store::words(x.nrows()));
    let g = &mut s.g;
    for_each_tile(layout, simd, theta, samples, &mut s.z, stored.is_none(), |start, end, mut z| {
        let rt = &r[start..end];
        match stored {
            Some(pattern) => {
                F::vectorise(simd, Unpack { m: z.view_mut(), r: rt, pattern, words, first: start / 64 });
            }
            None => {
                for zj in z.outer_iter_mut() {
                    let zj = zj.into_slice().expect("scratch rows are contiguous");
                    zj.iter_mut().zip(rt).for_each(|(z, &r)| *z = z.if_positive(r));
                }
            }
        }
        let mut g = g.slice_mut(s![..rows, ..]);
        match samples.packed {
            Some([_, by_input]) => gemm_packed(&z.view(), by_input, 0..x.ncols(), start..end, start > 0, &mut g),
            None => {
                let beta = if start == 0 { F::zero() } else { F::one() };
                gemm(simd, F::one(), &z.view(), &x.slice(s![start..end, ..]), beta, &mut g);
            }
        }
    });
}

/// The pre-activations z_l = u_1 x_{l,1} + ... + u_D x_{l,D} (added in order) of one particle with
/// broadcast input weights `u` on the [`Pack::LEN`] samples of a panel starting at lane `at`.
#[inline(always)]
fn pre_activations<F: Real, V: Pack<F>, const D: usize>(u: &[V; D], panel: &[F], at: usize) -> V {
    let mut z = u[0].mul(V::load(&panel[at..]));
    for (k, &uk) in u.iter().enumerate().skip(1) {
        z = z.add(uk.mul(V::load(&panel[k * LANES + at..])));
    }
    z
}

/// The input weights u_j of a particle row (w_j, u_j) with d = D, broadcast to every lane.
#[inline(always)]
fn input_weights<F: Real, V: Pack<F>, const D: usize>(row: &[F]) -> [V; D] {
    let mut u = [V::splat(F::zero()); D];
    for (uk, &x) in u.iter_mut().zip(&row[1..]) {
        *uk = V::splat(x);
    }
    u
}

/// [`accumulate_predictions`] for d = D from the panels: per panel, t_l = sum_j w_j relu(z_jl) in
/// registers over the particles of the block (in order), then acc_l += t_l.
pub(super) fn direct_predictions<F: Real, const D: usize>(
    simd: Simd,
    theta: ArrayView2<F>,
    panels: &[F],
    acc: &mut [f64],
) {
    let rows = theta.as_slice().expect("particles are in standard layout");
    F::vectorise(simd, DirectPredictions::<F, D> { rows, panels, acc });
}

/// The arguments of [`direct_predictions`], run in any [`Pack`].
pub(super) struct DirectPredictions<'a, F, const D: usize> {
    pub(super) rows: &'a [F],
    pub(super) panels: &'a [F],
    pub(super) acc: &'a mut [f64],
}

impl<F: Real, const D: usize> WithPack<F> for DirectPredictions<'_, F, D> {
    type Output = ();

    #[inline(always)]
    fn run<V: Pack<F>>(self) {
        match LANES / V::LEN {
            1 => self.by::<V, 4>(),
            v if v < CHAINS => self.by::<V, 2>(),
            _ => self.by::<V, 1>(),
        }
    }
}

impl<F: Real, const D: usize> DirectPredictions<'_, F, D> {
    /// The panels P at a time, then the rest one at a time.
    #[inline(always)]
    fn by<V: Pack<F>, const P: usize>(self) {
        let mut groups = self.panels.chunks_exact(P * D * LANES);
        let mut outs = self.acc.chunks_mut(P * LANES);
        for (group, out) in groups.by_ref().zip(outs.by_ref()) {
            predict_panels::<F, V, D, P>(self.rows, group, out);
        }
        let rest = groups.remainder();
        let done = ((self.panels.len() - rest.len()) / (D * LANES) * LANES).min(self.acc.len());
        for (panel, out) in rest.chunks_exact(D * LANES).zip(self.acc[done..].chunks_mut(LANES)) {
            predict_panels::<F, V, D, 1>(self.rows, panel, out);
        }
    }
}

/// Independent chains of additions [`direct_predictions`] keeps going (the latency of an addition
/// over the throughput of the other operations): it takes four panels at a time when one panel is
/// one vector (AVX-512, f32), two when it has two or three.
const CHAINS: usize = 4;

/// [`direct_predictions`] on P consecutive panels and their `out` (P [`LANES`] or fewer for the last).
#[inline(always)]
fn predict_panels<F: Real, V: Pack<F>, const D: usize, const P: usize>(rows: &[F], panels: &[F], out: &mut [f64]) {
    let vectors = LANES / V::LEN;
    let mut t = [[V::splat(F::zero()); LANES]; P];
    for row in rows.chunks_exact(D + 1) {
        let (w, u) = (V::splat(row[0]), input_weights::<F, V, D>(row));
        for (tp, panel) in t.iter_mut().zip(panels.chunks_exact(D * LANES)) {
            for (q, t) in tp.iter_mut().take(vectors).enumerate() {
                *t = t.add(w.mul(pre_activations(&u, panel, q * V::LEN).relu()));
            }
        }
    }
    let mut lanes = [[F::zero(); LANES]; P];
    for (tp, lp) in t.iter().zip(lanes.iter_mut()) {
        for (q, t) in tp.iter().take(vectors).enumerate() {
            t.store(&mut lp[q * V::LEN..]);
        }
    }
    out.iter_mut().zip(lanes.iter().flatten()).for_each(|(o, t)| *o += t.f64());
}

/// Vector accumulators [`direct_gradient`] keeps in registers (of the 16 of AVX2).
const ACCUMULATORS: usize = 8;

/// Bytes of packed samples and products r_i x_ik one pass of [`direct_gradient`] streams for every
/// particle of a block: half of the 32 KiB L1 data cache.
const GRADIENT_CHUNK_BYTES: usize = 16 * 1024;

/// [`block_gradient`] for d = D from the panels: the products r_i x_ik packed like the panels into
/// `weighted`, then per particle g_jk = sum_i 1[u_j . x_i > 0] (r_i x_ik) in [`LANES`] partial sums per k
/// (a few vectors of lanes per pass, kept in registers), added over the lanes in order. The same numbers
/// as masking r_i first, (r_i 1[u_j . x_i > 0]) x_ik, for finite x. When the panels exceed
/// [`GRADIENT_CHUNK_BYTES`], the samples are taken in chunks of that size, each for every particle of the
/// block (so that they stay in the L1 cache), with the partial sums kept in `sums` between chunks (at
/// least block x d x [`LANES`]); every partial sum still adds its samples in order.
pub(super) fn direct_gradient<F: Real, const D: usize>(
    simd: Simd,
    theta: ArrayView2<F>,
    panels: &[F],
    r: &[F],
    weighted: &mut [F],
    sums: &mut [F],
    g: &mut ArrayViewMut2<F>,
) {
    for ((wc, xc), rc) in
        weighted.chunks_exact_mut(D * LANES).zip(panels.chunks_exact(D * LANES)).zip(r.chunks_exact(LANES))
    {
        for (wck, xck) in wc.chunks_exact_mut(LANES).zip(xc.chunks_exact(LANES)) {
            wck.iter_mut().zip(xck).zip(rc).for_each(|((w, &x), &r)| *w = r * x);
        }
    }
    let rows = theta.as_slice().expect("particles are in standard layout");
    let chunk = (GRADIENT_CHUNK_BYTES / (2 * D * LANES * std::mem::size_of::<F>())).max(1) * D * LANES;
    let mut lanes = [F::zero(); DIRECT_MAX_D * LANES];
    let sums = if panels.len() <= chunk {
        &mut lanes[..D * LANES]
    } else {
        let needed = g.nrows() * D * LANES;
        assert!(sums.len() >= needed, "direct_gradient: {} partial sums for {needed}", sums.len());
        &mut sums[..needed]
    };
    F::vectorise(simd, DirectGradient::<F, D> { rows, panels, weighted, chunk, sums, g });
}

/// The arguments of [`direct_gradient`], run in any [`Pack`].
pub(super) struct DirectGradient<'a, 'b, F, const D: usize> {
    pub(super) rows: &'a [F],
    pub(super) panels: &'a [F],
    pub(super) weighted: &'a [F],
    /// Elements of the panels per chunk of samples.
    pub(super) chunk: usize,
    /// The [`LANES`] partial sums per k of one particle (one chunk), or of every particle of the block.
    pub(super) sums: &'a mut [F],
    pub(super) g: &'a mut ArrayViewMut2<'b, F>,
}

impl<F: Real, const D: usize> WithPack<F> for DirectGradient<'_, '_, F, D> {
    type Output = ();

    #[inline(always)]
    fn run<V: Pack<F>>(self) {
        let (rows, chunk) = (self.rows, self.chunk);
        if self.sums.len() == D * LANES {
            for (row, mut gj) in rows.chunks_exact(D + 1).zip(self.g.outer_iter_mut()) {
                self.sums.fill(F::zero());
                accumulate_gradient::<F, V, D>(row, self.panels, self.weighted, self.sums);
                fold_lanes(self.sums, gj.iter_mut());
            }
        } else {
            self.sums.fill(F::zero());
            for (cp, cw) in self.panels.chunks(chunk).zip(self.weighted.chunks(chunk)) {
                for (row, sj) in rows.chunks_exact(D + 1).zip(self.sums.chunks_exact_mut(D * LANES)) {
                    accumulate_gradient::<F, V, D>(row, cp, cw, sj);
                }
            }
            for (sj, mut gj) in self.sums.chunks_exact(D * LANES).zip(self.g.outer_iter_mut()) {
                fold_lanes(sj, gj.iter_mut());
            }
        }
    }
}

/// sums_{k, l} += 1[u . x_l > 0] (r_l x_lk) over the panels (in order) for the particle `row` = (w, u):
/// `sums` holds [`LANES`] partial sums per k, a few vectors of lanes per pass kept in registers.
#[inline(always)]
fn accumulate_gradient<F: Real, V: Pack<F>, const D: usize>(row: &[F], panels: &[F], weighted: &[F], sums: &mut [F]) {
    let vectors = LANES / V::LEN;
    let per_pass = (ACCUMULATORS / D).clamp(1, vectors);
    let u = input_weights::<F, V, D>(row);
    for first in (0..vectors).step_by(per_pass) {
        let mut acc = [[V::splat(F::zero()); LANES]; D];
        for (k, ak) in acc.iter_mut().enumerate() {
            for (q, a) in ak.iter_mut().take(per_pass).enumerate() {
                *a = V::load(&sums[k * LANES + (first + q) * V::LEN..]);
            }
        }
        for (panel, wc) in panels.chunks_exact(D * LANES).zip(weighted.chunks_exact(D * LANES)) {
            for q in 0..per_pass {
                let at = (first + q) * V::LEN;
                let z = pre_activations(&u, panel, at);
                for (k, ak) in acc.iter_mut().enumerate() {
                    ak[q] = ak[q].add(z.if_positive(V::load(&wc[k * LANES + at..])));
                }
            }
        }
        for (k, ak) in acc.iter().enumerate() {
            for (q, a) in ak.iter().take(per_pass).enumerate() {
                a.store(&mut sums[k * LANES + (first + q) * V::LEN..]);
            }
        }
    }
}

/// g_k = the [`LANES`] partial sums of k added in lane order, for each k.
fn fold_lanes<'a, F: Real>(sums: &[F], g: impl Iterator<Item = &'a mut F>) {
    for (gk, lk) in g.zip(sums.chunks_exact(LANES)) {
        *gk = lk.iter().fold(F::zero(), |a, &b| a + b);
    }
}
