//! Stored pre-activations (`run.store_activations`): the forward pass of a step keeps
//! Z_ji = u_j . x_i of every particle and sample, and the next step's gradient reads them instead of
//! recomputing them (one of the step's three GEMM-shaped products of 2 n m d flops). The stored Z of a
//! block are used only when the block's particles and the samples are, bit for bit, those they were
//! computed from, and they were computed by the same GEMM call, so the results are identical with
//! and without them.

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

/// The memory budget of [`StoreActivations::Auto`]: 2 GiB of stored pre-activations per process
/// (m = 1e5 particles and n = 2000 samples take 0.8 GB in f32, 1.6 GB in f64).
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
    /// `bytes` bytes keep the pre-activations. The direct kernels (d <= [`DIRECT_MAX_D`]) compute
    /// them in registers, faster than they could be read back, and never keep them.
    pub fn stores(self, m: usize, n: usize, d: usize, bytes: usize) -> bool {
        let gemm = d > DIRECT_MAX_D;
        match self {
            StoreActivations::Auto => {
                gemm && m.checked_mul(n).and_then(|e| e.checked_mul(bytes)).is_some_and(|b| b <= STORE_BUDGET_BYTES)
            }
            StoreActivations::Always => gemm,
            StoreActivations::Never => false,
        }
    }

    /// The bytes of the store for m particles, n samples and d inputs in elements of `bytes` bytes
    /// (Z, and the copies of the particles and the samples it was computed from), saturating.
    pub fn bytes(m: usize, n: usize, d: usize, bytes: usize) -> u128 {
        let (m, n, d, s) = (m as u128, n as u128, d as u128, bytes as u128);
        (m * n + m * (d + 1) + n * d) * s + m
    }
}

/// The stored pre-activations of a kernel: for block b (of `block` particles, the last maybe fewer)
/// and the sample tile starting at i0 with L samples, the rows x L matrix Z of that (block, tile) in
/// row-major order at `b block n + rows i0`, so that a group's or a block's share is one slice.
#[derive(Debug)]
pub(super) struct Store<F> {
    /// The pre-activations, m x n in all.
    pub z: Vec<F>,
    /// The particles each block's Z was computed from (m x (1 + d)).
    pub theta: Vec<F>,
    /// The samples the Z were computed from (n x d).
    pub x: Vec<F>,
    /// Whether each particle's row of Z is current (set per block).
    pub filled: Vec<bool>,
}

/// Whether a and b are the same number, bit for bit (NaN never is; -0 is not 0).
fn same<F: num_traits::Float>(a: F, b: F) -> bool {
    a == b && a.is_sign_negative() == b.is_sign_negative()
}

impl<F: num_traits::Float> Store<F> {
    /// An empty store for m particles, n samples and d inputs.
    pub fn new(m: usize, n: usize, d: usize) -> Self {
        let zero = F::zero();
        Store { z: vec![zero; m * n], theta: vec![zero; m * (d + 1)], x: vec![zero; n * d], filled: vec![false; m] }
    }

    /// Forgets every stored Z unless the samples are `x` (n x d in row order), and records `x`.
    pub fn check_samples(&mut self, x: impl Iterator<Item = F> + Clone) {
        if !self.x.iter().copied().zip(x.clone()).all(|(a, b)| same(a, b)) {
            self.filled.fill(false);
            self.x.iter_mut().zip(x).for_each(|(s, v)| *s = v);
        }
    }
}

/// One group's share of a [`Store`], handed to the thread that runs the group.
pub(super) struct GroupStore<'a, F> {
    pub z: &'a mut [F],
    pub theta: &'a mut [F],
    pub filled: &'a mut [bool],
}

impl<F: num_traits::Float> GroupStore<'_, F> {
    /// Whether the stored Z of the block at particle `first` (of the group) with particles `rows`
    /// (row-major, 1 + d each) are current: computed from these very particles.
    pub fn current(&self, first: usize, rows: &[F], width: usize) -> bool {
        let count = rows.len() / width;
        self.filled[first..first + count].iter().all(|&f| f)
            && self.theta[first * width..][..rows.len()].iter().zip(rows).all(|(&a, &b)| same(a, b))
    }

    /// Records that the block's Z were computed from `rows`.
    pub fn record(&mut self, first: usize, rows: &[F], width: usize) {
        self.theta[first * width..][..rows.len()].copy_from_slice(rows);
        self.filled[first..first + rows.len() / width].fill(true);
    }

    /// The block's Z (at particle `first` of the group, `count` particles, n samples), marked as not
    /// current: the caller is about to overwrite them.
    pub fn overwrite(&mut self, first: usize, count: usize, n: usize) -> &mut [F] {
        self.filled[first..first + count].fill(false);
        &mut self.z[first * n..(first + count) * n]
    }
}
