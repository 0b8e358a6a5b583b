//! Axes shared by every figure kind: linear and logarithmic ranges, ticks and their labels, the
//! mesh, legends and the empty-panel note.

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::*;
use crate::error::Result;

/// One axis: range, scale, tick positions and tick labels. Categorical axes are linear over
/// `0..n` with labelled ticks at cell centres.
#[derive(Debug, Clone)]
pub(super) struct Axis {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) log: bool,
    pub(super) major: Vec<f64>,
    pub(super) labels: Vec<String>,
    pub(super) minor: Vec<f64>,
}

impl Axis {
    /// An axis over `[lo, hi]` (`0 < lo < hi` if `scale` is log) with about `target` labelled ticks.
    pub(super) fn new(lo: f64, hi: f64, scale: Scale, target: usize) -> Self {
        let log = scale == Scale::Log;
        let (major, labels, minor) = if log { log_ticks(lo, hi, target) } else { linear_ticks(lo, hi, target) };
        Axis { lo, hi, log, major, labels, minor }
    }

    /// A categorical axis with one cell per value, labelled by value (at most `target` labels);
    /// when all values are powers of ten they are labelled as such.
    pub(super) fn categories(values: &[f64], target: usize) -> Self {
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
    pub(super) fn fit(values: &[f64], scale: Scale, target: usize) -> Self {
        let (lo, hi) = data_range(values, scale, true);
        Axis::new(lo, hi, scale, target)
    }

    /// `v` transformed by the scale (log10 on a log axis).
    pub(super) fn transform(&self, v: f64) -> f64 {
        if self.log {
            v.log10()
        } else {
            v
        }
    }

    /// Position of `v` along the axis: 0 at `lo`, 1 at `hi`.
    pub(super) fn frac(&self, v: f64) -> f64 {
        let (a, b) = (self.transform(self.lo), self.transform(self.hi));
        (self.transform(v) - a) / (b - a)
    }

    /// The value at position `t` along the axis.
    pub(super) fn at(&self, t: f64) -> f64 {
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
pub(super) fn valid(v: f64, log: bool) -> bool {
    v.is_finite() && (!log || v > 0.0)
}

/// The range of the valid `values`, never degenerate. With `pad`, linear ranges get 5% on each
/// side and log ranges are widened to whole decades unless that would more than double them (else
/// they get 5% on each side); without, the range is the data's own (for colour scales).
pub(super) fn data_range(values: &[f64], scale: Scale, pad: bool) -> (f64, f64) {
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
pub(super) fn linear_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, Vec<String>, Vec<f64>) {
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
pub(super) fn log_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, Vec<String>, Vec<f64>) {
    let (a, b) = (lo.log10(), hi.log10());
    if !(a.is_finite() && b.is_finite() && b > a) {
        return linear_ticks(lo, hi, target);
    }
    let (first, last) = ((a - 1e-9).ceil() as i32, (b + 1e-9).floor() as i32);
    let inside = |v: f64| v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9);
    // Three powers of ten at least; fewer leave an axis with one or two labels.
    if last - first >= 2 {
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
    let mut major = multiples(&[1, 2, 5]);
    let mut minor = multiples(&[3, 4, 6, 7, 8, 9]);
    if major.len() < 3 {
        major = multiples(&[1, 2, 3, 4, 5, 6, 7, 8, 9]);
        minor = Vec::new();
    }
    if major.len() < 3 {
        return linear_ticks(lo, hi, target);
    }
    let labels = major.iter().map(|v| format_value(*v)).collect();
    (major, labels, minor)
}

/// `10^k` with a superscript exponent.
pub(super) fn power_of_ten(k: i32) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let exponent: String = k.to_string().chars().map(|c| c.to_digit(10).map_or('⁻', |d| DIGITS[d as usize])).collect();
    format!("10{exponent}")
}

/// A compact label for `v`: up to 4 significant digits, scientific when very small or large.
pub fn format_value(v: f64) -> String {
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
pub(super) fn trim_scientific(text: &str) -> String {
    match text.split_once('e') {
        Some((mantissa, exponent)) if mantissa.contains('.') => {
            format!("{}e{exponent}", mantissa.trim_end_matches('0').trim_end_matches('.'))
        }
        _ => text.to_string(),
    }
}

/// The viridis colour at `t` in [0, 1].
pub(super) fn viridis(t: f64) -> RGBColor {
    let s = t.clamp(0.0, 1.0) * (VIRIDIS.len() - 1) as f64;
    let i = (s.floor() as usize).min(VIRIDIS.len() - 2);
    let f = s - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let mix = |p: f64, q: f64| (p + f * (q - p)).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Legend corner, among the four, with the fewest data points (positions in [0, 1]^2) under a
/// legend box of `width` x `height` (fractions of the plotting area); upper right on ties.
pub(super) fn legend_corner(points: &[(f64, f64)], width: f64, height: f64) -> SeriesLabelPosition {
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
pub(super) fn legend_size<'a>(labels: impl Iterator<Item = &'a str>, dim: (u32, u32)) -> (f64, f64) {
    let (count, longest) = labels.fold((0usize, 0usize), |(n, w), l| (n + 1, w.max(l.chars().count())));
    let width = (longest * 9 + 80) as f64 / f64::from(dim.0.max(1));
    let height = (count * 22 + 30) as f64 / f64::from(dim.1.max(1));
    (width, height)
}

/// Text style of axis tick labels.
pub(super) fn tick_style() -> TextStyle<'static> {
    font(16.0).color(&BLACK)
}

/// The chart type of every plot here.
pub(super) type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<Axis, Axis>>;

/// Draws the axes, tick labels and axis labels, with a light grid if `grid`.
pub(super) fn draw_mesh<'a, DB: DrawingBackend + 'a>(
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
pub(super) fn build_chart<'a, DB: DrawingBackend>(
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
pub(super) fn draw_no_data<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    x: &Axis,
    y: &Axis,
) -> Result<(), String> {
    let style = font(24.0).color(&MISSING).pos(Pos::new(HPos::Center, VPos::Center));
    chart.draw_series(std::iter::once(Text::new("no data", (x.at(0.5), y.at(0.5)), style))).map_err(msg)?;
    Ok(())
}

/// Draws the legend at the corner where it covers fewest of `points` (data coordinates).
pub(super) fn draw_legend<'a, DB: DrawingBackend + 'a>(
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
pub(super) fn split_runs<T>(items: impl Iterator<Item = Option<T>>) -> Vec<Vec<T>> {
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
