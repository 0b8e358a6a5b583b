//! Stopping long solver and certificate work: the convex program's column generation and conic
//! solves, and the exact sphere maximum, check between iterations whether SIGINT or SIGTERM arrived
//! ([`crate::signals`]) or a wall-clock limit (`--time-limit`) passed, and stop with an error that
//! says which; nothing is written after that.
//!
//! The state is process-wide (one command per process): [`watch`] hands it the signal flags and
//! [`set_time_limit`] the limit. Without them [`check`] never stops anything, so library callers
//! (tests, the Python module) are unaffected.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub use crate::error::Stop;
use crate::error::{Error, Result};
use crate::signals::StopSignals;

static SIGNALS: OnceLock<StopSignals> = OnceLock::new();
static LIMIT: Mutex<Option<(Instant, Duration)>> = Mutex::new(None);
/// Set once a limit or a signal was seen, so that checks in hot loops stay cheap.
static STOPPED: AtomicBool = AtomicBool::new(false);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Stops long work when SIGINT or SIGTERM sets the flags of `signals` (the first flags given in
/// this process; later calls change nothing).
pub fn watch(signals: &StopSignals) {
    let _ = SIGNALS.set(signals.clone());
}

/// Stops long work `seconds` from now (`None`: no limit).
pub fn set_time_limit(seconds: Option<f64>) {
    *lock(&LIMIT) = seconds.map(|s| (Instant::now(), Duration::from_secs_f64(s)));
}

/// Seconds left before the time limit, if one is set (0 once it passed).
pub fn remaining_seconds() -> Option<f64> {
    lock(&LIMIT).map(|(start, limit)| limit.saturating_sub(start.elapsed()).as_secs_f64())
}

/// Whether a signal arrived or the time limit passed.
pub fn stopped() -> bool {
    if STOPPED.load(Ordering::Relaxed) {
        return true;
    }
    let signalled = signalled();
    let expired = lock(&LIMIT).is_some_and(|(start, limit)| start.elapsed() >= limit);
    if signalled || expired {
        STOPPED.store(true, Ordering::Relaxed);
    }
    signalled || expired
}

/// Whether SIGINT or SIGTERM arrived (the time limit aside).
pub fn signalled() -> bool {
    SIGNALS.get().is_some_and(|s| s.stop.load(Ordering::Relaxed))
}

/// `Ok` unless SIGINT or SIGTERM arrived; for work that runs briefly after the time limit (the
/// final certificate of a solution found in time).
pub fn check_signals(what: &str) -> Result<()> {
    if signalled() {
        check(what)
    } else {
        Ok(())
    }
}

/// `Ok` unless a signal arrived or the time limit passed; then the error naming `what` was stopped
/// and why (exit code 130 after SIGINT, 143 after SIGTERM, 1 after the time limit).
pub fn check(what: &str) -> Result<()> {
    if !stopped() {
        return Ok(());
    }
    let cause = match SIGNALS.get() {
        Some(s) if s.stop.load(Ordering::SeqCst) => {
            if s.terminated() {
                Stop::Terminated
            } else {
                Stop::Interrupted
            }
        }
        _ => Stop::TimeLimit(lock(&LIMIT).map_or(0.0, |(_, l)| l.as_secs_f64())),
    };
    Err(Error::Stopped { what: what.to_string(), cause })
}
