//! What a stepper measures at a state: the row of the metrics table (docs/math.md, sections
//! Objective and Dual bound) and, at certified steps, the distributed dual bound and the
//! free-energy bound (docs/math.md, section Free energy). Computed on rank 0 where a whole cloud is
//! needed and sent to the other processes, so every process gets the same row.

use std::time::Instant;

use ndarray::{s, Array1, Array2};

use super::problem::State;
use super::stepper::Stepper;
use crate::certify::free_energy::{self, FreeEnergyCertificate};
use crate::certify::{self, DualBound};
use crate::data::classification_error;
use crate::error::{Error, Result};
use crate::linalg::Real;
use crate::metrics::Metrics;

/// Particle directions used as starts of the estimated sphere maximum, at most this many.
const CERTIFY_DIRECTIONS: usize = 128;

impl<F: Real> Stepper<F> {
    /// The dual bound D <= L* at `state` (docs/math.md, section Dual bound), with every k-th particle direction
    /// of the cloud (at most 128) as starts when the sphere maximum is estimated. Computed on rank 0
    /// and sent to the other processes.
    pub fn dual_bound(&self, state: &State<F>) -> Result<DualBound> {
        let u = state.cloud.u();
        let stride = self.shard.total.div_ceil(CERTIFY_DIRECTIONS).max(1);
        let first = (stride - self.shard.start % stride) % stride;
        let local = u.slice(s![first.min(u.nrows())..;stride, ..]).mapv(Real::f64);
        let gathered = self.comm.gather(local.as_slice().expect("fresh array is contiguous"));
        let mut bound = [f64::NAN; 4];
        if let Some(all) = gathered {
            let directions =
                Array2::from_shape_vec((all.len() / u.ncols(), u.ncols()), all).expect("gathered whole directions");
            let b = certify::dual_bound(
                &self.problem.dual(),
                state.predictions.view(),
                Some(directions.view()),
                self.options.certificate,
                self.options.seed,
            );
            // Ctrl-C or SIGTERM during an exact search: this step goes uncertified (NaN, an empty
            // cell), and the executor stops after it with a checkpoint.
            match b {
                Ok(b) => bound = [b.dual, b.s, b.c, f64::from(u8::from(b.exact))],
                Err(Error::Stopped { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        self.comm.broadcast(&mut bound);
        Ok(DualBound { dual: bound[0], s: bound[1], c: bound[2], exact: bound[3] == 1.0 })
    }

    /// At a certified step of a Langevin run at temperature tau > 0 with lambda > 0: the entropy estimate of the
    /// whole cloud and the free-energy bound (docs/math.md, section Free energy), computed on rank 0 and sent to the other processes.
    fn free_energy(&self, state: &State<F>, bound: &DualBound, tau: f64) -> Result<(f64, f64, FreeEnergyCertificate)> {
        let mut out = [f64::NAN; 3];
        if let Some(cloud) = self.gather(&state.cloud) {
            let entropy = crate::entropy::kl_entropy(cloud.to_f64().view(), self.options.entropy_k)?;
            let train = &self.problem.train;
            let (y, f) = (train.y.as_slice().expect("contiguous"), state.predictions.as_slice().expect("contiguous"));
            let r = Array1::from(self.problem.loss.risk_gradient(y, f));
            let b = free_energy::dual_free_energy(
                &self.problem.dual(),
                r.view(),
                tau,
                bound.s,
                bound.exact,
                self.options.seed,
            )?;
            out = [entropy, b.dual, b.certificate as u8 as f64];
        }
        self.comm.broadcast(&mut out);
        let certificate =
            [FreeEnergyCertificate::Exact, FreeEnergyCertificate::Confidence, FreeEnergyCertificate::Estimated]
                [out[2] as usize];
        Ok((out[0], out[1], certificate))
    }

    /// The row of the metrics table at `state` (docs/math.md, sections Objective and Dual bound),
    /// certified when `state.step` is due, with the excess L - L* when `optimum` is known; with
    /// `wall_seconds` 0 (the loop's clock fills it in). Returns it with the seconds spent on the
    /// certificate. Every process must call it.
    pub fn measure(&mut self, state: &State<F>, optimum: Option<f64>) -> Result<(Metrics, f64)> {
        let every = self.options.certify_every;
        let due = every > 0 && (state.step.is_multiple_of(every) || state.step == self.options.steps);
        let certifying = Instant::now();
        let bound = if due { Some(self.dual_bound(state)?).filter(|b| !b.dual.is_nan()) } else { None };
        let tau = self.dynamics.langevin_temperature(state.step).filter(|&t| t > 0.0 && self.problem.lambda > 0.0);
        let free = match (&bound, tau) {
            (Some(b), Some(tau)) => Some((tau, self.free_energy(state, b, tau)?)),
            _ => None,
        };
        let certify_seconds = certifying.elapsed().as_secs_f64();
        let second_moment = self.second_moment(&state.cloud);
        let problem = &self.problem;
        let f = state.predictions.as_slice().expect("contiguous");
        let objective = problem.objective(f, second_moment);
        let classification = problem.loss.is_classification();
        let train_error =
            classification.then(|| classification_error(problem.train.y.view(), state.predictions.view()));
        let margin = classification.then(|| {
            let min = problem.train.y.iter().zip(f).map(|(y, f)| y * f).fold(f64::INFINITY, f64::min);
            min / second_moment
        });
        let test = match (&problem.test, &problem.x_test, &mut self.test_kernel) {
            (Some(test), Some(x), Some(kernel)) => {
                let mut ft = vec![0.0; test.n()];
                kernel.predict(state.cloud.theta.view(), x.view(), &mut ft);
                let y = test.y.as_slice().expect("contiguous");
                Some((
                    problem.loss.risk(y, &ft),
                    classification.then(|| classification_error(test.y.view(), ft[..].into())),
                ))
            }
            _ => None,
        };
        let pattern_change =
            self.kernel.pattern_change(state.cloud.theta.view(), self.initial.theta.view(), problem.x.view());
        let metrics = Metrics {
            step: state.step,
            time: state.time,
            loss: objective.loss,
            data_fit: objective.data_fit,
            penalty: objective.penalty,
            train_error,
            test_error: test.and_then(|t| t.1),
            train_loss: objective.data_fit,
            test_loss: test.map(|t| t.0),
            margin,
            second_moment,
            pattern_change,
            wall_seconds: 0.0,
            dual_bound: bound.as_ref().map(|b| b.dual),
            gap: bound.as_ref().map(|b| objective.loss - b.dual),
            certificate: bound.map(|b| if b.exact { "exact" } else { "estimated" }.to_string()),
            excess: optimum.map(|l| objective.loss - l),
            entropy: free.map(|(_, (h, _, _))| h),
            free_energy: free.map(|(tau, (h, _, _))| objective.loss - tau * h),
            dual_free_energy: free.map(|(_, (_, dual, _))| dual),
            gap_free_energy: free.map(|(tau, (h, dual, _))| objective.loss - tau * h - dual),
            certificate_free_energy: free.map(|(_, (_, _, c))| c.as_str().to_string()),
        };
        Ok((metrics, certify_seconds))
    }
}
