//! When a run stops: stopping rules on the logged metrics, with the step count as a cap.
//!
//! A [`StopRule`] (the scenario's `[run] stop = { rel_gap, rel_change, window }`) is evaluated at
//! every logged step t (docs/math.md, section Dual bound):
//! - `rel_gap`: stop when the relative optimality gap G / L = (L\[rho\] - D) / L\[rho\] <= rel_gap at a
//!   certified step (the gap is `estimated` where the sphere maximum is, and the rule inherits that);
//! - `rel_change`: stop when |L_t - L_s| <= rel_change * |L_t|, where s is the latest logged step
//!   with s <= t - window (no test before a logged step at least `window` steps back exists).
//!
//! The first rule that holds ends the run at that step ([`StopReason`]); when none does, the run
//! ends at the step cap `steps` ([`StopReason::Cap`]). The rules read only the logged history,
//! so a resumed run stops where the uninterrupted one would have.

use serde::{Deserialize, Serialize};

use crate::config::Checker;
use crate::error::Result;
use crate::metrics::Metrics;

/// The stopping rules of a run (at least one of `rel_gap`, `rel_change`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopRule {
    /// Stop when G / L <= rel_gap at a certified logged step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rel_gap: Option<f64>,
    /// Stop when L changed by at most rel_change * |L| over the last `window` steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rel_change: Option<f64>,
    /// Steps over which `rel_change` is measured.
    #[serde(default = "default_window")]
    pub window: u64,
}

fn default_window() -> u64 {
    1000
}

/// The rule in words, as figures and reports print it: "G/L <= 0.001 or L changed by <= 1e-7 relative
/// over 1000 steps" (only the parts that are set).
impl std::fmt::Display for StopRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.rel_gap, self.rel_change) {
            (Some(gap), Some(change)) => {
                write!(f, "G/L <= {gap} or L changed by <= {change} relative over {} steps", self.window)
            }
            (Some(gap), None) => write!(f, "G/L <= {gap}"),
            (None, Some(change)) => {
                write!(f, "L changed by <= {change} relative over {} steps", self.window)
            }
            (None, None) => write!(f, "no rule"),
        }
    }
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The relative gap G / L fell to `rel_gap`.
    RelGap,
    /// L stopped changing (`rel_change` over `window` steps).
    RelChange,
    /// The step cap `steps` was reached first (or no rule was set).
    Cap,
}

impl StopReason {
    /// The name written in outputs: `rel_gap`, `rel_change` or `cap`.
    pub fn name(self) -> &'static str {
        match self {
            StopReason::RelGap => "rel_gap",
            StopReason::RelChange => "rel_change",
            StopReason::Cap => "cap",
        }
    }
}

/// G / L (0 when G <= 0; infinite when L = 0 < G).
pub fn relative_gap(loss: f64, gap: f64) -> f64 {
    if gap <= 0.0 {
        0.0
    } else {
        gap / loss.abs()
    }
}

impl StopRule {
    /// Checks the rule as the scenario field `field` (`run.stop`): both thresholds finite and > 0,
    /// `rel_gap` below 1, at least one of them, a window of at least one step, and `rel_gap` only
    /// when the run certifies (`certify_every` > 0).
    pub(crate) fn check(&self, v: &Checker, field: &str, certify_every: u64) -> Result<()> {
        if self.rel_gap.is_none() && self.rel_change.is_none() {
            return Err(v.field(field, "sets no rule; give rel_gap, rel_change or both"));
        }
        if let Some(g) = self.rel_gap {
            if !(g > 0.0 && g < 1.0) {
                return Err(v.value(format!("{field}.rel_gap"), g, "must be a number in (0, 1)"));
            }
            if certify_every == 0 {
                return Err(v.value(
                    format!("{field}.rel_gap"),
                    g,
                    "needs certified steps; remove it or set run.certify_every > 0",
                ));
            }
        }
        if let Some(c) = self.rel_change {
            if !(c > 0.0 && c.is_finite()) {
                return Err(v.value(format!("{field}.rel_change"), c, "must be a finite number > 0"));
            }
        }
        if self.window == 0 {
            return Err(v.value(format!("{field}.window"), 0, "must be at least 1"));
        }
        Ok(())
    }

    /// The `rel_change` rule at logged step `step` with loss `loss`, given the metrics logged
    /// before it (in step order).
    pub fn by_change(&self, history: &[Metrics], step: u64, loss: f64) -> Option<StopReason> {
        let tol = self.rel_change?;
        let back = step.checked_sub(self.window)?;
        let then = history.iter().rev().find(|m| m.step <= back)?;
        ((loss - then.loss).abs() <= tol * loss.abs()).then_some(StopReason::RelChange)
    }

    /// The `rel_gap` rule on the metrics of a logged step (nothing unless they are certified).
    pub fn by_gap(&self, metrics: &Metrics) -> Option<StopReason> {
        let tol = self.rel_gap?;
        let gap = metrics.gap?;
        (relative_gap(metrics.loss, gap) <= tol).then_some(StopReason::RelGap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logged(step: u64, loss: f64, gap: Option<f64>) -> Metrics {
        Metrics {
            step,
            time: step as f64,
            loss,
            data_fit: loss,
            train_loss: loss,
            second_moment: 1.0,
            dual_bound: gap.map(|g| loss - g),
            gap,
            certificate: gap.map(|_| "estimated".to_string()),
            ..Metrics::EMPTY
        }
    }

    #[test]
    fn relative_change_compares_with_the_step_a_window_back() {
        let rule = StopRule { rel_gap: None, rel_change: Some(1e-3), window: 100 };
        let history: Vec<Metrics> = (0..=5).map(|k| logged(50 * k, 1.0 - 0.01 * k as f64, None)).collect();
        // At step 300 the latest logged step <= 200 is 200 (L = 0.96): |0.9595 - 0.96| = 5e-4 <= 1e-3 * 0.9595.
        assert_eq!(rule.by_change(&history, 300, 0.9595), Some(StopReason::RelChange));
        // Change 2e-3 > 1e-3 * 0.958: no stop.
        assert_eq!(rule.by_change(&history, 300, 0.958), None);
        // Step 290: the comparison is with step 150 (L = 0.97).
        assert_eq!(rule.by_change(&history, 290, 0.9705), Some(StopReason::RelChange));
        assert_eq!(rule.by_change(&history, 290, 0.9595), None);
        // Before a whole window has passed there is nothing to compare with.
        assert_eq!(rule.by_change(&history, 99, 1.0), None);
        assert_eq!(rule.by_change(&history[..0], 300, 1.0), None);
        // Without the rule nothing fires.
        let gap_only = StopRule { rel_gap: Some(1e-3), rel_change: None, window: 100 };
        assert_eq!(gap_only.by_change(&history, 300, 0.98), None);
    }

    #[test]
    fn relative_gap_fires_only_on_certified_steps_below_the_threshold() {
        let rule = StopRule { rel_gap: Some(1e-3), rel_change: None, window: 1000 };
        assert_eq!(rule.by_gap(&logged(10, 0.05, Some(4.9e-5))), Some(StopReason::RelGap));
        assert_eq!(rule.by_gap(&logged(10, 0.05, Some(5.1e-5))), None);
        assert_eq!(rule.by_gap(&logged(10, 0.05, None)), None, "an uncertified step never stops");
        assert_eq!(rule.by_gap(&logged(10, 0.05, Some(-1e-12))), Some(StopReason::RelGap));
        let change_only = StopRule { rel_gap: None, rel_change: Some(1e-7), window: 1000 };
        assert_eq!(change_only.by_gap(&logged(10, 0.05, Some(0.0))), None);
        assert_eq!(relative_gap(0.0, 1e-9), f64::INFINITY);
        assert_eq!(relative_gap(0.5, 0.05), 0.1);
    }

    #[test]
    fn checks_name_the_field_and_the_rule() {
        let v = Checker { file: "s.toml" };
        let rule = |rel_gap, rel_change, window| StopRule { rel_gap, rel_change, window };
        let message = |r: StopRule, certify| r.check(&v, "run.stop", certify).unwrap_err().to_string();
        assert!(rule(Some(1e-3), Some(1e-7), 1000).check(&v, "run.stop", 10).is_ok());
        assert!(message(rule(None, None, 1000), 10).contains("run.stop"));
        assert!(message(rule(None, None, 1000), 10).contains("sets no rule"));
        assert!(message(rule(Some(1.5), None, 1000), 10).contains("run.stop.rel_gap"));
        assert!(message(rule(Some(1e-3), None, 1000), 0).contains("run.certify_every > 0"));
        assert!(message(rule(None, Some(-1.0), 1000), 10).contains("run.stop.rel_change"));
        assert!(message(rule(None, Some(1e-7), 0), 10).contains("run.stop.window"));
    }

    #[test]
    fn the_rule_reads_in_words() {
        let rule = |rel_gap, rel_change| StopRule { rel_gap, rel_change, window: 1000 };
        assert_eq!(
            rule(Some(1e-3), Some(1e-7)).to_string(),
            "G/L <= 0.001 or L changed by <= 0.0000001 relative over 1000 steps"
        );
        assert_eq!(rule(Some(1e-3), None).to_string(), "G/L <= 0.001");
        assert_eq!(rule(None, Some(0.5)).to_string(), "L changed by <= 0.5 relative over 1000 steps");
    }
}
