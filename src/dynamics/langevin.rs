//! `langevin`: noisy gradient descent at temperature tau (mean-field Langevin dynamics). After the
//! gradient step each particle receives sqrt(2 eta tau) xi_j, xi_j ~ N(0, I_{1+d}); the stationary
//! law is proportional to exp(-L'\[rho\] / tau), the minimiser of L\[rho\] + tau * integral rho log rho.

use std::sync::Arc;

use ndarray::ArrayViewMut2;
use rand::Rng;
use rand_distr::StandardNormal;

use super::{for_each_chunk, Dynamics, Kind, Param, Params, Part, StepContext};
use crate::config::Checker;
use crate::error::Result;
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

/// `langevin`: `tau` (required, >= 0) and `tau_decay` (in (0, 1], default 1).
pub(super) const KIND: Kind = Kind {
    name: "langevin",
    params: &[Param { key: "tau", default: None }, Param { key: "tau_decay", default: Some(1.0) }],
    alone: false,
    check,
};

fn check(v: &Checker, p: &Params) -> Result<Arc<dyn Part>> {
    let tau = v.finite_at_least("dynamics.tau", p["tau"], 0.0)?;
    let tau_decay = p["tau_decay"];
    if !(tau_decay > 0.0 && tau_decay <= 1.0) {
        return Err(v.value("dynamics.tau_decay", tau_decay, "must be in (0, 1]"));
    }
    Ok(Arc::new(Langevin { tau, tau_decay }))
}
