//! Animated GIFs of scatter frames.

use std::fs;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use super::*;
use crate::error::Result;

/// An animated GIF of [`Scatter`] frames, looping forever.
///
/// Frames are drawn into a temporary file that [`Animation::finish`] renames to the target path;
/// an animation dropped without `finish` leaves nothing behind. Give every frame the same
/// `bounds` so that the axes stay still.
pub struct Animation {
    area: Option<DrawingArea<BitMapBackend<'static>, Shift>>,
    path: PathBuf,
    tmp: PathBuf,
    frames: usize,
}

impl Animation {
    /// Starts a `width` x `height` GIF at `path`, showing each frame for `frame_delay_ms`
    /// milliseconds (GIF stores hundredths of a second).
    ///
    /// # Errors
    /// [`Error::Plot`] if a side is 0 or above 65535, or the file cannot be created.
    pub fn new(path: &Path, width: u32, height: u32, frame_delay_ms: u32) -> Result<Self> {
        ensure_font(path)?;
        if width == 0 || height == 0 || width > u32::from(u16::MAX) || height > u32::from(u16::MAX) {
            return Err(plot_error(path, format!("GIF size {width}x{height}: each side must be in 1..=65535")));
        }
        let tmp = temp_path(path)?;
        let backend = BitMapBackend::gif(tmp.clone(), (width, height), frame_delay_ms)
            .map_err(|e| plot_error(path, format!("cannot start GIF {}: {e}", tmp.display())))?;
        Ok(Animation { area: Some(backend.into_drawing_area()), path: path.to_path_buf(), tmp, frames: 0 })
    }

    /// Appends one frame showing `s`.
    ///
    /// # Errors
    /// [`Error::Plot`] if the frame cannot be drawn or written.
    pub fn frame(&mut self, s: &Scatter) -> Result<()> {
        let area = self.area.as_ref().ok_or_else(|| plot_error(&self.path, "the animation is closed"))?;
        area.fill(&WHITE)
            .map_err(msg)
            .and_then(|()| draw_scatter(area, s))
            .and_then(|()| area.present().map_err(msg))
            .map_err(|m| plot_error(&self.path, format!("frame {}: {m}", self.frames)))?;
        self.frames += 1;
        Ok(())
    }

    /// Closes the GIF and moves it to its path.
    ///
    /// # Errors
    /// [`Error::Plot`] if no frame was added (nothing is written) or the file cannot be renamed.
    pub fn finish(mut self) -> Result<()> {
        drop(self.area.take());
        if self.frames == 0 {
            // The `Drop` implementation removes the temporary file.
            return Err(plot_error(&self.path, "animation has no frames"));
        }
        // The frames are in the temporary file already: only the rename is left.
        write_atomic_with(&self.path, &self.tmp, |_| Ok::<(), String>(())).map_err(|e| match e {
            AtomicWrite::Fill(m) => plot_error(&self.path, m),
            AtomicWrite::Rename(e) => plot_error(&self.path, format!("cannot rename {}: {e}", self.tmp.display())),
        })
    }
}

impl Drop for Animation {
    /// Removes the temporary file unless `finish` renamed it.
    fn drop(&mut self) {
        drop(self.area.take());
        let _ = fs::remove_file(&self.tmp);
    }
}
