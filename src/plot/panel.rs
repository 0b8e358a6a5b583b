//! Line panels ([`super::figure`]): series as lines, markers and bands, split at missing values.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::*;
use crate::error::Result;

/// A band point: abscissa, lower value (`None` if it lies below a log axis) and upper value.
pub(super) type BandPoint = (f64, Option<f64>, f64);

/// The drawable data of a series: runs of valid points and of valid band values.
pub(super) struct Prepared {
    pub(super) runs: Vec<Vec<(f64, f64)>>,
    pub(super) bands: Vec<Vec<BandPoint>>,
}

impl Prepared {
    /// Keeps the values of `s` that can be drawn on the given axes.
    pub(super) fn new(s: &Series, x_log: bool, y_log: bool) -> Self {
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
    pub(super) fn xs(&self) -> impl Iterator<Item = f64> + '_ {
        self.runs.iter().flatten().map(|p| p.0).chain(self.bands.iter().flatten().map(|b| b.0))
    }

    /// Ordinates of everything drawn.
    pub(super) fn ys(&self) -> impl Iterator<Item = f64> + '_ {
        let band = self.bands.iter().flatten().flat_map(|b| b.1.into_iter().chain([b.2]));
        self.runs.iter().flatten().map(|p| p.1).chain(band)
    }

    /// Points that a legend should avoid: the data, points along lines, the band edges.
    pub(super) fn footprint(&self, mark: Mark, out: &mut Vec<(f64, f64)>) {
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
            // The inside of the band too (a legend over a band hides it as much as over a line),
            // spaced geometrically when both edges are positive (they may be on a log axis).
            for pair in band.windows(2) {
                let ((x0, l0, u0), (x1, l1, u1)) = (pair[0], pair[1]);
                let (Some(l0), Some(l1)) = (l0, l1) else { continue };
                for k in 0..4 {
                    let t = f64::from(k) / 4.0;
                    let (x, l, u) = (x0 + t * (x1 - x0), l0 + t * (l1 - l0), u0 + t * (u1 - u0));
                    out.extend((1..6).map(|j| {
                        let s = f64::from(j) / 6.0;
                        (x, if l > 0.0 && u > 0.0 { l * (u / l).powf(s) } else { l + s * (u - l) })
                    }));
                }
            }
        }
    }
}

/// Draws one panel of a figure.
pub(super) fn draw_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, panel: &Panel) -> Result<(), String> {
    let (x_log, y_log) = (panel.x_scale == Scale::Log, panel.y_scale == Scale::Log);
    let zero = (x_log && panel.x_from_zero).then(|| zero_axis(&panel.series)).flatten();
    let series: Vec<Series> = match &zero {
        Some(axis) => panel.series.iter().map(|s| zero_at(s, axis.lo)).collect(),
        None => panel.series.clone(),
    };
    let data: Vec<Prepared> = series.iter().map(|s| Prepared::new(s, x_log, y_log)).collect();
    let xs: Vec<f64> = data.iter().flat_map(Prepared::xs).collect();
    let ys: Vec<f64> = data.iter().flat_map(Prepared::ys).collect();
    let xa = zero.unwrap_or_else(|| Axis::fit(&xs, panel.x_scale, 9));
    let ya = Axis::fit(&ys, panel.y_scale, 8);
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

/// The log x axis of a panel drawn from x = 0 ([`Panel::x_from_zero`]): from a little below the
/// smallest positive x (where x = 0 is drawn, labelled 0) to the largest x, or `None` when no
/// series has a positive x.
pub(super) fn zero_axis(series: &[Series]) -> Option<Axis> {
    let positive = series.iter().flat_map(|s| s.x.iter().copied()).filter(|x| valid(*x, true));
    let (min, max) = positive.fold((f64::INFINITY, 0f64), |(a, b), x| (a.min(x), b.max(x)));
    if min > max {
        return None;
    }
    let span = (max / min).log10().max(1.0);
    let lo = min / 10f64.powf(0.06 * span);
    let hi = if max > min { max } else { max * 10.0 };
    let mut axis = Axis::new(lo, hi, Scale::Log, 9);
    let keep: Vec<usize> = (0..axis.major.len()).filter(|&i| axis.major[i] >= min * (1.0 - 1e-9)).collect();
    axis.labels = std::iter::once("0".to_string()).chain(keep.iter().map(|&i| axis.labels[i].clone())).collect();
    axis.major = std::iter::once(lo).chain(keep.iter().map(|&i| axis.major[i])).collect();
    axis.minor.retain(|m| *m >= min);
    Some(axis)
}

/// `s` with x = 0 moved to `lo`.
fn zero_at(s: &Series, lo: f64) -> Series {
    Series { x: s.x.iter().map(|&x| if x == 0.0 { lo } else { x }).collect(), ..s.clone() }
}

/// Draws the runs of a series; a run of a single point (or of equal points) is drawn as a dot
/// whatever the mark.
pub(super) fn draw_runs<'a, DB: DrawingBackend + 'a>(
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
pub(super) fn add_legend_entry<'a, DB: DrawingBackend + 'a>(
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
