//! The infinite-width network as a particle cloud (docs/math.md, section Network as a measure) and its
//! parallel compute kernels ([`ComputeKernel`], in `model/kernel/`).
//!
//! A cloud of m particles theta_j = (w_j, u_j) in R^{1+d} stands for rho_m = (1/m) sum_j delta_{theta_j},
//! with predictions f(x) = (1/m) sum_j w_j relu(u_j . x). The kernels never form the n x m matrix of
//! pre-activations: they run over fixed blocks of particles (rayon over groups of blocks) and tiles
//! of samples, with one single-threaded GEMM per (block, tile). The per-group partial sums are
//! added exactly ([`Fixed`]), so every result is identical for any number of threads, and for any
//! number of processes when the cloud is sharded across them ([`crate::comm`]).

mod kernel;

pub use kernel::{ComputeKernel, Layout, StoreActivations, DIRECT_MAX_D, FUSED_MAX_D, STORE_BUDGET_BYTES};

use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand::Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

use crate::comm::Shard;
use crate::error::{Error, Result};
use crate::exact::Fixed;
use crate::linalg::Real;
use crate::rng::{self, Purpose, CHUNK};

/// The particle cloud: row j of `theta` is theta_j = (w_j, u_j1, ..., u_jd).
#[derive(Clone, Debug, PartialEq)]
pub struct Cloud<F: Real> {
    /// m x (1 + d) particles, columns w, u1..ud.
    pub theta: Array2<F>,
}

/// How the initial cloud is drawn (docs/math.md, section Units).
#[derive(Clone, Debug, PartialEq)]
pub enum Init {
    /// w ~ N(0, s_w^2), u ~ N(0, s_u^2 I), independently.
    Gaussian {
        /// Standard deviation of the output weight.
        s_w: f64,
        /// Standard deviation of each input weight.
        s_u: f64,
    },
    /// theta uniform on the sphere of the given radius in R^{1+d}.
    Sphere {
        /// Radius of the sphere.
        radius: f64,
    },
}

/// Overwrites `theta` with a uniform draw on the sphere of `radius` in R^{len}: a normalised
/// Gaussian vector.
pub fn sphere_point<F: Real>(rng: &mut impl Rng, radius: f64, mut theta: ndarray::ArrayViewMut1<F>) {
    loop {
        let g: Vec<f64> = (0..theta.len()).map(|_| rng.sample(StandardNormal)).collect();
        let norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm > 0.0 {
            theta.iter_mut().zip(&g).for_each(|(t, v)| *t = F::of(radius * v / norm));
            return;
        }
    }
}

impl<F: Real> Cloud<F> {
    /// A cloud from an m x (1 + d) array of particles (columns w, u1..ud), all finite.
    pub fn new(theta: Array2<F>) -> Result<Self> {
        if theta.ncols() < 2 || theta.nrows() == 0 {
            return Err(Error::Invalid(format!(
                "a cloud needs at least one particle and one input weight; got shape {:?}",
                theta.shape()
            )));
        }
        if theta.iter().any(|v| !v.is_finite()) {
            return Err(Error::Invalid("a cloud's particles must be finite".into()));
        }
        Ok(Cloud { theta: theta.as_standard_layout().into_owned() })
    }

    /// m particles in dimension d drawn by `init`, reproducibly from `seed` (one random stream per
    /// chunk of particles).
    pub fn sample(m: usize, d: usize, init: &Init, seed: u64) -> Self {
        Cloud::sample_shard(Shard::whole(m), d, init, seed)
    }

    /// The particles of `shard` (which starts on a chunk boundary) of the cloud [`Cloud::sample`]
    /// draws with `shard.total` particles.
    pub fn sample_shard(shard: Shard, d: usize, init: &Init, seed: u64) -> Self {
        debug_assert_eq!(shard.start % CHUNK, 0, "shards start on a chunk boundary");
        let mut theta = Array2::zeros((shard.len, d + 1));
        let first = shard.start / CHUNK;
        theta.axis_chunks_iter_mut(Axis(0), CHUNK).into_par_iter().enumerate().for_each(|(c, mut chunk)| {
            let mut rng = rng::stream(seed, Purpose::Init, (first + c) as u64, 0);
            for mut row in chunk.outer_iter_mut() {
                match *init {
                    Init::Gaussian { s_w, s_u } => {
                        row[0] = F::of(s_w * rng.sample::<f64, _>(StandardNormal));
                        for v in row.iter_mut().skip(1) {
                            *v = F::of(s_u * rng.sample::<f64, _>(StandardNormal));
                        }
                    }
                    Init::Sphere { radius } => sphere_point(&mut rng, radius, row),
                }
            }
        });
        Cloud { theta }
    }

    /// Number of particles m.
    pub fn m(&self) -> usize {
        self.theta.nrows()
    }

    /// Input dimension d.
    pub fn d(&self) -> usize {
        self.theta.ncols() - 1
    }

    /// Output weights w (a view of column 0).
    pub fn w(&self) -> ArrayView1<'_, F> {
        self.theta.column(0)
    }

    /// Input weights u (m x d view of columns 1..).
    pub fn u(&self) -> ArrayView2<'_, F> {
        self.theta.slice(s![.., 1..])
    }

    /// The particles as f64, m x (1 + d), columns w, u1..ud.
    pub fn to_f64(&self) -> Array2<f64> {
        self.theta.mapv(Real::f64)
    }

    /// The second moment integral |theta|^2 d rho = (1/m) sum_j (w_j^2 + |u_j|^2), in f64.
    pub fn second_moment(&self) -> f64 {
        self.squared_norms().to_f64() / self.m() as f64
    }

    /// sum_j (w_j^2 + |u_j|^2): f64 sums over chunks of [`CHUNK`] particles, added exactly, so
    /// that the sums of the shards of a cloud add up to the sum of the whole.
    pub fn squared_norms(&self) -> Fixed {
        self.theta
            .axis_chunks_iter(Axis(0), CHUNK)
            .into_par_iter()
            .map(|chunk| Fixed::of(chunk.iter().map(|v| v.f64() * v.f64()).sum::<f64>()))
            .collect::<Vec<_>>()
            .into_iter()
            .sum()
    }

    /// Predictions F_i = (1/m) sum_j w_j relu(u_j . x_i) for the rows x_i of `x`.
    pub fn predict(&self, x: ArrayView2<F>) -> Array1<f64> {
        let mut kernel = ComputeKernel::new(self.m(), x.nrows(), self.d());
        let mut out = Array1::zeros(x.nrows());
        kernel.predict(self.theta.view(), x, out.as_slice_mut().expect("fresh array is contiguous"));
        out
    }

    /// The velocity field v\[rho\](theta_j) = -grad_theta L'\[rho\](theta_j) at every particle
    /// (docs/math.md, section Velocity), for the given r_i = l'(y_i, F_i) / n: row j is
    /// (-sum_i r_i relu(u_j . x_i) - 2 lambda w_j, -w_j sum_i r_i 1[u_j . x_i > 0] x_i - 2 lambda u_j).
    pub fn velocity(&self, x: ArrayView2<F>, r: ArrayView1<f64>, lambda: f64) -> Array2<F> {
        let mut kernel = ComputeKernel::new(self.m(), x.nrows(), self.d());
        let mut v = Array2::zeros(self.theta.raw_dim());
        kernel.velocity(self.theta.view(), x, r, lambda, v.view_mut());
        v
    }
}

/// The first variation L'\[rho\](theta) = sum_i r_i w relu(u . x_i) + lambda |theta|^2 at one
/// neuron theta = (w, u), for r_i = l'(y_i, F_i) / n.
pub fn first_variation(theta: ArrayView1<f64>, x: ArrayView2<f64>, r: ArrayView1<f64>, lambda: f64) -> f64 {
    let w = theta[0];
    let u = theta.slice(s![1..]);
    let fit: f64 = x.outer_iter().zip(r).map(|(xi, ri)| ri * w * u.dot(&xi).max(0.0)).sum();
    fit + lambda * theta.dot(&theta)
}
