//! Particle scatter plots ([`super::scatter`] and the frames of [`super::Animation`]).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::*;
use crate::error::Result;

/// Draws a scatter plot onto `area`.
pub(super) fn draw_scatter<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, s: &Scatter) -> Result<(), String> {
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
