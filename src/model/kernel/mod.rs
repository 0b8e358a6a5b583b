//! The compute kernels behind [`super::Cloud`] and the simulation: predictions, velocities, the fused
//! gradient step and the activation-pattern change, over fixed blocks of particles and tiles of samples.
//! They never form the n x m matrix of pre-activations: rayon runs over groups of blocks, each (block,
//! tile) pair is one single-threaded GEMM or, for d <= [`DIRECT_MAX_D`], a direct SIMD kernel, and the
//! per-group partial sums are added exactly ([`Fixed`]), so every result is identical for any number of
//! threads and of processes sharing the cloud ([`crate::comm`]). The vector code runs in the SIMD tier
//! of [`crate::linalg::Simd`], chosen at run time. On the GEMM path the forward pass may keep the
//! pre-activations for the next step's gradient ([`StoreActivations`], in `store.rs`), and the GEMMs
//! read the inputs packed once per call of the kernels ([`Packed`], see [`packs`]) where the tier's
//! panels allow it, instead of packing a copy of every tile in every GEMM.

use std::sync::{Arc, Mutex};

use ndarray::{s, Array2, ArrayView1, ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

use crate::comm::{Communicator, Shard, Single};
use crate::exact::Fixed;
use crate::linalg::{
    gemm, gemm_packed, lines, vectorised, Lines, Pack, Packed, Real, Simd, WithPack, PACKED_MAX_DEPTH,
};
use crate::rng::CHUNK;

mod block;
mod fused;
mod store;
use block::*;
pub use fused::FUSED_MAX_D;
use store::{GroupStore, Store};
pub use store::{StoreActivations, STORE_BUDGET_BYTES};

/// At most this many bytes of inputs packed for the GEMM kernels ([`Packed`], two copies of X); larger
/// inputs are packed by the GEMMs at every call.
const PACKED_BUDGET_BYTES: usize = 256 << 20;

/// Target size of one (block x tile) pre-activation tile: half of a 512 KiB L2.
const TILE_BYTES: usize = 256 * 1024;
/// At most this many groups, whose partial predictions are added exactly.
const MAX_GROUPS: usize = 256;
/// Samples per parallel task of the exact sum of the group partial predictions.
const REDUCE_SAMPLES: usize = 512;
/// Groups hold a multiple of this many particles, a multiple of every block size.
const GROUP_UNIT: usize = 8 * CHUNK;
/// Samples per panel of the direct kernels (two 256-bit registers of f32, for two independent
/// chains of additions).
const LANES: usize = 16;
/// Input dimensions up to this use the direct kernels (pre-activations summed over the d inputs in
/// registers, fused with the elementwise work) instead of GEMMs, whose inner dimension would be d.
pub const DIRECT_MAX_D: usize = 8;

/// How the particles and samples are cut for the kernels. A function of (m, n, element size) only,
/// never of the thread count, so results do not depend on the thread count; the groups depend on m
/// only, so that the kernels for different sample sets cut a cloud at the same places.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Particles per block (one GEMM per block and sample tile): [`CHUNK`] times 2, 4 or 8.
    pub block: usize,
    /// Particles per group ([`Layout::group_size`], a multiple of `block`): the unit of parallel
    /// work and of reduction.
    pub group: usize,
    /// Samples per tile.
    pub tile: usize,
}

impl Layout {
    /// The layout for m particles, n samples and elements of `bytes` bytes.
    pub fn new(m: usize, n: usize, bytes: usize) -> Layout {
        let by_cache = (TILE_BYTES / (n.max(1) * bytes) / CHUNK).max(1);
        let block = CHUNK * (1 << by_cache.ilog2()).clamp(2, 8);
        let tile = n.clamp(1, (TILE_BYTES / (block * bytes)).max(64));
        Layout { block, group: Layout::group_size(m), tile }
    }

    /// Particles per group for a cloud of m: ceil(m / 256) rounded up to a multiple of 512.
    pub fn group_size(m: usize) -> usize {
        m.div_ceil(MAX_GROUPS).div_ceil(GROUP_UNIT).max(1) * GROUP_UNIT
    }
}

/// Rows of the per-thread gradient scratch for a shard of `particles`: a block, or fewer when the
/// shard is smaller (at large d a block of rows would be most of the memory, never touched).
fn gradient_rows(layout: &Layout, particles: usize) -> usize {
    layout.block.min(particles.max(1))
}

/// Per-thread scratch space of the kernels.
#[derive(Debug)]
struct Scratch<F> {
    /// Pre-activations of one (block, tile), block x tile (GEMM kernels), or the partial sums of the
    /// direct gradient kernel for large n (at least block x d x [`LANES`] then).
    z: Array2<F>,
    /// A second tile, for comparisons of two clouds.
    z0: Array2<F>,
    /// Input-weight gradients g_j = sum_i r_i 1[u_j . x_i > 0] x_i, block x d.
    g: Array2<F>,
    /// One block's contribution sum_j w_j relu(u_j . x_i) to the predictions of one tile (GEMM
    /// kernels; the fused kernels: padded n), or the products r_i x_ik packed like the panels (direct
    /// kernels, padded n x d).
    t: Lines<F>,
    /// One block's activation patterns when not stored (fused kernels), block x ceil(n / 64).
    pattern: Vec<u64>,
}

/// Samples per panel of the packed inputs: [`LANES`] for the direct kernels, [`fused::WIDE`] for the
/// fused ones.
fn panel_width(d: usize) -> usize {
    if d <= DIRECT_MAX_D {
        LANES
    } else {
        fused::WIDE
    }
}

/// Whether the GEMM kernels of `simd` for n samples and d inputs in F read X and X^T packed once per
/// call of the kernels ([`Packed`]) instead of packing a copy in every GEMM: on the GEMM path (d above
/// the direct and fused kernels'), for depths d within [`PACKED_MAX_DEPTH`] (the tiles are), packings
/// within [`PACKED_BUDGET_BYTES`], and panels that divide the 64 samples tiles start on (AVX-512 and
/// portable; the AVX2 panels of 12 and 24 rows would add edge calls at every tile, measured no faster).
fn packs<F: Real>(simd: Simd, n: usize, d: usize) -> bool {
    d > DIRECT_MAX_D
        && !fused::uses::<F>(d)
        && d <= PACKED_MAX_DEPTH
        && 64 % F::panel_rows(simd.tier()) == 0
        && Packed::<F>::bytes(n, d) + Packed::<F>::bytes(d, n) <= PACKED_BUDGET_BYTES
}

/// The scratch sizes (t, pattern) in elements for a block of `block` particles, n samples padded to
/// `padded`, d inputs in F and GEMM tiles of `tile` samples.
fn scratch_sizes<F>(block: usize, n: usize, padded: usize, d: usize, tile: usize) -> (usize, usize) {
    if d <= DIRECT_MAX_D {
        (padded * d, 0)
    } else if fused::uses::<F>(d) {
        (padded, block * store::words(n))
    } else {
        (tile, 0)
    }
}

/// The samples as the block kernels read them: the n x d inputs and, for the direct and fused
/// kernels ([`fused::uses`]), the same inputs packed in panels of L = [`panel_width`] samples
/// (x_{c L + l, k} at c L d + k L + l, zero
/// past n; empty for larger d).
#[derive(Clone, Copy)]
struct Samples<'a, F> {
    x: ArrayView2<'a, F>,
    panels: &'a [F],
    /// For the GEMM kernels, X and X^T packed once for them ([`packs`]), when they are.
    packed: Option<&'a [Packed<F>; 2]>,
    /// For the fused kernels, the products r_i x_ik of [`fused::weigh_groups`] (empty otherwise).
    weighted: &'a [F],
}

/// The parallel kernels for a cloud of m particles (or a shard of one) on n samples in dimension
/// d, with all the memory they need allocated once: O(m d + n (d + groups + threads * block)).
#[derive(Debug)]
pub struct ComputeKernel<F: Real> {
    layout: Layout,
    shard: Shard,
    comm: Arc<dyn Communicator>,
    n: usize,
    scratch: Vec<Mutex<Scratch<F>>>,
    /// Partial predictions, one row of n per group of the shard.
    partials: Array2<f64>,
    /// The exact sums of the partial predictions over the groups.
    sums: Vec<Fixed>,
    /// r_i in the particle precision, zero-padded to whole panels.
    r: Vec<F>,
    /// The products r_i x_ik of [`Samples`] (fused kernels only), from a cache line on.
    weighted: Lines<F>,
    /// The packed inputs of [`Samples`] (direct and fused kernels only), from a cache line on.
    panels: Lines<F>,
    /// X (n x d) and X^T packed for the GEMM kernels, when they pack ([`packs`]).
    packed: Option<[Packed<F>; 2]>,
    /// Whether to pack X and X^T where [`packs`] says it pays ([`ComputeKernel::packing`]).
    pack: bool,
    /// The SIMD tier of the vector code and the GEMMs.
    simd: Simd,
    /// Input dimension d.
    d: usize,
    /// The pre-activations kept by the forward pass, if storing ([`ComputeKernel::storing`]).
    store: Option<Store<F>>,
}

impl<F: Real> ComputeKernel<F> {
    /// The bytes [`ComputeKernel::new`] allocates for (m, n, d) with `threads` scratch slots: the group
    /// partial predictions and their exact sums, r, the packed inputs and the per-thread tiles.
    pub fn bytes(m: usize, n: usize, d: usize, threads: usize) -> usize {
        let layout = Layout::new(m, n, std::mem::size_of::<F>());
        let padded = n.div_ceil(panel_width(d)) * panel_width(d);
        let (t, pattern) = scratch_sizes::<F>(layout.block, n, padded, d, layout.tile);
        let fused = if fused::uses::<F>(d) { padded * fused::padded_d(d) } else { 0 };
        let per_thread = 2 * layout.block * layout.tile + gradient_rows(&layout, m) * d + t;
        let packed = d <= DIRECT_MAX_D || fused::uses::<F>(d);
        let elements = padded + if packed { padded * d } else { 0 } + fused + threads * per_thread;
        let gemm_packed = if Simd::available().into_iter().any(|simd| packs::<F>(simd, n, d)) {
            Packed::<F>::bytes(n, d) + Packed::<F>::bytes(d, n)
        } else {
            0
        };
        gemm_packed
            + m.div_ceil(layout.group) * n * std::mem::size_of::<f64>()
            + n * std::mem::size_of::<Fixed>()
            + elements * std::mem::size_of::<F>()
            + threads * pattern * std::mem::size_of::<u64>()
    }

    /// Kernels for m particles, n samples and d inputs, with scratch for the current rayon pool.
    pub fn new(m: usize, n: usize, d: usize) -> Self {
        ComputeKernel::on(Shard::whole(m), Arc::new(Single), n, d)
    }

    /// Kernels for the particles of `shard` (which starts on a group boundary), whose partial
    /// predictions are summed over the processes of `comm`: the results are those of the whole
    /// cloud.
    pub fn on(shard: Shard, comm: Arc<dyn Communicator>, n: usize, d: usize) -> Self {
        let layout = Layout::new(shard.total, n, std::mem::size_of::<F>());
        debug_assert_eq!(shard.start % layout.group, 0, "shards start on a group boundary");
        let groups = shard.len.div_ceil(layout.group);
        let padded = n.div_ceil(panel_width(d)) * panel_width(d);
        let (t, pattern) = scratch_sizes::<F>(layout.block, n, padded, d, layout.tile);
        let fused = if fused::uses::<F>(d) { padded * fused::padded_d(d) } else { 0 };
        let scratch = (0..rayon::current_num_threads())
            .map(|_| {
                Mutex::new(Scratch {
                    z: Array2::zeros((layout.block, layout.tile)),
                    z0: Array2::zeros((layout.block, layout.tile)),
                    g: Array2::zeros((gradient_rows(&layout, shard.len), d)),
                    t: lines(t, F::zero()),
                    pattern: vec![0; pattern],
                })
            })
            .collect();
        let packed = d <= DIRECT_MAX_D || fused::uses::<F>(d);
        let panels = lines(if packed { padded * d } else { 0 }, F::zero());
        ComputeKernel {
            layout,
            shard,
            comm,
            n,
            scratch,
            partials: Array2::zeros((groups, n)),
            sums: vec![Fixed::ZERO; n],
            r: vec![F::zero(); padded],
            weighted: lines(fused, F::zero()),
            panels,
            packed: None,
            pack: true,
            simd: Simd::selected_or_panic(),
            d,
            store: None,
        }
    }

    /// The same kernels running in the SIMD tier `simd` (by default [`Simd::selected`]).
    pub fn with_simd(mut self, simd: Simd) -> Self {
        self.simd = simd;
        self
    }

    /// The same kernels keeping the pre-activations of every forward pass ([`ComputeKernel::predict`],
    /// [`ComputeKernel::step`]) for the gradient of the next step when `store` is true and the kernels
    /// use GEMMs (d > [`DIRECT_MAX_D`]): m n more elements, one GEMM fewer per step, the same results.
    pub fn storing(mut self, store: bool) -> Self {
        self.store = (store && self.d > DIRECT_MAX_D).then(|| Store::new(self.shard.len, self.n, self.d));
        self
    }

    /// The same kernels packing X and X^T once per call for their GEMMs when `pack` is true (the
    /// default; on the GEMM path in the AVX-512 and portable tiers, for d <= 512 and at most 256 MiB of
    /// copies), else letting every GEMM pack its copy: the same results.
    pub fn packing(mut self, pack: bool) -> Self {
        self.pack = pack;
        self
    }

    /// Whether the kernels keep the pre-activations.
    pub fn stores(&self) -> bool {
        self.store.is_some()
    }

    /// The SIMD tier in use.
    pub fn simd(&self) -> Simd {
        self.simd
    }

    /// Checks the shapes (theta in standard layout) and packs the panels of `x` (direct and fused
    /// kernels) or X and X^T for the GEMMs ([`packs`]).
    fn prepare(&mut self, theta: &ArrayView2<F>, x: &ArrayView2<F>) {
        assert_eq!(theta.nrows(), self.shard.len, "kernel built for {} particles", self.shard.len);
        assert_eq!(x.nrows(), self.n, "kernel built for {} samples", self.n);
        assert_eq!(theta.ncols(), x.ncols() + 1, "particles and inputs differ in dimension");
        assert!(theta.is_standard_layout(), "particles must be in standard (row-major) layout");
        let (d, width) = (x.ncols(), panel_width(x.ncols()));
        for (c, panel) in self.panels.chunks_exact_mut(width * d).enumerate() {
            for (k, lanes) in panel.chunks_exact_mut(width).enumerate() {
                for (l, v) in lanes.iter_mut().enumerate() {
                    *v = x.get([c * width + l, k]).copied().unwrap_or(F::zero());
                }
            }
        }
        let simd = self.simd;
        if !(self.pack && packs::<F>(simd, self.n, d)) {
            self.packed = None;
            return;
        }
        let packed = self.packed.get_or_insert_with(|| [Packed::new(simd), Packed::new(simd)]);
        if packed[0].simd() != simd {
            *packed = [Packed::new(simd), Packed::new(simd)];
        }
        packed[0].pack(x.view());
        packed[1].pack(x.t());
    }

    /// Stores r in the particle precision (and, for the fused kernels, the products r_i x_ik).
    fn set_r(&mut self, r: impl IntoIterator<Item = f64>) {
        self.r.iter_mut().zip(r).for_each(|(a, b)| *a = F::of(b));
        if !self.weighted.is_empty() {
            fused::weigh_groups(&self.panels, &self.r, self.d, &mut self.weighted);
        }
    }

    /// F_i = (1/m) sum_j w_j relu(u_j . x_i), written to `out` (length n).
    pub fn predict(&mut self, theta: ArrayView2<F>, x: ArrayView2<F>, out: &mut [f64]) {
        self.prepare(&theta, &x);
        let pieces = group_stores(&mut self.store, &self.layout, &x, self.partials.nrows());
        let (layout, scratch, simd, n, width) = (self.layout, &self.scratch, self.simd, self.n, self.d + 1);
        let samples = Samples { x, panels: &self.panels, packed: self.packed.as_ref(), weighted: &self.weighted };
        self.partials.axis_iter_mut(Axis(0)).into_par_iter().zip(pieces).enumerate().for_each(
            |(g, (mut acc, mut piece))| {
                let acc = acc.as_slice_mut().expect("partials rows are contiguous");
                acc.iter_mut().for_each(|a| *a = 0.0);
                let rows = group_rows(&layout, g, theta.nrows());
                let mut s = lock(scratch);
                for (b, tb) in theta.slice(s![rows, ..]).axis_chunks_iter(Axis(0), layout.block).enumerate() {
                    let (first, count) = (b * layout.block, tb.nrows());
                    let z = piece.as_mut().map(|p| p.overwrite(first, count, n));
                    vectorised(
                        simd,
                        #[inline(always)]
                        || accumulate_predictions(&layout, simd, tb, samples, &mut s, acc, z),
                    );
                    if let Some(p) = piece.as_mut() {
                        p.record(first, tb.to_slice().expect("particles are in standard layout"), width);
                    }
                }
            },
        );
        self.reduce(out);
    }

    /// The velocity field at every particle (see [`super::Cloud::velocity`]), written to `v`.
    pub fn velocity(
        &mut self,
        theta: ArrayView2<F>,
        x: ArrayView2<F>,
        r: ArrayView1<f64>,
        lambda: f64,
        mut v: ArrayViewMut2<F>,
    ) {
        self.prepare(&theta, &x);
        self.set_r(r.iter().copied());
        let (layout, scratch, rf, simd) = (self.layout, &self.scratch, &self.r[..], self.simd);
        let samples = Samples { x, panels: &self.panels, packed: self.packed.as_ref(), weighted: &self.weighted };
        let two_lambda = F::of(2.0 * lambda);
        v.axis_chunks_iter_mut(Axis(0), layout.block).into_par_iter().enumerate().for_each(|(b, mut vb)| {
            let start = b * layout.block;
            let tb = theta.slice(s![start..start + vb.nrows(), ..]);
            let mut s = lock(scratch);
            vectorised(
                simd,
                #[inline(always)]
                || block_gradient(&layout, simd, tb, samples, rf, &mut s, None),
            );
            let chunks = vb.axis_chunks_iter_mut(Axis(0), OVERLAP).zip(tb.axis_chunks_iter(Axis(0), OVERLAP));
            for ((mut vc, tc), gc) in chunks.zip(s.g.axis_chunks_iter(Axis(0), OVERLAP)) {
                let og = output_gradients(tc, gc);
                for (((mut vj, tj), gj), og) in vc.outer_iter_mut().zip(tc.outer_iter()).zip(gc.outer_iter()).zip(og) {
                    vj[0] = -(og + two_lambda * tj[0]);
                    for k in 0..gj.len() {
                        vj[k + 1] = -(tj[0] * gj[k] + two_lambda * tj[k + 1]);
                    }
                }
            }
        });
    }

    /// One fused step of every particle: the gradient step theta_j <- theta_j + eta v\[rho\](theta_j)
    /// for the given r_i = l'(y_i, F_i)/n, then `post(block, first_row)` on each block of updated
    /// particles (the dynamics' noise), then the predictions of the new cloud into `out`.
    #[allow(clippy::too_many_arguments)]
    pub fn step(
        &mut self,
        mut theta: ArrayViewMut2<F>,
        x: ArrayView2<F>,
        r: &[f64],
        lambda: f64,
        eta: f64,
        post: &(dyn Fn(ArrayViewMut2<F>, usize) + Sync),
        out: &mut [f64],
    ) {
        self.prepare(&theta.view(), &x);
        self.set_r(r.iter().copied());
        let pieces = group_stores(&mut self.store, &self.layout, &x, self.partials.nrows());
        let (layout, scratch, rf, simd, n) = (self.layout, &self.scratch, &self.r[..], self.simd, self.n);
        let samples = Samples { x, panels: &self.panels, packed: self.packed.as_ref(), weighted: &self.weighted };
        let (eta_f, shrink) = (F::of(eta), F::of(1.0 - 2.0 * lambda * eta));
        let (width, first) = (theta.ncols(), self.shard.start);
        let data = theta.as_slice_mut().expect("a cloud is in standard layout");
        let groups = data.par_chunks_mut(layout.group * width).zip(self.partials.axis_iter_mut(Axis(0)));
        groups.zip(pieces).enumerate().for_each(|(g, ((chunk, mut acc), mut piece))| {
            let acc = acc.as_slice_mut().expect("partials rows are contiguous");
            acc.iter_mut().for_each(|a| *a = 0.0);
            let mut group =
                ArrayViewMut2::from_shape((chunk.len() / width, width), chunk).expect("chunk holds whole particles");
            let mut s = lock(scratch);
            for (b, mut tb) in group.axis_chunks_iter_mut(Axis(0), layout.block).enumerate() {
                let (start, count) = (b * layout.block, tb.nrows());
                let rows = tb.as_slice().expect("particles are in standard layout");
                let stored = piece.as_ref().filter(|p| p.current(start, rows, width)).map(|p| p.read(start, count, n));
                vectorised(
                    simd,
                    #[inline(always)]
                    || block_gradient(&layout, simd, tb.view(), samples, rf, &mut s, stored),
                );
                for (mut tc, gc) in
                    tb.axis_chunks_iter_mut(Axis(0), OVERLAP).zip(s.g.axis_chunks_iter(Axis(0), OVERLAP))
                {
                    let og = output_gradients(tc.view(), gc);
                    for ((mut tj, gj), og) in tc.outer_iter_mut().zip(gc.outer_iter()).zip(og) {
                        let w = tj[0];
                        tj[0] = shrink * w - eta_f * og;
                        let coef = eta_f * w;
                        let u = &mut tj.as_slice_mut().expect("a particle is contiguous")[1..];
                        let g = gj.to_slice().expect("gradient rows are contiguous");
                        u.iter_mut().zip(g).for_each(|(u, &g)| *u = shrink * *u - coef * g);
                    }
                }
                post(tb.view_mut(), first + g * layout.group + b * layout.block);
                let z = piece.as_mut().map(|p| p.overwrite(start, count, n));
                vectorised(
                    simd,
                    #[inline(always)]
                    || accumulate_predictions(&layout, simd, tb.view(), samples, &mut s, acc, z),
                );
                if let Some(p) = piece.as_mut() {
                    p.record(start, tb.as_slice().expect("particles are in standard layout"), width);
                }
            }
        });
        self.reduce(out);
    }

    /// out_i = (1/m) sum_g partials[g, i] over the groups of every process, added exactly.
    fn reduce(&mut self, out: &mut [f64]) {
        let partials = &self.partials;
        self.sums.par_chunks_mut(REDUCE_SAMPLES).enumerate().for_each(|(c, sums)| {
            let start = c * REDUCE_SAMPLES;
            sums.fill(Fixed::ZERO);
            for row in partials.outer_iter() {
                let row = row.slice_move(s![start..start + sums.len()]);
                sums.iter_mut().zip(row).for_each(|(s, &p)| *s = *s + Fixed::of(p));
            }
        });
        self.comm.sum(&mut self.sums);
        let inv = 1.0 / self.shard.total as f64;
        out.iter_mut().zip(&self.sums).for_each(|(o, s)| *o = s.to_f64() * inv);
    }

    /// The fraction of (particle, sample) pairs whose activation 1[u_j . x_i > 0] differs between
    /// the clouds `theta` and `theta0` (same m), over every process's shard.
    pub fn pattern_change(&mut self, theta: ArrayView2<F>, theta0: ArrayView2<F>, x: ArrayView2<F>) -> f64 {
        self.prepare(&theta0, &x);
        self.prepare(&theta, &x);
        let (layout, scratch, simd) = (self.layout, &self.scratch, self.simd);
        let changed: u64 = (0..self.shard.len.div_ceil(layout.block))
            .into_par_iter()
            .map(|b| {
                let rows = b * layout.block..((b + 1) * layout.block).min(theta.nrows());
                let (u, u0) = (theta.slice(s![rows.clone(), 1..]), theta0.slice(s![rows, 1..]));
                let mut s = lock(scratch);
                let s = &mut *s;
                let mut count = 0u64;
                for start in (0..x.nrows()).step_by(layout.tile) {
                    let xt = x.slice(s![start..(start + layout.tile).min(x.nrows()), ..]);
                    let mut z = s.z.slice_mut(s![..u.nrows(), ..xt.nrows()]);
                    let mut z0 = s.z0.slice_mut(s![..u.nrows(), ..xt.nrows()]);
                    gemm(simd, F::one(), &u, &xt.t(), F::zero(), &mut z);
                    gemm(simd, F::one(), &u0, &xt.t(), F::zero(), &mut z0);
                    count += vectorised(
                        simd,
                        #[inline(always)]
                        || {
                            z.iter()
                                .zip(z0.iter())
                                .map(|(a, b)| u64::from((*a > F::zero()) != (*b > F::zero())))
                                .sum::<u64>()
                        },
                    );
                }
                count
            })
            .sum();
        let mut total = [Fixed::of(changed as f64)];
        self.comm.sum(&mut total);
        total[0].to_f64() / (self.shard.total as f64 * self.n as f64)
    }
}

/// Each group's share of `store` (`None` for each of the `groups` when not storing), after checking
/// that the stored pre-activations are for the samples `x`.
fn group_stores<'a, F: Real>(
    store: &'a mut Option<Store<F>>,
    layout: &Layout,
    x: &ArrayView2<F>,
    groups: usize,
) -> Vec<Option<GroupStore<'a, F>>> {
    let (n, width) = (x.nrows().max(1), x.ncols() + 1);
    match store {
        Some(store) => {
            store.check_samples(x.iter().copied());
            let patterns = store.pattern.chunks_mut(layout.group * store::words(n));
            let pieces = patterns.zip(store.theta.chunks_mut(layout.group * width));
            let pieces = pieces.zip(store.filled.chunks_mut(layout.group));
            pieces.map(|((pattern, theta), filled)| Some(GroupStore { pattern, theta, filled })).collect()
        }
        None => (0..groups).map(|_| None).collect(),
    }
}

/// The rows of group g.
fn group_rows(layout: &Layout, g: usize, m: usize) -> std::ops::Range<usize> {
    g * layout.group..((g + 1) * layout.group).min(m)
}

/// The scratch of the current rayon thread (uncontended: one slot per thread of the pool).
fn lock<F>(scratch: &[Mutex<Scratch<F>>]) -> std::sync::MutexGuard<'_, Scratch<F>> {
    let slot = rayon::current_thread_index().unwrap_or(0) % scratch.len();
    scratch[slot].lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
