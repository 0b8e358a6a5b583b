//! n* from the error curves, the power-law fit of n* against d, its t-interval and its bootstrap
//! interval over seeds.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::records::{CurvePoint, Method};

/// The fitted line ln n* = intercept + slope ln d.
#[derive(Clone, Debug, Serialize)]
pub(super) struct Fit {
    pub(super) slope: f64,
    pub(super) intercept: f64,
    /// 95% t-interval of the slope (None with only two dimensions).
    pub(super) ci95: Option<(f64, f64)>,
    /// Dimensions used.
    pub(super) points: usize,
}

/// A fit with its bootstrap interval over seeds.
#[derive(Clone, Debug, Serialize)]
pub(super) struct SlopeReport {
    /// The dimensions of the fit.
    pub(super) dims: Vec<usize>,
    pub(super) fit: Option<Fit>,
    /// Percentiles 2.5 and 97.5 of the slopes refitted on seed resamples.
    pub(super) bootstrap_ci95: Option<(f64, f64)>,
    /// Resamples in which at least two of the dimensions had a known n* (and so a slope).
    pub(super) bootstrap_fitted: usize,
}

/// The errors of one predictor at one d: per grid size, the test error of each seed.
pub(super) type Errors = BTreeMap<usize, Vec<f64>>;

/// Per method key, per d, the errors per grid size and seed.
pub(super) fn errors_by_method(curves: &[CurvePoint]) -> BTreeMap<&'static str, BTreeMap<usize, Errors>> {
    let mut out: BTreeMap<&'static str, BTreeMap<usize, Errors>> =
        Method::ALL.iter().map(|m| (m.key(), BTreeMap::new())).collect();
    for c in curves {
        out.get_mut(c.method.as_str()).expect("every method").entry(c.d).or_default().insert(c.n, c.errors.clone());
    }
    out
}

/// n*(d) at threshold eps from the errors of the seeds `sample` (indices, repeats allowed), per d.
pub(super) fn n_stars(per_d: &BTreeMap<usize, Errors>, sample: &[usize], eps: f64) -> BTreeMap<usize, Option<f64>> {
    per_d
        .iter()
        .map(|(&d, errors)| {
            let curve: Vec<(usize, f64)> = errors
                .iter()
                .map(|(&n, e)| (n, sample.iter().map(|&s| e[s]).sum::<f64>() / sample.len() as f64))
                .collect();
            (d, threshold_crossing(&curve, eps))
        })
        .collect()
}

/// The fit of ln n* on ln d over `dims` at threshold eps, with its bootstrap interval over seeds.
pub(super) fn slope_report(
    per_d: &BTreeMap<usize, Errors>,
    dims: &[usize],
    eps: f64,
    seeds: usize,
    resamples: usize,
) -> SlopeReport {
    let subset: BTreeMap<usize, Errors> =
        per_d.iter().filter(|(d, _)| dims.contains(d)).map(|(&d, e)| (d, e.clone())).collect();
    let points = |stars: BTreeMap<usize, Option<f64>>| -> Vec<(f64, f64)> {
        stars.into_iter().filter_map(|(d, n)| n.map(|n| (d as f64, n))).collect()
    };
    let all: Vec<usize> = (0..seeds).collect();
    let fit = fit_power_law(&points(n_stars(&subset, &all, eps)));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x5eed);
    let mut slopes: Vec<f64> = (0..resamples)
        .filter_map(|_| {
            let sample: Vec<usize> = (0..seeds).map(|_| rng.random_range(0..seeds)).collect();
            fit_power_law(&points(n_stars(&subset, &sample, eps))).map(|f| f.slope)
        })
        .collect();
    slopes.sort_by(f64::total_cmp);
    let bootstrap_ci95 = (slopes.len() >= 2).then(|| (quantile(&slopes, 0.025), quantile(&slopes, 0.975)));
    SlopeReport { dims: dims.to_vec(), fit, bootstrap_ci95, bootstrap_fitted: slopes.len() }
}

/// The q-quantile of sorted values, linearly interpolated.
pub(super) fn quantile(sorted: &[f64], q: f64) -> f64 {
    let h = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// n* of a curve of (n, mean error) in increasing n (see the module documentation).
pub(super) fn threshold_crossing(curve: &[(usize, f64)], eps: f64) -> Option<f64> {
    let k = curve.iter().position(|&(_, e)| e <= eps)?;
    if k == 0 {
        return Some(curve[0].0 as f64);
    }
    let ((n0, e0), (n1, e1)) = (curve[k - 1], curve[k]);
    let (l0, l1) = ((n0 as f64).ln(), (n1 as f64).ln());
    Some((l0 + (e0 - eps) / (e0 - e1) * (l1 - l0)).exp())
}

/// Least squares of ln y on ln x over `points` (x, y), with a 95% t-interval of the slope.
pub(super) fn fit_power_law(points: &[(f64, f64)]) -> Option<Fit> {
    let k = points.len();
    if k < 2 {
        return None;
    }
    let (lx, ly): (Vec<f64>, Vec<f64>) = points.iter().map(|&(x, y)| (x.ln(), y.ln())).unzip();
    let (mx, my) = (lx.iter().sum::<f64>() / k as f64, ly.iter().sum::<f64>() / k as f64);
    let sxx: f64 = lx.iter().map(|x| (x - mx).powi(2)).sum();
    let sxy: f64 = lx.iter().zip(&ly).map(|(x, y)| (x - mx) * (y - my)).sum();
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let ci95 = (k > 2).then(|| {
        let sse: f64 = lx.iter().zip(&ly).map(|(x, y)| (y - intercept - slope * x).powi(2)).sum();
        let half = student_t_975(k - 2) * (sse / (k - 2) as f64 / sxx).sqrt();
        (slope - half, slope + half)
    });
    Some(Fit { slope, intercept, ci95, points: k })
}

/// The 0.975 quantile of Student's t with `dof` >= 1 degrees of freedom: a table up to 30, then
/// the Cornish-Fisher expansion z + (z^3 + z) / (4 dof) + (5 z^5 + 16 z^3 + 3 z) / (96 dof^2).
pub(in crate::figures) fn student_t_975(dof: usize) -> f64 {
    pub(super) const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    match dof {
        1..=30 => TABLE[dof - 1],
        _ => {
            let (z, v) = (1.959_964f64, dof as f64);
            z + (z.powi(3) + z) / (4.0 * v) + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * v * v)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_crossing_interpolates_log_linearly() {
        // Halfway in error between n = 100 and n = 400: n* = 200.
        let n = threshold_crossing(&[(50, 0.5), (100, 0.3), (400, 0.1)], 0.2).unwrap();
        assert!((n - 200.0).abs() < 1e-9, "{n}");
        assert_eq!(threshold_crossing(&[(50, 0.05), (100, 0.0)], 0.1), Some(50.0));
        assert_eq!(threshold_crossing(&[(50, 0.5), (100, 0.3)], 0.1), None);
    }

    #[test]
    fn power_law_fit_recovers_an_exact_slope_and_widens_with_noise() {
        let exact: Vec<(f64, f64)> = [8.0, 16.0, 32.0].iter().map(|&d| (d, 3.0 * d * d)).collect();
        let fit = fit_power_law(&exact).unwrap();
        assert!((fit.slope - 2.0).abs() < 1e-12 && (fit.intercept - 3f64.ln()).abs() < 1e-12);
        let (lo, hi) = fit.ci95.unwrap();
        assert!((hi - lo).abs() < 1e-6);
        // ln y = 2 ln x + (+-0.1): residuals +0.1, -0.2, +0.1 around the line through the middle.
        let noisy = vec![
            (1.0, 0.1f64.exp()),
            (std::f64::consts::E, (2.0f64 - 0.2).exp()),
            (std::f64::consts::E.powi(2), (4.0f64 + 0.1).exp()),
        ];
        let fit = fit_power_law(&noisy).unwrap();
        assert!((fit.slope - 2.0).abs() < 1e-12);
        // SSE = 0.06 with 1 degree of freedom, Sxx = 2: half-width 12.706 sqrt(0.03) = 2.2007.
        let (lo, hi) = fit.ci95.unwrap();
        assert!(((hi - lo) / 2.0 - 12.706 * 0.03f64.sqrt()).abs() < 1e-9, "{lo} {hi}");
        assert!(fit_power_law(&exact[..1]).is_none());
        assert!(fit_power_law(&exact[..2]).unwrap().ci95.is_none());
    }

    #[test]
    fn t_quantiles_join_the_expansion_smoothly() {
        assert_eq!(student_t_975(4), 2.776);
        assert!((student_t_975(31) - 2.040).abs() < 1e-3 && (student_t_975(1000) - 1.962).abs() < 1e-3);
    }

    #[test]
    fn bootstrap_over_identical_seeds_has_no_spread_and_quantiles_interpolate() {
        // Every seed has the same errors: each resample gives the same n* and the same slope.
        let mut per_d = BTreeMap::new();
        for d in [8usize, 16, 32] {
            let mut errors = Errors::new();
            errors.insert(d, vec![0.5; 4]);
            errors.insert(4 * d, vec![0.0; 4]);
            per_d.insert(d, errors);
        }
        let report = slope_report(&per_d, &[8, 16, 32], 0.25, 4, 50);
        let fit = report.fit.unwrap();
        assert!((fit.slope - 1.0).abs() < 1e-12, "{}", fit.slope);
        let (lo, hi) = report.bootstrap_ci95.unwrap();
        assert!((lo - 1.0).abs() < 1e-12 && (hi - 1.0).abs() < 1e-12);
        assert_eq!(report.bootstrap_fitted, 50);
        assert_eq!(quantile(&[0.0, 1.0, 2.0], 0.25), 0.5);
    }
}
