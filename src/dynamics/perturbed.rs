//! `perturbed`: the paper's perturbed Wasserstein gradient flow (eq. 4.2),
//! d rho/dt = -sigma rho + sigma U^d - div(rho v). After the gradient step each particle is, with
//! probability 1 - exp(-eta sigma), replaced by a fresh draw from the uniform distribution on the
//! sphere of radius `reinit_radius` in R^{1+d}.

use std::sync::Arc;

use ndarray::ArrayViewMut2;
use rand::Rng;

use super::{for_each_chunk, Dynamics, Kind, Param, Params, Part, StepContext};
use crate::config::Checker;
use crate::error::Result;
use crate::linalg::Real;
use crate::model::sphere_point;
use crate::rng::Purpose;

/// Re-draws at rate sigma onto the sphere of radius `reinit_radius`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Perturbed {
    /// The re-draw rate sigma >= 0 (per unit time).
    pub sigma: f64,
    /// The radius of the sphere the particles are re-drawn on (1 in the paper).
    pub reinit_radius: f64,
}

impl Perturbed {
    /// The probability that a particle is re-drawn in a step of size eta: 1 - exp(-eta sigma).
    pub fn probability(&self, eta: f64) -> f64 {
        -(-eta * self.sigma).exp_m1()
    }
}

impl<F: Real> Dynamics<F> for Perturbed {
    fn name(&self) -> String {
        "perturbed".into()
    }

    fn perturb(&self, block: ArrayViewMut2<F>, first: usize, ctx: &StepContext) {
        let p = self.probability(ctx.eta);
        if p == 0.0 {
            return;
        }
        for_each_chunk(block, first, |mut chunk, c| {
            let mut rng = ctx.stream(Purpose::Perturbed, c);
            for row in chunk.outer_iter_mut() {
                if rng.random::<f64>() < p {
                    sphere_point(&mut rng, self.reinit_radius, row);
                }
            }
        });
    }
}

/// `perturbed`: `sigma` (required, >= 0) and `reinit_radius` (> 0, default 1).
pub(super) const KIND: Kind = Kind {
    name: "perturbed",
    params: &[Param { key: "sigma", default: None }, Param { key: "reinit_radius", default: Some(1.0) }],
    alone: false,
    check,
};

fn check(v: &Checker, p: &Params) -> Result<Arc<dyn Part>> {
    let sigma = v.finite_at_least("dynamics.sigma", p["sigma"], 0.0)?;
    let reinit_radius = v.finite_positive("dynamics.reinit_radius", p["reinit_radius"])?;
    Ok(Arc::new(Perturbed { sigma, reinit_radius }))
}
