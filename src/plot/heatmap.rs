//! Heatmaps ([`super::heatmap`]) with a viridis colour bar.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::*;
use crate::error::Result;

/// The axis of a heatmap and the extent of each cell along it: cells centred on their values
/// for a linear axis with distinct finite values, else evenly sized labelled categories.
pub(super) fn cell_axis(values: &[f64], scale: Scale, target: usize) -> (Axis, Vec<(f64, f64)>) {
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
pub(super) fn draw_heatmap<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, h: &Heatmap) -> Result<(), String> {
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
