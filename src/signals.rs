//! Stopping a run cleanly on a signal: SIGINT (Ctrl-C) and SIGTERM (what Slurm, `timeout` and
//! `kill` send) both set one flag that the executor reads after every step; the run then writes a
//! checkpoint and `metrics.csv` and stops. A second signal of either kind ends the process at once
//! with the signal's default action (for a run stuck in a long solve).
//!
//! Exit codes: [`EXIT_INTERRUPTED`] (130 = 128 + SIGINT) after SIGINT, [`EXIT_TERMINATED`]
//! (143 = 128 + SIGTERM) after SIGTERM, the codes a shell gives a process killed by those signals,
//! so that schedulers read the outcome as usual.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use signal_hook::consts::{SIGINT, SIGTERM};

use crate::error::{Error, Result};

pub use crate::error::{EXIT_INTERRUPTED, EXIT_TERMINATED};

/// The flags set by SIGINT and SIGTERM.
#[derive(Clone, Debug)]
pub struct StopSignals {
    /// Set by either signal: stop after the current step (give it to the executor).
    pub stop: Arc<AtomicBool>,
    terminated: Arc<AtomicBool>,
}

impl StopSignals {
    /// Installs the handlers of SIGINT and SIGTERM for this process.
    pub fn install() -> Result<StopSignals> {
        let signals =
            StopSignals { stop: Arc::new(AtomicBool::new(false)), terminated: Arc::new(AtomicBool::new(false)) };
        let failed = |e: std::io::Error| Error::Invalid(format!("cannot install the SIGINT/SIGTERM handlers: {e}"));
        for signal in [SIGINT, SIGTERM] {
            // The second signal ends the process: registered before the flag is set.
            signal_hook::flag::register_conditional_default(signal, signals.stop.clone()).map_err(failed)?;
            signal_hook::flag::register(signal, signals.stop.clone()).map_err(failed)?;
        }
        signal_hook::flag::register(SIGTERM, signals.terminated.clone()).map_err(failed)?;
        Ok(signals)
    }

    /// Whether SIGTERM arrived (rather than only SIGINT).
    pub fn terminated(&self) -> bool {
        self.terminated.load(Ordering::SeqCst)
    }

    /// `error`, or [`Error::Terminated`] in place of [`Error::Interrupted`] after SIGTERM.
    pub fn explain(&self, error: Error) -> Error {
        match error {
            Error::Interrupted { step } if self.terminated() => Error::Terminated { step },
            other => other,
        }
    }
}
