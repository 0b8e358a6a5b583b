//! An advisory lock on a run's output folder, so that two runs never write into one folder at
//! once.
//!
//! The lock is an exclusive `flock` (through the `fs4` crate) on the file `.meanfield.lock` in the
//! folder, which holds the holder's process id. The kernel releases it when the holder exits in
//! any way, `kill -9` included, so a stale file never blocks a later run. The holder removes the
//! file when it is done; a run that opened the file just before it was removed notices that the
//! path no longer names its file and tries again.
//!
//! A lock that created its folder also removes it again if the run left nothing in it but its
//! `scenario.toml` (a run refused before it produced anything leaves no folder behind).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use fs4::FileExt;

use crate::error::{Error, Result};

/// The lock file's name inside an output folder.
pub const LOCK_FILE: &str = ".meanfield.lock";

/// A held lock on an output folder; released (and its file removed) when dropped.
#[derive(Debug)]
pub struct FolderLock {
    file: File,
    path: PathBuf,
    /// The folders this lock created, the innermost first.
    created: Vec<PathBuf>,
}

/// Whether `file` is still the file at `path` (same device and inode).
#[cfg(unix)]
fn still_at(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn still_at(_file: &File, path: &Path) -> bool {
    path.exists()
}

impl FolderLock {
    /// Creates `dir` if needed and locks it for this process; refuses with [`Error::Locked`],
    /// naming the holder's process id, a folder that another run holds.
    pub fn acquire(dir: &Path) -> Result<FolderLock> {
        let created: Vec<PathBuf> =
            dir.ancestors().take_while(|a| !a.as_os_str().is_empty() && !a.exists()).map(Path::to_path_buf).collect();
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(LOCK_FILE);
        loop {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| Error::io(&path, e))?;
            match FileExt::try_lock(&file) {
                Ok(()) => {}
                Err(fs4::TryLockError::WouldBlock) => {
                    let mut text = String::new();
                    let pid = file.read_to_string(&mut text).ok().and_then(|_| text.trim().parse::<u32>().ok());
                    return Err(Error::Locked { dir: dir.to_path_buf(), pid });
                }
                Err(fs4::TryLockError::Error(e)) => return Err(Error::io(&path, e)),
            }
            if !still_at(&file, &path) {
                continue; // the previous holder removed the file after we opened it
            }
            let pid = format!("{}\n", std::process::id());
            file.set_len(0)
                .and_then(|_| file.rewind())
                .and_then(|_| file.write_all(pid.as_bytes()))
                .map_err(|e| Error::io(&path, e))?;
            return Ok(FolderLock { file, path, created });
        }
    }
}

impl Drop for FolderLock {
    fn drop(&mut self) {
        // Removed while still locked, so that no other run can lock the old file afterwards.
        let _ = std::fs::remove_file(&self.path);
        let _ = FileExt::unlock(&self.file);
        let Some(dir) = self.created.first() else { return };
        let names: Vec<_> = match std::fs::read_dir(dir) {
            Ok(entries) => entries.filter_map(|e| e.ok()).map(|e| e.file_name()).collect(),
            Err(_) => return,
        };
        if names.iter().all(|n| n == "scenario.toml") {
            let _ = std::fs::remove_file(dir.join("scenario.toml"));
            // Only empty folders go (remove_dir is not recursive).
            self.created.iter().try_for_each(std::fs::remove_dir).ok();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_is_held_by_one_lock_at_a_time_and_freed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let held = FolderLock::acquire(&out).unwrap();
        let text = std::fs::read_to_string(out.join(LOCK_FILE)).unwrap();
        assert_eq!(text, format!("{}\n", std::process::id()));
        // flock locks belong to the open file, so a second open in this process is refused too.
        let err = FolderLock::acquire(&out).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{}: in use by another meanfield run (pid {}); wait for it to finish or choose another --out",
                out.display(),
                std::process::id()
            )
        );
        drop(held);
        assert!(!out.join(LOCK_FILE).exists(), "the lock file is removed with the lock");
        let again = FolderLock::acquire(&out).unwrap();
        drop(again);
        assert!(!out.exists(), "a folder the lock created and nothing was written to is removed");
        let held = FolderLock::acquire(&out.join("a/b")).unwrap();
        std::fs::write(out.join("a/b/metrics.csv"), "x").unwrap();
        drop(held);
        assert!(out.join("a/b/metrics.csv").exists(), "a folder with outputs stays");
    }
}
