//! Checkpoints: the full state of a run in one file, written atomically, from which a run
//! resumes to byte-identical outputs.
//!
//! Random streams are positioned by the step number, so the state is the cloud, the step, the
//! time and the training predictions, plus what the outputs need: the initial cloud (for
//! `pattern_change`), the metrics so far, L* if known, and the wall time used.
//!
//! Format (version 2): the line `meanfield-checkpoint 2`, a little-endian u64 header length, a
//! JSON header, then the arrays theta, theta0 (row-major) and the predictions as little-endian
//! f64 (exact for f32 particles too), and last the CRC-32C (Castagnoli) of every byte before it,
//! little-endian u32. A reader checks the version line and the checksum before it parses anything,
//! so a damaged file (one flipped bit) is refused, never resumed from.

use std::path::Path;

use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use super::problem::State;
use crate::error::{Error, Result};
use crate::linalg::Real;
use crate::metrics::Metrics;
use crate::model::Cloud;
use crate::output::write_atomic;

/// The first line of every checkpoint, up to its version number.
const MAGIC_PREFIX: &[u8] = b"meanfield-checkpoint ";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 2;
/// Bytes of the trailing checksum.
const CHECKSUM_BYTES: usize = 4;

fn magic() -> Vec<u8> {
    format!("meanfield-checkpoint {FORMAT_VERSION}\n").into_bytes()
}

/// The payload of a checkpoint file between its version line and its checksum, once the version
/// and the CRC-32C checksum over the whole file are verified.
fn verified<'a>(bytes: &'a [u8], path: &Path) -> Result<&'a [u8]> {
    let refuse = |message: String| Error::data(path, "checkpoint", message);
    let rest = bytes.strip_prefix(MAGIC_PREFIX).ok_or_else(|| {
        refuse("not a meanfield checkpoint (no `meanfield-checkpoint` line); run without --resume".into())
    })?;
    let line_end = rest.iter().position(|&b| b == b'\n').filter(|&p| p <= 20);
    let version = line_end.and_then(|p| std::str::from_utf8(&rest[..p]).ok()?.parse::<u32>().ok());
    match version {
        Some(FORMAT_VERSION) => {}
        Some(v) => {
            return Err(refuse(format!(
                "format version {v}, but this meanfield reads version {FORMAT_VERSION}; \
                 run without --resume to start afresh"
            )))
        }
        None => return Err(refuse("unreadable format version line; the file is not a checkpoint".into())),
    }
    let body = &rest[line_end.expect("a version was parsed") + 1..];
    let Some(split) = bytes.len().checked_sub(CHECKSUM_BYTES).filter(|&s| s >= bytes.len() - body.len()) else {
        return Err(refuse("truncated before its checksum; the file is not a complete checkpoint".into()));
    };
    let (covered, stored) = bytes.split_at(split);
    let stored = u32::from_le_bytes(stored.try_into().expect("4 bytes"));
    let computed = crc32c::crc32c(covered);
    if stored != computed {
        return Err(refuse(format!(
            "checksum mismatch (CRC-32C stored {stored:08x}, computed {computed:08x}): the file is damaged; \
             run without --resume to start afresh"
        )));
    }
    Ok(&body[..body.len() - CHECKSUM_BYTES])
}

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
        let magic = magic();
        let mut bytes =
            Vec::with_capacity(magic.len() + 8 + json.len() + 8 * (2 * theta.len() + header.n) + CHECKSUM_BYTES);
        bytes.extend_from_slice(&magic);
        bytes.extend_from_slice(&(json.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&json);
        push_f64(&mut bytes, theta.iter().map(|v| v.f64()));
        push_f64(&mut bytes, self.initial.theta.iter().map(|v| v.f64()));
        push_f64(&mut bytes, self.state.predictions.iter().copied());
        let checksum = crc32c::crc32c(&bytes);
        bytes.extend_from_slice(&checksum.to_le_bytes());
        write_atomic(path, &bytes)
    }

    /// Reads a checkpoint written by [`Checkpoint::write`] with the same precision.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes, path)
    }

    /// Parses the bytes of a checkpoint file; `path` names it in errors. Never panics, whatever
    /// the bytes.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let corrupt =
            |what: &str| Error::data(path, "checkpoint", format!("{what}; the file is not a complete checkpoint"));
        let rest = verified(bytes, path)?;
        let (len, rest) = rest.split_at_checked(8).ok_or_else(|| corrupt("truncated header"))?;
        let len = usize::try_from(u64::from_le_bytes(len.try_into().expect("8 bytes")))
            .map_err(|_| corrupt("truncated header"))?;
        let (json, rest) = rest.split_at_checked(len).ok_or_else(|| corrupt("truncated header"))?;
        let header: Header = serde_json::from_slice(json).map_err(|e| corrupt(&format!("bad header ({e})")))?;
        if header.precision != F::NAME {
            return Err(Error::data(
                path,
                "checkpoint",
                format!("written with precision = \"{}\", but the run uses \"{}\"", header.precision, F::NAME),
            ));
        }
        let size = header.m.checked_mul(header.width);
        let expected = size.and_then(|s| s.checked_mul(2)?.checked_add(header.n)?.checked_mul(8));
        let (Some(size), true) = (size, expected == Some(rest.len())) else {
            return Err(corrupt("wrong array length"));
        };
        if header.width == 0 {
            return Err(corrupt("particles of width 0"));
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
        let err = |bytes: &[u8]| Checkpoint::<f32>::from_bytes(bytes, Path::new("c.bin")).unwrap_err().to_string();
        let damaged = "the file is damaged; run without --resume to start afresh";
        assert!(err(&bytes[..bytes.len() - 1]).ends_with(damaged));
        assert_eq!(
            err(&bytes[..24]),
            "c.bin:checkpoint: truncated before its checksum; the file is not a complete checkpoint"
        );
        // Every single flipped bit, in the header, the arrays or the checksum, is caught.
        for at in [25, 40, bytes.len() / 2, bytes.len() - 9, bytes.len() - 1] {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x10;
            assert!(err(&flipped).starts_with("c.bin:checkpoint: checksum mismatch (CRC-32C stored "), "{at}");
        }
        let mut old = bytes.clone();
        old[MAGIC_PREFIX.len()] = b'1';
        assert_eq!(
            err(&old),
            "c.bin:checkpoint: format version 1, but this meanfield reads version 2; run without --resume to start afresh"
        );
        assert!(err(b"PK\x03\x04").contains("not a meanfield checkpoint"));
        assert!(Checkpoint::<f64>::read(&path).unwrap_err().to_string().contains("precision = \"f32\""));
    }

    #[test]
    fn a_checksummed_file_with_an_overflowing_shape_is_refused_without_allocating() {
        let header = br#"{"scenario":"","precision":"f64","m":18446744073709551615,"width":3,"n":0,"step":0,"time":0.0,"history":[],"optimum":null,"wall_seconds":0.0}"#;
        let mut bytes = magic();
        bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
        bytes.extend_from_slice(header);
        let crc = crc32c::crc32c(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        let err = Checkpoint::<f64>::from_bytes(&bytes, Path::new("c.bin")).unwrap_err().to_string();
        assert_eq!(err, "c.bin:checkpoint: wrong array length; the file is not a complete checkpoint");
    }
}
