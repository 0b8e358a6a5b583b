//! A data set: inputs and labels, with the csv format of user data (docs/math.md, section Data
//! and losses).

use std::path::Path;

use ndarray::{s, Array1, Array2};

use crate::error::{Error, Result};
use crate::loss::Loss;

/// Inputs `x` (n x d, one sample per row) and labels `y` (n).
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Inputs, one row per sample.
    pub x: Array2<f64>,
    /// Labels: {-1, +1} for classification, real for regression.
    pub y: Array1<f64>,
}

impl Dataset {
    /// A data set from inputs and labels of matching length, all finite.
    pub fn new(x: Array2<f64>, y: Array1<f64>) -> Result<Self> {
        if x.nrows() != y.len() {
            return Err(Error::Invalid(format!("data set: {} input rows but {} labels", x.nrows(), y.len())));
        }
        if x.iter().chain(y.iter()).any(|v| !v.is_finite()) {
            return Err(Error::Invalid("data set: inputs and labels must be finite".into()));
        }
        Ok(Dataset { x, y })
    }

    /// Number of samples n.
    pub fn n(&self) -> usize {
        self.x.nrows()
    }

    /// Input dimension d (including a bias coordinate if one was appended).
    pub fn d(&self) -> usize {
        self.x.ncols()
    }

    /// The same data with a constant coordinate 1 appended to every input (docs/math.md, section Data and losses).
    pub fn with_bias(&self) -> Dataset {
        let mut x = Array2::ones((self.n(), self.d() + 1));
        x.slice_mut(s![.., ..self.d()]).assign(&self.x);
        Dataset { x, y: self.y.clone() }
    }

    /// Checks that the labels suit the loss: {-1, +1} for logistic. `source` names the data.
    pub fn check_labels(&self, loss: Loss, source: &str) -> Result<()> {
        if loss.is_classification() {
            if let Some((i, &y)) = self.y.iter().enumerate().find(|(_, &y)| y != 1.0 && y != -1.0) {
                return Err(Error::Invalid(format!(
                    "{source}: sample {}: label {y} is not -1 or +1, as the logistic loss requires",
                    i + 1
                )));
            }
        }
        Ok(())
    }

    /// Reads a csv file with header `x1,...,xd,y` and one sample per line.
    pub fn from_csv(path: &Path) -> Result<Dataset> {
        crate::paths::regular_input(path)?;
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse_csv(&text, path)
    }

    /// Parses csv text (see [`Dataset::from_csv`]); `path` only names the source in errors.
    pub fn parse_csv(text: &str, path: &Path) -> Result<Dataset> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let mut records = reader.records();
        let header = match records.next() {
            None => return Err(Error::data(path, "1", "the file is empty; expected a header `x1,...,xd,y`")),
            Some(r) => r.map_err(|e| Error::data(path, 1, e.to_string()))?,
        };
        let d = header.len().saturating_sub(1);
        let expected: Vec<String> = (1..=d).map(|k| format!("x{k}")).chain(std::iter::once("y".to_string())).collect();
        if d == 0 || header.iter().ne(expected.iter().map(String::as_str)) {
            let got: Vec<&str> = header.iter().collect();
            return Err(Error::data(
                path,
                "1",
                format!(
                    "header `{}` is not of the form `x1,...,xd,y`{}",
                    got.join(","),
                    if d > 0 { format!(" (expected `{}`)", expected.join(",")) } else { String::new() }
                ),
            ));
        }
        let mut values = Vec::new();
        for (k, record) in records.enumerate() {
            let line = k + 2;
            let record = record.map_err(|e| Error::data(path, line, e.to_string()))?;
            if record.len() == 1 && record.get(0) == Some("") {
                continue;
            }
            if record.len() != d + 1 {
                return Err(Error::data(path, line, format!("{} fields, but the header has {}", record.len(), d + 1)));
            }
            for (col, field) in record.iter().enumerate() {
                let name = &expected[col];
                let v: f64 = field
                    .parse()
                    .map_err(|_| Error::data(path, line, format!("column `{name}`: `{field}` is not a number")))?;
                if !v.is_finite() {
                    return Err(Error::data(
                        path,
                        line,
                        format!("column `{name}`: {field} is not finite; values must be finite numbers"),
                    ));
                }
                values.push(v);
            }
        }
        let n = values.len() / (d + 1);
        if n == 0 {
            return Err(Error::data(path, "2", "no samples after the header"));
        }
        let all = Array2::from_shape_vec((n, d + 1), values).expect("rows were checked to have d + 1 fields");
        Ok(Dataset { x: all.slice(s![.., ..d]).to_owned(), y: all.column(d).to_owned() })
    }

    /// Writes the data as csv with header `x1,...,xd,y` (full precision, round-trips exactly).
    pub fn to_csv(&self, path: &Path) -> Result<()> {
        let mut text = (1..=self.d()).map(|k| format!("x{k},")).collect::<String>();
        text.push_str("y\n");
        for (row, y) in self.x.outer_iter().zip(&self.y) {
            for v in row {
                text.push_str(&format!("{v:?},"));
            }
            text.push_str(&format!("{y:?}\n"));
        }
        crate::output::write_atomic(path, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Distribution, XorNoise};
    use crate::rng::Purpose;
    use std::path::PathBuf;

    #[test]
    fn csv_round_trips_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        let data = Distribution::Xor { d: 3, noise: XorNoise::Gaussian }.sample(17, 5, Purpose::TrainData).unwrap();
        data.to_csv(&path).unwrap();
        assert_eq!(Dataset::from_csv(&path).unwrap(), data);
        assert_eq!(data.with_bias().x.column(3).sum(), 17.0);
    }

    #[test]
    fn csv_errors_name_the_line_and_the_value() {
        let p = PathBuf::from("in.csv");
        let err = |t: &str| Dataset::parse_csv(t, &p).unwrap_err().to_string();
        assert_eq!(err(""), "in.csv:1: the file is empty; expected a header `x1,...,xd,y`");
        assert_eq!(err("x1,z\n1,2\n"), "in.csv:1: header `x1,z` is not of the form `x1,...,xd,y` (expected `x1,y`)");
        assert_eq!(err("x1,x2,y\n1,2,1\n1,2\n"), "in.csv:3: 2 fields, but the header has 3");
        assert_eq!(err("x1,y\n1,abc\n"), "in.csv:2: column `y`: `abc` is not a number");
        assert_eq!(err("x1,y\nNaN,1\n"), "in.csv:2: column `x1`: NaN is not finite; values must be finite numbers");
        assert_eq!(err("x1,y\n"), "in.csv:2: no samples after the header");
    }
}
