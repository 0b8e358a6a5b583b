//! The library's error type.
//!
//! Every message names where the problem is (file, field or line), the offending value and what
//! is allowed, so that a user can fix the input without reading the source.

use std::path::{Path, PathBuf};

/// A number as a person writes it in a message: `0.5`, `1e308`, `-2.5e-7` (never hundreds of digits).
pub fn short(x: f64) -> String {
    if x != 0.0 && x.is_finite() && !(1e-4..1e6).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// Exit code after SIGINT: 128 + 2 (see `signals`).
pub const EXIT_INTERRUPTED: u8 = 130;
/// Exit code after SIGTERM: 128 + 15 (see `signals`).
pub const EXIT_TERMINATED: u8 = 143;

/// Everything that can go wrong in `meanfield`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A scenario file is not valid TOML.
    #[error("{file}: not valid TOML: {message}")]
    ScenarioSyntax { file: String, message: String },

    /// A scenario field has the wrong type, is unknown or is missing.
    #[error("{file}: field `{field}`: {message}")]
    ScenarioField { file: String, field: String, message: String },

    /// A scenario field has a value outside its allowed range.
    #[error("{file}: field `{field}` = {value}: {allowed}")]
    ScenarioValue { file: String, field: String, value: String, allowed: String },

    /// A `--set KEY=VALUE` override is malformed.
    #[error("--set {arg}: {message}")]
    Override { arg: String, message: String },

    /// A run of a sweep is invalid or failed; `overrides` are the run's overrides of the base
    /// scenario.
    #[error("{file}: run {index} ({overrides}): {source}")]
    SweepRun { file: String, index: usize, overrides: String, source: Box<Error> },

    /// Some runs of a sweep failed; the others finished and were written.
    #[error("{failed} of {total} runs failed; the first: {first}")]
    SweepFailed { failed: usize, total: usize, first: Box<Error> },

    /// A sweep folder lacks the results of some runs (`collect` before every shard finished).
    #[error(
        "{dir}: {missing} of {total} runs have no summary.json (first: {first}); sweep.csv has the others; run the missing shards and collect again"
    )]
    SweepIncomplete { dir: PathBuf, missing: usize, total: usize, first: String },

    /// A data file (csv or npy) cannot be used.
    #[error("{file}:{location}: {message}")]
    Data { file: String, location: String, message: String },

    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },

    /// Arguments given to a library function are inconsistent (dimensions, ranges).
    #[error("{0}")]
    Invalid(String),

    /// The dynamics produced a non-finite or exploding quantity.
    #[error(
        "diverged at step {step}: {quantity} = {}; the step size eta = {} is too large, try eta = {}",
        short(*.value),
        short(*.eta),
        short(*.suggested)
    )]
    Diverged { step: u64, quantity: String, value: f64, eta: f64, suggested: f64 },

    /// The run was interrupted (Ctrl-C) after a step; a checkpoint was written.
    #[error("interrupted after step {step}; the checkpoint and metrics are written: continue with --resume")]
    Interrupted { step: u64 },

    /// The run was stopped by SIGTERM after a step; a checkpoint was written.
    #[error("terminated by SIGTERM after step {step}; the checkpoint and metrics are written: continue with --resume")]
    Terminated { step: u64 },

    /// Long solver or certificate work stopped by a signal or the time limit ([`crate::interrupt`]).
    #[error("{what}: {cause}; nothing was written")]
    Stopped { what: String, cause: Stop },

    /// An output folder holds a different run.
    #[error("{dir}: holds the outputs of a different scenario; use --force to overwrite them or choose another --out")]
    OutputExists { dir: PathBuf },

    /// Another run holds the output folder's lock.
    #[error("{}: in use by another meanfield run ({}); wait for it to finish or choose another --out", dir.display(), pid.map_or("pid unknown".to_string(), |p| format!("pid {p}")))]
    Locked { dir: PathBuf, pid: Option<u32> },

    /// The convex solver failed.
    #[error("convex solver: {0}")]
    Solver(String),

    /// Writing a plot failed.
    #[error("plot {path}: {message}")]
    Plot { path: PathBuf, message: String },
}

impl Error {
    /// The process exit code of the command line for this error (the README's table): 130
    /// interrupted, 3 diverged, 1 I/O, plot, solver or incomplete sweep, 2 invalid input.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Interrupted { .. } => EXIT_INTERRUPTED,
            Error::Terminated { .. } => EXIT_TERMINATED,
            Error::Stopped { cause, .. } => match cause {
                Stop::Interrupted => EXIT_INTERRUPTED,
                Stop::Terminated => EXIT_TERMINATED,
                Stop::TimeLimit(_) => 1,
            },
            Error::Diverged { .. } => 3,
            Error::Io { .. } | Error::Plot { .. } | Error::Solver(_) | Error::SweepIncomplete { .. } => 1,
            Error::SweepFailed { first, .. } => first.exit_code(),
            Error::SweepRun { source, .. } => source.exit_code(),
            _ => 2,
        }
    }

    /// An I/O error at `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io { path: path.as_ref().to_path_buf(), source }
    }

    /// A problem in a data file at a given location (a line, `header`, `shape`...).
    pub fn data(file: impl AsRef<Path>, location: impl ToString, message: impl Into<String>) -> Self {
        Error::Data {
            file: file.as_ref().display().to_string(),
            location: location.to_string(),
            message: message.into(),
        }
    }
}

/// `Result` with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why long work stopped ([`crate::interrupt`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stop {
    /// SIGINT (Ctrl-C).
    Interrupted,
    /// SIGTERM.
    Terminated,
    /// The time limit of this many seconds passed.
    TimeLimit(f64),
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Interrupted => write!(f, "interrupted by Ctrl-C (SIGINT)"),
            Stop::Terminated => write!(f, "terminated by SIGTERM"),
            Stop::TimeLimit(s) => write!(f, "stopped at the time limit of {s} s (--time-limit)"),
        }
    }
}
