//! Polishing: Newton's method on the amplitudes of the read-back neurons with their directions fixed.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

use crate::loss::Loss;

/// Most Newton iterations of [`polish_amplitudes`].
pub(super) const POLISH_ITERS: usize = 30;

/// Projected Newton's method on the amplitudes a_j = |v_j| of neurons (sign_j, v_j), directions e_j = v_j / |v_j|
/// fixed: minimises J(a) = R(H a) + 2 lambda sum_j a_j over a >= 0, with H_ij = sign_j relu(x_i . e_j). The
/// variables at 0 with a nonnegative gradient are held; the others take the Newton step
/// (H' diag(l''/n) H) delta = -(H' r + 2 lambda) (r = l'/n), shortened to stay in a >= 0 and halved until J
/// decreases. Neurons whose amplitude reaches 0 are removed.
pub(super) fn polish_amplitudes(
    x: ArrayView2<f64>,
    y: ArrayView1<f64>,
    loss: Loss,
    lambda: f64,
    neurons: &mut Vec<(f64, Array1<f64>)>,
) {
    let m = neurons.len();
    if m == 0 {
        return;
    }
    let nf = x.nrows() as f64;
    let mut a = Array1::from_iter(neurons.iter().map(|(_, v)| v.dot(v).sqrt()));
    let units: Vec<Array1<f64>> = neurons.iter().zip(&a).map(|((_, v), &n)| v / n).collect();
    let mut h = Array2::zeros((x.nrows(), m));
    for (j, ((sign, _), e)) in neurons.iter().zip(&units).enumerate() {
        h.column_mut(j).assign(&x.dot(e).mapv(|t| sign * t.max(0.0)));
    }
    let objective = |a: &Array1<f64>| {
        let f = h.dot(a);
        y.iter().zip(&f).map(|(&yi, &fi)| loss.value(yi, fi)).sum::<f64>() / nf + 2.0 * lambda * a.sum()
    };
    let mut current = objective(&a);
    for _ in 0..POLISH_ITERS {
        let f = h.dot(&a);
        let r: Array1<f64> = y.iter().zip(&f).map(|(&yi, &fi)| loss.derivative(yi, fi) / nf).collect();
        let w: Array1<f64> = y.iter().zip(&f).map(|(&yi, &fi)| loss.second_derivative(yi, fi) / nf).collect();
        let g = h.t().dot(&r) + 2.0 * lambda;
        let free: Vec<usize> = (0..m).filter(|&j| a[j] > 0.0 || g[j] < 0.0).collect();
        if free.is_empty() {
            break;
        }
        let hf = h.select(ndarray::Axis(1), &free);
        let weighted = &hf * &w.view().insert_axis(ndarray::Axis(1));
        let mut hess = hf.t().dot(&weighted);
        let ridge = 1e-12 * hess.diag().iter().fold(0.0f64, |acc, &v| acc.max(v)).max(f64::MIN_POSITIVE);
        hess.diag_mut().iter_mut().for_each(|v| *v += ridge);
        let rhs: Array1<f64> = free.iter().map(|&j| -g[j]).collect();
        let Some(delta) = solve_dense(hess, rhs) else { break };
        let mut t_max: f64 = 1.0;
        for (&j, &dj) in free.iter().zip(&delta) {
            if dj < 0.0 {
                t_max = t_max.min(a[j] / -dj);
            }
        }
        let mut t = t_max;
        let mut improved = false;
        for _ in 0..40 {
            let mut trial = a.clone();
            for (&j, &dj) in free.iter().zip(&delta) {
                trial[j] = (a[j] + t * dj).max(0.0);
            }
            let value = objective(&trial);
            if value < current {
                a = trial;
                current = value;
                improved = true;
                break;
            }
            t /= 2.0;
        }
        if !improved {
            break;
        }
    }
    *neurons = neurons
        .iter()
        .zip(&units)
        .zip(&a)
        .filter(|(_, &aj)| aj > 0.0)
        .map(|(((sign, _), e), &aj)| (*sign, e * aj))
        .collect();
}

/// Solves A z = b by Gaussian elimination with partial pivoting; `None` if A is singular.
pub(super) fn solve_dense(mut a: Array2<f64>, mut b: Array1<f64>) -> Option<Array1<f64>> {
    let m = b.len();
    for col in 0..m {
        let pivot = (col..m).max_by(|&i, &j| a[[i, col]].abs().total_cmp(&a[[j, col]].abs()))?;
        if a[[pivot, col]] == 0.0 || !a[[pivot, col]].is_finite() {
            return None;
        }
        if pivot != col {
            for k in 0..m {
                a.swap([pivot, k], [col, k]);
            }
            b.swap(pivot, col);
        }
        for row in col + 1..m {
            let factor = a[[row, col]] / a[[col, col]];
            if factor != 0.0 {
                for k in col..m {
                    a[[row, k]] -= factor * a[[col, k]];
                }
                b[row] -= factor * b[col];
            }
        }
    }
    let mut z = Array1::zeros(m);
    for row in (0..m).rev() {
        let sum: f64 = (row + 1..m).map(|k| a[[row, k]] * z[k]).sum();
        z[row] = (b[row] - sum) / a[[row, row]];
    }
    z.iter().all(|v| v.is_finite()).then_some(z)
}
