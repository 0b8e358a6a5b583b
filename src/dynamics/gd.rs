//! `gd`: the Wasserstein gradient flow (Chizat & Bach 2018), discretised as plain particle gradient
//! descent theta_j <- theta_j + eta v\[rho\](theta_j). Nothing happens after the gradient step.

use ndarray::ArrayViewMut2;

use std::sync::Arc;

use super::{Dynamics, Kind, StepContext};
use crate::linalg::Real;

/// Plain particle gradient descent.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Gd;

impl<F: Real> Dynamics<F> for Gd {
    fn name(&self) -> String {
        "gd".into()
    }

    fn perturb(&self, _block: ArrayViewMut2<F>, _first: usize, _ctx: &StepContext) {}
}

/// `gd`: no parameters; acts alone.
pub(super) const KIND: Kind = Kind { name: "gd", params: &[], alone: true, check: |_, _| Ok(Arc::new(Gd)) };
