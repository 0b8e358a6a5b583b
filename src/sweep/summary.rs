//! The parts of a run's `summary.json` that `sweep.csv` and the sweep's figures report.

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::metrics::{self, Metrics, Value};

/// The parts of `summary.json` that `sweep.csv` reports.
#[derive(Clone, Debug, Deserialize)]
pub(super) struct SummaryRow {
    #[serde(rename = "final")]
    last: Metrics,
    time_to_gap: Option<f64>,
    timings: SummaryTimings,
}

/// `timings` in `summary.json`.
#[derive(Clone, Debug, Deserialize)]
struct SummaryTimings {
    total_seconds: f64,
}

impl SummaryRow {
    pub(super) fn read(path: &Path) -> Result<SummaryRow> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| Error::data(path, e.line(), e.to_string()))
    }

    /// The numeric value of a metric column: a run column of [`RUN_COLUMNS`](super::RUN_COLUMNS), or the final row's value of
    /// a column of the metrics table ([`metrics::column`]); `None` for labels and where it does not apply.
    pub(super) fn metric(&self, name: &str) -> Option<f64> {
        match name {
            "time_to_gap" => self.time_to_gap,
            "wall_seconds" => Some(self.timings.total_seconds),
            _ => metrics::column(name)?.number(&self.last),
        }
    }

    /// The `sweep.csv` cell of a metric column.
    pub(super) fn cell(&self, name: &str) -> String {
        match metrics::column(name).map(|c| (c.get)(&self.last)) {
            Some(Value::Text(label)) => label.unwrap_or_default().to_string(),
            _ => self.metric(name).map(|x| format!("{x:?}")).unwrap_or_default(),
        }
    }
}
