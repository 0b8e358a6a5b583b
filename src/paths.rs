//! Paths given by a user, checked before any work: input files must be regular files (a folder,
//! a named pipe or a device such as /dev/zero is named as what it is), an output folder must not
//! be a file, and an output file's folder must accept new files.

use std::io::ErrorKind;
use std::path::Path;

use crate::error::{Error, Result};

/// Why `path` cannot be read as an input file, or `None` when it is a regular file (symbolic
/// links followed): "no such file", "is a directory, not a file", "is a named pipe (FIFO), not a
/// regular file", "is a character device, not a regular file"...
pub fn not_a_regular_file(path: &Path) -> Option<String> {
    use std::os::unix::fs::FileTypeExt;
    let metadata = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Some("no such file".into()),
        Err(e) => return Some(format!("cannot be read: {e}")),
    };
    let kind = metadata.file_type();
    let what = if kind.is_file() {
        return None;
    } else if kind.is_dir() {
        return Some("is a directory, not a file".into());
    } else if kind.is_fifo() {
        "a named pipe (FIFO)"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    };
    Some(format!("is {what}, not a regular file"))
}

/// An error for an input file that is not a regular file (see [`not_a_regular_file`]), located
/// at `open` in the file.
pub fn regular_input(path: &Path) -> Result<()> {
    match not_a_regular_file(path) {
        None => Ok(()),
        Some(problem) => Err(Error::data(path, "open", problem)),
    }
}

/// Checks an output folder given as `flag` (`--out`): it may not exist yet, but must not be a
/// file or anything else that is not a folder.
pub fn output_folder(flag: &str, dir: &Path) -> Result<()> {
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => Err(Error::Invalid(format!(
            "{flag} {}: is a file, not a folder; choose a folder (it is created if missing)",
            dir.display()
        ))),
        _ => Ok(()),
    }
}

/// Checks, before any work, that files can be written into `dir` (created if missing, with its
/// parents): creates and removes an empty probe file there. The error names `dir` and the
/// operating system's reason, so a figure is not computed only to fail when it is saved.
pub fn writable_folder(dir: &Path) -> Result<()> {
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    if let Ok(m) = std::fs::metadata(dir) {
        if !m.is_dir() {
            return Err(Error::io(dir, std::io::Error::new(ErrorKind::NotADirectory, "is a file, not a folder")));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let probe = dir.join(format!(".meanfield-probe.{}", std::process::id()));
    std::fs::File::create(&probe).map_err(|e| {
        Error::io(dir, std::io::Error::new(e.kind(), format!("cannot create files in this folder ({e})")))
    })?;
    std::fs::remove_file(&probe).map_err(|e| Error::io(&probe, e))
}

/// Checks that the files `STEM.png` and `STEM.svg` can be written (see [`writable_folder`]).
pub fn writable_stem(stem: &Path) -> Result<()> {
    writable_folder(stem.parent().unwrap_or(Path::new(".")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_that_are_not_regular_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(not_a_regular_file(&dir.path().join("none.csv")).as_deref(), Some("no such file"));
        assert_eq!(not_a_regular_file(dir.path()).as_deref(), Some("is a directory, not a file"));
        assert_eq!(
            not_a_regular_file(Path::new("/dev/zero")).as_deref(),
            Some("is a character device, not a regular file")
        );
        let file = dir.path().join("a.csv");
        std::fs::write(&file, "x1,y\n").unwrap();
        assert_eq!(not_a_regular_file(&file), None);
    }

    #[test]
    fn output_folders_are_probed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "").unwrap();
        assert!(output_folder("--out", &file)
            .unwrap_err()
            .to_string()
            .ends_with("is a file, not a folder; choose a folder (it is created if missing)"));
        output_folder("--out", &dir.path().join("new")).unwrap();
        writable_folder(&dir.path().join("a/b")).unwrap();
        assert!(dir.path().join("a/b").is_dir());
        assert_eq!(std::fs::read_dir(dir.path().join("a/b")).unwrap().count(), 0, "the probe is removed");
        assert_eq!(
            writable_folder(&file).unwrap_err().to_string(),
            format!("{}: is a file, not a folder", file.display())
        );
        let err = writable_stem(Path::new("/proc/meanfield-test/x")).unwrap_err();
        assert_eq!(err.exit_code(), 1);
        assert!(err.to_string().starts_with("/proc/meanfield-test: "), "{err}");
    }
}
