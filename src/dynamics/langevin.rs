//! `langevin`: noisy gradient descent at temperature tau (mean-field Langevin dynamics). After the
//! gradient step each particle receives sqrt(2 eta tau) xi_j, xi_j ~ N(0, I_{1+d}); the stationary
//! law is proportional to exp(-L'[rho] / tau), the minimiser of L[rho] + tau * integral rho log rho.

use ndarray::ArrayViewMut2;
use rand::Rng;
use rand_distr::StandardNormal;

use super::{for_each_chunk, Dynamics, StepContext};
use crate::linalg::Real;
use crate::rng::Purpose;

/// Langevin noise with geometric annealing tau_k = tau * tau_decay^k at step k.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Langevin {
    /// The initial temperature tau >= 0.
    pub tau: f64,
    /// The factor in (0, 1] applied to the temperature at every step.
    pub tau_decay: f64,
}

impl Langevin {
    /// The temperature at step k: tau * tau_decay^k.
    pub fn temperature(&self, step: u64) -> f64 {
        self.tau * self.tau_decay.powf(step as f64)
    }
}

impl<F: Real> Dynamics<F> for Langevin {
    fn name(&self) -> String {
        "langevin".into()
    }

    fn langevin_temperature(&self, step: u64) -> Option<f64> {
        Some(self.temperature(step))
    }

    fn perturb(&self, block: ArrayViewMut2<F>, first: usize, ctx: &StepContext) {
        let scale = (2.0 * ctx.eta * self.temperature(ctx.step)).sqrt();
        if scale == 0.0 {
            return;
        }
        for_each_chunk(block, first, |mut chunk, c| {
            let mut rng = ctx.stream(Purpose::Langevin, c);
            chunk.iter_mut().for_each(|t| *t = *t + F::of(scale * rng.sample::<f64, _>(StandardNormal)));
        });
    }
}
