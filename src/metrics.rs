//! The quantities logged at every logged step, one row of `metrics.csv` each.

use serde::{Deserialize, Serialize};

/// One logged step. Columns that do not apply (errors and margins under the squared loss, test
/// columns without test data) are `None` and written as empty cells.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Steps taken.
    pub step: u64,
    /// Time t = sum of step sizes.
    pub time: f64,
    /// L[rho] = data_fit + penalty.
    pub loss: f64,
    /// R(F) = (1/n) sum_i l(y_i, F_i) on the training data.
    pub data_fit: f64,
    /// lambda * second_moment.
    pub penalty: f64,
    /// Fraction of training samples with y_i F_i <= 0.
    pub train_error: Option<f64>,
    /// Fraction of test samples with y_i F_i <= 0.
    pub test_error: Option<f64>,
    /// The unregularised training loss R(F) (equal to `data_fit`).
    pub train_loss: f64,
    /// The unregularised test loss.
    pub test_loss: Option<f64>,
    /// Normalised margin gamma = min_i y_i F_i / integral |theta|^2 d rho.
    pub margin: Option<f64>,
    /// integral |theta|^2 d rho = (1/m) sum_j (w_j^2 + |u_j|^2).
    pub second_moment: f64,
    /// Fraction of (particle, training sample) pairs whose activation differs from the initial cloud's.
    pub pattern_change: f64,
    /// Seconds since the run (or its resumption) started.
    pub wall_seconds: f64,
    /// The dual lower bound D <= L* (docs/math.md, section Dual bound), at certified steps.
    pub dual_bound: Option<f64>,
    /// The optimality gap G = L - D >= L - L*.
    pub gap: Option<f64>,
    /// `exact` when the sphere maximum behind D was computed exactly (G is a certificate),
    /// `estimated` otherwise.
    pub certificate: Option<String>,
    /// L - L* when the exact optimum is known (`reference = true`).
    pub excess: Option<f64>,
}

impl Metrics {
    /// The column names of `metrics.csv`, in order.
    pub const COLUMNS: [&'static str; 17] = [
        "step",
        "time",
        "loss",
        "data_fit",
        "penalty",
        "train_error",
        "test_error",
        "train_loss",
        "test_loss",
        "margin",
        "second_moment",
        "pattern_change",
        "wall_seconds",
        "dual_bound",
        "gap",
        "certificate",
        "excess",
    ];

    /// Reads the rows of a `metrics.csv` file.
    pub fn read_csv(path: &std::path::Path) -> crate::Result<Vec<Metrics>> {
        let mut reader = csv::Reader::from_path(path).map_err(|e| crate::Error::data(path, "open", e.to_string()))?;
        reader
            .deserialize()
            .enumerate()
            .map(|(k, row)| row.map_err(|e| crate::Error::data(path, k + 2, e.to_string())))
            .collect()
    }

    /// The rows as csv text with a header (shortest round-trip formatting of every number).
    pub fn to_csv(rows: &[Metrics]) -> crate::Result<Vec<u8>> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        if rows.is_empty() {
            writer.write_record(Self::COLUMNS).map_err(|e| crate::Error::Invalid(e.to_string()))?;
        }
        for row in rows {
            writer.serialize(row).map_err(|e| crate::Error::Invalid(e.to_string()))?;
        }
        writer.into_inner().map_err(|e| crate::Error::Invalid(e.to_string()))
    }
}
