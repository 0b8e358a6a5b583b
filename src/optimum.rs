//! The exact optimum L* of a labelled data set as `meanfield optimum` and the Python module report
//! it: the data prepared as the command line prepares them, the solve timed, and one JSON object
//! (the convex program of docs/math.md, section Convex program, solved by [`crate::convex::solve`]).

use std::time::Instant;

use serde::Serialize;

use crate::convex::{self, Optimum, OptimumOptions};
use crate::data::Dataset;
use crate::error::Result;
use crate::loss::Loss;

/// The JSON object of `meanfield optimum --json`. Fields are in alphabetical order, as printed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OptimumReport {
    /// Input dimension (with the bias coordinate, if any).
    pub d: usize,
    /// The dual bound D <= L* at the solution.
    pub dual: f64,
    /// Whether every activation pattern was used or column generation closed the gap.
    pub exact: bool,
    /// value - dual.
    pub gap: f64,
    /// Weight decay lambda.
    pub lambda: f64,
    /// `logistic` or `squared`.
    pub loss: String,
    /// Training samples.
    pub n: usize,
    /// Nonzero neurons of the recovered network.
    pub neurons: usize,
    /// Activation patterns in the final program.
    pub patterns: usize,
    /// Wall-clock seconds of the solve.
    pub seconds: f64,
    /// `exact` or `sampled`.
    pub status: String,
    /// L*: the primal value L\[rho\] of the recovered cloud (an upper bound on L* when not exact).
    pub value: f64,
}

/// Data given as inputs and labels, checked for `loss` (labels -1/+1 for the logistic loss; `source`
/// names the data in messages) and with a constant coordinate 1 appended when `bias` is set.
pub fn prepare(data: Dataset, loss: Loss, bias: bool, source: &str) -> Result<Dataset> {
    data.check_labels(loss, source)?;
    Ok(if bias { data.with_bias() } else { data })
}

/// Solves for the exact optimum of `data` (default [`OptimumOptions`] with `seed`) and reports it.
pub fn solve(data: &Dataset, loss: Loss, lambda: f64, seed: u64) -> Result<(Optimum, OptimumReport)> {
    let started = Instant::now();
    let options = OptimumOptions { seed, ..OptimumOptions::default() };
    let optimum = convex::solve(data, loss, lambda, &options)?;
    let report = OptimumReport {
        d: data.d(),
        dual: optimum.dual,
        exact: optimum.exact,
        gap: optimum.gap,
        lambda,
        loss: loss.name().to_string(),
        n: data.n(),
        neurons: optimum.neurons,
        patterns: optimum.patterns,
        seconds: started.elapsed().as_secs_f64(),
        status: if optimum.exact { "exact" } else { "sampled" }.to_string(),
        value: optimum.value,
    };
    Ok((optimum, report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array1};

    #[test]
    fn the_report_names_the_solution_and_prints_its_keys_in_order() {
        // XOR on the four corners of the square, with a bias: its optimum is found exactly.
        let x = array![[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]];
        let y: Array1<f64> = array![1.0, -1.0, -1.0, 1.0];
        let data = prepare(Dataset::new(x, y).unwrap(), Loss::Logistic, true, "xor").unwrap();
        assert_eq!(data.d(), 3);
        let (optimum, report) = solve(&data, Loss::Logistic, 0.01, 0).unwrap();
        assert_eq!((report.value, report.dual, report.patterns), (optimum.value, optimum.dual, optimum.patterns));
        assert!(report.exact && report.status == "exact" && report.gap.abs() < 1e-6, "{report:?}");
        let json = serde_json::to_string(&report).unwrap();
        let keys: Vec<&str> =
            json.split(",\"").map(|p| p.trim_start_matches("{\"").split('"').next().unwrap()).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(keys, sorted);
    }

    #[test]
    fn labels_other_than_plus_minus_one_are_refused_for_the_logistic_loss() {
        let data = Dataset::new(array![[1.0, 0.0], [0.0, 1.0]], array![1.0, 0.5]).unwrap();
        let err = prepare(data, Loss::Logistic, false, "y").unwrap_err();
        assert_eq!(err.to_string(), "y: sample 2: label 0.5 is not -1 or +1, as the logistic loss requires");
    }
}
