//! Checkpoints: the full state of a run in one file, written atomically, from which a run
//! resumes to byte-identical outputs.
//!
//! Random streams are positioned by the step number, so the state is the cloud, the step, the
//! time and the training predictions, plus what the outputs need: the initial cloud (for
//! `pattern_change`), the metrics so far, L* if known, and the wall time used.
//!
//! Format: the line `meanfield-checkpoint 1`, a little-endian u64 header length, a JSON header,
//! then the arrays theta, theta0 (row-major) and the predictions as little-endian f64 (exact for
//! f32 particles too).

use std::path::Path;

use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use super::problem::State;
use crate::error::{Error, Result};
use crate::linalg::Real;
use crate::metrics::Metrics;
use crate::model::Cloud;
use crate::output::write_atomic;

const MAGIC: &[u8] = b"meanfield-checkpoint 1\n";

/// Everything needed to continue a run exactly.
#[derive(Clone, Debug)]
pub struct Checkpoint<F: Real> {
    /// The resolved scenario (TOML) of the run, so that a different scenario is never resumed.
    pub scenario: String,
    /// Where the run is.
    pub state: State<F>,
    /// The cloud at step 0.
    pub initial: Cloud<F>,
    /// The metrics logged so far.
    pub history: Vec<Metrics>,
    /// L*, if it was computed.
    pub optimum: Option<f64>,
    /// Wall time used so far.
    pub wall_seconds: f64,
}

#[derive(Serialize, Deserialize)]
struct Header {
    scenario: String,
    precision: String,
    m: usize,
    width: usize,
    n: usize,
    step: u64,
    time: f64,
    history: Vec<Metrics>,
    optimum: Option<f64>,
    wall_seconds: f64,
}

fn push_f64(bytes: &mut Vec<u8>, values: impl Iterator<Item = f64>) {
    for v in values {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
}

impl<F: Real> Checkpoint<F> {
    /// Writes the checkpoint to `path` atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let theta = &self.state.cloud.theta;
        let header = Header {
            scenario: self.scenario.clone(),
            precision: F::NAME.to_string(),
            m: theta.nrows(),
            width: theta.ncols(),
            n: self.state.predictions.len(),
            step: self.state.step,
            time: self.state.time,
            history: self.history.clone(),
            optimum: self.optimum,
            wall_seconds: self.wall_seconds,
        };
        let json = serde_json::to_vec(&header).expect("a header always serialises");
        let mut bytes = Vec::with_capacity(MAGIC.len() + 8 + json.len() + 8 * (2 * theta.len() + header.n));
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&(json.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&json);
        push_f64(&mut bytes, theta.iter().map(|v| v.f64()));
        push_f64(&mut bytes, self.initial.theta.iter().map(|v| v.f64()));
        push_f64(&mut bytes, self.state.predictions.iter().copied());
        write_atomic(path, &bytes)
    }

    /// Reads a checkpoint written by [`Checkpoint::write`] with the same precision.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let corrupt =
            |what: &str| Error::data(path, "checkpoint", format!("{what}; the file is not a complete checkpoint"));
        let rest = bytes.strip_prefix(MAGIC).ok_or_else(|| corrupt("wrong magic line"))?;
        let (len, rest) = rest.split_at_checked(8).ok_or_else(|| corrupt("truncated header"))?;
        let len = u64::from_le_bytes(len.try_into().expect("8 bytes")) as usize;
        let (json, rest) = rest.split_at_checked(len).ok_or_else(|| corrupt("truncated header"))?;
        let header: Header = serde_json::from_slice(json).map_err(|e| corrupt(&format!("bad header ({e})")))?;
        if header.precision != F::NAME {
            return Err(Error::data(
                path,
                "checkpoint",
                format!("written with precision = \"{}\", but the run uses \"{}\"", header.precision, F::NAME),
            ));
        }
        let size = header.m * header.width;
        if rest.len() != 8 * (2 * size + header.n) {
            return Err(corrupt("wrong array length"));
        }
        let values: Vec<f64> =
            rest.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))).collect();
        let matrix = |range: std::ops::Range<usize>| {
            Array2::from_shape_vec((header.m, header.width), values[range].iter().map(|&v| F::of(v)).collect())
                .expect("the length was checked")
        };
        let cloud = Cloud { theta: matrix(0..size) };
        let initial = Cloud { theta: matrix(size..2 * size) };
        let predictions = Array1::from(values[2 * size..].to_vec());
        Ok(Checkpoint {
            scenario: header.scenario,
            state: State { cloud, step: header.step, time: header.time, predictions },
            initial,
            history: header.history,
            optimum: header.optimum,
            wall_seconds: header.wall_seconds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Init;

    #[test]
    fn a_checkpoint_round_trips_exactly_and_truncation_is_detected() {
        let cloud = Cloud::<f32>::sample(70, 3, &Init::Gaussian { s_w: 1.0, s_u: 2.0 }, 4);
        let initial = Cloud::<f32>::sample(70, 3, &Init::Sphere { radius: 1.0 }, 5);
        let state = State { cloud, step: 12, time: 1.2, predictions: Array1::from(vec![0.1, -3.0, 1e-300]) };
        let cp = Checkpoint {
            scenario: "x = 1".into(),
            state,
            initial,
            history: vec![],
            optimum: Some(0.5),
            wall_seconds: 3.0,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.bin");
        cp.write(&path).unwrap();
        let back = Checkpoint::<f32>::read(&path).unwrap();
        assert_eq!(back.state.cloud, cp.state.cloud);
        assert_eq!(back.initial, cp.initial);
        assert_eq!(back.state.predictions, cp.state.predictions);
        assert_eq!((back.state.step, back.state.time, back.optimum), (12, 1.2, Some(0.5)));
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        let err = Checkpoint::<f32>::read(&path).unwrap_err().to_string();
        assert!(err.ends_with("checkpoint: wrong array length; the file is not a complete checkpoint"), "{err}");
        std::fs::write(&path, &bytes).unwrap();
        assert!(Checkpoint::<f64>::read(&path).unwrap_err().to_string().contains("precision = \"f32\""));
    }
}
