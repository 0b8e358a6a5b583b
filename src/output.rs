//! Output files. Every file is written to a temporary name in its folder and renamed, so a reader
//! never sees a half-written file; `summary.json` is written last and marks a run complete.

use std::io::Write;
use std::path::Path;

use ndarray::Array2;
use ndarray_npy::{ReadNpyExt, WriteNpyExt};

use crate::error::{Error, Result};
use crate::resources::{bytes_text, product};

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
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    npy_from_bytes(&bytes, path)
}

/// Parses the bytes of a `.npy` file holding a 2-d float64 array; `path` names it in errors.
/// The header's shape is checked against the bytes before anything is allocated, so no input
/// panics or asks for more memory than it holds.
pub fn npy_from_bytes(bytes: &[u8], path: &Path) -> Result<Array2<f64>> {
    npy_header_shape(bytes, bytes.len() as u64, path)?;
    Array2::<f64>::read_npy(bytes)
        .map_err(|e| Error::data(path, "npy", format!("{e}; expected a 2-d float64 array (C order)")))
}

/// Rows and columns an `.npy` file's header declares (any dtype), reading only the header; an
/// error names the file when the header is unreadable or declares more values than the file holds.
pub fn npy_shape(path: &std::path::Path) -> Result<(usize, usize)> {
    use std::io::Read;
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
    npy_header_shape(&head[..got], size, path)
}

/// Rows and columns declared by `head`, the first bytes (up to 4096) of an `.npy` file of `size`
/// bytes named `path` in errors; refuses a header that declares more 8-byte values than `size`
/// bytes hold. Never panics, whatever the bytes.
pub fn npy_header_shape(head: &[u8], size: u64, path: &std::path::Path) -> Result<(usize, usize)> {
    let bad = |m: String| Error::data(path, "npy", format!("{m}; expected a 2-d float64 array (C order)"));
    // The header's own length (2 bytes after version 1.0, 4 after 2.0 and 3.0): the reader
    // allocates it before reading, so it must lie within the file.
    if let [0x93, b'N', b'U', b'M', b'P', b'Y', major, _, rest @ ..] = head {
        let (start, length) = match (major, rest) {
            (1, [a, b, ..]) => (10u64, u64::from(u16::from_le_bytes([*a, *b]))),
            (2 | 3, [a, b, c, d, ..]) => (12, u64::from(u32::from_le_bytes([*a, *b, *c, *d]))),
            _ => (0, 0),
        };
        if start + length > size {
            return Err(bad(format!("the header declares a header of {length} bytes but the file has {size} bytes")));
        }
    }
    let text = String::from_utf8_lossy(&head[..head.len().min(4096)]);
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
    let bytes = product(&[u128::from(rows), u128::from(cols), 8]);
    let (Ok(r), Ok(c)) = (usize::try_from(rows), usize::try_from(cols)) else {
        return Err(bad(format!("the header declares {rows} x {cols} values, more than this machine can address")));
    };
    if bytes > u128::from(size) {
        return Err(bad(format!(
            "the header declares {rows} x {cols} values ({}) but the file has {size} bytes",
            bytes_text(bytes)
        )));
    }
    Ok((r, c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_npy_header_length_beyond_the_file_is_refused_before_the_reader_allocates_it() {
        // Found by the cargo-fuzz target `npy`: version 3.0 with a header length of 4278190080
        // bytes made the reader allocate 4 GiB.
        let mut bytes = b"\x93NUMPY\x03\x00\x00\x00\x00\xff".to_vec();
        bytes.extend_from_slice(&[0xff; 26]);
        bytes.extend_from_slice(b"\x00'shape': (1, 3), $");
        let path = std::path::Path::new("fuzz.npy");
        let expected = format!(
            "fuzz.npy:npy: the header declares a header of 4278190080 bytes but the file has {} bytes; \
             expected a 2-d float64 array (C order)",
            bytes.len()
        );
        assert_eq!(npy_header_shape(&bytes, bytes.len() as u64, path).unwrap_err().to_string(), expected);
        assert_eq!(crate::output::npy_from_bytes(&bytes, path).unwrap_err().to_string(), expected);
        // Version 1.0 (2-byte length) and a valid file still read.
        let mut short = b"\x93NUMPY\x01\x00\xff\xff".to_vec();
        short.extend_from_slice(b"{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1), }");
        let err = npy_header_shape(&short, short.len() as u64, path).unwrap_err().to_string();
        assert!(err.contains("a header of 65535 bytes but the file has "), "{err}");
        let mut good = Vec::new();
        ndarray_npy::WriteNpyExt::write_npy(&ndarray::Array2::<f64>::zeros((2, 3)), &mut good).unwrap();
        assert_eq!(npy_header_shape(&good, good.len() as u64, path).unwrap(), (2, 3));
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
