//! Figures: line panels, particle scatter plots, heatmaps and animated GIFs.
//!
//! This is a small, general layer over `plotters` that knows nothing about simulations. Every
//! still figure is written twice, as `<stem>.png` and `<stem>.svg`; animations are GIFs.
//!
//! The functions are robust to real data: non-finite values are skipped, and so are nonpositive
//! values on a logarithmic axis; a panel left without data is still drawn, with a "no data" note.
//! Every file is drawn into a temporary file in its target directory (created if missing) and
//! then renamed, so a reader never sees a half-written plot. Failures are reported as
//! [`Error::Plot`], never as panics.
//!
//! Text uses the bundled DejaVu Sans font, so no system font is needed.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::register_font;

mod animation;
mod axis;
mod heatmap;
mod panel;
mod scatter;

pub use animation::Animation;
/// A compact number as on tick labels: 4 significant digits, scientific when very small or large.
pub use axis::format_value as format_number;

use crate::error::{Error, Result};
use crate::output::{write_atomic_with, AtomicWrite};
use axis::*;
use heatmap::*;
use panel::*;
use scatter::*;

/// Size in pixels of one panel of a [`figure`].
pub(super) const PANEL_SIZE: (u32, u32) = (900, 600);
/// Size in pixels of a [`scatter`] plot.
pub(super) const SCATTER_SIZE: (u32, u32) = (800, 700);
/// Size in pixels of a [`heatmap`], colour bar included.
pub(super) const HEATMAP_SIZE: (u32, u32) = (1000, 650);
/// Width in pixels of the colour bar area of a heatmap.
pub(super) const COLOUR_BAR_WIDTH: u32 = 170;

/// Colours of successive series (matplotlib's "tab10").
pub(super) const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];
/// Colour of positive scatter points.
pub(super) const POSITIVE: RGBColor = RGBColor(214, 39, 40);
/// Colour of negative scatter points.
pub(super) const NEGATIVE: RGBColor = RGBColor(31, 119, 180);
/// Colour of missing heatmap cells and of notes.
pub(super) const MISSING: RGBColor = RGBColor(190, 190, 190);
/// Anchors of the viridis colour map, evenly spaced on [0, 1].
pub(super) const VIRIDIS: [(f64, f64, f64); 8] = [
    (68.0, 1.0, 84.0),
    (70.0, 50.0, 127.0),
    (54.0, 92.0, 141.0),
    (39.0, 127.0, 143.0),
    (31.0, 162.0, 136.0),
    (74.0, 194.0, 110.0),
    (160.0, 219.0, 57.0),
    (254.0, 232.0, 37.0),
];

/// The bundled font, registered with plotters as "sans-serif".
pub(super) const FONT: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/fonts/DejaVuSans.ttf"));

/// Scale of an axis (or of heatmap colours).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scale {
    /// Evenly spaced values.
    #[default]
    Linear,
    /// Evenly spaced powers of ten; nonpositive values are skipped.
    Log,
}

/// How a [`Series`] is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mark {
    /// A solid line.
    #[default]
    Line,
    /// A dashed line.
    Dashed,
    /// Points only.
    Points,
    /// A solid line with a point at each value.
    LinePoints,
}

/// One curve of a [`Panel`].
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// Legend entry; an empty label leaves the series out of the legend.
    pub label: String,
    /// Abscissae.
    pub x: Vec<f64>,
    /// Ordinates, as many as `x`.
    pub y: Vec<f64>,
    /// Optional shaded band `(lower, upper)`, each as many as `x`.
    pub band: Option<(Vec<f64>, Vec<f64>)>,
    /// How the values are drawn.
    pub mark: Mark,
}

impl Series {
    /// A solid line without band.
    pub fn new(label: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Self {
        Series { label: label.into(), x, y, band: None, mark: Mark::Line }
    }
}

/// One chart of a [`figure`]: axes, title, legend and its series.
#[derive(Debug, Clone, Default)]
pub struct Panel {
    /// Title above the chart.
    pub title: String,
    /// Label of the horizontal axis.
    pub x_label: String,
    /// Label of the vertical axis.
    pub y_label: String,
    /// Scale of the horizontal axis.
    pub x_scale: Scale,
    /// Scale of the vertical axis.
    pub y_scale: Scale,
    /// The curves, coloured in order.
    pub series: Vec<Series>,
    /// On a log x axis: draw x = 0 at the left edge (a tick labelled 0, a small gap before the
    /// first positive value) instead of dropping it, and end the axis at the largest x (a time
    /// axis that starts at t = 0 and ends with the data).
    pub x_from_zero: bool,
}

impl Panel {
    /// A panel with linear axes and no series yet.
    pub fn new(title: impl Into<String>, x_label: impl Into<String>, y_label: impl Into<String>) -> Self {
        Panel { title: title.into(), x_label: x_label.into(), y_label: y_label.into(), ..Panel::default() }
    }
}

/// One point of a [`Scatter`] plot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Horizontal position.
    pub x: f64,
    /// Vertical position.
    pub y: f64,
    /// Relative mass: the largest point gets the largest marker, area proportional to `size`.
    pub size: f64,
    /// Sign: positive points are red, negative ones blue.
    pub positive: bool,
}

/// A scatter plot of signed, weighted points with optional reference marks.
#[derive(Debug, Clone, Default)]
pub struct Scatter {
    /// Title above the chart.
    pub title: String,
    /// Label of the horizontal axis.
    pub x_label: String,
    /// Label of the vertical axis.
    pub y_label: String,
    /// The points.
    pub points: Vec<Point>,
    /// Highlighted reference positions, drawn as black crosses.
    pub marks: Vec<(f64, f64)>,
    /// Fixed axis range `(x_min, x_max, y_min, y_max)` (e.g. for animations); points outside are
    /// not drawn. `None` fits the range to the data.
    pub bounds: Option<(f64, f64, f64, f64)>,
}

/// A heatmap of values on a grid, with a colour bar.
#[derive(Debug, Clone, Default)]
pub struct Heatmap {
    /// Title above the chart.
    pub title: String,
    /// Label of the horizontal axis.
    pub x_label: String,
    /// Label of the vertical axis.
    pub y_label: String,
    /// Label of the colour bar.
    pub value_label: String,
    /// Grid values along the horizontal axis.
    pub x: Vec<f64>,
    /// Grid values along the vertical axis.
    pub y: Vec<f64>,
    /// `z[j][i]` is the value at `(x[i], y[j])`; NaN (or a nonpositive value on a log colour
    /// scale) is missing and drawn grey.
    pub z: Vec<Vec<f64>>,
    /// A linear axis places cells at their values (when these are distinct); a log axis shows
    /// evenly sized cells labelled by value.
    pub x_scale: Scale,
    /// As `x_scale`, for the vertical axis.
    pub y_scale: Scale,
    /// Scale of the colour map.
    pub z_scale: Scale,
}

/// Writes `<stem>.png` and `<stem>.svg`: the panels side by side (up to three) or in a grid, each
/// about 900x600 pixels with title, labelled axes and a legend placed where it covers least data.
///
/// A trailing `.png` or `.svg` on `stem` is ignored.
///
/// # Errors
/// [`Error::Plot`] if `panels` is empty, a series has `x`, `y` or band vectors of different
/// lengths, or a file cannot be written.
pub fn figure(stem: &Path, panels: &[Panel]) -> Result<()> {
    if panels.is_empty() {
        return Err(plot_error(stem, "a figure needs at least one panel"));
    }
    for panel in panels {
        for series in &panel.series {
            check_series(series).map_err(|m| plot_error(stem, format!("panel `{}`: {m}", panel.title)))?;
        }
    }
    let (rows, cols) = grid(panels.len());
    let size = (cols as u32 * PANEL_SIZE.0, rows as u32 * PANEL_SIZE.1);
    render(stem, size, &Plot::Figure(panels))
}

/// Writes `<stem>.png` and `<stem>.svg`: a scatter plot, red for positive points and blue for
/// negative ones, marker area proportional to the point's size, reference marks as crosses.
///
/// # Errors
/// [`Error::Plot`] if a file cannot be written.
pub fn scatter(stem: &Path, s: &Scatter) -> Result<()> {
    render(stem, SCATTER_SIZE, &Plot::Scatter(s))
}

/// Writes `<stem>.png` and `<stem>.svg`: a heatmap with a viridis colour bar; missing cells are
/// grey.
///
/// # Errors
/// [`Error::Plot`] if `z` is not `y.len()` rows of `x.len()` values, or a file cannot be written.
pub fn heatmap(stem: &Path, h: &Heatmap) -> Result<()> {
    if h.z.len() != h.y.len() || h.z.iter().any(|row| row.len() != h.x.len()) {
        let rows: Vec<usize> = h.z.iter().map(Vec::len).collect();
        return Err(plot_error(
            stem,
            format!(
                "heatmap `{}`: z must have {} rows of {} values (y by x), found row lengths {rows:?}",
                h.title,
                h.y.len(),
                h.x.len()
            ),
        ));
    }
    render(stem, HEATMAP_SIZE, &Plot::Heatmap(h))
}

/// A `Error::Plot` about `path`.
pub(super) fn plot_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Plot { path: path.to_path_buf(), message: message.into() }
}

/// Formats a drawing error.
pub(super) fn msg(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Registers the bundled font once.
pub(super) fn ensure_font(path: &Path) -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    if *REGISTERED.get_or_init(|| register_font("sans-serif", FontStyle::Normal, FONT).is_ok()) {
        Ok(())
    } else {
        Err(plot_error(path, "the bundled font DejaVuSans.ttf cannot be loaded"))
    }
}

/// A font of the given pixel size.
pub(super) fn font(size: f64) -> FontDesc<'static> {
    FontDesc::new(FontFamily::SansSerif, size, FontStyle::Normal)
}

/// Rows and columns for `n` panels: one row up to three panels, else a near-square grid.
pub(super) fn grid(n: usize) -> (usize, usize) {
    let cols = if n <= 3 { n } else { (n as f64).sqrt().ceil() as usize };
    (n.div_ceil(cols), cols)
}

/// Checks that a series' vectors have matching lengths.
pub(super) fn check_series(s: &Series) -> Result<(), String> {
    if s.x.len() != s.y.len() {
        return Err(format!("series `{}`: x has {} values but y has {}", s.label, s.x.len(), s.y.len()));
    }
    if let Some((lo, hi)) = &s.band {
        if lo.len() != s.x.len() || hi.len() != s.x.len() {
            return Err(format!(
                "series `{}`: band has {} lower and {} upper values, x has {}",
                s.label,
                lo.len(),
                hi.len(),
                s.x.len()
            ));
        }
    }
    Ok(())
}

/// `stem` with extension `ext` appended (a trailing `.png` or `.svg` on `stem` is replaced).
pub(super) fn with_extension(stem: &Path, ext: &str) -> PathBuf {
    let base = match stem.extension().and_then(|e| e.to_str()) {
        Some("png" | "svg") => stem.with_extension(""),
        _ => stem.to_path_buf(),
    };
    let mut name = base.into_os_string();
    name.push(".");
    name.push(ext);
    PathBuf::from(name)
}

/// A fresh temporary path next to `target`, with the same extension; creates the directory.
pub(super) fn temp_path(target: &Path) -> Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(dir)
        .map_err(|e| plot_error(target, format!("cannot create directory {}: {e}", dir.display())))?;
    let name = target.file_name().ok_or_else(|| plot_error(target, "the path has no file name"))?;
    let ext = target.extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    Ok(dir.join(format!(".{}.{}-{n}.tmp.{ext}", name.to_string_lossy(), std::process::id())))
}

/// Draws `target` through [`write_atomic_with`]: `draw` fills a temporary file (with the target's extension,
/// which tells plotters the format) that is then renamed; errors are plot errors naming `target`.
pub(super) fn draw_atomic(target: &Path, draw: impl FnOnce(&Path) -> Result<(), String>) -> Result<()> {
    let tmp = temp_path(target)?;
    write_atomic_with(target, &tmp, draw).map_err(|e| match e {
        AtomicWrite::Fill(m) => plot_error(target, m),
        AtomicWrite::Rename(e) => plot_error(target, format!("cannot rename {}: {e}", tmp.display())),
    })
}

/// What a still image shows.
pub(super) enum Plot<'a> {
    /// Panels of line charts.
    Figure(&'a [Panel]),
    /// A scatter plot.
    Scatter(&'a Scatter),
    /// A heatmap.
    Heatmap(&'a Heatmap),
}

impl Plot<'_> {
    /// Draws onto a white `area`.
    pub(super) fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        area.fill(&WHITE).map_err(msg)?;
        match self {
            Plot::Figure(panels) => {
                let cells = area.split_evenly(grid(panels.len()));
                panels.iter().zip(&cells).try_for_each(|(panel, cell)| draw_panel(cell, panel))
            }
            Plot::Scatter(s) => draw_scatter(area, s),
            Plot::Heatmap(h) => draw_heatmap(area, h),
        }?;
        area.present().map_err(msg)
    }
}

/// Writes `plot` as `<stem>.png` and `<stem>.svg` of `size` pixels.
pub(super) fn render(stem: &Path, size: (u32, u32), plot: &Plot) -> Result<()> {
    ensure_font(stem)?;
    draw_atomic(&with_extension(stem, "png"), |tmp| plot.draw(&BitMapBackend::new(tmp, size).into_drawing_area()))?;
    draw_atomic(&with_extension(stem, "svg"), |tmp| {
        let mut svg = String::new();
        plot.draw(&SVGBackend::with_string(&mut svg, size).into_drawing_area())?;
        fs::write(tmp, svg).map_err(|e| format!("cannot write {}: {e}", tmp.display()))
    })
}

#[cfg(test)]
mod tests;
