//! Data sets (docs/math.md, section Distributions): the paper's distribution, XOR, a random ReLU teacher, and user
//! csv files.

use std::path::Path;

use ndarray::{s, Array1, Array2, ArrayView1};
use ndarray_rand::RandomExt;
use rand::Rng;
use rand_distr::StandardNormal;

use crate::error::{Error, Result};
use crate::loss::Loss;
use crate::rng::{self, Purpose};

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

/// Which coordinates pad the XOR inputs beyond the first two.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum XorNoise {
    /// x_k ~ N(0, 1) for k >= 3.
    #[default]
    Gaussian,
    /// x_k uniform on {-1, +1} for k >= 3 (the hypercube XOR).
    Sign,
}

/// Whether a teacher labels by sign or by value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// y = sign f*(x), keeping samples with |f*(x)| >= margin.
    #[default]
    Classification,
    /// y = f*(x) + label_noise * N(0, 1).
    Regression,
}

/// A synthetic distribution (docs/math.md, section Distributions).
#[derive(Clone, Debug, PartialEq)]
pub enum Distribution {
    /// The paper's distribution D in dimension d >= 2.
    Paper { d: usize },
    /// XOR of the first two coordinates in dimension d >= 2.
    Xor { d: usize, noise: XorNoise },
    /// A random ReLU teacher with `hidden` units on N(0, I_d) inputs.
    Teacher { d: usize, hidden: usize, task: Task, margin: f64, label_noise: f64 },
}

/// A random ReLU teacher f*(x) = sum_k a_k relu(b_k . x), b_k uniform on the unit sphere and
/// a_k = +1 for even k, -1 for odd k (so both classes occur).
#[derive(Clone, Debug, PartialEq)]
pub struct Teacher {
    /// Output weights a_k.
    pub a: Array1<f64>,
    /// Unit input directions b_k, one per row.
    pub b: Array2<f64>,
}

impl Teacher {
    /// The teacher drawn from `seed`.
    pub fn new(d: usize, hidden: usize, seed: u64) -> Teacher {
        let mut rng = rng::sequential(seed, Purpose::Teacher);
        let mut b: Array2<f64> = Array2::random_using((hidden, d), StandardNormal, &mut rng);
        for mut row in b.outer_iter_mut() {
            let norm = row.dot(&row).sqrt();
            row /= norm;
        }
        let a = Array1::from_iter((0..hidden).map(|k| if k % 2 == 0 { 1.0 } else { -1.0 }));
        Teacher { a, b }
    }

    /// f*(x).
    pub fn eval(&self, x: ArrayView1<f64>) -> f64 {
        self.b.dot(&x).iter().zip(&self.a).map(|(z, a)| a * z.max(0.0)).sum()
    }
}

impl Distribution {
    /// The input dimension d (before any bias coordinate).
    pub fn d(&self) -> usize {
        match *self {
            Distribution::Paper { d } | Distribution::Xor { d, .. } | Distribution::Teacher { d, .. } => d,
        }
    }

    /// n samples. `seed` fixes the teacher; `purpose` separates train from test draws.
    pub fn sample(&self, n: usize, seed: u64, purpose: Purpose) -> Result<Dataset> {
        let d = self.d();
        let mut rng = rng::sequential(seed, purpose);
        let mut x = Array2::zeros((n, d));
        let mut y = Array1::zeros(n);
        let sign = |rng: &mut rand_chacha::ChaCha8Rng| if rng.random::<bool>() { 1.0 } else { -1.0 };
        match *self {
            Distribution::Paper { .. } => {
                const CORNERS: [(f64, f64, f64); 4] =
                    [(1.0, 0.0, 1.0), (-1.0, 0.0, 1.0), (0.0, 1.0, -1.0), (0.0, -1.0, -1.0)];
                for (mut row, yi) in x.outer_iter_mut().zip(y.iter_mut()) {
                    let (x1, x2, label) = CORNERS[rng.random_range(0..4)];
                    row[0] = x1;
                    row[1] = x2;
                    *yi = label;
                    for v in row.iter_mut().skip(2) {
                        *v = sign(&mut rng);
                    }
                }
            }
            Distribution::Xor { noise, .. } => {
                for (mut row, yi) in x.outer_iter_mut().zip(y.iter_mut()) {
                    row[0] = sign(&mut rng);
                    row[1] = sign(&mut rng);
                    *yi = row[0] * row[1];
                    for v in row.iter_mut().skip(2) {
                        *v = match noise {
                            XorNoise::Gaussian => rng.sample(StandardNormal),
                            XorNoise::Sign => sign(&mut rng),
                        };
                    }
                }
            }
            Distribution::Teacher { hidden, task, margin, label_noise, .. } => {
                let teacher = Teacher::new(d, hidden, seed);
                let max_tries = 1000 * n.max(1);
                let mut tries = 0;
                for (mut row, yi) in x.outer_iter_mut().zip(y.iter_mut()) {
                    loop {
                        tries += 1;
                        if tries > max_tries {
                            return Err(Error::Invalid(format!(
                                "teacher data: fewer than 1 in 1000 inputs have teacher margin >= {margin}; \
                                 lower data.margin"
                            )));
                        }
                        row.iter_mut().for_each(|v| *v = rng.sample(StandardNormal));
                        let f = teacher.eval(row.view());
                        match task {
                            Task::Classification if f.abs() >= margin && f != 0.0 => {
                                *yi = f.signum();
                                break;
                            }
                            Task::Regression => {
                                *yi = f + label_noise * rng.sample::<f64, _>(StandardNormal);
                                break;
                            }
                            Task::Classification => {}
                        }
                    }
                }
            }
        }
        Dataset::new(x, y)
    }
}

/// The paper's 4-neuron network |x_1| - |x_2| = relu(x_1) + relu(-x_1) - relu(x_2) - relu(-x_2) in input dimension
/// d >= 2, as a mean-field cloud of 4 balanced particles (rows (w, u) = sqrt(4) (w~, u~), w~ = +-1, u~ = +-e_1 or
/// +-e_2). On `paper` data min_i y_i F_i = 1 and integral |theta|^2 d rho = 8: normalised margin 1/8.
pub fn paper_network(d: usize) -> Array2<f64> {
    let mut p = Array2::zeros((4, d + 1));
    for (j, (w, k, sign)) in [(1.0, 1, 1.0), (1.0, 1, -1.0), (-1.0, 2, 1.0), (-1.0, 2, -1.0)].into_iter().enumerate() {
        p[[j, 0]] = 2.0 * w;
        p[[j, k]] = 2.0 * sign;
    }
    p
}

/// Fraction of samples with y_i F_i <= 0 (a prediction of exactly 0 counts as an error).
pub fn classification_error(y: ArrayView1<f64>, f: ArrayView1<f64>) -> f64 {
    let wrong = y.iter().zip(f).filter(|(&y, &f)| y * f <= 0.0).count();
    wrong as f64 / y.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn paper_distribution_has_its_defining_property() {
        let data = Distribution::Paper { d: 9 }.sample(500, 3, Purpose::TrainData).unwrap();
        for (row, &y) in data.x.outer_iter().zip(&data.y) {
            assert_eq!(row.dot(&row), 8.0, "|x|^2 = d - 1");
            assert_eq!(y, row[0].abs() - row[1].abs());
            assert!(row.iter().skip(2).all(|&v| v == 1.0 || v == -1.0));
        }
        let positives = data.y.iter().filter(|&&y| y > 0.0).count();
        assert!((200..300).contains(&positives), "{positives} of 500 positive");
    }

    #[test]
    fn xor_labels_are_the_product_of_the_first_two_coordinates() {
        for noise in [XorNoise::Gaussian, XorNoise::Sign] {
            let data = Distribution::Xor { d: 4, noise }.sample(300, 1, Purpose::TrainData).unwrap();
            for (row, &y) in data.x.outer_iter().zip(&data.y) {
                assert_eq!(y, row[0] * row[1]);
                assert!(row[0].abs() == 1.0 && row[1].abs() == 1.0);
                if noise == XorNoise::Sign {
                    assert!(row.iter().all(|v| v.abs() == 1.0));
                }
            }
        }
    }

    #[test]
    fn teacher_classification_respects_the_margin() {
        let dist = Distribution::Teacher { d: 5, hidden: 4, task: Task::Classification, margin: 0.3, label_noise: 0.0 };
        let data = dist.sample(200, 11, Purpose::TrainData).unwrap();
        let teacher = Teacher::new(5, 4, 11);
        for (row, &y) in data.x.outer_iter().zip(&data.y) {
            let f = teacher.eval(row);
            assert!(f.abs() >= 0.3);
            assert_eq!(y, f.signum());
        }
        let test = dist.sample(200, 11, Purpose::TestData).unwrap();
        assert_ne!(test.x, data.x, "train and test draws are independent");
    }

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
