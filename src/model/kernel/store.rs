//! Stored activation patterns (`run.store_activations`): the forward pass of a step keeps the signs
//! 1[z_ji > 0] of the pre-activations z_ji = u_j . x_i of every particle and sample, one bit each, and
//! the next step's gradient, which needs only them (its masked residuals are r_i 1[z_ji > 0]), reads
//! them instead of recomputing Z (one of the step's three GEMM-shaped products of 2 n m d flops). The
//! stored bits of a block are used only when the block's particles and the samples are, bit for bit,
//! those they were computed from, and they were computed by the same GEMM call, so the results are
//! identical with and without them.

use serde::{Deserialize, Serialize};

use super::DIRECT_MAX_D;

/// Whether the kernels keep the pre-activations of the forward pass (`run.store_activations`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreActivations {
    /// Keep them when they take at most [`STORE_BUDGET_BYTES`] (per process) and the kernels use
    /// GEMMs (d > [`DIRECT_MAX_D`]).
    #[default]
    Auto,
    /// Keep them whenever the kernels use GEMMs (d > [`DIRECT_MAX_D`]), whatever their size.
    Always,
    /// Recompute them in every step.
    Never,
}

/// The memory budget of [`StoreActivations::Auto`]: 2 GiB of stored activation patterns per process
/// (m = 1e5 particles and n = 2000 samples take 25 MB).
pub const STORE_BUDGET_BYTES: usize = 2 << 30;

impl StoreActivations {
    /// The name in scenarios (`auto`, `always`, `never`).
    pub fn name(self) -> &'static str {
        match self {
            StoreActivations::Auto => "auto",
            StoreActivations::Always => "always",
            StoreActivations::Never => "never",
        }
    }

    /// Whether kernels for m particles (of this process), n samples and d inputs in elements of
    /// `bytes` bytes keep the activation patterns (`auto`: when [`StoreActivations::bytes`] are within the budget). The direct kernels (d <= [`DIRECT_MAX_D`]) compute
    /// them in registers, faster than they could be read back, and never keep them.
    pub fn stores(self, m: usize, n: usize, d: usize, bytes: usize) -> bool {
        let gemm = d > DIRECT_MAX_D;
        match self {
            StoreActivations::Auto => gemm && StoreActivations::bytes(m, n, d, bytes) <= STORE_BUDGET_BYTES as u128,
            StoreActivations::Always => gemm,
            StoreActivations::Never => false,
        }
    }

    /// The bytes of the store for m particles, n samples and d inputs in elements of `bytes` bytes
    /// (the patterns, m ceil(n / 64) words of 8 bytes, and the copies of the particles and the samples
    /// they were computed from), saturating.
    pub fn bytes(m: usize, n: usize, d: usize, bytes: usize) -> u128 {
        let (m, n, d, s) = (m as u128, n as u128, d as u128, bytes as u128);
        m * n.div_ceil(64) * 8 + (m * (d + 1) + n * d) * s + m
    }
}

/// Words of 64 bits per particle for n samples: ceil(n / 64).
pub(super) fn words(n: usize) -> usize {
    n.div_ceil(64)
}

/// The stored activation patterns of a kernel: particle j's bits 1[z_ji > 0] for the samples i in
/// order, 64 a word (sample i at bit i mod 64 of word j ceil(n / 64) + i / 64), so that a group's or a
/// block's share is one slice.
#[derive(Debug)]
pub(super) struct Store<F> {
    /// The patterns, m ceil(n / 64) words.
    pub pattern: Vec<u64>,
    /// The particles each block's pattern was computed from (m x (1 + d)).
    pub theta: Vec<F>,
    /// The samples the patterns were computed from (n x d).
    pub x: Vec<F>,
    /// Whether each particle's pattern is current (set per block).
    pub filled: Vec<bool>,
}

/// Whether a and b are the same number, bit for bit (NaN never is; -0 is not 0).
fn same<F: num_traits::Float>(a: F, b: F) -> bool {
    (a == b) & (a.is_sign_negative() == b.is_sign_negative())
}

/// Whether a and b (of equal length) are the same numbers, bit for bit ([`same`]), compared without
/// branches in chunks of 64 so that the comparison vectorises.
fn all_same<F: num_traits::Float>(a: &[F], b: &[F]) -> bool {
    a.len() == b.len()
        && a.chunks(64).zip(b.chunks(64)).all(|(a, b)| a.iter().zip(b).fold(true, |all, (&a, &b)| all & same(a, b)))
}

impl<F: num_traits::Float> Store<F> {
    /// An empty store for m particles, n samples and d inputs.
    pub fn new(m: usize, n: usize, d: usize) -> Self {
        let zero = F::zero();
        Store {
            pattern: vec![0; m * words(n)],
            theta: vec![zero; m * (d + 1)],
            x: vec![zero; n * d],
            filled: vec![false; m],
        }
    }

    /// Forgets every stored pattern unless the samples are `x` (n x d in row order), and records `x`.
    pub fn check_samples(&mut self, x: impl Iterator<Item = F> + Clone) {
        if !self.x.iter().copied().zip(x.clone()).all(|(a, b)| same(a, b)) {
            self.filled.fill(false);
            self.x.iter_mut().zip(x).for_each(|(s, v)| *s = v);
        }
    }
}

/// One group's share of a [`Store`], handed to the thread that runs the group.
pub(super) struct GroupStore<'a, F> {
    pub pattern: &'a mut [u64],
    pub theta: &'a mut [F],
    pub filled: &'a mut [bool],
}

impl<F: num_traits::Float> GroupStore<'_, F> {
    /// Whether the stored patterns of the block at particle `first` (of the group) with particles `rows`
    /// (row-major, 1 + d each) are current: computed from these very particles.
    pub fn current(&self, first: usize, rows: &[F], width: usize) -> bool {
        let count = rows.len() / width;
        self.filled[first..first + count].iter().all(|&f| f)
            && all_same(&self.theta[first * width..][..rows.len()], rows)
    }

    /// Records that the block's patterns were computed from `rows`.
    pub fn record(&mut self, first: usize, rows: &[F], width: usize) {
        self.theta[first * width..][..rows.len()].copy_from_slice(rows);
        self.filled[first..first + rows.len() / width].fill(true);
    }

    /// The block's patterns (at particle `first` of the group, `count` particles, n samples), marked
    /// as not current: the caller is about to overwrite them.
    pub fn overwrite(&mut self, first: usize, count: usize, n: usize) -> &mut [u64] {
        self.filled[first..first + count].fill(false);
        &mut self.pattern[first * words(n)..(first + count) * words(n)]
    }

    /// The block's patterns (at particle `first` of the group, `count` particles, n samples).
    pub fn read(&self, first: usize, count: usize, n: usize) -> &[u64] {
        &self.pattern[first * words(n)..(first + count) * words(n)]
    }
}
