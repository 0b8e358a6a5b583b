//! Running the crate's work from Python: with the GIL released, on a chosen number of threads, and
//! stoppable by Ctrl-C.
//!
//! While Rust code runs with the GIL released, Python's SIGINT handler only records the signal; the
//! `KeyboardInterrupt` is raised when Python code next runs on the main thread. [`interruptible`]
//! therefore runs long work on a helper thread and, on the calling thread, runs the signal handlers
//! every [`POLL`] (`PyErr_CheckSignals`): when one raises, it sets the crate's interrupt flag, so
//! that the run stops after its current step (with a checkpoint, as on Ctrl-C at the command
//! line), waits for it and re-raises the exception.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use rayon::ThreadPool;

/// How often the calling thread runs Python's signal handlers during long work.
const POLL: Duration = Duration::from_millis(50);

/// The threads of a call: `threads=N` makes a pool of N threads; `None` uses rayon's global pool
/// (`RAYON_NUM_THREADS`, else all cores).
#[derive(Clone, Debug, Default)]
pub struct Threads(Option<Arc<ThreadPool>>);

impl Threads {
    /// A pool of `threads` threads (>= 1), or the global pool.
    pub fn new(threads: Option<usize>) -> PyResult<Threads> {
        match threads {
            None => Ok(Threads(None)),
            Some(0) => Err(PyValueError::new_err("threads = 0: must be at least 1, or None for RAYON_NUM_THREADS")),
            Some(n) => rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .map(|p| Threads(Some(Arc::new(p))))
                .map_err(|e| PyRuntimeError::new_err(format!("threads = {n}: {e}"))),
        }
    }

    /// Runs `work` in this pool.
    pub fn install<T: Send>(&self, work: impl FnOnce() -> T + Send) -> T {
        match &self.0 {
            Some(pool) => pool.install(work),
            None => work(),
        }
    }

    /// The number of threads the work runs on.
    pub fn count(&self) -> usize {
        self.install(rayon::current_num_threads)
    }
}

/// Runs `work` with the GIL released in `threads`, stoppable by Ctrl-C: `work` must stop soon
/// after `flag` is set (the crate's runs do, after their current step). Re-raises the exception
/// of a signal handler (`KeyboardInterrupt`) after `work` has returned.
pub fn interruptible<T: Send>(
    py: Python<'_>,
    threads: &Threads,
    flag: &Arc<AtomicBool>,
    work: impl FnOnce() -> T + Send,
) -> PyResult<T> {
    std::thread::scope(|scope| {
        let (sender, mut receiver) = mpsc::channel();
        scope.spawn(move || {
            let _ = sender.send(threads.install(work));
        });
        let mut raised: Option<PyErr> = None;
        loop {
            let (received, back) = py.detach(move || (receiver.recv_timeout(POLL), receiver));
            receiver = back;
            match received {
                Ok(value) => return raised.map_or(Ok(value), Err),
                Err(RecvTimeoutError::Timeout) => {
                    if raised.is_none() {
                        if let Err(error) = py.check_signals() {
                            flag.store(true, Ordering::SeqCst);
                            raised = Some(error);
                        }
                    }
                }
                // The worker panicked: the scope re-raises its panic when it ends.
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(raised.unwrap_or_else(|| PyRuntimeError::new_err("meanfield: the work panicked")))
                }
            }
        }
    })
}

/// Runs short work with the GIL released in `threads`.
pub fn detached<T: Send>(py: Python<'_>, threads: &Threads, work: impl FnOnce() -> T + Send) -> T {
    py.detach(|| threads.install(work))
}
