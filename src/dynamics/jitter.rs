//! `jitter` (a toy): after the gradient step each coordinate moves by amplitude * U(-1, 1).

use std::sync::Arc;

use ndarray::ArrayViewMut2;
use rand::Rng;

use super::{for_each_chunk, Dynamics, Kind, Param, Params, Part, StepContext};
use crate::config::Checker;
use crate::error::Result;
use crate::linalg::Real;

/// Uniform jitter of the given amplitude.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Jitter {
    /// Half-width of the uniform move.
    pub amplitude: f64,
}

impl<F: Real> Dynamics<F> for Jitter {
    fn name(&self) -> String {
        "jitter".into()
    }

    fn perturb(&self, block: ArrayViewMut2<F>, first: usize, ctx: &StepContext) {
        for_each_chunk(block, first, |mut chunk, c| {
            let mut rng = ctx.stream_for_code(1000, c);
            chunk.iter_mut().for_each(|t| *t = *t + F::of(self.amplitude * rng.random_range(-1.0..1.0)));
        });
    }
}

/// `jitter`: `amplitude` (>= 0, default 0).
pub(super) const KIND: Kind =
    Kind { name: "jitter", params: &[Param { key: "amplitude", default: Some(0.0) }], alone: false, check };

fn check(v: &Checker, p: &Params) -> Result<Arc<dyn Part>> {
    Ok(Arc::new(Jitter { amplitude: v.finite_at_least("dynamics.amplitude", p["amplitude"], 0.0)? }))
}
