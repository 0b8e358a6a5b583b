//! Inputs that overflow before the first step: the initial predictions F_i = (1/m) sum_j w_j
//! relu(u_j . x_i), the penalty lambda * integral |theta|^2 d rho and the data fit are checked
//! once the data and the initial cloud exist, and a value that is not finite (or a prediction
//! already beyond the divergence threshold) is reported as an input error naming the scenario
//! field that caused it (docs/math.md, section Objective), never as a diverged step.

use crate::config::{DataSource, InitSource, ValidScenario};
use crate::data::Dataset;
use crate::error::{short, Error, Result};
use crate::linalg::Real;
use crate::model::{Cloud, Init};

/// Predictions beyond this size in absolute value are an explosion (as during a run).
pub const EXPLODING: f64 = 1e8;

/// A number to 4 significant digits, trailing zeros removed: `0.9831`, `1.235e-7` (as on plot ticks).
pub fn short_sig(x: f64) -> String {
    crate::plot::format_number(x)
}

/// The scenario field that sets the scale of the initial cloud, with its value.
fn cloud_field(scenario: &ValidScenario) -> (String, String) {
    match &scenario.init {
        InitSource::Sampled { init: Init::Gaussian { s_w, s_u }, .. } => {
            let init = &scenario.scenario.model.init;
            let (field, value) = if s_w >= s_u { ("s_w", init.s_w) } else { ("s_u", init.s_u) };
            (format!("model.init.{field}"), short(value.unwrap_or(s_w.max(*s_u))))
        }
        InitSource::Sampled { init: Init::Sphere { radius }, .. } => {
            ("model.init.radius".into(), short(scenario.scenario.model.init.radius.unwrap_or(*radius)))
        }
        InitSource::Dead { radius, .. } => ("model.init.radius".into(), short(*radius)),
        InitSource::File { path, .. } => ("model.init.file".into(), format!("{:?}", path.display().to_string())),
    }
}

/// The scenario field that names the training data, with its value (`None` for generated data).
fn data_field(scenario: &ValidScenario) -> Option<(String, String)> {
    match &scenario.data {
        DataSource::Csv { path, .. } => Some(("data.path".into(), format!("{:?}", path.display().to_string()))),
        DataSource::Synthetic { .. } => None,
    }
}

fn input_error(scenario: &ValidScenario, (field, value): (String, String), allowed: String) -> Error {
    Error::ScenarioValue { file: scenario.source.clone(), field, value, allowed }
}

/// Checks the initial state of a run of `scenario` on `train`: the particles' squared norms, the
/// penalty lambda * integral |theta|^2 d rho, the predictions `predictions` (F_i on `train`) and
/// the data fit must be finite, and |F_i| at most [`EXPLODING`]. `cloud` may be one process's
/// shard; its penalty is then the shard's, which overflows whenever the whole cloud's does.
pub fn check_initial<F: Real>(
    scenario: &ValidScenario,
    train: &Dataset,
    cloud: &Cloud<F>,
    predictions: &[f64],
) -> Result<()> {
    let m = cloud.theta.nrows().max(1) as f64;
    let squares: Vec<f64> =
        cloud.theta.outer_iter().map(|row| row.iter().map(|v| v.f64() * v.f64()).sum::<f64>()).collect();
    let largest = squares.iter().copied().fold(0.0, f64::max);
    let second_moment = squares.iter().map(|s| s / m).sum::<f64>();
    if !(largest.is_finite() && second_moment.is_finite()) {
        let overflow = if largest.is_finite() { "integral |theta|^2 d rho" } else { "a particle's |theta|^2" };
        return Err(input_error(
            scenario,
            cloud_field(scenario),
            format!(
                "the initial cloud is too large: {overflow} overflows ({} precision); use particles of norm below 1e100",
                F::NAME
            ),
        ));
    }
    let lambda = scenario.scenario.lambda;
    if !(lambda * second_moment).is_finite() {
        return Err(input_error(
            scenario,
            ("lambda".into(), short(lambda)),
            format!(
                "the penalty lambda * integral |theta|^2 d rho = {} * {} overflows; use a lambda below 1e100",
                short(lambda),
                short_sig(second_moment)
            ),
        ));
    }
    let worst = predictions.iter().copied().find(|f| !f.is_finite() || f.abs() > EXPLODING);
    if let Some(f) = worst {
        // Which side is out of scale: the inputs or the particles (both are O(1) normally).
        let inputs = train.x.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        let particles = largest.sqrt();
        let (field, what) = match data_field(scenario) {
            Some(field) if inputs >= particles => (field, format!("inputs as large as {}", short(inputs))),
            _ => (cloud_field(scenario), format!("particles of norm up to {}", short(particles))),
        };
        return Err(input_error(
            scenario,
            field,
            format!(
                "{what} give an initial prediction F = {}; rescale them so that the predictions start of order 1",
                if f.is_finite() {
                    format!("{} (beyond {})", short_sig(f), short(EXPLODING))
                } else {
                    format!("{f} (an overflow)")
                }
            ),
        ));
    }
    let data_fit = scenario.scenario.loss.risk(train.y.as_slice().expect("labels are contiguous"), predictions);
    if !data_fit.is_finite() {
        let labels = train.y.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        let field = data_field(scenario).unwrap_or_else(|| ("loss".into(), format!("{:?}", scenario.scenario.loss)));
        return Err(input_error(
            scenario,
            field,
            format!("labels as large as {} make the initial data fit R(F) overflow; rescale the labels", short(labels)),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::short;

    #[test]
    fn numbers_are_short() {
        assert_eq!(short(1e308), "1e308");
        assert_eq!(short(0.5), "0.5");
        assert_eq!(short(2.5e-7), "2.5e-7");
        assert_eq!(short(123456.0), "123456");
        assert_eq!(short(-3e6), "-3e6");
        assert_eq!(short(f64::INFINITY), "inf");
        assert_eq!(short(0.0), "0");
        assert_eq!(super::short_sig(0.98312345), "0.9831");
        assert_eq!(super::short_sig(1.23456e-7), "1.235e-7");
        assert_eq!(super::short_sig(0.125), "0.125");
        assert_eq!(super::short_sig(219.4), "219.4");
    }
}
