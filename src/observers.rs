//! The outputs a run writes or shows while it steps, as observers of the loop
//! ([`crate::engine::Observer`]): the progress bar ([`Progress`]), the movie `cloud.gif`
//! ([`Movie`]) and `metrics.csv` ([`MetricsCsv`]). The checkpoint file is the engine's own
//! observer ([`crate::engine::Checkpoints`]). The runner picks the observers of a run; the loop
//! knows nothing of files or terminals.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ndarray::s;

use crate::engine::{End, Observer, State};
use crate::error::Result;
use crate::linalg::Real;
use crate::metrics::Metrics;
use crate::output::write_atomic;
use crate::plot::{Animation, Scatter};
use crate::report::{self, Ideal};

/// How a run reports progress.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verbosity {
    /// A progress bar on stderr when it is a terminal.
    #[default]
    Normal,
    /// Nothing on stderr.
    Quiet,
}

/// A progress bar over `len` items drawn with `template` (indicatif syntax) on stderr, hidden when
/// quiet or when stderr is not a terminal.
pub fn progress_bar(len: u64, template: &str, verbosity: Verbosity) -> ProgressBar {
    let visible = verbosity == Verbosity::Normal && std::io::stderr().is_terminal();
    let target = if visible { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
    let bar = ProgressBar::with_draw_target(Some(len), target);
    bar.set_style(ProgressStyle::with_template(template).expect("the template is valid"));
    bar
}

/// A progress bar with the current loss and ETA, hidden when quiet or when stderr is not a
/// terminal; cleared when the loop ends.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar over `steps` steps, starting at step `from` (a resumed run).
    pub fn new(steps: u64, from: u64, verbosity: Verbosity) -> Self {
        let template = "{bar:30} {pos}/{len} steps  loss {msg}  [{elapsed_precise} < {eta_precise}]";
        let bar = progress_bar(steps, template, verbosity);
        bar.set_position(from);
        Progress { bar }
    }
}

impl<F: Real> Observer<F> for Progress {
    fn observe(&mut self, _state: &State<F>, metrics: &Metrics) -> Result<()> {
        self.bar.set_message(format!("{:.6e}", metrics.loss));
        Ok(())
    }

    fn tick(&mut self, state: &State<F>) {
        self.bar.set_position(state.step);
    }

    fn finish(&mut self, _end: &End<'_, F>) -> Result<()> {
        self.bar.finish_and_clear();
        Ok(())
    }
}

/// Particles drawn in a movie frame, at most this many (every k-th particle of larger clouds).
const MOVIE_PARTICLES: usize = 2000;
/// Size in pixels and frame duration in milliseconds of `cloud.gif`.
const MOVIE_SIZE: (u32, u32, u32) = (640, 560, 80);

/// Records the cloud for `cloud.gif` at step 0, every `every` steps and at step `last`; when the
/// run finishes, draws the frames into the file, all on the axes of the widest frame, so that the
/// axes stay still. One process only (it draws its own particles).
pub struct Movie {
    path: PathBuf,
    every: u64,
    last: u64,
    ideal: Ideal,
    frames: Vec<Scatter>,
}

impl Movie {
    /// A movie into `path` of frames every `every` steps and at step `last`, marking `ideal`.
    pub fn new(path: PathBuf, every: u64, last: u64, ideal: Ideal) -> Self {
        Movie { path, every, last, ideal, frames: Vec::new() }
    }

    fn record<F: Real>(&mut self, state: &State<F>) {
        let theta = &state.cloud.theta;
        let stride = theta.nrows().div_ceil(MOVIE_PARTICLES).max(1);
        let shown = theta.slice(s![..;stride, ..]).mapv(Real::f64);
        let title = format!("{}, t = {:.4e}", report::cloud_title(shown.ncols() - 1), state.time);
        self.frames.push(report::cloud_scatter(shown.view(), self.ideal, &title));
    }

    /// Draws the frames into `path`.
    fn write(&mut self, path: &Path) -> Result<()> {
        let frames = std::mem::take(&mut self.frames);
        let points = frames.iter().flat_map(|f| f.points.iter().map(|p| (p.x, p.y)).chain(f.marks.iter().copied()));
        let reach = 1.05 * points.fold(0.0, |r: f64, (x, y)| r.max(x.abs()).max(y.abs())).max(1e-12);
        let (width, height, delay) = MOVIE_SIZE;
        let mut animation = Animation::new(path, width, height, delay)?;
        for frame in frames {
            animation.frame(&Scatter { bounds: Some((-reach, reach, -reach, reach)), ..frame })?;
        }
        animation.finish()
    }
}

impl<F: Real> Observer<F> for Movie {
    fn observe(&mut self, state: &State<F>, _metrics: &Metrics) -> Result<()> {
        if state.step == 0 {
            self.record(state);
        }
        Ok(())
    }

    fn tick(&mut self, state: &State<F>) {
        if state.step.is_multiple_of(self.every) || state.step == self.last {
            self.record(state);
        }
    }

    fn finish(&mut self, end: &End<'_, F>) -> Result<()> {
        match end {
            End::Finished(_) => self.write(&self.path.clone()),
            _ => Ok(()),
        }
    }
}

/// Writes `metrics.csv` (one row per logged step, the columns of [`Metrics::COLUMNS`]) when the
/// loop ends, however it ends, so that an interrupted or failed run keeps the rows it logged.
pub struct MetricsCsv {
    path: PathBuf,
}

impl MetricsCsv {
    /// Rows into `path`.
    pub fn new(path: PathBuf) -> Self {
        MetricsCsv { path }
    }
}

impl<F: Real> Observer<F> for MetricsCsv {
    fn observe(&mut self, _state: &State<F>, _metrics: &Metrics) -> Result<()> {
        Ok(())
    }

    fn finish(&mut self, end: &End<'_, F>) -> Result<()> {
        write_atomic(&self.path, &Metrics::to_csv(end.history())?)
    }
}
