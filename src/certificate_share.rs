//! Keeping the certificate a bounded share of a run. The dual bound's sphere maximum (docs/math.md,
//! section Dual bound) costs, at each certified step, work that does not shrink with the cloud: at
//! small m and large d it can cost far more than the steps between two certificates. Before a run the
//! work of both is predicted from the shapes alone (so the certified steps, like everything else, do
//! not depend on timing or threads), and when the certificate would take more than [`SHARE`] of the
//! stepping time, certified steps are spaced out: the interval is doubled until it would not (the
//! first and the last step stay certified).
//!
//! Predicted seconds: a certificate does [`exact_cost`] units (exact search) at
//! [`EXACT_UNITS_PER_SECOND`] or [`estimate_cost`] units (estimate) at
//! [`ESTIMATE_UNITS_PER_SECOND`]; a step does 4 m n d floating point operations (predictions and
//! velocities, 2 m n d each) at [`STEP_FLOPS_PER_SECOND`]. The rates were measured on one machine
//! (a 2-core Xeon, the estimate and the steps in a run of n = 5, m = 50, d = 5000: 0.14 s per
//! certificate, 4.5 ms per step); only their ratios matter.
//!
//! The interval is lowered only when `run.certify_every` is left at its default, every logged
//! step (`run.certify_every = run.log_every`), and only when the run's certificates at that
//! interval are predicted to take more than [`NEGLIGIBLE_SECONDS`] in all (a short run keeps every
//! certificate); any other interval is kept.

use crate::certify::{estimate_cost, exact_cost, SphereMethod, EXACT_BUDGET};

/// The certificate takes at most this share of the stepping time, when its interval is automatic.
pub const SHARE: f64 = 0.25;
/// Below this many predicted seconds for all the certificates of a run, the interval is kept.
pub const NEGLIGIBLE_SECONDS: f64 = 0.5;
/// Work units of the exact sphere maximum per second ([`EXACT_BUDGET`] is about a second).
pub const EXACT_UNITS_PER_SECOND: f64 = 1e8;
/// Work units of the estimated sphere maximum per second (its ascents mostly stop early).
pub const ESTIMATE_UNITS_PER_SECOND: f64 = 6.6e8;
/// Floating point operations of a step per second (kernels and the step's other work).
pub const STEP_FLOPS_PER_SECOND: f64 = 1.1e9;

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

/// The plan for a run of `steps` steps certifying every `asked` steps (chosen by the scenario
/// when `explicit`; such an interval is kept whatever it costs) with `method`, for m
/// particles, n training samples (`batch` per step, if set) in dimension d.
pub fn plan(
    asked: u64,
    explicit: bool,
    steps: u64,
    method: SphereMethod,
    (m, n, d, batch): (usize, usize, usize, Option<usize>),
) -> CertifyPlan {
    let exact_work = exact_cost(n, d);
    let exact_seconds = exact_work / EXACT_UNITS_PER_SECOND;
    let estimate_seconds = estimate_cost(n, d) / ESTIMATE_UNITS_PER_SECOND;
    let certificate_seconds = match method {
        SphereMethod::Exact => exact_seconds,
        SphereMethod::Estimate => estimate_seconds,
        SphereMethod::Auto if exact_work <= EXACT_BUDGET => exact_seconds,
        SphereMethod::Auto => estimate_seconds,
    };
    let step_seconds = 4.0 * m as f64 * batch.unwrap_or(n).min(n) as f64 * d as f64 / STEP_FLOPS_PER_SECOND;
    let mut every = asked;
    let share = |every: u64| certificate_seconds / (certificate_seconds + every as f64 * step_seconds);
    // Certified steps at the asked interval: 0, asked, 2 asked, ... and the last.
    let certified = steps / asked.max(1) + 1 + u64::from(!steps.is_multiple_of(asked.max(1)));
    let total_seconds = certified as f64 * certificate_seconds;
    if !explicit && asked > 0 && total_seconds > NEGLIGIBLE_SECONDS {
        while share(every) > SHARE && every < steps {
            every = every.saturating_mul(2);
        }
    }
    let lowered = (every != asked).then(|| {
        let cost = format!(
            "one certificate is predicted to take {certificate_seconds:.3} s against {step_seconds:.2e} s per step"
        );
        let (percent, limit) = (100.0 * share(every), 100.0 * SHARE);
        if share(every) <= SHARE {
            format!(
                "{cost}: certifying every {every} steps rather than every {asked} keeps it below {limit:.0}% of the \
                 run (predicted {percent:.0}%); set run.certify_every to choose another interval"
            )
        } else {
            format!(
                "{cost}: certifying only the first and the last step (every {every} steps rather than every {asked}), \
                 still a predicted {percent:.0}% of the run; set run.certify_every to choose another interval"
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
        // n = 5, m = 50, d = 5000 (the estimate): 5 * 5000 * 3712 units at 6.6e8 per second = 0.1406 s
        // against 5e6 / 1.1e9 = 4.55e-3 s per step: the interval doubles from 20 until
        // 0.1406 / (0.1406 + every * 4.55e-3) <= 1/4, every = 160 (80: 0.279).
        let costly = plan(20, false, 100000, SphereMethod::Auto, (50, 5, 5000, None));
        assert_eq!(costly.every, 160);
        assert!((costly.certificate_seconds - 9.28e7 / 6.6e8).abs() < 1e-12, "{costly:?}");
        let share =
            |every: f64| costly.certificate_seconds / (costly.certificate_seconds + every * costly.step_seconds);
        assert!(share(160.0) <= SHARE && share(80.0) > SHARE);
        assert_eq!(
            costly.lowered.unwrap(),
            "one certificate is predicted to take 0.141 s against 4.55e-3 s per step: certifying every 160 steps \
             rather than every 20 keeps it below 25% of the run (predicted 16%); set run.certify_every to choose \
             another interval"
        );
        // Never beyond the run: the first and last steps stay certified.
        let short = plan(20, false, 50, SphereMethod::Auto, (50, 5, 5000, None));
        assert_eq!(short.every, 80);
        assert!(short.lowered.unwrap().contains(
            "certifying only the first and the last step (every 80 steps rather than every 20), still a predicted 28%"
        ));
        // A run whose certificates take under NEGLIGIBLE_SECONDS in all keeps them: 3 certificates
        // of 0.141 s (steps 0, 20, 40) are 0.42 s.
        let brief = plan(20, false, 40, SphereMethod::Auto, (50, 5, 5000, None));
        assert_eq!((brief.every, brief.lowered), (20, None));
        // An explicit interval is kept.
        assert_eq!(plan(20, true, 100000, SphereMethod::Auto, (50, 5, 5000, None)).every, 20);
        assert_eq!(plan(0, false, 100, SphereMethod::Auto, (50, 5, 5000, None)).every, 0);
    }
}
