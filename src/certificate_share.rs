//! Keeping the certificate a bounded share of a run. The dual bound's sphere maximum (docs/math.md,
//! section Dual bound) costs, at each certified step, work that does not shrink with the cloud: at
//! small m and large d it can cost far more than the steps between two certificates. Before a run the
//! work of both is predicted from the shapes alone (so the certified steps, like everything else, do
//! not depend on timing or threads), and when the certificate would take more than [`SHARE`] of the
//! stepping time, certified steps are spaced out: the interval is doubled until it would not (the
//! first and the last step stay certified).
//!
//! Predicted seconds: a certificate does [`exact_cost`] units (exact search) or [`estimate_cost`]
//! units (estimate) at [`CERTIFY_UNITS_PER_SECOND`]; a step does 4 m n d floating point operations
//! (predictions and velocities, 2 m n d each) at [`STEP_FLOPS_PER_SECOND`]. Both rates are
//! measured on one machine; only their ratio matters.

use crate::certify::{estimate_cost, exact_cost, SphereMethod, EXACT_BUDGET};

/// The certificate takes at most this share of the stepping time, when its interval is automatic.
pub const SHARE: f64 = 0.25;
/// Work units of the certificate per second (scalar loops over the data).
pub const CERTIFY_UNITS_PER_SECOND: f64 = 1e8;
/// Floating point operations of the step kernels per second (blocked GEMMs and SIMD kernels).
pub const STEP_FLOPS_PER_SECOND: f64 = 4e9;

/// The certificate interval of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct CertifyPlan {
    /// Certify at logged steps that are multiples of this (and the last); 0 never.
    pub every: u64,
    /// The interval asked for (`run.certify_every`, by default `run.log_every`).
    pub asked: u64,
    /// Predicted seconds of one certificate.
    pub certificate_seconds: f64,
    /// Predicted seconds of one step.
    pub step_seconds: f64,
    /// Why `every` differs from `asked`, if it does.
    pub lowered: Option<String>,
}

/// The plan for a run of `steps` steps certifying every `asked` steps (explicitly given by the
/// scenario when `explicit`; an explicit interval is kept whatever it costs) with `method`, for m
/// particles, n training samples (`batch` per step, if set) in dimension d.
pub fn plan(
    asked: u64,
    explicit: bool,
    steps: u64,
    method: SphereMethod,
    (m, n, d, batch): (usize, usize, usize, Option<usize>),
) -> CertifyPlan {
    let exact_work = exact_cost(n, d);
    let work = match method {
        SphereMethod::Exact => exact_work,
        SphereMethod::Estimate => estimate_cost(n, d),
        SphereMethod::Auto if exact_work <= EXACT_BUDGET => exact_work,
        SphereMethod::Auto => estimate_cost(n, d),
    };
    let certificate_seconds = work / CERTIFY_UNITS_PER_SECOND;
    let step_seconds = 4.0 * m as f64 * batch.unwrap_or(n).min(n) as f64 * d as f64 / STEP_FLOPS_PER_SECOND;
    let mut every = asked;
    let share = |every: u64| certificate_seconds / (certificate_seconds + every as f64 * step_seconds);
    if !explicit && asked > 0 {
        while share(every) > SHARE && every < steps {
            every = every.saturating_mul(2);
        }
    }
    let lowered = (every != asked).then(|| {
        let cost = format!("one certificate is predicted to take {certificate_seconds:.3} s against {step_seconds:.2e} s per step");
        let (percent, limit) = (100.0 * share(every), 100.0 * SHARE);
        if share(every) <= SHARE {
            format!(
                "{cost}: certifying every {every} steps rather than every {asked} keeps it below {limit:.0}% of the \
                 run (predicted {percent:.0}%); set run.certify_every to choose"
            )
        } else {
            format!(
                "{cost}: certifying only the first and the last step (every {every} steps rather than every {asked}), \
                 still a predicted {percent:.0}% of the run; set run.certify_every to choose"
            )
        }
    });
    CertifyPlan { every, asked, certificate_seconds, step_seconds, lowered }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_costly_certificate_is_spaced_out_and_a_cheap_or_explicit_one_is_not() {
        // The quickstart's shape: exact and cheap, every logged step certified.
        let quick = plan(20, false, 4000, SphereMethod::Auto, (2000, 20, 2, None));
        assert_eq!((quick.every, quick.lowered.is_none()), (20, true));
        // n = 5, m = 50, d = 5000 (the estimate): 5 * 5000 * 3712 units = 0.93 s against 1.25e-3 s per
        // step: the interval doubles from 20 until 0.93 / (0.93 + every * 1.25e-3) <= 1/4, every = 2560.
        let costly = plan(20, false, 100000, SphereMethod::Auto, (50, 5, 5000, None));
        assert_eq!(costly.every, 2560);
        assert!((costly.certificate_seconds - 0.928).abs() < 1e-12, "{costly:?}");
        let share = costly.certificate_seconds / (costly.certificate_seconds + 2560.0 * costly.step_seconds);
        assert!(share <= SHARE && costly.certificate_seconds / (costly.certificate_seconds + 1280.0 * costly.step_seconds) > SHARE);
        assert_eq!(
            costly.lowered.unwrap(),
            "one certificate is predicted to take 0.928 s against 1.25e-3 s per step: certifying every 2560 steps \
             rather than every 20 keeps it below 25% of the run (predicted 22%); set run.certify_every to choose"
        );
        // Never beyond the run: the first and last steps stay certified.
        assert_eq!(plan(20, false, 100, SphereMethod::Auto, (50, 5, 5000, None)).every, 160);
        // An explicit interval is kept.
        assert_eq!(plan(20, true, 100000, SphereMethod::Auto, (50, 5, 5000, None)).every, 20);
        assert_eq!(plan(0, false, 100, SphereMethod::Auto, (50, 5, 5000, None)).every, 0);
    }
}
