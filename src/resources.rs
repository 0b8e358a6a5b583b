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
    fn linux_reports_memory() {
        if cfg!(target_os = "linux") {
            assert!(available_memory_bytes().unwrap() > 1 << 20);
            assert!(peak_rss_bytes().unwrap() > 1 << 10);
        }
    }
}
