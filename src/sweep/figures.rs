//! The sweep's figures: line plots (mean and band over the other axes) and heatmaps of a metric.

use std::path::Path;

use super::file::{Band, PlotConfig, PlotKind};
use super::plan::{cell, number, Axis, RunSpec, Sweep};
use super::summary::SummaryRow;
use crate::error::{Error, Result};
use crate::plot::{self, Heatmap, Mark, Panel, Scale, Series};

/// The distinct values of an axis, in order.
fn distinct(axis: &Axis) -> Vec<&toml::Value> {
    let mut seen: Vec<&toml::Value> = Vec::new();
    for v in &axis.values {
        if !seen.contains(&v) {
            seen.push(v);
        }
    }
    seen
}

/// Draws one figure of the sweep from the complete runs.
pub(super) fn draw(sweep: &Sweep, config: &PlotConfig, rows: &[(&RunSpec, SummaryRow)], stem: &Path) -> Result<()> {
    let position = |key: &str| sweep.axes.iter().position(|a| a.key == key);
    let lookup = |key: &str| {
        position(key).ok_or_else(|| Error::Invalid(format!("{}: plot axis `{key}` is not an axis", sweep.source)))
    };
    let xi = lookup(&config.x)?;
    let x_axis = &sweep.axes[xi];
    let x_values = distinct(x_axis);
    let scale = config.scale.unwrap_or_default();
    let at = |conditions: &[(usize, &toml::Value)], metric: &str| -> Vec<f64> {
        rows.iter()
            .filter(|(run, _)| conditions.iter().all(|(i, v)| &&run.values[*i] == v))
            .filter_map(|(_, s)| s.metric(metric))
            .filter(|x| x.is_finite())
            .collect()
    };
    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
    let shown = [
        Some(config.x.as_str()),
        config.group.as_deref(),
        (config.kind == PlotKind::Heatmap).then_some(config.y.as_str()),
    ];
    let others: Vec<&str> = sweep.axes.iter().map(|a| a.key.as_str()).filter(|k| !shown.contains(&Some(*k))).collect();
    let over = if others.is_empty() { String::new() } else { format!(": mean over {}", others.join(", ")) };
    match config.kind {
        PlotKind::Line => {
            let groups: Vec<Option<(usize, &toml::Value)>> = match &config.group {
                Some(g) => {
                    let gi = lookup(g)?;
                    distinct(&sweep.axes[gi]).into_iter().map(|v| Some((gi, v))).collect()
                }
                None => vec![None],
            };
            let band = config.band.unwrap_or_default();
            let mut panel = Panel::new(
                format!(
                    "final {}{over}{}",
                    config.y,
                    match (others.is_empty(), band) {
                        (true, _) => "",
                        (false, Band::Std) => ", band +- std",
                        (false, Band::Minmax) => ", band min..max",
                    }
                ),
                &config.x,
                &config.y,
            );
            panel.x_scale = config.x_scale.unwrap_or(x_axis.scale).into();
            panel.y_scale = scale.into();
            for group in groups {
                let (mut x, mut y, mut lo, mut hi) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
                for xv in &x_values {
                    let mut conditions = vec![(xi, *xv)];
                    conditions.extend(group);
                    let values = at(&conditions, &config.y);
                    let Some(position) = number(xv) else { continue };
                    if values.is_empty() {
                        continue;
                    }
                    let m = mean(&values);
                    let (l, h) = match band {
                        Band::Minmax => {
                            values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(*v), h.max(*v)))
                        }
                        Band::Std => {
                            let sd = (values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / values.len() as f64).sqrt();
                            (m - sd, m + sd)
                        }
                    };
                    x.push(position);
                    y.push(m);
                    lo.push(l);
                    hi.push(h);
                }
                let label = group.map(|(gi, v)| format!("{} = {}", sweep.axes[gi].key, cell(v))).unwrap_or_default();
                // A log horizontal axis cannot show x <= 0 (e.g. tau = 0): such a value is drawn as a dashed baseline
                // across the curve's range, and a free-energy metric there (which needs tau > 0) as its tau = 0 limit.
                let positive: Vec<usize> = (0..x.len()).filter(|&k| x[k] > 0.0).collect();
                let baselines: Vec<Series> = if panel.x_scale == Scale::Log {
                    let (lo_x, hi_x) =
                        positive.iter().fold((f64::INFINITY, 0.0f64), |(a, b), &k| (a.min(x[k]), b.max(x[k])));
                    x_values
                        .iter()
                        .filter(|xv| number(xv).is_some_and(|p| p <= 0.0) && lo_x < hi_x)
                        .filter_map(|xv| {
                            let mut conditions = vec![(xi, *xv)];
                            conditions.extend(group);
                            let values = at(&conditions, &config.y);
                            let values =
                                if values.is_empty() { at(&conditions, zero_limit(&config.y)) } else { values };
                            (!values.is_empty()).then(|| (number(xv).unwrap_or(0.0), mean(&values)))
                        })
                        .map(|(at_x, m)| {
                            let label =
                                format!("{label}{}{} = {at_x}", if label.is_empty() { "" } else { ", " }, config.x);
                            Series { mark: Mark::Dashed, ..Series::new(label, vec![lo_x, hi_x], vec![m, m]) }
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                let keep = |v: &[f64]| {
                    if baselines.is_empty() {
                        v.to_vec()
                    } else {
                        positive.iter().map(|&k| v[k]).collect()
                    }
                };
                let mut series = Series::new(label.clone(), keep(&x), keep(&y));
                series.band = Some((keep(&lo), keep(&hi)));
                series.mark = Mark::LinePoints;
                panel.series.push(series);
                panel.series.extend(baselines);
            }
            plot::figure(stem, &[panel])
        }
        PlotKind::Heatmap => {
            let yi = lookup(&config.y)?;
            let y_axis = &sweep.axes[yi];
            let y_values = distinct(y_axis);
            let value = config.value.as_deref().unwrap_or("gap");
            let z = y_values
                .iter()
                .map(|yv| {
                    x_values
                        .iter()
                        .map(|xv| {
                            let values = at(&[(xi, xv), (yi, yv)], value);
                            if values.is_empty() {
                                f64::NAN
                            } else {
                                mean(&values)
                            }
                        })
                        .collect()
                })
                .collect();
            let numbers = |vs: &[&toml::Value]| vs.iter().map(|v| number(v).unwrap_or(f64::NAN)).collect();
            plot::heatmap(
                stem,
                &Heatmap {
                    title: format!("final {value}{over}"),
                    x_label: config.x.clone(),
                    y_label: config.y.clone(),
                    value_label: value.to_string(),
                    x: numbers(&x_values),
                    y: numbers(&y_values),
                    z,
                    x_scale: config.x_scale.unwrap_or(x_axis.scale).into(),
                    y_scale: y_axis.scale.into(),
                    z_scale: scale.into(),
                },
            )
        }
    }
}

/// The metric that a free-energy metric tends to as tau -> 0 (F_0 = L, its gap the gap G), drawn where a sweep
/// has tau = 0; other metrics are their own limit.
fn zero_limit(metric: &str) -> &str {
    match metric {
        "gap_free_energy" => "gap",
        "free_energy" => "loss",
        other => other,
    }
}
