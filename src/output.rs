//! Output files. Every file is written to a temporary name in its folder and renamed, so a reader
//! never sees a half-written file; `summary.json` is written last and marks a run complete.

use std::io::Write;
use std::path::Path;

use ndarray::Array2;
use ndarray_npy::{ReadNpyExt, WriteNpyExt};

use crate::error::{Error, Result};

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, then a rename. On
/// failure the temporary file is removed and the error names `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let written = std::fs::File::create(&tmp)
        .and_then(|mut file| file.write_all(bytes).and_then(|_| file.sync_all()))
        .and_then(|_| std::fs::rename(&tmp, path));
    written.map_err(|e| {
        // A full disk or a vanished folder: leave nothing half-written behind, and name the file
        // that could not be written rather than its temporary name.
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

/// Writes an f64 matrix as a `.npy` file (numpy reads it with `np.load`).
pub fn write_npy(path: &Path, array: &Array2<f64>) -> Result<()> {
    let mut bytes = Vec::new();
    array.write_npy(&mut bytes).map_err(|e| Error::data(path, "write", e.to_string()))?;
    write_atomic(path, &bytes)
}

/// Reads an f64 matrix from a `.npy` file.
pub fn read_npy(path: &Path) -> Result<Array2<f64>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    npy_from_bytes(&bytes, path)
}

/// Parses the bytes of a `.npy` file holding a 2-d float64 array; `path` names it in errors.
/// The header's shape is checked against the bytes before anything is allocated, so no input
/// panics or asks for more memory than it holds.
pub fn npy_from_bytes(bytes: &[u8], path: &Path) -> Result<Array2<f64>> {
    crate::footprint::npy_header_shape(bytes, bytes.len() as u64, path)?;
    Array2::<f64>::read_npy(bytes)
        .map_err(|e| Error::data(path, "npy", format!("{e}; expected a 2-d float64 array (C order)")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_round_trips_and_atomic_write_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/p.npy");
        let a = Array2::from_shape_fn((3, 4), |(i, j)| i as f64 - 0.5 * j as f64);
        write_npy(&path, &a).unwrap();
        assert_eq!(read_npy(&path).unwrap(), a);
        let names: Vec<_> =
            std::fs::read_dir(dir.path().join("sub")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("p.npy")]);
    }
}
