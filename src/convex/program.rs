//! Building the conic program in clarabel's form and solving it, with retries under other settings.

use clarabel::algebra::CscMatrix;
use clarabel::solver::{DefaultSettings, DefaultSolver, IPSolver, SolverStatus, SupportedConeT};
use ndarray::{ArrayView1, ArrayView2};

use crate::error::{Error, Result};
use crate::loss::{Conic, Loss};

/// Solver tolerances (gap and feasibility).
pub(super) const SOLVER_TOL: f64 = 1e-10;

/// The conic program in clarabel's form: min x'Px/2 + q'x subject to A x + s = b, s in the cones.
pub(super) struct Program {
    pub(super) p: CscMatrix<f64>,
    pub(super) q: Vec<f64>,
    pub(super) a: CscMatrix<f64>,
    pub(super) b: Vec<f64>,
    pub(super) cones: Vec<SupportedConeT<f64>>,
    /// For [`Goal::Margin`], the index of the first margin row y_i z_p >= 1 (one per sample, in order).
    pub(super) margin_rows: usize,
}

/// What the program minimises over the cone-constrained v_k, w_k.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Goal {
    /// R(sum_k D_k X (v_k - w_k)) + 2 lambda sum_k (|v_k| + |w_k|).
    Fit { loss: Loss, lambda: f64 },
    /// sum_k (|v_k| + |w_k|) subject to y_i (sum_k D_k X (v_k - w_k))_i >= 1 for every sample.
    Margin,
}

/// A primal-dual solution: x the variables, z the dual variables of the rows of A (in row order).
pub(super) struct Solution {
    pub(super) x: Vec<f64>,
    pub(super) z: Vec<f64>,
}

/// Triplets of a sparse matrix under construction, with a running row count.
#[derive(Default)]
pub(super) struct Triplets {
    pub(super) rows: Vec<usize>,
    pub(super) cols: Vec<usize>,
    pub(super) vals: Vec<f64>,
    pub(super) b: Vec<f64>,
}

impl Triplets {
    /// Appends a row sum_j coef_j x_{col_j} (+ s) = rhs.
    pub(super) fn row(&mut self, entries: impl IntoIterator<Item = (usize, f64)>, rhs: f64) {
        let r = self.b.len();
        for (c, v) in entries {
            if v != 0.0 {
                self.rows.push(r);
                self.cols.push(c);
                self.vals.push(v);
            }
        }
        self.b.push(rhs);
    }
}

impl Program {
    /// Variables: v_k (K d), w_k (K d), a_k (K), b_k (K), z_p (one per distinct input), and for the logistic
    /// loss t, u1, u2 (one each per distinct (input, label) pair). [`Goal::Margin`] has no loss variables and
    /// one nonnegative row y_i z_p - 1 >= 0 per sample after the pattern rows.
    /// `rows[k]` lists the rows whose sign constraint is imposed for pattern k (all nonzero rows, or the facets).
    pub(super) fn build(
        x: ArrayView2<f64>,
        y: ArrayView1<f64>,
        goal: Goal,
        patterns: &[Vec<bool>],
        rows: &[Vec<usize>],
    ) -> Program {
        let logistic = matches!(goal, Goal::Fit { loss, .. } if loss.conic() == Conic::Softplus);
        let (n, d) = x.dim();
        let kk = patterns.len();
        // Identical inputs share one prediction z_p; identical (input, label) pairs share one loss term
        // weighted by their count.
        let mut points: Vec<usize> = Vec::new();
        let mut point_of = vec![0; n];
        let mut terms: Vec<(usize, f64, f64)> = Vec::new();
        for i in 0..n {
            let p = points.iter().position(|&j| x.row(j) == x.row(i)).unwrap_or_else(|| {
                points.push(i);
                points.len() - 1
            });
            point_of[i] = p;
            match terms.iter_mut().find(|(q, yq, _)| *q == p && *yq == y[i]) {
                Some(term) => term.2 += 1.0 / n as f64,
                None => terms.push((p, y[i], 1.0 / n as f64)),
            }
        }
        let (np, nt) = (points.len(), terms.len());
        let (iv, iw, ia, ib, iz) = (0, kk * d, 2 * kk * d, 2 * kk * d + kk, 2 * kk * d + 2 * kk);
        let (it, iu1, iu2) = (iz + np, iz + np + nt, iz + np + 2 * nt);
        let nvar = if logistic { iz + np + 3 * nt } else { iz + np };
        let mut t = Triplets::default();
        let mut cones = Vec::new();
        // z_p - sum_k D_k[i] x_i . (v_k - w_k) = 0, for a representative row i of each distinct input.
        for (p, &i) in points.iter().enumerate() {
            let xi = x.row(i);
            let mut e = vec![(iz + p, 1.0)];
            for (k, pattern) in patterns.iter().enumerate() {
                if pattern[i] {
                    for j in 0..d {
                        e.push((iv + k * d + j, -xi[j]));
                        e.push((iw + k * d + j, xi[j]));
                    }
                }
            }
            t.row(e, 0.0);
        }
        cones.push(SupportedConeT::ZeroConeT(np));
        // (2 D_k - I) X v_k >= 0 and the same for w_k.
        let mut nonneg = 0;
        for (k, (p, rows_k)) in patterns.iter().zip(rows).enumerate() {
            for &i in rows_k {
                let xi = x.row(i);
                let sigma = if p[i] { 1.0 } else { -1.0 };
                for base in [iv, iw] {
                    t.row((0..d).map(|j| (base + k * d + j, -sigma * xi[j])), 0.0);
                    nonneg += 1;
                }
            }
        }
        let margin_rows = t.b.len();
        if logistic {
            for m in 0..nt {
                t.row([(iu1 + m, 1.0), (iu2 + m, 1.0)], 1.0);
            }
            nonneg += nt;
        }
        if goal == Goal::Margin {
            // s = y_i z_p - 1 >= 0.
            for i in 0..n {
                t.row([(iz + point_of[i], -y[i])], -1.0);
            }
            nonneg += n;
        }
        cones.push(SupportedConeT::NonnegativeConeT(nonneg));
        // |v_k| <= a_k, |w_k| <= b_k.
        for (base, bound) in [(iv, ia), (iw, ib)] {
            for k in 0..kk {
                t.row([(bound + k, -1.0)], 0.0);
                for j in 0..d {
                    t.row([(base + k * d + j, -1.0)], 0.0);
                }
                cones.push(SupportedConeT::SecondOrderConeT(d + 1));
            }
        }
        let mut q = vec![0.0; nvar];
        let weight = match goal {
            Goal::Fit { lambda, .. } => 2.0 * lambda,
            Goal::Margin => 1.0,
        };
        q[ia..iz].iter_mut().for_each(|c| *c = weight);
        let conic = match goal {
            Goal::Margin => None,
            Goal::Fit { loss, .. } => Some(loss.conic()),
        };
        let p = match conic {
            None => CscMatrix::zeros((nvar, nvar)),
            Some(Conic::Quadratic) => {
                // sum_terms c (z_p - y)^2 / 2 = z' diag(c) z / 2 - (c y)' z + constant.
                let mut diag = vec![0.0; np];
                for &(pt, yt, c) in &terms {
                    diag[pt] += c;
                    q[iz + pt] -= c * yt;
                }
                let idx: Vec<usize> = (iz..iz + np).collect();
                CscMatrix::new_from_triplets(nvar, nvar, idx.clone(), idx, diag)
            }
            Some(Conic::Softplus) => {
                for (m, &(pt, yt, c)) in terms.iter().enumerate() {
                    q[it + m] = c;
                    // (-t, 1, u1) and (-y z_p - t, 1, u2) in K_exp.
                    t.row([(it + m, 1.0)], 0.0);
                    t.row([], 1.0);
                    t.row([(iu1 + m, -1.0)], 0.0);
                    t.row([(iz + pt, yt), (it + m, 1.0)], 0.0);
                    t.row([], 1.0);
                    t.row([(iu2 + m, -1.0)], 0.0);
                    cones.push(SupportedConeT::ExponentialConeT());
                    cones.push(SupportedConeT::ExponentialConeT());
                }
                CscMatrix::zeros((nvar, nvar))
            }
        };
        let count = t.b.len();
        let a = CscMatrix::new_from_triplets(count, nvar, t.rows, t.cols, t.vals);
        Program { p, q, a, b: t.b, cones, margin_rows }
    }

    /// Solves the program; the primal solution. The exponential cones sometimes stall clarabel's line search
    /// (InsufficientProgress) or let it stop at reduced accuracy (AlmostSolved); the settings of [`RETRIES`]
    /// are then tried in turn. The first `Solved` result is returned, else the `AlmostSolved` one with the
    /// smallest max(relative gap, primal residual, dual residual), else Error::Solver listing every status.
    pub(super) fn solve(&self) -> Result<Solution> {
        let mut statuses = Vec::new();
        let mut fallback: Option<(f64, Solution)> = None;
        for (name, adjust) in RETRIES {
            let mut settings = DefaultSettings {
                verbose: false,
                tol_gap_abs: SOLVER_TOL,
                tol_gap_rel: SOLVER_TOL,
                tol_feas: SOLVER_TOL,
                max_iter: 500,
                ..DefaultSettings::default()
            };
            adjust(&mut settings);
            crate::interrupt::check("optimum")?;
            if let Some(left) = crate::interrupt::remaining_seconds() {
                settings.time_limit = left;
            }
            let mut solver = DefaultSolver::new(&self.p, &self.q, &self.a, &self.b, &self.cones, settings)
                .map_err(|e| Error::Solver(format!("invalid conic program: {e}")))?;
            // Ctrl-C, SIGTERM or the time limit end the interior-point iterations.
            solver.set_termination_callback(|_: &_| crate::interrupt::stopped());
            solver.solve();
            crate::interrupt::check("optimum")?;
            let status = solver.solution.status;
            statuses.push(format!("{status:?} after {} iterations ({name})", solver.solution.iterations));
            match status {
                SolverStatus::Solved => {
                    return Ok(Solution { x: solver.solution.x.clone(), z: solver.solution.z.clone() })
                }
                SolverStatus::AlmostSolved => {
                    let info = &solver.info;
                    let error = info.gap_rel.max(info.res_primal).max(info.res_dual);
                    if fallback.as_ref().is_none_or(|(e, _)| error < *e) {
                        let solution = Solution { x: solver.solution.x.clone(), z: solver.solution.z.clone() };
                        fallback = Some((error, solution));
                    }
                }
                _ => {}
            }
        }
        match fallback {
            Some((_, x)) => Ok(x),
            None => Err(Error::Solver(format!("clarabel did not converge: {}", statuses.join(", ")))),
        }
    }
}

/// Settings of the successive clarabel attempts: the defaults (with tight tolerances); a later switch to dual
/// scaling and a later stop for the exponential cones' line search; shorter steps.
#[allow(clippy::type_complexity)]
pub(super) const RETRIES: [(&str, fn(&mut DefaultSettings<f64>)); 3] = [
    ("default steps", |_| {}),
    ("min_switch_step_length 1e-3, min_terminate_step_length 1e-8", |s| {
        s.min_switch_step_length = 1e-3;
        s.min_terminate_step_length = 1e-8;
    }),
    ("max_step_fraction 0.8", |s| s.max_step_fraction = 0.8),
];
