//! The two figures: test error against n, and n* against d with the fitted lines.

use std::collections::BTreeMap;

use super::eps_key;
use super::params::Params;
use super::records::{CurvePoint, Method};
use super::statistics::SlopeReport;
use crate::error::Result;
use crate::figures::FigureOptions;
use crate::plot::{self, Mark, Panel, Scale, Series};

/// The two figures: error curves (one panel per predictor, one curve per d, band min..max over
/// seeds) and n* at `eps_main` against d with the fitted lines.
pub(super) fn draw(
    options: &FigureOptions,
    stem: &str,
    params: &Params,
    curves: &[CurvePoint],
    n_star: &BTreeMap<&str, BTreeMap<String, Vec<serde_json::Value>>>,
    slopes: &BTreeMap<&str, BTreeMap<String, BTreeMap<&str, SlopeReport>>>,
) -> Result<Vec<std::path::PathBuf>> {
    let mut panels = Vec::new();
    let (lo, hi) = curves.iter().fold((f64::INFINITY, 0.0f64), |(a, b), c| (a.min(c.n as f64), b.max(c.n as f64)));
    for method in Method::ALL {
        let mut panel = Panel::new(method.label(), "training samples n", "test error");
        panel.x_scale = Scale::Log;
        for &d in &params.dims {
            let points: Vec<&CurvePoint> = curves.iter().filter(|c| c.d == d && c.method == method.key()).collect();
            if points.is_empty() {
                continue;
            }
            let x: Vec<f64> = points.iter().map(|c| c.n as f64).collect();
            let low = points.iter().map(|c| c.errors.iter().copied().fold(f64::INFINITY, f64::min)).collect();
            let high = points.iter().map(|c| c.errors.iter().copied().fold(f64::NEG_INFINITY, f64::max)).collect();
            let mut series = Series::new(format!("d = {d}"), x, points.iter().map(|c| c.mean_error).collect());
            series.band = Some((low, high));
            series.mark = Mark::LinePoints;
            panel.series.push(series);
        }
        for &eps in &params.eps {
            let mut line = Series::new(format!("eps = {eps}"), vec![lo, hi], vec![eps; 2]);
            line.mark = Mark::Dashed;
            panel.series.push(line);
        }
        panels.push(panel);
    }
    let error_stem = options.out.join(format!("{stem}-error"));
    plot::figure(&error_stem, &panels)?;
    let key = eps_key(params.eps_main);
    let mut panel = Panel::new(
        format!("samples to test error {} (paper: slope 1 for the net, 2 for the NTK)", params.eps_main),
        "dimension d",
        "n*",
    );
    panel.x_scale = Scale::Log;
    panel.y_scale = Scale::Log;
    for method in Method::ALL {
        let (x, y): (Vec<f64>, Vec<f64>) =
            n_star[method.key()][&key].iter().filter_map(|p| Some((p["d"].as_f64()?, p["n_star"].as_f64()?))).unzip();
        let mut series = Series::new(format!("{} (measured)", method.label()), x, y);
        series.mark = Mark::Points;
        panel.series.push(series);
    }
    for method in Method::ALL {
        let report = &slopes[method.key()][&key]["all"];
        if let Some(fit) = &report.fit {
            let ci = fit.ci95.map_or(String::new(), |(a, b)| format!(" t [{a:.2}, {b:.2}]"));
            let boot = report.bootstrap_ci95.map_or(String::new(), |(a, b)| format!(" boot [{a:.2}, {b:.2}]"));
            let dims: Vec<f64> = report.dims.iter().map(|&d| d as f64).collect();
            let y = dims.iter().map(|d| (fit.intercept + fit.slope * d.ln()).exp()).collect();
            let mut series = Series::new(format!("{}: slope {:.2}{ci}{boot}", method.label(), fit.slope), dims, y);
            series.mark = Mark::Dashed;
            panel.series.push(series);
        }
    }
    let n_star_stem = options.out.join(format!("{stem}-nstar"));
    plot::figure(&n_star_stem, &[panel])?;
    Ok([error_stem, n_star_stem].iter().flat_map(|s| ["png", "svg"].map(|ext| s.with_extension(ext))).collect())
}
