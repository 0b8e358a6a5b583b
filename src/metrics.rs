//! The quantities logged at every logged step, one row of `metrics.csv` each, and the table of the
//! columns ([`COLUMNS`]: name, meaning, when it applies, getter) from which `metrics.csv`, `sweep.csv`
//! and the README's column list follow.

use serde::{Deserialize, Serialize};

/// One logged step. Columns that do not apply (errors and margins under the squared loss, test
/// columns without test data) are `None` and written as empty cells.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Steps taken.
    pub step: u64,
    /// Time t = sum of step sizes.
    pub time: f64,
    /// L\[rho\] = data_fit + penalty.
    pub loss: f64,
    /// R(F) = (1/n) sum_i l(y_i, F_i) on the training data.
    pub data_fit: f64,
    /// lambda * second_moment.
    pub penalty: f64,
    /// Fraction of training samples with y_i F_i <= 0.
    pub train_error: Option<f64>,
    /// Fraction of test samples with y_i F_i <= 0.
    pub test_error: Option<f64>,
    /// The unregularised training loss R(F): always equal to `data_fit`, an alias kept so that existing
    /// readers of `metrics.csv` and `summary.json` keep working.
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
    /// Langevin (tau > 0, lambda > 0), certified steps: the k-nearest-neighbour estimate H^ of the cloud's
    /// differential entropy -integral rho log rho in R^{d+1} (nats).
    #[serde(default)]
    pub entropy: Option<f64>,
    /// The free energy estimate F^_tau = L + tau integral rho log rho = L - tau * entropy, tau the current temperature.
    #[serde(default)]
    pub free_energy: Option<f64>,
    /// The lower bound max_c D_tau(c r) <= F*_tau (it contains -tau log Z_pi once).
    #[serde(default)]
    pub dual_free_energy: Option<f64>,
    /// free_energy - dual_free_energy (an estimate: the entropy is estimated).
    #[serde(default)]
    pub gap_free_energy: Option<f64>,
    /// `exact` (d <= 2, S exact), `confidence` (Monte Carlo, Hoeffding at delta = 1e-6, S exact) or `estimated`.
    #[serde(default)]
    pub certificate_free_energy: Option<String>,
}

impl Metrics {
    /// The column names of `metrics.csv`, in order: the names of [`COLUMNS`].
    pub const COLUMNS: [&'static str; COLUMNS.len()] = names();

    /// A row of zeros with every optional column empty (what [`Column::is_numeric`] reads; a base for rows
    /// built in tests).
    pub(crate) const EMPTY: Metrics = Metrics {
        step: 0,
        time: 0.0,
        loss: 0.0,
        data_fit: 0.0,
        penalty: 0.0,
        train_error: None,
        test_error: None,
        train_loss: 0.0,
        test_loss: None,
        margin: None,
        second_moment: 0.0,
        pattern_change: 0.0,
        wall_seconds: 0.0,
        dual_bound: None,
        gap: None,
        certificate: None,
        excess: None,
        entropy: None,
        free_energy: None,
        dual_free_energy: None,
        gap_free_energy: None,
        certificate_free_energy: None,
    };

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

/// The value of a column in one row: a number or a label, `None` where the column does not apply.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    /// A number (written in shortest round-trip form).
    Number(Option<f64>),
    /// A label such as `exact`.
    Text(Option<&'a str>),
}

/// One column of `metrics.csv`: its name, what it means, when it has a value, and how to read it from a row.
/// [`COLUMNS`] lists them; it drives [`Metrics::COLUMNS`], the metric columns of `sweep.csv` and the column
/// table of the README (a test holds the README to it).
#[derive(Clone, Copy, Debug)]
pub struct Column {
    /// The column name in `metrics.csv`, `summary.json` and `sweep.csv`.
    pub name: &'static str,
    /// What the value is (docs/math.md gives the formulas).
    pub meaning: &'static str,
    /// When the column has a value (otherwise its cells are empty).
    pub applies: &'static str,
    /// The value in a row.
    pub get: fn(&Metrics) -> Value<'_>,
}

impl Column {
    /// The numeric value of the column in `row` (`None` for labels and where it does not apply).
    pub fn number(&self, row: &Metrics) -> Option<f64> {
        match (self.get)(row) {
            Value::Number(x) => x,
            Value::Text(_) => None,
        }
    }

    /// Whether the column holds numbers (not labels).
    pub fn is_numeric(&self) -> bool {
        !matches!((self.get)(&Metrics::EMPTY), Value::Text(_))
    }
}

const ALWAYS: &str = "always";
const CLASSIFICATION: &str = "classification (logistic loss)";
const CERTIFIED: &str = "certified steps (`run.certify_every`)";
const FREE_ENERGY: &str = "certified steps of runs with `langevin` at tau > 0 and lambda > 0";

/// Every column of `metrics.csv`, in file order.
pub const COLUMNS: [Column; 22] = [
    Column { name: "step", meaning: "steps taken", applies: ALWAYS, get: |m| Value::Number(Some(m.step as f64)) },
    Column { name: "time", meaning: "time t = sum of the step sizes", applies: ALWAYS, get: |m| Value::Number(Some(m.time)) },
    Column {
        name: "loss",
        meaning: "the objective L[rho] = data_fit + penalty",
        applies: ALWAYS,
        get: |m| Value::Number(Some(m.loss)),
    },
    Column {
        name: "data_fit",
        meaning: "R(F) = (1/n) sum_i l(y_i, F_i) on the training data",
        applies: ALWAYS,
        get: |m| Value::Number(Some(m.data_fit)),
    },
    Column {
        name: "penalty",
        meaning: "lambda * second_moment",
        applies: ALWAYS,
        get: |m| Value::Number(Some(m.penalty)),
    },
    Column {
        name: "train_error",
        meaning: "fraction of training samples with y_i F_i <= 0",
        applies: CLASSIFICATION,
        get: |m| Value::Number(m.train_error),
    },
    Column {
        name: "test_error",
        meaning: "fraction of test samples with y_i F_i <= 0",
        applies: "classification with test data",
        get: |m| Value::Number(m.test_error),
    },
    Column {
        name: "train_loss",
        meaning: "the same value as `data_fit` (an alias, kept so that older scripts still read it)",
        applies: ALWAYS,
        get: |m| Value::Number(Some(m.train_loss)),
    },
    Column {
        name: "test_loss",
        meaning: "R(F) on the test data",
        applies: "with test data",
        get: |m| Value::Number(m.test_loss),
    },
    Column {
        name: "margin",
        meaning: "the normalised margin min_i y_i F_i / second_moment",
        applies: CLASSIFICATION,
        get: |m| Value::Number(m.margin),
    },
    Column {
        name: "second_moment",
        meaning: "integral |theta|^2 d rho = (1/m) sum_j (w_j^2 + |u_j|^2)",
        applies: ALWAYS,
        get: |m| Value::Number(Some(m.second_moment)),
    },
    Column {
        name: "pattern_change",
        meaning: "fraction of (particle, training sample) pairs whose activation differs from the initial cloud's",
        applies: ALWAYS,
        get: |m| Value::Number(Some(m.pattern_change)),
    },
    Column {
        name: "wall_seconds",
        meaning: "seconds since the run (or its resumption) started; the one column that differs between equal runs",
        applies: ALWAYS,
        get: |m| Value::Number(Some(m.wall_seconds)),
    },
    Column {
        name: "dual_bound",
        meaning: "the dual lower bound D <= L* (docs/math.md, section Dual bound)",
        applies: CERTIFIED,
        get: |m| Value::Number(m.dual_bound),
    },
    Column { name: "gap", meaning: "the optimality gap G = L - D >= L - L*", applies: CERTIFIED, get: |m| Value::Number(m.gap) },
    Column {
        name: "certificate",
        meaning: "`exact` when the sphere maximum behind D was computed exactly (G is then a certificate), `estimated` otherwise",
        applies: CERTIFIED,
        get: |m| Value::Text(m.certificate.as_deref()),
    },
    Column {
        name: "excess",
        meaning: "L - L* with the exact optimum L*",
        applies: "with `run.reference = true`",
        get: |m| Value::Number(m.excess),
    },
    Column {
        name: "entropy",
        meaning: "the Kozachenko-Leonenko estimate H^ of the cloud's differential entropy -integral rho log rho (nats)",
        applies: FREE_ENERGY,
        get: |m| Value::Number(m.entropy),
    },
    Column {
        name: "free_energy",
        meaning: "F^_tau = L - tau * entropy, an estimate of the free energy at the current temperature",
        applies: FREE_ENERGY,
        get: |m| Value::Number(m.free_energy),
    },
    Column {
        name: "dual_free_energy",
        meaning: "the lower bound max_c D_tau(c r) <= F*_tau (it contains -tau log Z_pi once)",
        applies: FREE_ENERGY,
        get: |m| Value::Number(m.dual_free_energy),
    },
    Column {
        name: "gap_free_energy",
        meaning: "free_energy - dual_free_energy (an estimate, since the entropy is)",
        applies: FREE_ENERGY,
        get: |m| Value::Number(m.gap_free_energy),
    },
    Column {
        name: "certificate_free_energy",
        meaning: "`exact`, `confidence` or `estimated`: how far dual_free_energy can be trusted",
        applies: FREE_ENERGY,
        get: |m| Value::Text(m.certificate_free_energy.as_deref()),
    },
];

/// The column called `name`, if any.
pub fn column(name: &str) -> Option<&'static Column> {
    COLUMNS.iter().find(|c| c.name == name)
}

/// The names of [`COLUMNS`], in order.
const fn names() -> [&'static str; COLUMNS.len()] {
    let mut out = [""; COLUMNS.len()];
    let mut i = 0;
    while i < COLUMNS.len() {
        out[i] = COLUMNS[i].name;
        i += 1;
    }
    out
}

/// The README's table of the columns: `| column | meaning | when it has a value |`, one row per column (the
/// `|` of a formula escaped).
pub fn markdown_table() -> String {
    let mut text = String::from("| column | meaning | when it has a value |\n|---|---|---|\n");
    for c in &COLUMNS {
        text += &format!("| `{}` | {} | {} |\n", c.name, c.meaning.replace('|', "\\|"), c.applies);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> Metrics {
        Metrics {
            step: 7,
            time: 0.35,
            loss: 0.5,
            data_fit: 0.25,
            penalty: 0.25,
            train_error: Some(0.125),
            test_error: None,
            train_loss: 0.25,
            test_loss: Some(0.75),
            margin: Some(-0.5),
            second_moment: 2.5,
            pattern_change: 0.0625,
            wall_seconds: 1.5,
            dual_bound: Some(0.375),
            gap: Some(0.125),
            certificate: Some("exact".into()),
            excess: None,
            entropy: Some(1.25),
            free_energy: Some(0.4375),
            dual_free_energy: Some(0.4),
            gap_free_energy: Some(0.0375),
            certificate_free_energy: Some("confidence".into()),
        }
    }

    /// The table's order is the file's, and each getter reads its own column: the cells that serde writes
    /// equal the getters' values, column by column.
    #[test]
    fn the_table_matches_the_rows_written_to_metrics_csv() {
        let text = String::from_utf8(Metrics::to_csv(&[row()]).unwrap()).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next().unwrap(), Metrics::COLUMNS.join(","));
        let cells: Vec<&str> = lines.next().unwrap().split(',').collect();
        assert_eq!(cells.len(), COLUMNS.len());
        for (column, cell) in COLUMNS.iter().zip(cells) {
            match (column.get)(&row()) {
                Value::Number(x) => assert_eq!(cell.parse::<f64>().ok(), x, "{}", column.name),
                Value::Text(t) => assert_eq!(Some(cell).filter(|c| !c.is_empty()), t, "{}", column.name),
            }
        }
        let empty = String::from_utf8(Metrics::to_csv(&[]).unwrap()).unwrap();
        assert_eq!(empty.trim_end(), Metrics::COLUMNS.join(","));
    }

    #[test]
    fn labels_are_not_numeric_and_names_are_unique() {
        let labels: Vec<&str> = COLUMNS.iter().filter(|c| !c.is_numeric()).map(|c| c.name).collect();
        assert_eq!(labels, ["certificate", "certificate_free_energy"]);
        for (i, c) in COLUMNS.iter().enumerate() {
            assert!(COLUMNS[..i].iter().all(|d| d.name != c.name), "{} twice", c.name);
            assert_eq!(column(c.name).map(|d| d.name), Some(c.name));
        }
        assert_eq!(column("step").unwrap().number(&row()), Some(7.0));
        assert_eq!(column("certificate").unwrap().number(&row()), None);
        assert!(column("nope").is_none());
    }

    /// The README's column table is the one [`markdown_table`] writes.
    #[test]
    fn the_readme_lists_every_column_as_the_table_says() {
        let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"));
        assert!(readme.contains(&markdown_table()), "README.md: replace its column table with:\n{}", markdown_table());
    }
}
