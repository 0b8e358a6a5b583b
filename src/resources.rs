//! What the machine has: memory available and the process's peak memory (Linux `/proc`).

/// A `kB` field of a `/proc` status file, in bytes.
fn proc_field(file: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The peak resident set size of this process (VmHWM), if the platform reports it.
pub fn peak_rss_bytes() -> Option<u64> {
    proc_field("/proc/self/status", "VmHWM:")
}

/// The memory the kernel says is available for new allocations (MemAvailable), if reported.
pub fn available_memory_bytes() -> Option<u64> {
    proc_field("/proc/meminfo", "MemAvailable:")
}

/// What a refused run may do about its size.
pub const MEMORY_ADVICE: &str = "reduce model.m, data.n, data.test_n or data.d, or use precision = \"f32\"";

/// Threads per core that `--jobs` may ask for at most.
pub const THREADS_PER_CORE: usize = 4;

/// The most runs one sweep may hold (its plan is kept in memory and on disk).
pub const MAX_SWEEP_RUNS: usize = 1_000_000;

/// The cores this process may use.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Checks a thread count given as `flag` (`--jobs`, `--threads`): at least 1 and at most
/// [`THREADS_PER_CORE`] times the cores (more threads only add stacks and buffers).
pub fn check_threads(flag: &str, threads: usize) -> crate::Result<usize> {
    let cores = cores();
    let most = THREADS_PER_CORE * cores;
    if threads == 0 {
        return Err(crate::Error::Invalid(format!("{flag} 0: must be at least 1 (omit it to use all {cores} cores)")));
    }
    if threads > most {
        return Err(crate::Error::Invalid(format!(
            "{flag} {threads}: at most {most} ({THREADS_PER_CORE} per core, {cores} cores here); \
             more threads only add memory, not speed"
        )));
    }
    Ok(threads)
}

/// Bytes in a human unit: `512 B`, `3.2 MiB`, `1.50 GiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    if value < 1024.0 {
        return format!("{bytes} B");
    }
    let mut unit = "B";
    for u in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = u;
    }
    format!("{value:.2} {unit}")
}

/// The product of `factors`, saturating at `u128::MAX` (more than any machine has).
pub fn product(factors: &[u128]) -> u128 {
    factors.iter().try_fold(1u128, |p, &f| p.checked_mul(f)).unwrap_or(u128::MAX)
}

/// Bytes in a human unit, also beyond u64 (`> 16 EiB`).
pub fn bytes_text(bytes: u128) -> String {
    u64::try_from(bytes).map_or_else(|_| "more than 16 EiB".to_string(), human_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_as_people_write_them() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 * 1024 * 1024 + 200 * 1024), "3.20 MiB");
        assert_eq!(human_bytes(3 << 30), "3.00 GiB");
    }

    #[test]
    fn thread_counts_beyond_four_per_core_are_refused() {
        let most = THREADS_PER_CORE * cores();
        assert_eq!(check_threads("--jobs", most).unwrap(), most);
        let err = check_threads("--jobs", most + 1).unwrap_err().to_string();
        assert!(err.starts_with(&format!("--jobs {}: at most {most} (4 per core, ", most + 1)), "{err}");
        assert!(check_threads("--jobs", 0).unwrap_err().to_string().starts_with("--jobs 0: must be at least 1"));
    }

    #[test]
    fn linux_reports_memory() {
        if cfg!(target_os = "linux") {
            assert!(available_memory_bytes().unwrap() > 1 << 20);
            assert!(peak_rss_bytes().unwrap() > 1 << 10);
        }
    }
}
