//! Data sets (docs/math.md, section Distributions): the paper's distribution, XOR, a random ReLU
//! teacher, and user csv files.
//!
//! One file per data kind: its `KIND` (name, the `data.*` keys only it uses, their check; see
//! [`Kind`]) and its generator, listed once in `register!` below. The `[data]` table's checks
//! and messages follow from the entries. A synthetic kind beyond the bundled ones returns a
//! [`Distribution::Other`] holding its [`Sampler`].

mod dataset;
mod registry;

/// Declares the data kind modules and [`KINDS`], in the order of the scenario format.
macro_rules! register {
    ($($module:ident),* $(,)?) => {
        $(pub mod $module;)*

        /// Every registered data kind, in the order of the scenario format.
        pub static KINDS: &[&Kind] = &[$(&$module::KIND),*];
    };
}

// The registration: one entry per data kind file.
register!(paper, xor, teacher, csv);

use std::sync::Arc;

use ndarray::{Array1, Array2, ArrayView1};

pub use dataset::Dataset;
pub use paper::paper_network;
pub(crate) use registry::check;
pub use registry::{kind, names, own_keys, Context, Kind, Sampler};
pub use teacher::{Task, Teacher};
pub use xor::XorNoise;

use crate::error::Result;
use crate::rng::{self, Purpose};

/// A synthetic distribution (docs/math.md, section Distributions).
#[derive(Clone, Debug)]
pub enum Distribution {
    /// The paper's distribution D in dimension d >= 2.
    Paper { d: usize },
    /// XOR of the first two coordinates in dimension d >= 2.
    Xor { d: usize, noise: XorNoise },
    /// A random ReLU teacher with `hidden` units on N(0, I_d) inputs.
    Teacher { d: usize, hidden: usize, task: Task, margin: f64, label_noise: f64 },
    /// The distribution of a registered kind beyond the bundled ones.
    Other(Arc<dyn Sampler>),
}

impl PartialEq for Distribution {
    fn eq(&self, other: &Self) -> bool {
        use Distribution::*;
        match (self, other) {
            (Paper { d }, Paper { d: e }) => d == e,
            (Xor { d, noise }, Xor { d: e, noise: m }) => (d, noise) == (e, m),
            (
                Teacher { d, hidden, task, margin, label_noise },
                Teacher { d: e, hidden: h, task: t, margin: m, label_noise: l },
            ) => (d, hidden, task, margin, label_noise) == (e, h, t, m, l),
            // A sampler is its parameters: equal when they print the same.
            (Other(a), Other(b)) => format!("{a:?}") == format!("{b:?}"),
            _ => false,
        }
    }
}

impl Distribution {
    /// The input dimension d (before any bias coordinate).
    pub fn d(&self) -> usize {
        match self {
            Distribution::Paper { d } | Distribution::Xor { d, .. } | Distribution::Teacher { d, .. } => *d,
            Distribution::Other(sampler) => sampler.d(),
        }
    }

    /// n samples. `seed` fixes the teacher; `purpose` separates train from test draws.
    pub fn sample(&self, n: usize, seed: u64, purpose: Purpose) -> Result<Dataset> {
        let d = self.d();
        let mut rng = rng::sequential(seed, purpose);
        let mut x = Array2::zeros((n, d));
        let mut y = Array1::zeros(n);
        let (xv, yv) = (x.view_mut(), y.view_mut());
        match *self {
            Distribution::Paper { .. } => paper::fill(xv, yv, &mut rng),
            Distribution::Xor { noise, .. } => xor::fill(xv, yv, noise, &mut rng),
            Distribution::Teacher { hidden, task, margin, label_noise, .. } => {
                let labels = teacher::Labels { task, margin, label_noise };
                teacher::fill(xv, yv, &Teacher::new(d, hidden, seed), labels, &mut rng)?
            }
            Distribution::Other(ref sampler) => sampler.fill(xv, yv, &mut rng, seed)?,
        }
        Dataset::new(x, y)
    }
}

/// Fraction of samples with y_i F_i <= 0 (a prediction of exactly 0 counts as an error).
pub fn classification_error(y: ArrayView1<f64>, f: ArrayView1<f64>) -> f64 {
    let wrong = y.iter().zip(f).filter(|(&y, &f)| y * f <= 0.0).count();
    wrong as f64 / y.len() as f64
}
