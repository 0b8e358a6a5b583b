//! The memory a run will use, estimated from the checked scenario alone, before anything is
//! allocated or written, in 128-bit arithmetic that cannot overflow (a scenario asking for
//! `model.m = 9223372036854775807` gets an estimate, not a wrap-around).
//!
//! The estimate adds, in bytes (s = 4 or 8 the particle precision, w = 1 + d the particle width):
//! - the cloud: 2 m w s (the moving cloud and the initial one) plus 3 m w 8 for gathering it in
//!   f64 and encoding `particles.npy` or a checkpoint at the end;
//! - the data: n (d (8 + s) + 32) for the training set (f64 inputs, their copy in precision s,
//!   labels, predictions and residuals) and `test_n` (d (8 + s) + 16) for the test set;
//! - the teacher's hidden units: `hidden` w 8;
//! - a csv file: at most its size / 2 numbers (each takes at least one digit and one separator),
//!   8 + s bytes each, plus the text itself;
//! - an init file: its rows x columns read from the .npy header, 8 + s bytes each;
//! - the kernels' buffers ([`crate::model::ComputeKernel::bytes`]), for training, test and mini-batches;
//! - the certificate's starts and the figure of the cloud: 128 w 8 and 48 m;
//! - the program itself: [`BASELINE`].
//!
//! Each part names the scenario field that drives it, so a refusal says what to reduce.

use crate::error::{Error, Result};
use crate::resources::human_bytes;

/// Resident memory of the program before it allocates anything for a run (code, libraries,
/// thread stacks), measured as the peak RSS of a run of 2 particles.
pub const BASELINE: u128 = 12 << 20;

/// One part of an estimate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    /// The scenario field (or flag) that drives it, e.g. `data.n`.
    pub field: String,
    /// Its value as given.
    pub value: String,
    /// What is allocated.
    pub what: String,
    /// Bytes.
    pub bytes: u128,
}

/// An estimate of the bytes a run allocates, by part.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Footprint {
    /// The parts, in the order added.
    pub parts: Vec<Part>,
}

/// The product of `factors`, saturating at `u128::MAX` (more than any machine has).
pub fn product(factors: &[u128]) -> u128 {
    factors.iter().try_fold(1u128, |p, &f| p.checked_mul(f)).unwrap_or(u128::MAX)
}

impl Footprint {
    /// Adds a part of `bytes` driven by `field` = `value`.
    pub fn add(&mut self, field: &str, value: impl ToString, what: &str, bytes: u128) {
        self.parts.push(Part { field: field.into(), value: value.to_string(), what: what.into(), bytes });
    }

    /// The total, saturating.
    pub fn total(&self) -> u128 {
        self.parts.iter().fold(BASELINE, |t, p| t.saturating_add(p.bytes))
    }

    /// The largest part.
    pub fn largest(&self) -> Option<&Part> {
        self.parts.iter().max_by_key(|p| p.bytes)
    }

    /// The total in bytes if it fits in `available` (when known); otherwise an error that names
    /// `source`, the largest part's field and value, and the bytes needed.
    pub fn check(&self, source: &str, available: Option<u64>, advice: &str) -> Result<u64> {
        let total = self.total();
        let fits = available.is_none_or(|a| total <= u128::from(a));
        match (fits, u64::try_from(total)) {
            (true, Ok(bytes)) => Ok(bytes),
            _ => {
                let part = self.largest().expect("a footprint too large has a part");
                let have = available.map_or("more than this machine can address".to_string(), |a| {
                    format!("only {} are available", human_bytes(a))
                });
                Err(Error::ScenarioValue {
                    file: source.to_string(),
                    field: part.field.clone(),
                    value: part.value.clone(),
                    allowed: format!(
                        "the run would need about {} ({} for {}) but {have}; {advice}",
                        bytes_text(total),
                        bytes_text(part.bytes),
                        part.what
                    ),
                })
            }
        }
    }
}

/// Bytes in a human unit, also beyond u64 (`> 16 EiB`).
pub fn bytes_text(bytes: u128) -> String {
    u64::try_from(bytes).map_or_else(|_| "more than 16 EiB".to_string(), human_bytes)
}

/// Rows and columns an `.npy` file's header declares (any dtype), reading only the header; an
/// error names the file when the header is unreadable or declares more values than the file holds.
pub fn npy_shape(path: &std::path::Path) -> Result<(usize, usize)> {
    use std::io::Read;
    let bad = |m: String| Error::data(path, "npy", format!("{m}; expected a 2-d float64 array (C order)"));
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let size = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut head = vec![0u8; 4096];
    let mut got = 0;
    while got < head.len() {
        match file.read(&mut head[got..]).map_err(|e| Error::io(path, e))? {
            0 => break,
            k => got += k,
        }
    }
    let text = String::from_utf8_lossy(&head[..got]);
    let shape = text
        .split_once("'shape':")
        .and_then(|(_, rest)| rest.split_once('(')?.1.split_once(')'))
        .map(|(inside, _)| {
            inside.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::parse::<u64>).collect::<Vec<_>>()
        })
        .ok_or_else(|| bad("no shape in the header".into()))?;
    let dims: Vec<u64> =
        shape.into_iter().collect::<std::result::Result<_, _>>().map_err(|_| bad("unreadable shape".into()))?;
    let [rows, cols] = dims[..] else { return Err(bad(format!("{}-d array", dims.len()))) };
    let values = u128::from(rows) * u128::from(cols);
    if values * 8 > u128::from(size) {
        return Err(bad(format!(
            "the header declares {rows} x {cols} values ({}) but the file has {size} bytes",
            bytes_text(values * 8)
        )));
    }
    Ok((rows as usize, cols as usize))
}

/// Below this many bytes every part is small enough that the exact kernel arithmetic (in usize)
/// cannot overflow.
const SAFE: u128 = 1 << 50;

/// The footprint of a run of `scenario` by one of `processes` processes sharing its cloud, with
/// the kernel threads of the current rayon pool. Reads only file sizes and `.npy` headers.
pub fn of_scenario(scenario: &crate::scenario::ValidScenario, processes: usize) -> Result<Footprint> {
    use crate::data::Distribution;
    use crate::scenario::{DataSource, InitSource};
    let config = &scenario.scenario;
    let s = config.precision.bytes() as u128;
    let bias = u128::from(config.data.bias);
    let mut f = Footprint::default();
    // Samples (training, test) and input dimension (with the bias), for the kernels.
    let (n, n_test, d) = match &scenario.data {
        DataSource::Synthetic { distribution, n, test_n } => {
            let d = distribution.d() as u128 + bias;
            let (n, t) = (*n as u128, *test_n as u128);
            let train = product(&[n, d.saturating_mul(8 + s).saturating_add(32)]);
            if d > n {
                f.add("data.d", distribution.d(), "the training data", train);
            } else {
                f.add("data.n", n, "the training data", train);
            }
            let test = product(&[t, d.saturating_mul(8 + s).saturating_add(16)]);
            if d > t && t > 0 {
                f.add("data.d", distribution.d(), "the test data", test);
            } else {
                f.add("data.test_n", t, "the test data", test);
            }
            if let Distribution::Teacher { hidden, .. } = distribution {
                f.add("data.hidden", hidden, "the teacher's hidden units", product(&[*hidden as u128, d + 1, 8]));
            }
            (n, t, d)
        }
        DataSource::Csv { path, test_path } => {
            let mut rows = [0u128; 2];
            for (k, (field, p)) in
                [("data.path", Some(path)), ("data.test_path", test_path.as_ref())].into_iter().enumerate()
            {
                let Some(p) = p else { continue };
                let size = u128::from(std::fs::metadata(p).map_err(|e| Error::io(p, e))?.len());
                f.add(field, format!("{:?}", p.display().to_string()), "the csv data", size + (size / 2) * (8 + s));
                rows[k] = size / 2;
            }
            // The number of columns is unknown before reading: count the data once, as n x 1.
            (rows[0], rows[1], 1)
        }
    };
    let processes = processes.max(1) as u128;
    let (m, width) = match &scenario.init {
        InitSource::Sampled { m, .. } | InitSource::Dead { m, .. } => (*m as u128, d + 1),
        InitSource::File { path, m } => {
            let (rows, cols) = npy_shape(path)?;
            let value = format!("{:?}", path.display().to_string());
            f.add(
                "model.init.file",
                value,
                "the initial cloud read in float64",
                product(&[rows as u128, cols as u128, 8 + s]),
            );
            (m.map_or(rows, |m| m) as u128, cols as u128)
        }
    };
    let local = m.div_ceil(processes);
    let field = if matches!(scenario.init, InitSource::File { .. }) { "model.init.file" } else { "model.m" };
    f.add(field, m, "the particles", product(&[local, width, 2 * s]).saturating_add(product(&[m, width, 3 * 8])));
    f.add(field, m, "the cloud figure", if config.run.plots { product(&[m, 48]) } else { 0 });
    f.add("data.d", d.saturating_sub(bias), "the certificate's starting directions", product(&[128, width, 8]));
    if f.parts.iter().all(|p| p.bytes < SAFE) && n * d < SAFE && local * width < SAFE {
        let (m, n, n_test, d) = (local as usize, n as usize, n_test as usize, d as usize);
        let kernels = |n_test: usize| crate::with_precision!(config.precision, F => crate::setup::memory_estimate::<F>(m, n, n_test, d, config.run.batch));
        let (train_only, all) = (kernels(0), kernels(n_test));
        // memory_estimate also counts the cloud and the data, added above in more detail.
        let counted = 2 * m * (d + 1) * s as usize + n * (d * (8 + s as usize) + 8) + 3 * n * 8;
        let counted_test = n_test * (d * (8 + s as usize) + 8);
        // The buffers are blocks of particles times all the samples of a set: its size makes them large.
        f.add("data.n", n, "the kernels' buffers", train_only.saturating_sub(counted) as u128);
        let test = all.saturating_sub(train_only).saturating_sub(counted_test);
        f.add("data.test_n", n_test, "the test kernels' buffers", test as u128);
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_add_up_without_overflow_and_the_largest_is_named() {
        let mut f = Footprint::default();
        f.add("data.n", 10, "training data", 1000);
        f.add("model.m", "9223372036854775807", "the cloud", product(&[9_223_372_036_854_775_807, 3, 8, 2]));
        assert_eq!(f.total(), BASELINE + 1000 + 9_223_372_036_854_775_807u128 * 48);
        let err = f.check("s.toml", Some(1 << 30), "reduce model.m").unwrap_err().to_string();
        assert_eq!(
            err,
            "s.toml: field `model.m` = 9223372036854775807: the run would need about more than 16 EiB \
             (more than 16 EiB for the cloud) but only 1.00 GiB are available; reduce model.m"
        );
        assert_eq!(product(&[u128::MAX, 2]), u128::MAX);
        let mut small = Footprint::default();
        small.add("data.n", 10, "training data", 1000);
        assert_eq!(small.check("s.toml", Some(1 << 30), "").unwrap(), (BASELINE + 1000) as u64);
    }

    #[test]
    fn an_npy_header_claiming_more_than_the_file_holds_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npy");
        crate::output::write_npy(&path, &ndarray::Array2::zeros((5, 3))).unwrap();
        assert_eq!(npy_shape(&path).unwrap(), (5, 3));
        let text = std::fs::read(&path).unwrap();
        let lying = String::from_utf8_lossy(&text).replacen("(5, 3)", "(1000000000000, 3)", 1);
        std::fs::write(&path, lying.as_bytes()).unwrap();
        let err = npy_shape(&path).unwrap_err().to_string();
        let expected = format!(
            ":npy: the header declares 1000000000000 x 3 values (21.83 TiB) but the file has {} bytes; \
             expected a 2-d float64 array (C order)",
            lying.len()
        );
        assert!(err.ends_with(&expected), "{err}");
    }
}
