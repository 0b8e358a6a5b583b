//! The files a run writes into its output folder, by name: what `--force` removes before a run
//! (and never anything else), so that no output of an earlier scenario survives beside the new
//! run's, even if the new run is killed.

use std::path::Path;

use crate::error::{Error, Result};

/// Every file name a run writes (the figures as `.png` and `.svg`), in the order a run writes
/// them; `summary.json` last.
pub const RUN_FILES: &[&str] = &[
    "scenario.toml",
    "checkpoint.bin",
    "metrics.csv",
    "particles.npy",
    "cloud.gif",
    "loss.png",
    "loss.svg",
    "errors.png",
    "errors.svg",
    "cloud.png",
    "cloud.svg",
    "convergence.png",
    "convergence.svg",
    "summary.json",
];

/// Whether `name` is a temporary file of one of [`RUN_FILES`] left by a killed run
/// (`.NAME.tmpPID`, or `.NAME.PID-K.tmp.EXT` for figures).
fn is_temporary_of_run_file(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('.') else { return false };
    RUN_FILES.iter().any(|f| {
        rest.strip_prefix(f).is_some_and(|tail| {
            let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
            tail.strip_prefix(".tmp").is_some_and(digits)
                || tail.strip_prefix('.').is_some_and(|t| {
                    t.split_once(".tmp.")
                        .is_some_and(|(id, _)| id.split_once('-').is_some_and(|(p, k)| digits(p) && digits(k)))
                })
        })
    })
}

/// Removes from `dir` the files of [`RUN_FILES`] and their temporary files; returns how many
/// were removed. Other files are left alone; summary.json goes first, so that the folder never
/// looks complete while it is being cleared.
pub fn remove_run_files(dir: &Path) -> Result<usize> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(0) };
    let mut doomed: Vec<_> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            RUN_FILES.contains(&name.as_str()) || is_temporary_of_run_file(&name)
        })
        .map(|e| e.path())
        .collect();
    doomed.sort_by_key(|p| p.file_name() != Some("summary.json".as_ref()));
    for path in &doomed {
        std::fs::remove_file(path).map_err(|e| Error::io(path, e))?;
    }
    Ok(doomed.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_run_files_and_their_temporaries_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mine = ["metrics.csv", "cloud.gif", ".particles.npy.tmp123", ".loss.png.77-3.tmp.png", "summary.json"];
        let theirs = ["notes.txt", "metrics.csv.bak", ".metrics.csv.tmpx", "loss.pdf", ".hidden"];
        for name in mine.iter().chain(&theirs) {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        std::fs::create_dir(dir.path().join("particles.npy")).unwrap(); // a folder is never removed
        assert_eq!(remove_run_files(dir.path()).unwrap(), mine.len());
        let mut left: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        left.sort();
        let mut expected: Vec<String> = theirs.iter().map(|s| s.to_string()).collect();
        expected.push("particles.npy".into());
        expected.sort();
        assert_eq!(left, expected);
        assert_eq!(remove_run_files(&dir.path().join("absent")).unwrap(), 0);
    }
}
