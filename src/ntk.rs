//! The kernel induced by the same two-layer ReLU network (its NTK) and the kernel predictors the
//! paper compares the regularised network with (docs/math.md, section Kernels).
//!
//! With initial output weights w ~ N(0, r_w^2) and input weights u ~ N(0, r_u^2 I), the network
//! f(x) = m^{-1/2} sum_j w_j relu(u_j . x) has, as m -> infinity, the tangent kernel
//!
//! ```text
//! K(x, x') = r_w^2 (x . x') (pi - t) / (2 pi) + r_u^2 |x| |x'| (sin t + (pi - t) cos t) / (2 pi)
//! ```
//!
//! with t in [0, pi] the angle between x and x'. The first term is the inner product of the
//! gradients in the input weights, E[w^2] E[1[u . x > 0] 1[u . x' > 0]] x . x'; the second that in
//! the output weights, E[relu(u . x) relu(u . x')], the arc-cosine kernel of degree 1 (the kernel
//! of random features, where only the output weights train: [`Ntk::arc_cosine`]).
//!
//! The predictors f(x) = sum_i beta_i K(x, x_i) live in the span of the training points:
//! - minimum-norm interpolation, K beta = y ([`interpolate`]);
//! - kernel ridge regression, (K + n mu I) beta = y ([`ridge`]);
//! - the kernel SVM, the largest margin in the RKHS: min (1/2) beta' K beta subject to
//!   y_i (K beta)_i >= 1 ([`svm`]).
//!
//! The paper's lower bound (Omega(d^2) samples on its distribution) holds for every beta.

use std::f64::consts::PI;

use clarabel::algebra::CscMatrix;
use clarabel::solver::{DefaultSettings, DefaultSolver, IPSolver, SolverStatus, SupportedConeT};
use faer::linalg::solvers::Solve;
use faer::{Mat, Side};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rayon::prelude::*;

use crate::error::{Error, Result};

/// The NTK of docs/math.md, section Kernels, with initial scales r_w (output weights) and r_u (input weights).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ntk {
    /// Standard deviation r_w of the initial output weights: scales the input-weight gradients.
    pub r_w: f64,
    /// Standard deviation r_u of the initial input weights: scales the output-weight gradients.
    pub r_u: f64,
}

impl Ntk {
    /// The NTK of a network initialised with w ~ N(0, r_w^2), u ~ N(0, r_u^2 I); both scales finite
    /// and >= 0, not both 0.
    pub fn new(r_w: f64, r_u: f64) -> Result<Self> {
        for (name, v) in [("r_w", r_w), ("r_u", r_u)] {
            if !(v >= 0.0 && v.is_finite()) {
                return Err(Error::Invalid(format!("NTK scale {name} = {v}: must be a finite number >= 0")));
            }
        }
        if r_w == 0.0 && r_u == 0.0 {
            return Err(Error::Invalid("NTK scales r_w = r_u = 0: the kernel would be 0; make one positive".into()));
        }
        Ok(Ntk { r_w, r_u })
    }

    /// The arc-cosine kernel r_u^2 |x| |x'| (sin t + (pi - t) cos t) / (2 pi) alone: the NTK with
    /// r_w = 0, where the input weights stay at their random initial values (random features).
    pub fn arc_cosine(r_u: f64) -> Result<Self> {
        Ntk::new(0.0, r_u)
    }

    /// K(x, x') / (|x| |x'|) as a function of the half-chord lengths: with unit vectors a, b at
    /// angle t, p = |a + b| = 2 cos(t/2) and q = |a - b| = 2 sin(t/2), so that
    /// t = 2 atan2(q, p), cos t = (p^2 - q^2) / 4 and sin t = p q / 2, all accurate at small angles
    /// (where acos of a rounded cosine is not: identical inputs give t = 0 exactly).
    fn angular(&self, p: f64, q: f64) -> f64 {
        let t = 2.0 * q.atan2(p);
        let cos = ((p * p - q * q) / 4.0).clamp(-1.0, 1.0);
        let sin = p * q / 2.0;
        (self.r_w * self.r_w * cos * (PI - t) + self.r_u * self.r_u * (sin + (PI - t) * cos)) / (2.0 * PI)
    }

    /// K(x, x'); 0 if either input is the zero vector.
    pub fn eval(&self, x: ArrayView1<f64>, x2: ArrayView1<f64>) -> f64 {
        let (a, b) = (PolarInputs::new(x.insert_axis(Axis(0))), PolarInputs::new(x2.insert_axis(Axis(0))));
        self.entry(&a, 0, &b, 0)
    }

    /// The entry (i, j) between the rows i of `a` and j of `b`.
    fn entry(&self, a: &PolarInputs, i: usize, b: &PolarInputs, j: usize) -> f64 {
        let (u, v) = (a.unit.row(i), b.unit.row(j));
        let (mut p2, mut q2) = (0.0, 0.0);
        for (&s, &t) in u.iter().zip(v.iter()) {
            p2 += (s + t) * (s + t);
            q2 += (s - t) * (s - t);
        }
        a.norm[i] * b.norm[j] * self.angular(p2.sqrt(), q2.sqrt())
    }

    /// The matrix K(a_i, b_j) between the rows of `a` (n_a x d) and of `b` (n_b x d), rows computed
    /// in parallel; every entry is computed on its own, so the result does not depend on the
    /// number of threads, and `matrix(x, x)` is exactly symmetric.
    pub fn matrix(&self, a: ArrayView2<f64>, b: ArrayView2<f64>) -> Result<Array2<f64>> {
        if a.ncols() != b.ncols() {
            return Err(Error::Invalid(format!(
                "kernel matrix: inputs of dimension {} and {} differ",
                a.ncols(),
                b.ncols()
            )));
        }
        let (a, b) = (PolarInputs::new(a), PolarInputs::new(b));
        let mut k = Array2::zeros((a.norm.len(), b.norm.len()));
        k.axis_iter_mut(Axis(0)).into_par_iter().enumerate().for_each(|(i, mut row)| {
            for (j, v) in row.iter_mut().enumerate() {
                *v = self.entry(&a, i, &b, j);
            }
        });
        Ok(k)
    }

    /// The Gram matrix K(x_i, x_j) of the rows of `x`.
    pub fn gram(&self, x: ArrayView2<f64>) -> Array2<f64> {
        self.matrix(x, x).expect("the same inputs have the same dimension")
    }
}

/// Inputs split into norms |x_i| and unit directions x_i / |x_i| (0 for a zero input).
struct PolarInputs {
    norm: Vec<f64>,
    unit: Array2<f64>,
}

impl PolarInputs {
    fn new(x: ArrayView2<f64>) -> Self {
        let norm: Vec<f64> = x.outer_iter().map(|r| r.dot(&r).sqrt()).collect();
        let mut unit = x.to_owned();
        for (mut row, &n) in unit.outer_iter_mut().zip(&norm) {
            row.mapv_inplace(|v| if n > 0.0 { v / n } else { 0.0 });
        }
        PolarInputs { norm, unit }
    }
}

/// A predictor f(x) = sum_i beta_i K(x, x_i) and how it was obtained.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelFit {
    /// The coefficients beta, one per training point.
    pub beta: Array1<f64>,
    /// The multiple of the identity that was added to K to factor it: 0 unless K was numerically
    /// singular (for example repeated training inputs), then the smallest of 1e-12, 1e-11, ...
    /// times the mean diagonal that worked.
    pub jitter: f64,
    /// Largest |K beta - target|, relative to max |target| (target y, or the margins' 1 for the SVM
    /// on its support vectors): how exactly the defining equations hold.
    pub residual: f64,
}

impl KernelFit {
    /// The RKHS norm sqrt(beta' K beta) of the predictor.
    pub fn norm(&self, k: ArrayView2<f64>) -> f64 {
        self.beta.dot(&k.dot(&self.beta)).max(0.0).sqrt()
    }

    /// Predictions sum_i beta_i K(x, x_i) from the kernel matrix between new inputs (rows) and the
    /// training inputs (columns), as returned by [`Ntk::matrix`].
    pub fn predict(&self, k_new_train: ArrayView2<f64>) -> Array1<f64> {
        k_new_train.dot(&self.beta)
    }
}

/// Checks that `k` is square and matches `y`.
fn check_system(k: ArrayView2<f64>, y: ArrayView1<f64>, what: &str) -> Result<()> {
    if k.nrows() != k.ncols() || k.nrows() != y.len() {
        return Err(Error::Invalid(format!(
            "{what}: the kernel matrix is {} x {} but there are {} labels",
            k.nrows(),
            k.ncols(),
            y.len()
        )));
    }
    if y.is_empty() {
        return Err(Error::Invalid(format!("{what}: no training points")));
    }
    Ok(())
}

/// Largest |a_i - b_i| relative to max(max |b_i|, tiny).
fn relative_residual(a: ArrayView1<f64>, b: ArrayView1<f64>) -> f64 {
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(f64::MIN_POSITIVE);
    a.iter().zip(b).fold(0.0f64, |m, (x, y)| m.max((x - y).abs())) / scale
}

/// Relative residual above which a factorisation is retried with more jitter.
const INTERPOLATION_TOL: f64 = 1e-8;

/// Solves (K + s I) beta = y by Cholesky (LL'), with s = `shift` and, if the factorisation fails
/// or leaves a relative residual |(K + shift I) beta - y| above [`INTERPOLATION_TOL`],
/// s = shift + jitter for the first jitter = 1e-12, 1e-11, ..., 1e-6 times the mean diagonal of K
/// that factors.
fn cholesky_solve(k: ArrayView2<f64>, y: ArrayView1<f64>, shift: f64, what: &str) -> Result<KernelFit> {
    check_system(k, y, what)?;
    let n = y.len();
    let mean_diag = k.diag().sum() / n as f64;
    let ladder = std::iter::once(0.0).chain((-12..=-6).map(|e| 10f64.powi(e) * mean_diag));
    let mut last = f64::INFINITY;
    for jitter in ladder {
        let s = shift + jitter;
        let a = Mat::from_fn(n, n, |i, j| k[[i, j]] + if i == j { s } else { 0.0 });
        let Ok(llt) = a.llt(Side::Lower) else { continue };
        let rhs = Mat::from_fn(n, 1, |i, _| y[i]);
        let sol = llt.solve(&rhs);
        let beta = Array1::from_shape_fn(n, |i| sol[(i, 0)]);
        if beta.iter().any(|v| !v.is_finite()) {
            continue;
        }
        let fitted = k.dot(&beta) + shift * &beta;
        let residual = relative_residual(fitted.view(), y);
        if residual <= INTERPOLATION_TOL || (jitter > 0.0 && residual.is_finite()) {
            return Ok(KernelFit { beta, jitter, residual });
        }
        last = residual;
    }
    Err(Error::Invalid(format!(
        "{what}: the kernel matrix could not be factored even with jitter 1e-6 times its mean diagonal \
         {mean_diag} (last relative residual {last}); check the inputs for non-finite values"
    )))
}

/// Minimum-norm interpolation: beta = K^{-1} y, the predictor of least RKHS norm with f(x_i) = y_i.
/// When K is singular (repeated inputs) a small jitter is added and reported in
/// [`KernelFit::jitter`]; [`KernelFit::residual`] says how exactly K beta = y then holds.
pub fn interpolate(k: ArrayView2<f64>, y: ArrayView1<f64>) -> Result<KernelFit> {
    cholesky_solve(k, y, 0.0, "minimum-norm interpolation")
}

/// Kernel ridge regression: beta = (K + n mu I)^{-1} y, the minimiser of
/// (1/n) sum_i (f(x_i) - y_i)^2 + mu |f|_K^2; mu > 0. [`KernelFit::residual`] refers to
/// (K + n mu I) beta = y.
pub fn ridge(k: ArrayView2<f64>, y: ArrayView1<f64>, mu: f64) -> Result<KernelFit> {
    if !(mu > 0.0 && mu.is_finite()) {
        return Err(Error::Invalid(format!(
            "kernel ridge regression: mu = {mu}: must be a finite number > 0 (mu = 0 is `interpolate`)"
        )));
    }
    cholesky_solve(k, y, y.len() as f64 * mu, "kernel ridge regression")
}

/// Solver tolerance of the SVM's quadratic program.
const SVM_TOL: f64 = 1e-10;

/// Multipliers above this fraction of the largest mark support vectors in [`svm`]'s residual.
const SUPPORT_THRESHOLD: f64 = 1e-6;

/// Points off the support set join it when their margin is below 1 - this (rounding makes the
/// margins of degenerate points fall a few ulps short of 1).
const MARGIN_SLACK: f64 = 1e-10;

/// Largest number of active-set iterations of [`svm`] before it hands the problem to clarabel.
const ACTIVE_SET_ITERATIONS: usize = 50;

/// The kernel SVM without bias: the predictor of largest RKHS margin, min (1/2) beta' K beta
/// subject to y_i (K beta)_i >= 1, for labels y_i in {-1, +1}.
///
/// It is solved in its dual, the quadratic program min (1/2) a' Q a - sum_i a_i subject to a >= 0
/// with Q_ij = y_i y_j K(x_i, x_j); then beta_i = y_i a_i and the margins are
/// y_i (K beta)_i = (Q a)_i, equal to 1 on the support vectors (a_i > 0); the largest margin in
/// the RKHS is 1 / |f|_K. The KKT conditions are a >= 0, g = Q a - 1 >= 0 and a_i g_i = 0.
///
/// The primal-dual active-set method (Hintermueller, Ito & Kunisch 2002) guesses the support set
/// S, solves Q_SS a_S = 1 (a Cholesky factorisation, as in [`interpolate`]) with a = 0 off S, and
/// takes as the next S the points of S with a_i > 0 and the others with g_i < 0 (below
/// -`MARGIN_SLACK`); when S repeats, the KKT conditions hold. It starts from S = all points, minimum-norm interpolation, which on data the kernel
/// barely separates is nearly the answer, and takes a few factorisations. If S has not settled
/// after `ACTIVE_SET_ITERATIONS`, the quadratic program is solved by `clarabel` instead
/// (an interior-point method whose dense KKT systems cost minutes beyond n ~ 2000).
///
/// [`KernelFit::residual`] is the largest |margin - 1| over the support vectors, or 1 - the
/// smallest margin if that is larger; [`KernelFit::jitter`] that of the last factorisation.
///
/// # Errors
/// Labels other than +-1; data that no predictor of the span separates; the solver failing.
pub fn svm(k: ArrayView2<f64>, y: ArrayView1<f64>) -> Result<KernelFit> {
    check_system(k, y, "kernel SVM")?;
    if let Some(i) = y.iter().position(|&v| v != 1.0 && v != -1.0) {
        return Err(Error::Invalid(format!("kernel SVM: label {} of sample {} is not -1 or +1", y[i], i + 1)));
    }
    let n = y.len();
    let q = Array2::from_shape_fn((n, n), |(i, j)| y[i] * y[j] * k[[i, j]]);
    let mut support: Vec<usize> = (0..n).collect();
    for _ in 0..ACTIVE_SET_ITERATIONS {
        let q_ss = q.select(Axis(0), &support).select(Axis(1), &support);
        let fit = cholesky_solve(q_ss.view(), Array1::ones(support.len()).view(), 0.0, "kernel SVM")?;
        let mut alpha = Array1::zeros(n);
        for (&i, &a) in support.iter().zip(&fit.beta) {
            alpha[i] = a;
        }
        let g = q.dot(&alpha) - 1.0;
        let mut in_support = vec![false; n];
        support.iter().for_each(|&i| in_support[i] = true);
        let next: Vec<usize> =
            (0..n).filter(|&i| if in_support[i] { alpha[i] > 0.0 } else { g[i] < -MARGIN_SLACK }).collect();
        if next == support {
            return Ok(svm_fit(k, y, alpha.view(), fit.jitter));
        }
        support = next;
    }
    svm_clarabel(k, y, q.view())
}

/// The kernel SVM's dual quadratic program (see [`svm`]) solved by clarabel.
fn svm_clarabel(k: ArrayView2<f64>, y: ArrayView1<f64>, q: ArrayView2<f64>) -> Result<KernelFit> {
    let n = y.len();
    // The upper triangle of Q, column by column.
    let mut colptr = Vec::with_capacity(n + 1);
    let mut rowval = Vec::with_capacity(n * (n + 1) / 2);
    let mut nzval = Vec::with_capacity(n * (n + 1) / 2);
    colptr.push(0);
    for j in 0..n {
        for i in 0..=j {
            rowval.push(i);
            nzval.push(q[[i, j]]);
        }
        colptr.push(rowval.len());
    }
    let p = CscMatrix::new(n, n, colptr, rowval, nzval);
    let c = vec![-1.0; n];
    // -a + s = 0, s >= 0.
    let a = CscMatrix::new(n, n, (0..=n).collect(), (0..n).collect(), vec![-1.0; n]);
    let b = vec![0.0; n];
    let cones = [SupportedConeT::NonnegativeConeT(n)];
    let settings = DefaultSettings {
        verbose: false,
        tol_gap_abs: SVM_TOL,
        tol_gap_rel: SVM_TOL,
        tol_feas: SVM_TOL,
        max_iter: 200,
        ..DefaultSettings::default()
    };
    let mut solver = DefaultSolver::new(&p, &c, &a, &b, &cones, settings)
        .map_err(|e| Error::Solver(format!("kernel SVM: invalid quadratic program: {e}")))?;
    solver.solve();
    match solver.solution.status {
        SolverStatus::Solved | SolverStatus::AlmostSolved => {}
        SolverStatus::DualInfeasible | SolverStatus::AlmostDualInfeasible => {
            return Err(Error::Solver(
                "kernel SVM: the training data cannot be separated by the kernel (repeated inputs with \
                 different labels?)"
                    .into(),
            ))
        }
        other => {
            return Err(Error::Solver(format!(
                "kernel SVM: clarabel stopped with {other:?} after {} iterations",
                solver.solution.iterations
            )))
        }
    }
    let alpha = Array1::from_iter(solver.solution.x.iter().map(|v| v.max(0.0)));
    Ok(svm_fit(k, y, alpha.view(), 0.0))
}

/// The SVM predictor beta = y a of dual multipliers a, with its residual (see [`svm`]).
fn svm_fit(k: ArrayView2<f64>, y: ArrayView1<f64>, alpha: ArrayView1<f64>, jitter: f64) -> KernelFit {
    let beta = &alpha * &y;
    let margins = k.dot(&beta) * y;
    let largest = alpha.fold(0.0f64, |m, &v| m.max(v));
    let on_support = alpha
        .iter()
        .zip(&margins)
        .filter(|(&a, _)| a > SUPPORT_THRESHOLD * largest)
        .fold(0.0f64, |m, (_, &g)| m.max((g - 1.0).abs()));
    let violation = margins.iter().fold(0.0f64, |m, &g| m.max(1.0 - g));
    KernelFit { beta, jitter, residual: on_support.max(violation) }
}

/// Smallest and largest eigenvalue of the symmetric matrix `k`.
pub fn eigenvalue_range(k: ArrayView2<f64>) -> Result<(f64, f64)> {
    let n = k.nrows();
    if n == 0 || k.ncols() != n {
        return Err(Error::Invalid(format!("eigenvalues: the matrix is {} x {}, not square", n, k.ncols())));
    }
    let a = Mat::from_fn(n, n, |i, j| k[[i, j]]);
    let values = a
        .self_adjoint_eigenvalues(Side::Lower)
        .map_err(|e| Error::Solver(format!("eigenvalues did not converge: {e:?}")))?;
    Ok((values[0], values[n - 1]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Distribution;
    use crate::rng::Purpose;
    use ndarray::{array, s};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution as _, Normal, StandardNormal};

    fn gaussian(n: usize, d: usize, seed: u64) -> (Array2<f64>, Array1<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = Array2::from_shape_fn((n, d), |_| StandardNormal.sample(&mut rng));
        let y = x.column(0).mapv(|v: f64| if v * v > 0.5 { 1.0 } else { -1.0 });
        (x, y)
    }

    /// The textbook formula with t = acos(cos t), for comparison at angles away from 0 and pi.
    fn textbook(ntk: &Ntk, x: ArrayView1<f64>, x2: ArrayView1<f64>) -> f64 {
        let (nx, nx2, dot) = (x.dot(&x).sqrt(), x2.dot(&x2).sqrt(), x.dot(&x2));
        let t = (dot / (nx * nx2)).clamp(-1.0, 1.0).acos();
        ntk.r_w.powi(2) * dot * (PI - t) / (2.0 * PI)
            + ntk.r_u.powi(2) * nx * nx2 * (t.sin() + (PI - t) * t.cos()) / (2.0 * PI)
    }

    #[test]
    fn closed_form_matches_special_angles_and_the_textbook_formula() {
        let ntk = Ntk::new(0.7, 1.3).unwrap();
        let x = array![3.0, 4.0];
        // t = 0: (r_w^2 + r_u^2) |x|^2 / 2.
        assert!((ntk.eval(x.view(), x.view()) - (0.49 + 1.69) * 25.0 / 2.0).abs() < 1e-12);
        // t = pi: 0.
        assert!(ntk.eval(x.view(), (-&x).view()).abs() < 1e-12);
        // t = pi/2: r_u^2 |x||x'| / (2 pi).
        let orth = array![-8.0, 6.0];
        assert!((ntk.eval(x.view(), orth.view()) - 1.69 * 50.0 / (2.0 * PI)).abs() < 1e-12);
        assert_eq!(ntk.eval(x.view(), array![0.0, 0.0].view()), 0.0);
        let (xs, _) = gaussian(20, 5, 1);
        let k = ntk.gram(xs.view());
        // Off the diagonal only: there acos of the rounded cosine is off by ~1e-9 (the reason for the
        // half-chord form), while the diagonal is checked against t = 0 above.
        for i in 0..20 {
            for j in (0..20).filter(|&j| j != i) {
                let want = textbook(&ntk, xs.row(i), xs.row(j));
                assert!((k[[i, j]] - want).abs() < 1e-12 * want.abs().max(1.0), "({i}, {j}): {} vs {want}", k[[i, j]]);
            }
        }
        let arc = Ntk::arc_cosine(1.3).unwrap();
        assert!((arc.eval(x.view(), x.view()) - 1.69 * 25.0 / 2.0).abs() < 1e-12);
        assert!(Ntk::new(0.0, 0.0).is_err() && Ntk::new(-1.0, 1.0).is_err() && Ntk::new(f64::NAN, 1.0).is_err());
    }

    /// f(x) = m^{-1/2} sum_j w_j relu(u_j . x), w ~ N(0, r_w^2), u ~ N(0, r_u^2 I): the inner product of
    /// the parameter gradients at x and x' is (1/m) sum_j [relu(u_j . x) relu(u_j . x')
    /// + w_j^2 1[u_j . x > 0] 1[u_j . x' > 0] x . x'], whose mean is K(x, x').
    #[test]
    fn closed_form_is_the_wide_network_average_of_gradient_inner_products() {
        let (r_w, r_u) = (0.8, 1.5);
        let (m, d) = (200_000, 4);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let w = Normal::new(0.0, r_w).unwrap();
        let u = Normal::new(0.0, r_u).unwrap();
        let neurons: Vec<(f64, Array1<f64>)> =
            (0..m).map(|_| (w.sample(&mut rng), Array1::from_shape_fn(d, |_| u.sample(&mut rng)))).collect();
        let pairs = [
            (array![1.0, 0.0, 0.0, 0.0], array![1.0, 0.0, 0.0, 0.0]),
            (array![1.0, 2.0, -1.0, 0.5], array![0.5, 1.0, 1.0, -2.0]),
            (array![1.0, 1.0, 0.0, 0.0], array![-1.0, 0.2, 0.3, 0.0]),
            (array![2.0, 0.0, 0.0, 1.0], array![-2.0, 0.0, 0.0, -1.0]),
        ];
        let ntk = Ntk::new(r_w, r_u).unwrap();
        let arc = Ntk::arc_cosine(r_u).unwrap();
        for (x, x2) in &pairs {
            let (mut both, mut output) = (0.0, 0.0);
            for (w, u) in &neurons {
                let (a, b) = (u.dot(x), u.dot(x2));
                let out = a.max(0.0) * b.max(0.0);
                output += out;
                both += out + if a > 0.0 && b > 0.0 { w * w * x.dot(x2) } else { 0.0 };
            }
            let (both, output) = (both / m as f64, output / m as f64);
            let scale = x.dot(x).sqrt() * x2.dot(x2).sqrt() * (r_w * r_w + r_u * r_u);
            let k = ntk.eval(x.view(), x2.view());
            assert!((both - k).abs() < 1e-2 * scale, "NTK: Monte Carlo {both} vs closed form {k}");
            let k = arc.eval(x.view(), x2.view());
            assert!((output - k).abs() < 1e-2 * scale, "arc-cosine: Monte Carlo {output} vs closed form {k}");
        }
    }

    #[test]
    fn gram_matrix_is_symmetric_and_positive_semidefinite() {
        // d = 6: 64 distinct inputs among 150 samples, so K is singular and its smallest eigenvalue 0.
        for d in [6, 20] {
            let data = Distribution::Paper { d }.sample(150, 1, Purpose::TrainData).unwrap();
            for ntk in [Ntk::new(1.0, 1.0).unwrap(), Ntk::arc_cosine(1.0).unwrap()] {
                let k = ntk.gram(data.x.view());
                assert_eq!(k, k.t());
                let (low, high) = eigenvalue_range(k.view()).unwrap();
                assert!(high > 0.0 && low >= -1e-10 * high, "d = {d}: eigenvalues in [{low}, {high}]");
                if d == 6 {
                    assert!(low < 1e-10 * high, "repeated inputs make K singular: {low}");
                }
            }
        }
        let (a, _) = gaussian(7, 3, 2);
        let (b, _) = gaussian(5, 3, 3);
        let ntk = Ntk::new(1.0, 0.5).unwrap();
        let cross = ntk.matrix(a.view(), b.view()).unwrap();
        assert_eq!(cross.t(), ntk.matrix(b.view(), a.view()).unwrap());
        assert_eq!(cross[[2, 4]], ntk.eval(a.row(2), b.row(4)));
        assert!(ntk.matrix(a.view(), a.slice(s![.., ..2])).is_err());
    }

    #[test]
    fn minimum_norm_interpolation_interpolates() {
        let (x, y) = gaussian(120, 10, 4);
        let k = Ntk::new(1.0, 1.0).unwrap().gram(x.view());
        let fit = interpolate(k.view(), y.view()).unwrap();
        assert_eq!(fit.jitter, 0.0);
        assert!(fit.residual < 1e-8);
        let f = fit.predict(k.view());
        assert!(f.iter().zip(&y).all(|(f, y)| (f - y).abs() < 1e-8));
    }

    #[test]
    fn repeated_inputs_are_interpolated_with_a_reported_jitter() {
        let data = Distribution::Paper { d: 5 }.sample(60, 2, Purpose::TrainData).unwrap();
        let k = Ntk::new(1.0, 1.0).unwrap().gram(data.x.view());
        let fit = interpolate(k.view(), data.y.view()).unwrap();
        assert!(fit.jitter > 0.0 && fit.jitter <= 1e-6 * k.diag().mean().unwrap(), "jitter {}", fit.jitter);
        assert!(fit.residual < 1e-4, "residual {}", fit.residual);
        let f = fit.predict(k.view());
        assert_eq!(crate::data::classification_error(data.y.view(), f.view()), 0.0);
    }

    #[test]
    fn svm_margins_are_at_least_one_and_one_on_the_support_vectors() {
        let (x, y) = gaussian(80, 6, 5);
        let k = Ntk::new(1.0, 1.0).unwrap().gram(x.view());
        let fit = svm(k.view(), y.view()).unwrap();
        let margins = fit.predict(k.view()) * &y;
        let alpha = &fit.beta * &y;
        assert!(alpha.iter().all(|&a| a >= 0.0));
        let support = alpha.iter().filter(|&&a| a > 1e-6 * alpha.fold(0.0, |m: f64, &v| m.max(v))).count();
        assert!(support > 0 && support < 80, "{support} support vectors");
        for (&g, &a) in margins.iter().zip(&alpha) {
            assert!(g >= 1.0 - 1e-6, "margin {g}");
            if a > 1e-6 * alpha.sum() {
                assert!((g - 1.0).abs() < 1e-6, "support vector with margin {g}");
            }
        }
        assert!(fit.residual < 1e-6);
        // Interpolation is feasible for the SVM, so the SVM's norm is at most its.
        let interpolation = interpolate(k.view(), y.view()).unwrap();
        assert!(fit.norm(k.view()) < interpolation.norm(k.view()));
        // Two opposite points: K is diagonal and both are support vectors, so the SVM interpolates.
        let x = array![[1.0, 0.0], [-1.0, 0.0]];
        let y = array![1.0, -1.0];
        let k = Ntk::new(1.0, 1.0).unwrap().gram(x.view());
        let (a, b) = (svm(k.view(), y.view()).unwrap(), interpolate(k.view(), y.view()).unwrap());
        assert!((&a.beta - &b.beta).iter().all(|v| v.abs() < 1e-7), "{} vs {}", a.beta, b.beta);
        assert!(svm(k.view(), array![1.0, 0.5].view()).is_err());
    }

    #[test]
    fn svm_active_set_agrees_with_the_interior_point_solution() {
        for (d, n, seed) in [(6, 80, 5), (3, 150, 8)] {
            let (x, y) = gaussian(n, d, seed);
            let k = Ntk::new(1.0, 1.0).unwrap().gram(x.view());
            let q = Array2::from_shape_fn((n, n), |(i, j)| y[i] * y[j] * k[[i, j]]);
            let (active, interior) =
                (svm(k.view(), y.view()).unwrap(), svm_clarabel(k.view(), y.view(), q.view()).unwrap());
            let scale = active.beta.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let distance = (&active.beta - &interior.beta).iter().fold(0.0f64, |m, v| m.max(v.abs()));
            assert!(distance < 1e-5 * scale, "d = {d}: coefficients differ by {distance} (scale {scale})");
            assert!(active.residual < 1e-8 && interior.residual < 1e-6, "{} {}", active.residual, interior.residual);
        }
    }

    #[test]
    fn ridge_regression_tends_to_interpolation_as_mu_vanishes() {
        let (x, y) = gaussian(60, 8, 6);
        let k = Ntk::new(1.0, 1.0).unwrap().gram(x.view());
        let exact = interpolate(k.view(), y.view()).unwrap();
        let scale = exact.beta.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let mut previous = f64::INFINITY;
        for mu in [1e-2, 1e-4, 1e-6, 1e-8] {
            let fit = ridge(k.view(), y.view(), mu).unwrap();
            let distance = (&fit.beta - &exact.beta).iter().fold(0.0f64, |m, v| m.max(v.abs())) / scale;
            assert!(distance < previous, "mu = {mu}: {distance} >= {previous}");
            previous = distance;
        }
        assert!(previous < 1e-4, "at mu = 1e-8 the coefficients differ by {previous}");
        assert!(ridge(k.view(), y.view(), 0.0).is_err());
    }
}
