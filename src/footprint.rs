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
//! - the pre-activations the training and mini-batch kernels keep (`run.store_activations`, when
//!   [`crate::model::StoreActivations::stores`] says they do): (m n + m w + n d) s + m each;
//! - the certificate's estimated sphere maximum: its min(m, 128) particle and 256 random start
//!   directions, their negatives and their products with the inputs (and the two halves of
//!   those), 3 (min(m, 128) + 256) (d + n) 8 (when the run certifies);
//! - the figure of the cloud: `CLOUD_FIGURE_BYTES` m;
//! - the program itself: [`BASELINE`].
//!
//! Each part names the scenario field that drives it, so a refusal says what to reduce.

use crate::error::{Error, Result};
use crate::linalg::Real;
use crate::model::{ComputeKernel, StoreActivations};
use crate::output::npy_shape;
use crate::resources::{bytes_text, human_bytes, product};

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

impl Footprint {
    /// Adds a part of `bytes` driven by `field` = `value`.
    pub fn add(&mut self, field: &str, value: impl ToString, what: &str, bytes: u128) {
        self.parts.push(Part { field: field.into(), value: value.to_string(), what: what.into(), bytes });
    }

    /// The conic program of the exact optimum L* ([`crate::convex`]) for n samples in dimension d:
    /// at most [`crate::convex::OptimumOptions`]' 400 patterns, each with two vectors of d variables
    /// and up to n sign constraints per vector, d nonzeros each, kept as values and row indices
    /// (16 bytes) about three times (the matrix, clarabel's copy and its factorisation).
    pub fn add_convex_program(&mut self, n: u128, d: u128) {
        let patterns = crate::convex::OptimumOptions::default().max_patterns as u128;
        self.add("data.n", n, "the convex program of L*", product(&[3, 2 * patterns, n, d, 16]));
    }

    /// The exact sphere maximum's search of the hyperplane arrangement ([`crate::certify`] with
    /// `certificate = "exact"`, or `"auto"` where it is affordable) over n inputs in dimension d
    /// on `threads` threads: [`exact_arrangement_bytes`], driven by `field` = `value`.
    pub fn add_exact_arrangement(&mut self, field: &str, value: impl ToString, n: u128, d: u128, threads: u128) {
        let what = format!(
            "the exact certificate's search of the arrangement of {n} hyperplanes in d = {d} \
             (certificate = \"estimate\" needs none)"
        );
        self.add(field, value, &what, exact_arrangement_bytes(n, d, threads));
    }

    /// `jobs` kernel predictors of [`crate::ntk`] at once, each fitted on n samples of dimension d
    /// and evaluated at n_test ([`ntk_predictor_bytes`]); `field` = `value` drives n.
    pub fn add_ntk(&mut self, field: &str, value: impl ToString, jobs: u128, (n, n_test, d): (u128, u128, u128)) {
        let what = format!("the NTK Gram matrices ({jobs} at once, {n} x {n} each)");
        self.add(field, value, &what, product(&[jobs, ntk_predictor_bytes(n, n_test, d)]));
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

/// Bytes of the exact sphere maximum over n inputs in dimension d (with the bias coordinate) on
/// `threads` threads ([`crate::certify`], exact search; docs/math.md, section Sphere maximum):
/// the distinct unit directions and the inputs' norms, n (d + 2) values, and for each thread at
/// once the frames of one path of the descent R^d = L_d > L_{d-1} > ... > L_2: at level m an
/// orthonormal basis of L_m and of its hyperplane (m d and (m - 1) (m + d) values), the inputs'
/// coordinates in L_m and their lines (2 n m values), so that one thread holds
/// sum_{m=3}^{d} (m^2 + 2 m d + 2 n m) ~ 4 d^3 / 3 + n d^2 values, plus 8 n per thread for the
/// plane sweep; 8 bytes each, in saturating arithmetic.
pub fn exact_arrangement_bytes(n: u128, d: u128, threads: u128) -> u128 {
    let threads = threads.clamp(1, n.max(1));
    // sum_{m=3}^{d} m and sum_{m=3}^{d} m^2, by the closed forms, 0 for d < 3.
    let (s1, s2) = if d < 3 {
        (0, 0)
    } else {
        let s1 = product(&[d, d + 1]) / 2 - 3;
        let s2 = product(&[d, d + 1, 2 * d + 1]) / 6 - 5;
        (s1, s2)
    };
    let per_level = s2.saturating_add(product(&[2, d, s1])).saturating_add(product(&[2, n, s1]));
    let per_thread = per_level.saturating_add(product(&[8, n]));
    product(&[n, d + 2, 8]).saturating_add(product(&[threads, per_thread, 8]))
}

/// Bytes of one kernel predictor of [`crate::ntk`] fitted on n samples of dimension d and
/// evaluated at n_test points: the inputs as norms and unit rows ((n + n_test) (d + 1) values),
/// the Gram matrix K (n^2), the kernel between the test and the training inputs (n_test n) and the
/// fit's work, at most four more n x n matrices (the SVM's Q = y y' * K, its support block, the
/// Cholesky copy and its factor; clarabel's triangle of Q and its factorisation take no more), 8
/// bytes each (docs/math.md, section Kernels), in saturating arithmetic.
pub fn ntk_predictor_bytes(n: u128, n_test: u128, d: u128) -> u128 {
    let inputs = product(&[n.saturating_add(n_test), d.saturating_add(1)]);
    let values = product(&[5, n, n]).saturating_add(product(&[n_test, n])).saturating_add(inputs);
    product(&[values, 8])
}

/// Refuses, before anything is allocated, a kernel matrix between `a` = (name, rows) and `b` of
/// inputs of dimension d that does not fit in memory: with `fit`, the predictor of
/// [`ntk_predictor_bytes`] fitted on `a` and evaluated at `b`; without, the matrix K(a_i, b_j)
/// alone (and both inputs as norms and unit rows). The error names `function`, the argument that
/// drives the size and its rows.
pub fn check_ntk(function: &str, a: (&str, usize), b: (&str, usize), d: usize, fit: bool) -> Result<()> {
    let (n, n_test, d) = (a.1 as u128, b.1 as u128, d as u128);
    let (field, rows) = if n_test > n && !fit { b } else { a };
    let mut f = Footprint::default();
    if fit {
        f.add_ntk(field, format!("{rows} rows"), 1, (n, n_test, d));
    } else {
        let bytes = product(&[n.saturating_add(n_test), d + 1, 8]).saturating_add(product(&[n, n_test, 8]));
        f.add(field, format!("{rows} rows"), &format!("the NTK matrix ({n} x {n_test})"), bytes);
    }
    f.check(function, crate::resources::available_memory_bytes(), "pass fewer rows").map(|_| ())
}

/// Refuses, before it is built, a convex program of L* ([`Footprint::add_convex_program`]) for
/// n samples in dimension d that does not fit in memory; the error names `source` and `field`
/// (the data's file or argument).
pub fn check_convex(source: &str, field: &str, n: usize, d: usize) -> Result<()> {
    let mut f = Footprint::default();
    f.add_convex_program(n as u128, d as u128);
    f.parts[0].field = field.to_string();
    f.parts[0].value = format!("{n} samples in d = {d}");
    f.check(source, crate::resources::available_memory_bytes(), "use fewer samples").map(|_| ())
}

/// The number of columns of the first line of a csv file (its header `x1,...,xd,y`), read without
/// keeping the line; `None` if the file cannot be read.
fn csv_columns(path: &std::path::Path) -> Option<u128> {
    use std::io::BufRead;
    let mut reader = std::io::BufReader::new(std::fs::File::open(path).ok()?);
    let mut commas = 0u128;
    loop {
        let buffer = reader.fill_buf().ok()?;
        if buffer.is_empty() {
            break;
        }
        let end = buffer.iter().position(|&b| b == b'\n');
        let line = &buffer[..end.unwrap_or(buffer.len())];
        commas += line.iter().filter(|&&b| b == b',').count() as u128;
        let used = line.len();
        reader.consume(used);
        if end.is_some() {
            break;
        }
    }
    Some(commas + 1)
}

/// The bytes a simulation of m particles on n training and `n_test` test samples in dimension d
/// allocates (cloud and its initial copy, data, kernels and their stored pre-activations), in
/// particle precision F.
pub fn memory_estimate<F: Real>(
    m: usize,
    n: usize,
    n_test: usize,
    d: usize,
    batch: Option<usize>,
    store: StoreActivations,
) -> usize {
    let threads = rayon::current_num_threads();
    let bytes = std::mem::size_of::<F>();
    let cloud = 2 * m * (d + 1) * bytes;
    let data = (n + n_test) * (d * (8 + bytes) + 8) + 3 * n * 8;
    let kernels = ComputeKernel::<F>::bytes(m, n, d, threads)
        + if n_test > 0 { ComputeKernel::<F>::bytes(m, n_test, d, threads) } else { 0 }
        + batch.map_or(0, |b| ComputeKernel::<F>::bytes(m, b, d, threads) + b * (d * bytes + 32));
    let stored = |samples: usize| {
        let bytes = StoreActivations::bytes(m, samples, d, bytes);
        if store.stores(m, samples, d, std::mem::size_of::<F>()) {
            usize::try_from(bytes).unwrap_or(usize::MAX)
        } else {
            0
        }
    };
    (cloud + data + kernels).saturating_add(stored(n)).saturating_add(batch.map_or(0, stored))
}

/// Bytes per particle of the cloud figure: its points, sorted by size, and the SVG text of one
/// circle each (about 170 bytes), measured with a heap profiler at m = 200000.
const CLOUD_FIGURE_BYTES: u128 = 208;

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
    // Samples and input dimension of a csv file, for the certificate's search (below).
    let mut arrangement_dims = None;
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
            // The kernels below count the data once, as n x 1; the certificate's search needs
            // the dimension of the header `x1,...,xd,y`.
            let columns = csv_columns(path).unwrap_or(2);
            arrangement_dims = Some((rows[0] / columns.max(1), columns.saturating_sub(1) + bias));
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
    f.add(field, m, "the cloud figure", if config.run.plots { product(&[m, CLOUD_FIGURE_BYTES]) } else { 0 });
    let certified = config.run.certify_every.unwrap_or(config.run.log_every) > 0;
    let starts = if certified { m.min(128) + 256 } else { 0 };
    f.add("data.d", d.saturating_sub(bias), "the certificate's start directions", product(&[3, starts, d, 8]));
    f.add("data.n", n, "the certificate's products with the inputs", product(&[3, starts, n, 8]));
    if config.run.reference {
        f.add_convex_program(n, d);
    }
    let (n_x, d_x) = arrangement_dims.unwrap_or((n, d));
    let exact = match config.run.certificate {
        crate::certify::SphereMethod::Exact => true,
        crate::certify::SphereMethod::Estimate => false,
        crate::certify::SphereMethod::Auto => {
            d_x <= 1
                || crate::certify::exact_cost(n_x.min(usize::MAX as u128) as usize, d_x.min(64) as usize)
                    <= crate::certify::EXACT_BUDGET
        }
    };
    if certified && exact {
        let threads = rayon::current_num_threads() as u128;
        let name = if config.run.certificate == crate::certify::SphereMethod::Exact { "exact" } else { "auto" };
        let value = format!("{name:?}");
        f.add_exact_arrangement("run.certificate", value, n_x, d_x, threads);
    }
    if f.parts.iter().all(|p| p.bytes < SAFE) && n * d < SAFE && local * width < SAFE {
        let (m, n, n_test, d) = (local as usize, n as usize, n_test as usize, d as usize);
        let never = crate::model::StoreActivations::Never;
        let kernels = |n_test: usize| crate::with_precision!(config.precision, F => memory_estimate::<F>(m, n, n_test, d, config.run.batch, never));
        let (train_only, all) = (kernels(0), kernels(n_test));
        // memory_estimate also counts the cloud and the data, added above in more detail.
        let counted = 2 * m * (d + 1) * s as usize + n * (d * (8 + s as usize) + 8) + 3 * n * 8;
        let counted_test = n_test * (d * (8 + s as usize) + 8);
        // The buffers are blocks of particles times all the samples of a set: its size makes them large.
        f.add("data.n", n, "the kernels' buffers", train_only.saturating_sub(counted) as u128);
        let test = all.saturating_sub(train_only).saturating_sub(counted_test);
        f.add("data.test_n", n_test, "the test kernels' buffers", test as u128);
        let store = config.run.store_activations;
        let stored: u128 = [Some(n), config.run.batch]
            .into_iter()
            .flatten()
            .filter(|&samples| store.stores(m, samples, d, s as usize))
            .map(|samples| crate::model::StoreActivations::bytes(m, samples, d, s as usize))
            .sum();
        f.add("run.store_activations", format!("{:?}", store.name()), "the stored pre-activations", stored);
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
    fn the_exact_search_and_the_kernel_predictors_add_up_their_parts() {
        // The closed forms against the sums they replace.
        for (n, d, threads) in [(20u128, 3000u128, 2u128), (5, 3, 8), (1, 2, 1), (7, 40, 3)] {
            let per_thread: u128 = (3..=d).map(|m| m * m + 2 * m * d + 2 * n * m).sum::<u128>() + 8 * n;
            let expected = 8 * n * (d + 2) + 8 * threads.min(n) * per_thread;
            assert_eq!(exact_arrangement_bytes(n, d, threads), expected, "n = {n}, d = {d}");
        }
        assert_eq!(exact_arrangement_bytes(u128::MAX, u128::MAX, 4), u128::MAX);
        assert_eq!(ntk_predictor_bytes(1000, 10, 4), 8 * (5 * 1000 * 1000 + 10 * 1000 + 1010 * 5));
        assert_eq!(ntk_predictor_bytes(u128::MAX, 1, 1), u128::MAX);
        // A predictor or a matrix beyond the machine is refused naming the argument.
        let gram = check_ntk("ntk.gram", ("x1", 10), ("x2", 3_000_000_000), 2, false).unwrap_err().to_string();
        assert!(gram.starts_with("ntk.gram: field `x2` = 3000000000 rows: the run would need about "), "{gram}");
        assert!(gram.contains(" for the NTK matrix (10 x 3000000000)) but "), "{gram}");
        let svm = check_ntk("ntk.svm", ("x", 3_000_000_000), ("x_test", 10), 2, true).unwrap_err().to_string();
        assert!(svm.contains(" for the NTK Gram matrices (1 at once, 3000000000 x 3000000000 each)) but "), "{svm}");
        check_ntk("ntk.svm", ("x", 100), ("x_test", 100), 2, true).unwrap();
        let convex = check_convex("optimum", "--data", 3_000_000, 1000).unwrap_err().to_string();
        assert!(convex.starts_with("optimum: field `--data` = 3000000 samples in d = 1000: the run would"), "{convex}");
    }
}
