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

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::register_font;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::{Error, Result};

/// Size in pixels of one panel of a [`figure`].
const PANEL_SIZE: (u32, u32) = (900, 600);
/// Size in pixels of a [`scatter`] plot.
const SCATTER_SIZE: (u32, u32) = (800, 700);
/// Size in pixels of a [`heatmap`], colour bar included.
const HEATMAP_SIZE: (u32, u32) = (1000, 650);
/// Width in pixels of the colour bar area of a heatmap.
const COLOUR_BAR_WIDTH: u32 = 170;

/// Colours of successive series (matplotlib's "tab10").
const PALETTE: [RGBColor; 10] = [
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
const POSITIVE: RGBColor = RGBColor(214, 39, 40);
/// Colour of negative scatter points.
const NEGATIVE: RGBColor = RGBColor(31, 119, 180);
/// Colour of missing heatmap cells and of notes.
const MISSING: RGBColor = RGBColor(190, 190, 190);
/// Anchors of the viridis colour map, evenly spaced on [0, 1].
const VIRIDIS: [(f64, f64, f64); 8] = [
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
const FONT: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/fonts/DejaVuSans.ttf"));

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
        fs::rename(&self.tmp, &self.path).map_err(|e| {
            let _ = fs::remove_file(&self.tmp);
            plot_error(&self.path, format!("cannot rename {}: {e}", self.tmp.display()))
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

/// A `Error::Plot` about `path`.
fn plot_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Plot { path: path.to_path_buf(), message: message.into() }
}

/// Formats a drawing error.
fn msg(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Registers the bundled font once.
fn ensure_font(path: &Path) -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    if *REGISTERED.get_or_init(|| register_font("sans-serif", FontStyle::Normal, FONT).is_ok()) {
        Ok(())
    } else {
        Err(plot_error(path, "the bundled font DejaVuSans.ttf cannot be loaded"))
    }
}

/// A font of the given pixel size.
fn font(size: f64) -> FontDesc<'static> {
    FontDesc::new(FontFamily::SansSerif, size, FontStyle::Normal)
}

/// Rows and columns for `n` panels: one row up to three panels, else a near-square grid.
fn grid(n: usize) -> (usize, usize) {
    let cols = if n <= 3 { n } else { (n as f64).sqrt().ceil() as usize };
    (n.div_ceil(cols), cols)
}

/// Checks that a series' vectors have matching lengths.
fn check_series(s: &Series) -> Result<(), String> {
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
fn with_extension(stem: &Path, ext: &str) -> PathBuf {
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
fn temp_path(target: &Path) -> Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(dir)
        .map_err(|e| plot_error(target, format!("cannot create directory {}: {e}", dir.display())))?;
    let name = target.file_name().ok_or_else(|| plot_error(target, "the path has no file name"))?;
    let ext = target.extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    Ok(dir.join(format!(".{}.{}-{n}.tmp.{ext}", name.to_string_lossy(), std::process::id())))
}

/// Writes `target` atomically: `write` fills a temporary file that is then renamed.
fn write_atomic(target: &Path, write: impl FnOnce(&Path) -> Result<(), String>) -> Result<()> {
    let tmp = temp_path(target)?;
    if let Err(m) = write(&tmp) {
        let _ = fs::remove_file(&tmp);
        return Err(plot_error(target, m));
    }
    fs::rename(&tmp, target).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        plot_error(target, format!("cannot rename {}: {e}", tmp.display()))
    })
}

/// What a still image shows.
enum Plot<'a> {
    /// Panels of line charts.
    Figure(&'a [Panel]),
    /// A scatter plot.
    Scatter(&'a Scatter),
    /// A heatmap.
    Heatmap(&'a Heatmap),
}

impl Plot<'_> {
    /// Draws onto a white `area`.
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
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
fn render(stem: &Path, size: (u32, u32), plot: &Plot) -> Result<()> {
    ensure_font(stem)?;
    write_atomic(&with_extension(stem, "png"), |tmp| plot.draw(&BitMapBackend::new(tmp, size).into_drawing_area()))?;
    write_atomic(&with_extension(stem, "svg"), |tmp| {
        let mut svg = String::new();
        plot.draw(&SVGBackend::with_string(&mut svg, size).into_drawing_area())?;
        fs::write(tmp, svg).map_err(|e| format!("cannot write {}: {e}", tmp.display()))
    })
}

/// One axis: range, scale, tick positions and tick labels. Categorical axes are linear over
/// `0..n` with labelled ticks at cell centres.
#[derive(Debug, Clone)]
struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
    major: Vec<f64>,
    labels: Vec<String>,
    minor: Vec<f64>,
}

impl Axis {
    /// An axis over `[lo, hi]` (`0 < lo < hi` if `scale` is log) with about `target` labelled ticks.
    fn new(lo: f64, hi: f64, scale: Scale, target: usize) -> Self {
        let log = scale == Scale::Log;
        let (major, labels, minor) = if log { log_ticks(lo, hi, target) } else { linear_ticks(lo, hi, target) };
        Axis { lo, hi, log, major, labels, minor }
    }

    /// A categorical axis with one cell per value, labelled by value (at most `target` labels);
    /// when all values are powers of ten they are labelled as such.
    fn categories(values: &[f64], target: usize) -> Self {
        let stride = values.len().div_ceil(target.max(1)).max(1);
        let decade =
            |v: f64| (v > 0.0 && (v.log10() - v.log10().round()).abs() < 1e-9).then(|| v.log10().round() as i32);
        let decades = values.iter().all(|v| decade(*v).is_some());
        let label = |v: f64| {
            if decades {
                decade(v).map_or_else(String::new, power_of_ten)
            } else {
                format_value(v)
            }
        };
        let (major, labels) =
            values.iter().enumerate().step_by(stride).map(|(i, v)| (i as f64 + 0.5, label(*v))).unzip();
        Axis { lo: 0.0, hi: values.len().max(1) as f64, log: false, major, labels, minor: Vec::new() }
    }

    /// An axis fitted to `values` (invalid ones ignored), padded a little; log axes span whole
    /// decades unless that would waste most of the space.
    fn fit(values: &[f64], scale: Scale, target: usize) -> Self {
        let (lo, hi) = data_range(values, scale, true);
        Axis::new(lo, hi, scale, target)
    }

    /// `v` transformed by the scale (log10 on a log axis).
    fn transform(&self, v: f64) -> f64 {
        if self.log {
            v.log10()
        } else {
            v
        }
    }

    /// Position of `v` along the axis: 0 at `lo`, 1 at `hi`.
    fn frac(&self, v: f64) -> f64 {
        let (a, b) = (self.transform(self.lo), self.transform(self.hi));
        (self.transform(v) - a) / (b - a)
    }

    /// The value at position `t` along the axis.
    fn at(&self, t: f64) -> f64 {
        let (a, b) = (self.transform(self.lo), self.transform(self.hi));
        let u = a + t * (b - a);
        if self.log {
            10f64.powf(u)
        } else {
            u
        }
    }
}

impl Ranged for Axis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let t = self.frac(*value);
        let t = if t.is_nan() { -1.0 } else { t.clamp(-1.0, 2.0) };
        (f64::from(limit.0) + t * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        let stride = self.major.len().div_ceil(hint.bold_points().max(1)).max(1);
        let mut points: Vec<f64> = self.major.iter().copied().step_by(stride).collect();
        if hint.weight().allow_light_points() && points.len() + self.minor.len() <= hint.max_num_points() {
            points.extend(&self.minor);
        }
        points
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

impl ValueFormatter<f64> for Axis {
    fn format_ext(&self, value: &f64) -> String {
        self.major.iter().position(|m| m == value).map(|i| self.labels[i].clone()).unwrap_or_default()
    }
}

/// Whether `v` is finite (and positive on a log scale).
fn valid(v: f64, log: bool) -> bool {
    v.is_finite() && (!log || v > 0.0)
}

/// The range of the valid `values`, never degenerate. With `pad`, linear ranges get 5% on each
/// side and log ranges are widened to whole decades unless that would more than double them (else
/// they get 5% on each side); without, the range is the data's own (for colour scales).
fn data_range(values: &[f64], scale: Scale, pad: bool) -> (f64, f64) {
    let log = scale == Scale::Log;
    let (min, max) = values
        .iter()
        .filter(|v| valid(**v, log))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(*v), b.max(*v)));
    if min > max {
        return if log { (1.0, 10.0) } else { (0.0, 1.0) };
    }
    if log {
        let (a, b) = (min.log10(), max.log10());
        let (a, b) = if b - a < 1e-9 { (a - 0.5, b + 0.5) } else { (a, b) };
        let (a, b) = if pad {
            let (da, db) = ((a + 1e-9).floor(), (b - 1e-9).ceil());
            if db - da <= 2.0 * (b - a) {
                (da, db)
            } else {
                (a - 0.05 * (b - a), b + 0.05 * (b - a))
            }
        } else {
            (a, b)
        };
        (10f64.powf(a.max(-307.0)), 10f64.powf(b.min(308.0)))
    } else {
        let span = max - min;
        if span <= 1e-12 * min.abs().max(max.abs()) {
            let half = if min == 0.0 { 1.0 } else { 0.1 * min.abs() };
            return (min - half, max + half);
        }
        let margin = if pad { 0.05 * span } else { 0.0 };
        let (lo, hi) = (min - margin, max + margin);
        if lo.is_finite() && hi.is_finite() {
            (lo, hi)
        } else {
            (min, max)
        }
    }
}

/// Major ticks, their labels and minor ticks of a linear axis over `[lo, hi]`.
fn linear_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, Vec<String>, Vec<f64>) {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return (vec![lo, hi], vec![format_value(lo), format_value(hi)], Vec::new());
    }
    let raw = span / target.max(2) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let (factor, subdivisions) = match raw / mag {
        r if r <= 1.0 => (1.0, 5.0),
        r if r <= 2.0 => (2.0, 4.0),
        r if r <= 5.0 => (5.0, 5.0),
        _ => (10.0, 5.0),
    };
    let step = factor * mag;
    let multiples = |step: f64| {
        let (first, last) = ((lo / step - 1e-9).ceil(), (hi / step + 1e-9).floor());
        if last - first > 1000.0 {
            Vec::new()
        } else {
            (0..=(last - first) as i64).map(|k| (first + k as f64) * step + 0.0).collect()
        }
    };
    let major = multiples(step);
    let minor = multiples(step / subdivisions).into_iter().filter(|v| !major.iter().any(|m| m == v)).collect();
    let largest = major.iter().fold(0f64, |a, v| a.max(v.abs()));
    let exponent = if largest > 0.0 { largest.log10().floor() } else { 0.0 };
    let step_exponent = step.log10().floor();
    let labels = major
        .iter()
        .map(|v| {
            if !(-3.0..5.0).contains(&exponent) {
                if *v == 0.0 {
                    return "0".to_string();
                }
                trim_scientific(&format!("{:.*e}", (exponent - step_exponent).clamp(0.0, 10.0) as usize, v))
            } else {
                format!("{:.*}", (-step_exponent).clamp(0.0, 10.0) as usize, v)
            }
        })
        .collect();
    (major, labels, minor)
}

/// Major ticks, their labels and minor ticks of a log axis over `[lo, hi]`: powers of ten
/// (thinned to about `target`), else 1-2-5 multiples, else linear ticks.
fn log_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, Vec<String>, Vec<f64>) {
    let (a, b) = (lo.log10(), hi.log10());
    if !(a.is_finite() && b.is_finite() && b > a) {
        return linear_ticks(lo, hi, target);
    }
    let (first, last) = ((a - 1e-9).ceil() as i32, (b + 1e-9).floor() as i32);
    let inside = |v: f64| v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9);
    if last > first {
        let count = (last - first + 1) as usize;
        let stride = count.div_ceil(target.max(2)) as i32;
        let (decades, rest): (Vec<i32>, Vec<i32>) = (first..=last).partition(|k| k.rem_euclid(stride) == 0);
        let major = decades.iter().map(|k| 10f64.powi(*k)).collect();
        let labels = decades.iter().map(|k| power_of_ten(*k)).collect();
        let minor = if stride == 1 {
            (first - 1..=last)
                .flat_map(|k| (2..=9).map(move |m| f64::from(m) * 10f64.powi(k)))
                .filter(|v| inside(*v))
                .collect()
        } else {
            rest.iter().map(|k| 10f64.powi(*k)).collect()
        };
        return (major, labels, minor);
    }
    let (k0, k1) = (a.floor() as i32, b.ceil() as i32);
    let multiples = |ms: &'static [u32]| -> Vec<f64> {
        (k0..=k1).flat_map(|k| ms.iter().map(move |m| f64::from(*m) * 10f64.powi(k))).filter(|v| inside(*v)).collect()
    };
    let major = multiples(&[1, 2, 5]);
    if major.len() < 2 {
        return linear_ticks(lo, hi, target);
    }
    let minor = multiples(&[3, 4, 6, 7, 8, 9]);
    let labels = major.iter().map(|v| format_value(*v)).collect();
    (major, labels, minor)
}

/// `10^k` with a superscript exponent.
fn power_of_ten(k: i32) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let exponent: String = k.to_string().chars().map(|c| c.to_digit(10).map_or('⁻', |d| DIGITS[d as usize])).collect();
    format!("10{exponent}")
}

/// A compact label for `v`: up to 4 significant digits, scientific when very small or large.
fn format_value(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{}", v + 0.0);
    }
    let exponent = v.abs().log10().floor();
    if (-3.0..5.0).contains(&exponent) {
        let text = format!("{:.*}", (3.0 - exponent).max(0.0) as usize, v);
        if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            text
        }
    } else {
        trim_scientific(&format!("{v:.3e}"))
    }
}

/// Removes trailing zeros of the mantissa of a number in Rust's scientific format.
fn trim_scientific(text: &str) -> String {
    match text.split_once('e') {
        Some((mantissa, exponent)) if mantissa.contains('.') => {
            format!("{}e{exponent}", mantissa.trim_end_matches('0').trim_end_matches('.'))
        }
        _ => text.to_string(),
    }
}

/// The viridis colour at `t` in [0, 1].
fn viridis(t: f64) -> RGBColor {
    let s = t.clamp(0.0, 1.0) * (VIRIDIS.len() - 1) as f64;
    let i = (s.floor() as usize).min(VIRIDIS.len() - 2);
    let f = s - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let mix = |p: f64, q: f64| (p + f * (q - p)).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Legend corner, among the four, with the fewest data points (positions in [0, 1]^2) under a
/// legend box of `width` x `height` (fractions of the plotting area); upper right on ties.
fn legend_corner(points: &[(f64, f64)], width: f64, height: f64) -> SeriesLabelPosition {
    let corners = [
        (SeriesLabelPosition::UpperRight, true, true),
        (SeriesLabelPosition::UpperLeft, false, true),
        (SeriesLabelPosition::LowerRight, true, false),
        (SeriesLabelPosition::LowerLeft, false, false),
    ];
    let covered = |right: bool, upper: bool| {
        points
            .iter()
            .filter(|(x, y)| {
                (if right { *x >= 1.0 - width } else { *x <= width })
                    && (if upper { *y >= 1.0 - height } else { *y <= height })
            })
            .count()
    };
    corners
        .into_iter()
        .min_by_key(|(_, right, upper)| covered(*right, *upper))
        .map_or(SeriesLabelPosition::UpperRight, |(pos, _, _)| pos)
}

/// Size of a legend with `labels` as fractions of a plotting area of `dim` pixels.
fn legend_size<'a>(labels: impl Iterator<Item = &'a str>, dim: (u32, u32)) -> (f64, f64) {
    let (count, longest) = labels.fold((0usize, 0usize), |(n, w), l| (n + 1, w.max(l.chars().count())));
    let width = (longest * 9 + 80) as f64 / f64::from(dim.0.max(1));
    let height = (count * 22 + 30) as f64 / f64::from(dim.1.max(1));
    (width, height)
}

/// Text style of axis tick labels.
fn tick_style() -> TextStyle<'static> {
    font(16.0).color(&BLACK)
}

/// The chart type of every plot here.
type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<Axis, Axis>>;

/// Draws the axes, tick labels and axis labels, with a light grid if `grid`.
fn draw_mesh<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    x_label: &str,
    y_label: &str,
    grid: bool,
) -> Result<(), String> {
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(x_label)
        .y_desc(y_label)
        .label_style(tick_style())
        .axis_desc_style(font(20.0))
        .x_labels(12)
        .y_labels(12)
        .set_all_tick_mark_size(6)
        .max_light_lines(10)
        .bold_line_style(BLACK.mix(0.15))
        .light_line_style(BLACK.mix(0.05));
    if !grid {
        mesh.disable_mesh();
    }
    mesh.draw().map_err(msg)
}

/// A chart on `area` with a title and room for tick and axis labels.
fn build_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    title: &str,
    x: &Axis,
    y: &Axis,
) -> Result<Chart<'a, DB>, String> {
    ChartBuilder::on(area)
        .caption(title, font(24.0))
        .margin(14)
        .margin_right(28)
        .x_label_area_size(64)
        .y_label_area_size(100)
        .build_cartesian_2d(x.clone(), y.clone())
        .map_err(msg)
}

/// Draws "no data" in the middle of a chart.
fn draw_no_data<'a, DB: DrawingBackend + 'a>(chart: &mut Chart<'a, DB>, x: &Axis, y: &Axis) -> Result<(), String> {
    let style = font(24.0).color(&MISSING).pos(Pos::new(HPos::Center, VPos::Center));
    chart.draw_series(std::iter::once(Text::new("no data", (x.at(0.5), y.at(0.5)), style))).map_err(msg)?;
    Ok(())
}

/// Draws the legend at the corner where it covers fewest of `points` (data coordinates).
fn draw_legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    labels: &[&str],
    points: &[(f64, f64)],
    x: &Axis,
    y: &Axis,
) -> Result<(), String> {
    if labels.is_empty() {
        return Ok(());
    }
    let (width, height) = legend_size(labels.iter().copied(), chart.plotting_area().dim_in_pixel());
    let fractions: Vec<(f64, f64)> = points.iter().map(|(u, v)| (x.frac(*u), y.frac(*v))).collect();
    chart
        .configure_series_labels()
        .position(legend_corner(&fractions, width, height))
        .label_font(tick_style())
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(msg)
}

/// Splits a sequence at its gaps (`None`) into non-empty runs.
fn split_runs<T>(items: impl Iterator<Item = Option<T>>) -> Vec<Vec<T>> {
    let mut runs = Vec::new();
    let mut current = Vec::new();
    for item in items {
        match item {
            Some(v) => current.push(v),
            None if !current.is_empty() => runs.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

/// A band point: abscissa, lower value (`None` if it lies below a log axis) and upper value.
type BandPoint = (f64, Option<f64>, f64);

/// The drawable data of a series: runs of valid points and of valid band values.
struct Prepared {
    runs: Vec<Vec<(f64, f64)>>,
    bands: Vec<Vec<BandPoint>>,
}

impl Prepared {
    /// Keeps the values of `s` that can be drawn on the given axes.
    fn new(s: &Series, x_log: bool, y_log: bool) -> Self {
        let runs =
            split_runs(s.x.iter().zip(&s.y).map(|(x, y)| (valid(*x, x_log) && valid(*y, y_log)).then_some((*x, *y))));
        let bands = s.band.as_ref().map_or_else(Vec::new, |(lower, upper)| {
            split_runs(s.x.iter().zip(lower).zip(upper).map(|((x, l), u)| {
                (valid(*x, x_log) && valid(*u, y_log) && l.is_finite()).then_some((
                    *x,
                    valid(*l, y_log).then_some(*l),
                    *u,
                ))
            }))
        });
        Prepared { runs, bands }
    }

    /// Abscissae of everything drawn.
    fn xs(&self) -> impl Iterator<Item = f64> + '_ {
        self.runs.iter().flatten().map(|p| p.0).chain(self.bands.iter().flatten().map(|b| b.0))
    }

    /// Ordinates of everything drawn.
    fn ys(&self) -> impl Iterator<Item = f64> + '_ {
        let band = self.bands.iter().flatten().flat_map(|b| b.1.into_iter().chain([b.2]));
        self.runs.iter().flatten().map(|p| p.1).chain(band)
    }

    /// Points that a legend should avoid: the data, points along lines, the band edges.
    fn footprint(&self, mark: Mark, out: &mut Vec<(f64, f64)>) {
        for run in &self.runs {
            out.extend(run);
            if mark != Mark::Points {
                for pair in run.windows(2) {
                    let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
                    out.extend((1..8).map(|k| {
                        let t = f64::from(k) / 8.0;
                        (x0 + t * (x1 - x0), y0 + t * (y1 - y0))
                    }));
                }
            }
        }
        for band in &self.bands {
            out.extend(band.iter().flat_map(|(x, l, u)| l.map(|l| (*x, l)).into_iter().chain([(*x, *u)])));
        }
    }
}

/// Draws one panel of a figure.
fn draw_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, panel: &Panel) -> Result<(), String> {
    let (x_log, y_log) = (panel.x_scale == Scale::Log, panel.y_scale == Scale::Log);
    let data: Vec<Prepared> = panel.series.iter().map(|s| Prepared::new(s, x_log, y_log)).collect();
    let xs: Vec<f64> = data.iter().flat_map(Prepared::xs).collect();
    let ys: Vec<f64> = data.iter().flat_map(Prepared::ys).collect();
    let (xa, ya) = (Axis::fit(&xs, panel.x_scale, 9), Axis::fit(&ys, panel.y_scale, 8));
    let mut chart = build_chart(area, &panel.title, &xa, &ya)?;
    draw_mesh(&mut chart, &panel.x_label, &panel.y_label, true)?;
    for (k, d) in data.iter().enumerate() {
        let fill = PALETTE[k % PALETTE.len()].mix(0.2).filled();
        for band in &d.bands {
            let upper = band.iter().map(|(x, _, u)| (*x, *u));
            let lower = band.iter().rev().map(|(x, l, _)| (*x, l.unwrap_or(ya.lo)));
            let outline: Vec<(f64, f64)> = upper.chain(lower).collect();
            chart.draw_series(std::iter::once(Polygon::new(outline, fill))).map_err(msg)?;
        }
    }
    let mut footprint = Vec::new();
    for (k, (s, d)) in panel.series.iter().zip(&data).enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        draw_runs(&mut chart, s.mark, colour, &d.runs)?;
        d.footprint(s.mark, &mut footprint);
        if !s.label.is_empty() {
            add_legend_entry(&mut chart, &s.label, s.mark, colour)?;
        }
    }
    if xs.is_empty() {
        draw_no_data(&mut chart, &xa, &ya)?;
    }
    let labels: Vec<&str> = panel.series.iter().map(|s| s.label.as_str()).filter(|l| !l.is_empty()).collect();
    draw_legend(&mut chart, &labels, &footprint, &xa, &ya)
}

/// Draws the runs of a series; a run of a single point (or of equal points) is drawn as a dot
/// whatever the mark.
fn draw_runs<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    mark: Mark,
    colour: RGBColor,
    runs: &[Vec<(f64, f64)>],
) -> Result<(), String> {
    let line = colour.stroke_width(2);
    for run in runs {
        let extended = run.iter().any(|p| *p != run[0]);
        if extended {
            match mark {
                Mark::Line | Mark::LinePoints => {
                    chart.draw_series(LineSeries::new(run.iter().copied(), line)).map_err(msg)?;
                }
                Mark::Dashed => {
                    chart.draw_series(DashedLineSeries::new(run.iter().copied(), 10, 6, line)).map_err(msg)?;
                }
                Mark::Points => {}
            }
        }
        if !extended || matches!(mark, Mark::Points | Mark::LinePoints) {
            chart.draw_series(run.iter().map(|p| Circle::new(*p, 3, colour.filled()))).map_err(msg)?;
        }
    }
    Ok(())
}

/// Adds a legend entry drawn like `mark`.
fn add_legend_entry<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    label: &str,
    mark: Mark,
    colour: RGBColor,
) -> Result<(), String> {
    let line = colour.stroke_width(2);
    let entry = chart.draw_series(LineSeries::new(std::iter::empty(), line)).map_err(msg)?;
    entry.label(label);
    match mark {
        Mark::Line => entry.legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], line)),
        Mark::Dashed => entry.legend(move |(x, y)| {
            EmptyElement::at((x, y))
                + PathElement::new(vec![(0, 0), (9, 0)], line)
                + PathElement::new(vec![(15, 0), (24, 0)], line)
        }),
        Mark::Points => entry.legend(move |(x, y)| Circle::new((x + 12, y), 4, colour.filled())),
        Mark::LinePoints => entry.legend(move |(x, y)| {
            EmptyElement::at((x, y))
                + PathElement::new(vec![(0, 0), (24, 0)], line)
                + Circle::new((12, 0), 4, colour.filled())
        }),
    };
    Ok(())
}

/// Draws a scatter plot onto `area`.
fn draw_scatter<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, s: &Scatter) -> Result<(), String> {
    let bounds =
        s.bounds.filter(|(x0, x1, y0, y1)| [x0, x1, y0, y1].iter().all(|v| v.is_finite()) && x0 < x1 && y0 < y1);
    let inside = |x: f64, y: f64| {
        x.is_finite()
            && y.is_finite()
            && bounds.is_none_or(|(x0, x1, y0, y1)| (x0..=x1).contains(&x) && (y0..=y1).contains(&y))
    };
    let mut points: Vec<&Point> = s.points.iter().filter(|p| inside(p.x, p.y) && p.size.is_finite()).collect();
    points.sort_by(|a, b| b.size.total_cmp(&a.size));
    let marks: Vec<(f64, f64)> = s.marks.iter().copied().filter(|(x, y)| inside(*x, *y)).collect();
    let footprint: Vec<(f64, f64)> = points.iter().map(|p| (p.x, p.y)).chain(marks.iter().copied()).collect();
    let (xa, ya) = match bounds {
        Some((x0, x1, y0, y1)) => (Axis::new(x0, x1, Scale::Linear, 8), Axis::new(y0, y1, Scale::Linear, 8)),
        None => {
            let (xs, ys): (Vec<f64>, Vec<f64>) = footprint.iter().copied().unzip();
            (Axis::fit(&xs, Scale::Linear, 8), Axis::fit(&ys, Scale::Linear, 8))
        }
    };
    let mut chart = build_chart(area, &s.title, &xa, &ya)?;
    draw_mesh(&mut chart, &s.x_label, &s.y_label, true)?;
    let largest = points.iter().fold(0f64, |m, p| m.max(p.size));
    let radius = |size: f64| {
        if largest > 0.0 {
            (2.0 + 8.0 * (size.max(0.0) / largest).sqrt()).round() as i32
        } else {
            3
        }
    };
    let colour = |positive: bool| if positive { POSITIVE } else { NEGATIVE };
    chart
        .draw_series(
            points.iter().map(|p| Circle::new((p.x, p.y), radius(p.size), colour(p.positive).mix(0.55).filled())),
        )
        .map_err(msg)?;
    chart.draw_series(marks.iter().map(|m| Cross::new(*m, 8, BLACK.stroke_width(3)))).map_err(msg)?;
    let mut labels = Vec::new();
    for (label, positive) in [("positive", true), ("negative", false)] {
        if points.iter().any(|p| p.positive == positive) {
            chart
                .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
                .map_err(msg)?
                .label(label)
                .legend(move |(x, y)| Circle::new((x + 12, y), 6, colour(positive).mix(0.55).filled()));
            labels.push(label);
        }
    }
    if !marks.is_empty() {
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
            .map_err(msg)?
            .label("reference")
            .legend(|(x, y)| Cross::new((x + 12, y), 7, BLACK.stroke_width(3)));
        labels.push("reference");
    }
    if footprint.is_empty() {
        draw_no_data(&mut chart, &xa, &ya)?;
    }
    draw_legend(&mut chart, &labels, &footprint, &xa, &ya)
}

/// The axis of a heatmap and the extent of each cell along it: cells centred on their values
/// for a linear axis with distinct finite values, else evenly sized labelled categories.
fn cell_axis(values: &[f64], scale: Scale, target: usize) -> (Axis, Vec<(f64, f64)>) {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|a, b| values[*a].total_cmp(&values[*b]));
    let sorted: Vec<f64> = order.iter().map(|i| values[*i]).collect();
    let numeric = scale == Scale::Linear
        && sorted.len() >= 2
        && sorted.iter().all(|v| v.is_finite())
        && sorted.windows(2).all(|w| w[0] < w[1]);
    if !numeric {
        let cells = (0..values.len()).map(|i| (i as f64, i as f64 + 1.0)).collect();
        return (Axis::categories(values, target), cells);
    }
    let n = sorted.len();
    let edge = |k: usize| match k {
        0 => sorted[0] - (sorted[1] - sorted[0]) / 2.0,
        k if k == n => sorted[n - 1] + (sorted[n - 1] - sorted[n - 2]) / 2.0,
        k => (sorted[k - 1] + sorted[k]) / 2.0,
    };
    let mut cells = vec![(0.0, 0.0); n];
    for (k, i) in order.iter().enumerate() {
        cells[*i] = (edge(k), edge(k + 1));
    }
    let mut axis = Axis::new(edge(0), edge(n), Scale::Linear, target);
    if n <= target {
        axis.labels = sorted.iter().map(|v| format_value(*v)).collect();
        axis.major = sorted;
        axis.minor.clear();
    }
    (axis, cells)
}

/// Draws a heatmap and its colour bar onto `area`.
fn draw_heatmap<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, h: &Heatmap) -> Result<(), String> {
    let (main, bar_area) = area.split_horizontally(area.dim_in_pixel().0.saturating_sub(COLOUR_BAR_WIDTH));
    let (xa, x_cells) = cell_axis(&h.x, h.x_scale, 12);
    let (ya, y_cells) = cell_axis(&h.y, h.y_scale, 14);
    let z_log = h.z_scale == Scale::Log;
    let values: Vec<f64> = h.z.iter().flatten().copied().collect();
    let (z0, z1) = data_range(&values, h.z_scale, false);
    let za = Axis::new(z0, z1, h.z_scale, 8);
    let mut chart = build_chart(&main, &h.title, &xa, &ya)?;
    draw_mesh(&mut chart, &h.x_label, &h.y_label, false)?;
    let scale = &za;
    let cells = h.z.iter().zip(&y_cells).flat_map(|(row, (y0, y1))| {
        row.iter().zip(&x_cells).map(move |(v, (x0, x1))| {
            let colour = if valid(*v, z_log) { viridis(scale.frac(*v)) } else { MISSING };
            Rectangle::new([(*x0, *y0), (*x1, *y1)], colour.filled())
        })
    });
    chart.draw_series(cells).map_err(msg)?;
    if values.is_empty() {
        draw_no_data(&mut chart, &xa, &ya)?;
    }

    let (_, plot_y) = chart.plotting_area().get_pixel_range();
    let (_, bar_y) = bar_area.get_pixel_range();
    let top = (plot_y.start - bar_y.start).max(0);
    let bottom = (bar_y.end - plot_y.end).max(0);
    let mut bar = ChartBuilder::on(&bar_area)
        .margin_top(top)
        .margin_bottom(bottom)
        .margin_left(8)
        .right_y_label_area_size(COLOUR_BAR_WIDTH as i32 - 44)
        .build_cartesian_2d(0f64..1f64, za.clone())
        .map_err(msg)?;
    bar.configure_mesh()
        .disable_x_axis()
        .disable_mesh()
        .label_style(tick_style())
        .set_all_tick_mark_size(6)
        .y_labels(10)
        .draw()
        .map_err(msg)?;
    let style = font(20.0).color(&BLACK).transform(FontTransform::Rotate270).pos(Pos::new(HPos::Center, VPos::Bottom));
    let middle = (plot_y.start + plot_y.end) / 2 - bar_y.start;
    bar_area.draw(&Text::new(h.value_label.as_str(), (COLOUR_BAR_WIDTH as i32 - 8, middle), style)).map_err(msg)?;
    let steps = 200;
    bar.draw_series((0..steps).map(|k| {
        let (t0, t1) = (f64::from(k) / f64::from(steps), f64::from(k + 1) / f64::from(steps));
        Rectangle::new([(0.0, za.at(t0)), (1.0, za.at(t1))], viridis((t0 + t1) / 2.0).filled())
    }))
    .map_err(msg)?;
    if values.iter().any(|v| !valid(*v, z_log)) {
        let y = plot_y.end - bar_y.start + 26;
        bar_area.draw(&Rectangle::new([(8, y), (26, y + 18)], MISSING.filled())).map_err(msg)?;
        let style = tick_style().pos(Pos::new(HPos::Left, VPos::Center));
        bar_area.draw(&Text::new("missing", (34, y + 9), style)).map_err(msg)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a PNG: checks its signature, returns width, height and the number of non-white pixels.
    fn read_png(path: &Path) -> (u32, u32, usize) {
        let bytes = fs::read(path).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{} is not a PNG", path.display());
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        let channels = info.color_type.samples();
        let non_white =
            buf[..info.buffer_size()].chunks(channels).filter(|p| p.iter().take(3).any(|c| *c < 240)).count();
        (info.width, info.height, non_white)
    }

    /// Checks the PNG and SVG of a still plot; returns the SVG text.
    fn check_outputs(stem: &Path, size: (u32, u32)) -> String {
        let (w, h, non_white) = read_png(&stem.with_extension("png"));
        assert_eq!((w, h), size);
        assert!(non_white > (w * h / 100) as usize, "PNG looks blank: {non_white} non-white pixels");
        let svg = fs::read_to_string(stem.with_extension("svg")).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        let leftovers: Vec<_> = fs::read_dir(stem.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
        svg
    }

    fn loss_panel() -> Panel {
        let t: Vec<f64> = (0..100).map(|i| f64::from(i) * 10.0).collect();
        let mut loss: Vec<f64> = t.iter().map(|t| 0.5 * (-t / 200.0).exp()).collect();
        loss[0] = 0.0;
        loss[10] = f64::NAN;
        loss[20] = f64::INFINITY;
        loss[30] = -1.0;
        let lower = loss.iter().map(|v| v * 0.5 - 0.01).collect();
        let upper = loss.iter().map(|v| v * 2.0).collect();
        Panel {
            title: "Training loss".into(),
            x_label: "step".into(),
            y_label: "mean squared error".into(),
            y_scale: Scale::Log,
            series: vec![
                Series { band: Some((lower, upper)), ..Series::new("gradient flow", t.clone(), loss) },
                Series {
                    mark: Mark::Dashed,
                    ..Series::new("Langevin", t.clone(), t.iter().map(|t| 1.0 / (1.0 + t)).collect())
                },
            ],
            ..Panel::default()
        }
    }

    #[test]
    fn figure_writes_png_and_svg_with_labels() {
        let dir = tempfile::tempdir().unwrap();
        let stem = dir.path().join("nested/deeper/loss");
        let gap = Panel {
            series: vec![
                Series { mark: Mark::Points, ..Series::new("gap", vec![1.0, 2.0, 3.0], vec![0.3, -0.1, 0.2]) },
                Series { mark: Mark::LinePoints, ..Series::new("", vec![1.0, 2.0], vec![0.0, 0.1]) },
            ],
            ..Panel::new("Duality gap", "time t", "gap")
        };
        figure(&stem, &[loss_panel(), gap]).unwrap();
        let svg = check_outputs(&stem, (2 * PANEL_SIZE.0, PANEL_SIZE.1));
        for text in
            ["Training loss", "step", "mean squared error", "gradient flow", "Langevin", "Duality gap", "time t"]
        {
            assert!(svg.contains(text), "SVG lacks {text:?}");
        }
        assert!(svg.contains("10⁻"), "log axis labelled by powers of ten");
        assert!(!svg.contains("no data"));
    }

    #[test]
    fn figure_lays_out_a_grid_and_accepts_an_extension() {
        let dir = tempfile::tempdir().unwrap();
        let panels = vec![loss_panel(); 4];
        figure(&dir.path().join("grid.png"), &panels).unwrap();
        check_outputs(&dir.path().join("grid"), (2 * PANEL_SIZE.0, 2 * PANEL_SIZE.1));
        assert!(!dir.path().join("grid.png.png").exists());
        assert_eq!(grid(1), (1, 1));
        assert_eq!(grid(3), (1, 3));
        assert_eq!(grid(5), (2, 3));
        assert_eq!(grid(9), (3, 3));
    }

    #[test]
    fn degenerate_panels_are_drawn_with_a_note() {
        let dir = tempfile::tempdir().unwrap();
        let stem = dir.path().join("degenerate");
        let panels = [
            Panel { series: vec![Series::new("empty", vec![], vec![])], ..Panel::new("Empty", "x", "y") },
            Panel {
                x_scale: Scale::Log,
                y_scale: Scale::Log,
                series: vec![Series::new("skipped", vec![0.0, -1.0, f64::NAN], vec![1.0, 2.0, 3.0])],
                ..Panel::new("All skipped", "x", "y")
            },
            Panel { series: vec![Series::new("flat", vec![5.0; 3], vec![2.0; 3])], ..Panel::new("Constant", "x", "y") },
            Panel::new("No series", "x", "y"),
        ];
        figure(&stem, &panels).unwrap();
        let svg = check_outputs(&stem, (2 * PANEL_SIZE.0, 2 * PANEL_SIZE.1));
        assert_eq!(svg.matches("no data").count(), 3);
    }

    #[test]
    fn bad_input_is_a_plot_error() {
        let dir = tempfile::tempdir().unwrap();
        let stem = dir.path().join("bad");
        let mismatch = Panel { series: vec![Series::new("s", vec![1.0, 2.0], vec![1.0])], ..Panel::default() };
        let band = Panel {
            series: vec![Series {
                band: Some((vec![0.0], vec![1.0, 2.0])),
                ..Series::new("b", vec![1.0, 2.0], vec![1.0, 2.0])
            }],
            ..Panel::default()
        };
        for panels in [vec![], vec![mismatch], vec![band]] {
            match figure(&stem, &panels) {
                Err(Error::Plot { path, message }) => {
                    assert_eq!(path, stem);
                    assert!(!message.is_empty());
                }
                other => panic!("expected a plot error, got {other:?}"),
            }
        }
        fs::write(dir.path().join("file"), "not a directory").unwrap();
        let blocked = dir.path().join("file/sub/plot");
        assert!(matches!(figure(&blocked, &[loss_panel()]), Err(Error::Plot { .. })));
        let heat = Heatmap { x: vec![1.0, 2.0], y: vec![1.0], z: vec![vec![1.0]], ..Heatmap::default() };
        assert!(matches!(heatmap(&stem, &heat), Err(Error::Plot { .. })));
        assert!(fs::read_dir(dir.path()).unwrap().all(|e| e.unwrap().file_name() == "file"));
    }

    #[test]
    fn scatter_colours_by_sign_and_skips_bad_points() {
        let dir = tempfile::tempdir().unwrap();
        let stem = dir.path().join("particles");
        let mut points: Vec<Point> = (0..200)
            .map(|i| {
                let a = f64::from(i) * 0.1;
                Point { x: a.cos(), y: a.sin(), size: f64::from(i % 7), positive: i % 2 == 0 }
            })
            .collect();
        points.push(Point { x: f64::NAN, y: 0.0, size: 1.0, positive: true });
        points.push(Point { x: 0.0, y: 0.0, size: f64::INFINITY, positive: true });
        let s = Scatter {
            title: "Particles".into(),
            x_label: "first coordinate".into(),
            y_label: "second coordinate".into(),
            points,
            marks: vec![(1.0, 0.0), (f64::NAN, 1.0)],
            bounds: None,
        };
        scatter(&stem, &s).unwrap();
        let svg = check_outputs(&stem, SCATTER_SIZE);
        for text in ["Particles", "first coordinate", "second coordinate", "positive", "negative", "reference"] {
            assert!(svg.contains(text), "SVG lacks {text:?}");
        }
        let png = fs::read(stem.with_extension("png")).unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(png)).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(info.color_type.samples()).collect();
        let reddish = pixels.iter().filter(|p| p[0] > 200 && p[2] < 180 && p[1] < 180).count();
        let bluish = pixels.iter().filter(|p| p[2] > 150 && p[0] < 150).count();
        assert!(reddish > 500 && bluish > 500, "red {reddish}, blue {bluish}");

        let empty = Scatter { bounds: Some((-1.0, 1.0, -1.0, 1.0)), ..Scatter::default() };
        scatter(&dir.path().join("empty"), &empty).unwrap();
        assert!(fs::read_to_string(dir.path().join("empty.svg")).unwrap().contains("no data"));
    }

    #[test]
    fn heatmap_draws_missing_cells_grey() {
        let dir = tempfile::tempdir().unwrap();
        let stem = dir.path().join("sweep");
        let h = Heatmap {
            title: "Final loss".into(),
            x_label: "step size".into(),
            y_label: "width".into(),
            value_label: "loss".into(),
            x: vec![1e-3, 1e-2, 1e-1],
            y: vec![10.0, 100.0],
            z: vec![vec![1e-4, f64::NAN, 0.0], vec![1e-2, 1e-1, 1.0]],
            x_scale: Scale::Log,
            y_scale: Scale::Log,
            z_scale: Scale::Log,
        };
        heatmap(&stem, &h).unwrap();
        let svg = check_outputs(&stem, HEATMAP_SIZE);
        for text in ["Final loss", "step size", "width", "loss", "missing", "10⁻³"] {
            assert!(svg.contains(text), "SVG lacks {text:?}");
        }
        let grey = format!("{:02X}{:02X}{:02X}", MISSING.0, MISSING.1, MISSING.2);
        assert!(svg.to_uppercase().contains(&grey), "no grey cell");

        let linear = Heatmap { x_scale: Scale::Linear, y_scale: Scale::Linear, z_scale: Scale::Linear, ..h.clone() };
        heatmap(&dir.path().join("linear"), &linear).unwrap();
        let all_missing = Heatmap { z: vec![vec![f64::NAN; 3]; 2], ..h };
        heatmap(&dir.path().join("nan"), &all_missing).unwrap();
        assert!(fs::read_to_string(dir.path().join("nan.svg")).unwrap().contains("missing"));
        heatmap(&dir.path().join("empty"), &Heatmap::default()).unwrap();
        assert!(fs::read_to_string(dir.path().join("empty.svg")).unwrap().contains("no data"));
    }

    #[test]
    fn animation_has_one_gif_frame_per_call() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("anim/cloud.gif");
        let mut animation = Animation::new(&path, 320, 240, 50).unwrap();
        for k in 0..3 {
            let s = Scatter {
                title: format!("step {k}"),
                points: vec![Point { x: f64::from(k), y: 1.0, size: 1.0, positive: true }],
                bounds: Some((-1.0, 4.0, 0.0, 2.0)),
                ..Scatter::default()
            };
            animation.frame(&s).unwrap();
        }
        assert!(!path.exists(), "the GIF appears only when finished");
        animation.finish().unwrap();
        let mut options = gif::DecodeOptions::new();
        options.set_color_output(gif::ColorOutput::RGBA);
        let mut decoder = options.read_info(fs::File::open(&path).unwrap()).unwrap();
        assert_eq!((decoder.width(), decoder.height()), (320, 240));
        let mut frames = 0;
        while let Some(frame) = decoder.read_next_frame().unwrap() {
            assert_eq!(frame.delay, 5);
            assert!(frame.buffer.chunks(4).filter(|p| p[..3].iter().any(|c| *c < 240)).count() > 1000);
            frames += 1;
        }
        assert_eq!(frames, 3);

        let unused = dir.path().join("unused.gif");
        assert!(matches!(Animation::new(&unused, 100, 100, 10).unwrap().finish(), Err(Error::Plot { .. })));
        drop(Animation::new(&unused, 100, 100, 10).unwrap());
        assert!(matches!(Animation::new(&unused, 0, 100, 10), Err(Error::Plot { .. })));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "only anim/ is left");
    }

    #[test]
    fn ranges_are_padded_and_never_degenerate() {
        let (lo, hi) = data_range(&[3.0, 3.0], Scale::Linear, true);
        assert!(lo < 3.0 && hi > 3.0);
        let (lo, hi) = data_range(&[0.0], Scale::Linear, true);
        assert!(lo < 0.0 && hi > 0.0);
        let (lo, hi) = data_range(&[1.0, 2.0, f64::NAN, f64::INFINITY], Scale::Linear, true);
        assert!((lo - 0.95).abs() < 1e-12 && (hi - 2.05).abs() < 1e-12);
        assert_eq!(data_range(&[], Scale::Linear, true), (0.0, 1.0));
        let (lo, hi) = data_range(&[0.002, 0.5, 0.0, -3.0], Scale::Log, true);
        assert!((lo - 1e-3).abs() < 1e-15 && (hi - 1.0).abs() < 1e-12, "{lo} {hi}");
        let (lo, hi) = data_range(&[0.5, 2.0], Scale::Log, true);
        assert!(lo < 0.5 && lo > 0.4 && hi > 2.0 && hi < 2.5, "narrow log range kept tight: {lo} {hi}");
        let (lo, hi) = data_range(&[7.0], Scale::Log, true);
        assert!(lo < 7.0 && hi > 7.0);
        assert_eq!(data_range(&[1.0, 5.0], Scale::Linear, false), (1.0, 5.0));
    }

    #[test]
    fn ticks_are_round_numbers_with_consistent_labels() {
        let (major, labels, minor) = linear_ticks(-0.05, 1.05, 6);
        assert_eq!(labels, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        assert_eq!(major.len(), 6);
        assert!(!minor.is_empty());
        let (_, labels, _) = linear_ticks(0.0, 3e-6, 4);
        assert_eq!(labels, ["0", "1e-6", "2e-6", "3e-6"]);
        let (_, labels, _) = linear_ticks(-20.0, 20.0, 4);
        assert_eq!(labels, ["-20", "-10", "0", "10", "20"]);
        let (major, labels, minor) = log_ticks(1e-3, 1.0, 8);
        assert_eq!(labels, ["10⁻³", "10⁻²", "10⁻¹", "10⁰"]);
        assert_eq!(major.len(), 4);
        assert_eq!(minor.len(), 24);
        let (_, labels, _) = log_ticks(1e-30, 1e10, 8);
        assert!(labels.len() <= 8 && labels.len() >= 4, "{labels:?}");
        let (_, labels, _) = log_ticks(0.4, 2.5, 8);
        assert_eq!(labels, ["0.5", "1", "2"]);
        let (_, labels, _) = log_ticks(1.1, 1.9, 5);
        assert!(labels.len() >= 2, "{labels:?}");
        assert_eq!(format_value(0.001), "0.001");
        assert_eq!(format_value(2.5e-7), "2.5e-7");
        assert_eq!(format_value(-3.0), "-3");
        assert_eq!(format_value(123456.0), "1.235e5");
        assert_eq!(power_of_ten(-12), "10⁻¹²");
    }

    #[test]
    fn legend_goes_to_the_emptiest_corner() {
        let crowded_right: Vec<(f64, f64)> = (0..50).map(|i| (0.9, f64::from(i) / 49.0)).collect();
        assert!(matches!(legend_corner(&crowded_right, 0.3, 0.2), SeriesLabelPosition::UpperLeft));
        assert!(matches!(legend_corner(&[], 0.3, 0.2), SeriesLabelPosition::UpperRight));
        let high: Vec<(f64, f64)> = (0..50).map(|i| (f64::from(i) / 49.0, 0.95)).collect();
        assert!(matches!(legend_corner(&high, 0.3, 0.2), SeriesLabelPosition::LowerRight));
    }

    #[test]
    fn categorical_and_numeric_heatmap_axes() {
        let (axis, cells) = cell_axis(&[1e-3, 1e-2, 1e-1], Scale::Log, 10);
        assert_eq!(cells, [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]);
        assert_eq!(axis.labels, ["10⁻³", "10⁻²", "10⁻¹"]);
        let (axis, cells) = cell_axis(&[2.0, 0.0, 1.0], Scale::Linear, 10);
        assert_eq!(cells, [(1.5, 2.5), (-0.5, 0.5), (0.5, 1.5)]);
        assert_eq!((axis.lo, axis.hi), (-0.5, 2.5));
        let (_, cells) = cell_axis(&[1.0, 1.0], Scale::Linear, 10);
        assert_eq!(cells, [(0.0, 1.0), (1.0, 2.0)]);
        let (axis, _) = cell_axis(&(0..100).map(f64::from).collect::<Vec<_>>(), Scale::Log, 10);
        assert!(axis.major.len() <= 10);
    }
}
