//! Helpers shared by the integration tests.

use std::path::Path;

/// The rows of a CSV file (the header first) without the named column, e.g. `wall_seconds`,
/// which differs between otherwise identical runs.
pub fn table_without(path: &Path, column: &str) -> Vec<Vec<String>> {
    let mut reader = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers = reader.headers().unwrap().clone();
    let skip = headers.iter().position(|h| h == column).unwrap_or_else(|| panic!("no column {column}"));
    let keep = |r: &csv::StringRecord| -> Vec<String> {
        r.iter().enumerate().filter(|(i, _)| *i != skip).map(|(_, v)| v.to_string()).collect()
    };
    std::iter::once(keep(&headers)).chain(reader.records().map(|r| keep(&r.unwrap()))).collect()
}

/// Waits (polling every 5 ms, at most `limit`) until `path` exists.
#[allow(dead_code)]
pub fn wait_for(path: &Path, limit: std::time::Duration) {
    let start = std::time::Instant::now();
    while !path.exists() {
        assert!(start.elapsed() < limit, "{} did not appear within {limit:?}", path.display());
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}
