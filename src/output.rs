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
    let fill = |tmp: &Path| {
        std::fs::File::create(tmp).and_then(|mut file| file.write_all(bytes).and_then(|_| file.sync_all()))
    };
    // A full disk or a vanished folder: the error names the file that could not be written rather than
    // its temporary name.
    write_atomic_with(path, &tmp, fill).map_err(|e| match e {
        AtomicWrite::Fill(e) | AtomicWrite::Rename(e) => Error::io(path, e),
    })
}

/// Which stage of [`write_atomic_with`] failed.
#[derive(Debug)]
pub enum AtomicWrite<E> {
    /// Writing the temporary file.
    Fill(E),
    /// Renaming it to its path.
    Rename(std::io::Error),
}

/// The one atomic write: `fill` writes the temporary file `tmp` (in the folder of `path`), which is then
/// renamed to `path`. On any failure the temporary file is removed, so nothing half-written is left behind.
/// [`write_atomic`] (bytes) and the figures (drawn into the temporary file) go through it.
pub fn write_atomic_with<E>(
    path: &Path,
    tmp: &Path,
    fill: impl FnOnce(&Path) -> std::result::Result<(), E>,
) -> std::result::Result<(), AtomicWrite<E>> {
    let done =
        fill(tmp).map_err(AtomicWrite::Fill).and_then(|()| std::fs::rename(tmp, path).map_err(AtomicWrite::Rename));
    if done.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    done
}

/// Writes an f64 matrix as a `.npy` file (numpy reads it with `np.load`).
pub fn write_npy(path: &Path, array: &Array2<f64>) -> Result<()> {
    let mut bytes = Vec::new();
    array.write_npy(&mut bytes).map_err(|e| Error::data(path, "write", e.to_string()))?;
    write_atomic(path, &bytes)
}

/// Reads an f64 matrix from a `.npy` file.
pub fn read_npy(path: &Path) -> Result<Array2<f64>> {
    crate::paths::regular_input(path)?;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    Array2::<f64>::read_npy(file)
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
