//! The figures of one run, drawn from its metrics and final cloud with [`crate::plot`].
//!
//! - `loss`: L, R and the penalty against time, log-log.
//! - `errors`: train/test error and normalised margin against time (classification).
//! - `cloud`: the particles; for d = 2 each neuron at |w| u, for d > 2 the projection on (u1, u2),
//!   coloured by the sign of w, sized by |theta|^2 (marker radius 2 + 8 sqrt(|theta_j|^2 / max_k
//!   |theta_k|^2) pixels), with the ideal directions of `paper`/`xor` marked.
//!
//! Time axes are logarithmic, start at t = 0 (drawn at the left edge, labelled 0) and end with the
//! data ([`crate::plot::Panel::x_from_zero`]).

use std::path::Path;

use ndarray::ArrayView2;

use crate::error::Result;
use crate::metrics::Metrics;
use crate::plot::{self, Mark, Panel, Point, Scale, Scatter, Series};

/// What the cloud figure marks as reference directions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ideal {
    /// No reference.
    None,
    /// The paper's four neurons: +-e1 with w > 0, +-e2 with w < 0.
    Paper,
    /// XOR's four neurons: (+-1, +-1) / sqrt 2.
    Xor,
}

fn series(label: &str, rows: &[Metrics], y: impl Fn(&Metrics) -> Option<f64>) -> Series {
    let (x, y): (Vec<f64>, Vec<f64>) = rows.iter().filter_map(|r| y(r).map(|v| (r.time, v))).unzip();
    Series::new(label, x, y)
}

/// `loss.{png,svg}`: L, R(F) and lambda integral |theta|^2 against time on log-log axes.
pub fn loss_figure(dir: &Path, rows: &[Metrics]) -> Result<()> {
    let mut panel = Panel::new("Objective", "time t", "value");
    panel.x_scale = Scale::Log;
    panel.x_from_zero = true;
    panel.y_scale = Scale::Log;
    panel.series = vec![
        series("L = R + penalty", rows, |r| Some(r.loss)),
        series("data fit R(F)", rows, |r| Some(r.data_fit)),
        series("penalty", rows, |r| Some(r.penalty)),
    ];
    panel.series[1].mark = Mark::Dashed;
    panel.series[2].mark = Mark::Dashed;
    plot::figure(&dir.join("loss"), &[panel])
}

/// `errors.{png,svg}`: train and test error, and the normalised margin, against time.
pub fn errors_figure(dir: &Path, rows: &[Metrics]) -> Result<()> {
    let mut errors = Panel::new("Classification error", "time t", "error");
    errors.x_scale = Scale::Log;
    errors.x_from_zero = true;
    errors.series = vec![series("train", rows, |r| r.train_error), series("test", rows, |r| r.test_error)];
    let mut margin = Panel::new("Normalised margin", "time t", "min_i y_i F_i / E|theta|^2");
    margin.x_scale = Scale::Log;
    margin.x_from_zero = true;
    margin.series = vec![series("margin", rows, |r| r.margin)];
    let mut pattern = Panel::new("Activation patterns", "time t", "fraction changed since t = 0");
    pattern.x_scale = Scale::Log;
    pattern.x_from_zero = true;
    pattern.series = vec![series("pattern change", rows, |r| Some(r.pattern_change))];
    plot::figure(&dir.join("errors"), &[errors, margin, pattern])
}

/// `convergence.{png,svg}`: L, the dual bound D and (when known) L* against time, and the gap
/// G = L - D (with the excess L - L*) on a log axis.
pub fn convergence_figure(dir: &Path, rows: &[Metrics], optimum: Option<f64>) -> Result<()> {
    let mut bounds = Panel::new("Objective and dual bound", "time t", "value");
    bounds.x_scale = Scale::Log;
    bounds.x_from_zero = true;
    bounds.series = vec![series("L[rho]", rows, |r| Some(r.loss)), series("dual bound D", rows, |r| r.dual_bound)];
    bounds.series[1].mark = Mark::Dashed;
    if let Some(l) = optimum {
        let mut star = series("L* (exact)", rows, |_| Some(l));
        star.mark = Mark::Dashed;
        bounds.series.push(star);
    }
    let exact = rows.iter().any(|r| r.certificate.as_deref() == Some("exact"));
    let mut gap =
        Panel::new(if exact { "Optimality gap (certified)" } else { "Optimality gap (estimated)" }, "time t", "value");
    gap.x_scale = Scale::Log;
    gap.x_from_zero = true;
    gap.y_scale = Scale::Log;
    gap.series = vec![series("gap G = L - D", rows, |r| r.gap)];
    if optimum.is_some() {
        let mut excess = series("excess L - L*", rows, |r| r.excess);
        excess.mark = Mark::Dashed;
        gap.series.push(excess);
    }
    plot::figure(&dir.join("convergence"), &[bounds, gap])
}

/// `<stem>.{png,svg}`: several runs on one problem compared: L - L* (or L when L* is unknown) and
/// the gap G against time, one curve per run, log axes.
pub fn compare_figure(stem: &Path, runs: &[(String, Vec<Metrics>)]) -> Result<()> {
    let has_excess = runs.iter().all(|(_, rows)| rows.iter().any(|r| r.excess.is_some()));
    let mut first = if has_excess {
        Panel::new("Excess over the exact optimum", "time t", "L - L*")
    } else {
        Panel::new("Objective", "time t", "L")
    };
    let mut gap = Panel::new("Optimality gap G = L - D", "time t", "gap");
    for panel in [&mut first, &mut gap] {
        panel.x_scale = Scale::Log;
        panel.x_from_zero = true;
        panel.y_scale = Scale::Log;
    }
    for (label, rows) in runs {
        first.series.push(series(label, rows, |r| if has_excess { r.excess } else { Some(r.loss) }));
        gap.series.push(series(label, rows, |r| r.gap));
    }
    plot::figure(stem, &[first, gap])
}

/// The scatter of a cloud given as f64 particles (columns w, u1..ud).
pub fn cloud_scatter(theta: ArrayView2<f64>, ideal: Ideal, title: &str) -> Scatter {
    let d = theta.ncols() - 1;
    let points: Vec<Point> = theta
        .outer_iter()
        .map(|t| {
            let w = t[0];
            let scale = if d == 2 { w.abs() } else { 1.0 };
            Point { x: scale * t[1], y: scale * t[2], size: t.dot(&t), positive: w >= 0.0 }
        })
        .collect();
    let reach = points.iter().map(|p| p.x.hypot(p.y)).fold(0.0, f64::max).max(1e-12);
    let s = std::f64::consts::FRAC_1_SQRT_2 * reach;
    let marks = match ideal {
        Ideal::None => vec![],
        Ideal::Paper => vec![(reach, 0.0), (-reach, 0.0), (0.0, reach), (0.0, -reach)],
        Ideal::Xor => vec![(s, s), (-s, -s), (s, -s), (-s, s)],
    };
    let (x_label, y_label) = if d == 2 { ("|w| u1", "|w| u2") } else { ("u1", "u2") };
    Scatter { title: title.into(), x_label: x_label.into(), y_label: y_label.into(), points, marks, bounds: None }
}

/// The title of a cloud figure of particles with d input weights.
pub fn cloud_title(d: usize) -> &'static str {
    if d == 2 {
        "Particles at |w| u (red: w > 0; size ~ |theta|^2)"
    } else {
        "Particles projected on (u1, u2) (size ~ |theta|^2)"
    }
}

/// `cloud.{png,svg}`: the final particles.
pub fn cloud_figure(dir: &Path, theta: ArrayView2<f64>, ideal: Ideal) -> Result<()> {
    let title = cloud_title(theta.ncols() - 1);
    plot::scatter(&dir.join("cloud"), &cloud_scatter(theta, ideal, title))
}
