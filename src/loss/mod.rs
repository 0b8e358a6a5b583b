//! Losses l(y, z) of a prediction z against a label y (docs/math.md, section Data and losses), their derivatives in z
//! and their convex conjugates (docs/math.md, section Dual bound).
//!
//! One file per loss: a unit type implementing [`LossFunction`] (its formulas, whether its labels
//! are classes, and how the exact convex program writes it, [`Conic`]), listed once in `register!`
//! below. The scenario key `loss`, the command line's `--loss`, Python's `loss=` and every `match`
//! follow from the registration through the [`Loss`] enum it declares.

use serde::{Deserialize, Serialize};

/// How the exact convex program (docs/math.md, section Convex program) writes a loss term
/// c l(y, z): the forms the program builder knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conic {
    /// c (z - y)^2 / 2: a quadratic objective term.
    Quadratic,
    /// c log(1 + exp(-y z)): an epigraph variable t and two exponential cones,
    /// exp(-t) + exp(-y z - t) <= 1.
    Softplus,
}

/// A per-sample loss: its formulas and what the rest of the crate needs to know about it.
pub trait LossFunction {
    /// Whether labels are classes in {-1, +1} (errors and margins apply).
    fn classification(&self) -> bool;
    /// l(y, z).
    fn value(&self, y: f64, z: f64) -> f64;
    /// l'(y, z) = d l / d z.
    fn derivative(&self, y: f64, z: f64) -> f64;
    /// l''(y, z) = d^2 l / d z^2 (Newton's method of the convex solver's polishing).
    fn second_derivative(&self, y: f64, z: f64) -> f64;
    /// The convex conjugate l*(y, s) = sup_z s z - l(y, z).
    fn conjugate(&self, y: f64, s: f64) -> f64;
    /// How the exact convex program writes the loss.
    fn conic(&self) -> Conic;
}

/// Declares the loss modules and [`Loss`], one variant per loss (the first is the default), with
/// its name in scenarios and outputs.
macro_rules! register {
    ($($module:ident :: $loss:ident = $name:literal),* $(,)?) => {
        $(pub mod $module;)*

        /// The per-sample loss: one variant per registered loss, named in scenario files and
        /// outputs by its lowercase name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum Loss {
            $(
                #[doc = concat!("`", $name, "`: see [`", stringify!($module), "::", stringify!($loss), "`].")]
                #[serde(rename = $name)]
                $loss,
            )*
        }

        impl Loss {
            /// Every registered loss, in registration order.
            pub const ALL: &'static [Loss] = &[$(Loss::$loss),*];

            /// The name used in scenario files and outputs.
            pub fn name(self) -> &'static str {
                match self {
                    $(Loss::$loss => $name,)*
                }
            }

            /// Whether labels are classes in {-1, +1} (errors and margins apply).
            pub fn is_classification(self) -> bool {
                match self {
                    $(Loss::$loss => $module::$loss.classification(),)*
                }
            }

            /// l(y, z) (see each loss's file).
            pub fn value(self, y: f64, z: f64) -> f64 {
                match self {
                    $(Loss::$loss => $module::$loss.value(y, z),)*
                }
            }

            /// l'(y, z) = d l / d z.
            pub fn derivative(self, y: f64, z: f64) -> f64 {
                match self {
                    $(Loss::$loss => $module::$loss.derivative(y, z),)*
                }
            }

            /// l''(y, z) = d^2 l / d z^2.
            pub fn second_derivative(self, y: f64, z: f64) -> f64 {
                match self {
                    $(Loss::$loss => $module::$loss.second_derivative(y, z),)*
                }
            }

            /// The convex conjugate l*(y, s) = sup_z s z - l(y, z) (docs/math.md, section Dual bound).
            pub fn conjugate(self, y: f64, s: f64) -> f64 {
                match self {
                    $(Loss::$loss => $module::$loss.conjugate(y, s),)*
                }
            }

            /// How the exact convex program writes the loss.
            pub fn conic(self) -> Conic {
                match self {
                    $(Loss::$loss => $module::$loss.conic(),)*
                }
            }
        }
    };
}

// The registration: one entry per loss file; the first is the default.
register!(logistic::Logistic = "logistic", squared::Squared = "squared");

impl Default for Loss {
    /// The first registered loss (`logistic`).
    fn default() -> Self {
        Loss::ALL[0]
    }
}

/// `--loss` of `meanfield optimum`: the registered names, listed without per-value help.
impl clap::ValueEnum for Loss {
    fn value_variants<'a>() -> &'a [Self] {
        Loss::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.name()))
    }
}

/// softplus(t) = log(1 + exp(t)), exact to rounding for every finite t.
pub fn softplus(t: f64) -> f64 {
    t.max(0.0) + (-t.abs()).exp().ln_1p()
}

/// The logistic function 1 / (1 + exp(-t)), without overflow.
pub fn sigmoid(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + (-t).exp())
    } else {
        let e = t.exp();
        e / (1.0 + e)
    }
}

impl Loss {
    /// The data-fit term R(F) = (1/n) sum_i l(y_i, F_i).
    pub fn risk(self, y: &[f64], f: &[f64]) -> f64 {
        assert_eq!(y.len(), f.len(), "labels and predictions differ in length");
        y.iter().zip(f).map(|(&y, &z)| self.value(y, z)).sum::<f64>() / y.len() as f64
    }

    /// The gradient of R at F: r_i = l'(y_i, F_i) / n.
    pub fn risk_gradient(self, y: &[f64], f: &[f64]) -> Vec<f64> {
        assert_eq!(y.len(), f.len(), "labels and predictions differ in length");
        let n = y.len() as f64;
        y.iter().zip(f).map(|(&y, &z)| self.derivative(y, z) / n).collect()
    }

    /// R*(beta) = (1/n) sum_i l*(y_i, n beta_i), the conjugate of R.
    pub fn risk_conjugate(self, y: &[f64], beta: &[f64]) -> f64 {
        assert_eq!(y.len(), beta.len(), "labels and dual variables differ in length");
        let n = y.len() as f64;
        y.iter().zip(beta).map(|(&y, &b)| self.conjugate(y, n * b)).sum::<f64>() / n
    }
}

/// x log x with 0 log 0 = 0.
fn xlogx(x: f64) -> f64 {
    if x > 0.0 {
        x * x.ln()
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logistic_is_stable_for_large_margins() {
        let l = Loss::Logistic;
        assert_eq!(l.value(1.0, 1000.0), 0.0);
        assert_eq!(l.value(1.0, -1000.0), 1000.0);
        assert!((l.value(-1.0, 800.0) - 800.0).abs() < 1e-12);
        assert!((l.value(1.0, 0.0) - std::f64::consts::LN_2).abs() < 1e-15);
        assert!((l.value(1.0, 40.0) - (-40.0f64).exp()).abs() < 1e-30);
        assert_eq!(l.derivative(1.0, -1000.0), -1.0);
        assert_eq!(l.derivative(-1.0, -1000.0), 0.0);
        assert_eq!(l.derivative(1.0, 0.0), -0.5);
    }

    /// l' and l'' against central differences of l and l'.
    #[test]
    fn derivatives_match_central_differences() {
        for &loss in Loss::ALL {
            for &(y, z) in &[(1.0, 0.3), (-1.0, 2.0), (1.0, -4.0), (-1.0, -0.7)] {
                let h = 1e-6;
                let central = |f: &dyn Fn(f64) -> f64| (f(z + h) - f(z - h)) / (2.0 * h);
                let first = central(&|z| loss.value(y, z));
                let second = central(&|z| loss.derivative(y, z));
                assert!((first - loss.derivative(y, z)).abs() < 1e-8, "l' of {loss:?} y={y} z={z}");
                assert!((second - loss.second_derivative(y, z)).abs() < 1e-8, "l'' of {loss:?} y={y} z={z}");
            }
        }
    }

    /// The registration: names, the default, which losses classify and how the program writes them.
    #[test]
    fn the_registry_declares_names_default_and_forms() {
        let names: Vec<&str> = Loss::ALL.iter().map(|l| l.name()).collect();
        assert_eq!(names, ["logistic", "squared"]);
        assert_eq!(Loss::default(), Loss::Logistic);
        assert_eq!(Loss::ALL.iter().map(|l| l.is_classification()).collect::<Vec<_>>(), [true, false]);
        assert_eq!(Loss::Logistic.conic(), Conic::Softplus);
        assert_eq!(Loss::Squared.conic(), Conic::Quadratic);
        for &loss in Loss::ALL {
            assert_eq!(serde_json::to_string(&loss).unwrap(), format!("\"{}\"", loss.name()));
        }
    }

    /// l*(s) = sup_z s z - l(y, z), checked by a dense grid search over z.
    #[test]
    fn conjugates_match_numerical_maximisation() {
        for loss in [Loss::Logistic, Loss::Squared] {
            for &(y, s) in &[(1.0, -0.3), (-1.0, 0.6), (1.0, -0.9), (-1.0, 0.05)] {
                let direct = (-200_000..=200_000)
                    .map(|k| {
                        let z = k as f64 * 1e-4;
                        s * z - loss.value(y, z)
                    })
                    .fold(f64::NEG_INFINITY, f64::max);
                let closed = loss.conjugate(y, s);
                assert!((direct - closed).abs() < 1e-7, "{loss:?} y={y} s={s}: {direct} vs {closed}");
            }
        }
        assert_eq!(Loss::Logistic.conjugate(1.0, 0.5), f64::INFINITY);
    }

    /// Fenchel-Young: l(y, z) + l*(y, l'(y, z)) = z l'(y, z).
    #[test]
    fn fenchel_young_holds_with_equality_at_the_derivative() {
        for loss in [Loss::Logistic, Loss::Squared] {
            for &(y, z) in &[(1.0, 0.3), (-1.0, 2.0), (1.0, -4.0)] {
                let s = loss.derivative(y, z);
                let lhs = loss.value(y, z) + loss.conjugate(y, s);
                assert!((lhs - z * s).abs() < 1e-12);
            }
        }
    }

    /// The command line's names (`--loss`, `--dtype`) are the scenario file's (serde) names, for every variant.
    #[test]
    fn command_line_names_are_the_scenario_names() {
        use clap::ValueEnum;
        for loss in Loss::value_variants() {
            let name = loss.to_possible_value().unwrap().get_name().to_string();
            assert_eq!(serde_json::to_string(loss).unwrap(), format!("\"{name}\""));
        }
        for precision in crate::config::Precision::value_variants() {
            let name = precision.to_possible_value().unwrap().get_name().to_string();
            assert_eq!(serde_json::to_string(precision).unwrap(), format!("\"{name}\""));
        }
    }
}
