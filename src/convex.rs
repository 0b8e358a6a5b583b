//! The exact global optimum L* by the convex program of Pilanci & Ergen (2020) (docs/math.md, section Convex program).
//!
//! With activation patterns D_k = diag(1[X g_k >= 0]), k = 1..K,
//!
//! ```text
//! min over v_k, w_k in R^d of  R(sum_k D_k X (v_k - w_k)) + 2 lambda sum_k (|v_k|_2 + |w_k|_2)
//! subject to (2 D_k - I) X v_k >= 0,  (2 D_k - I) X w_k >= 0.
//! ```
//!
//! With every pattern of the arrangement of the hyperplanes x_i . v = 0 it equals L*; with a subset it is an
//! upper bound. It is solved by `clarabel` as a conic program: variables (v, w, a, b, z) with
//! |v_k| <= a_k and |w_k| <= b_k (second-order cones), z_p = sum_k D_k X (v_k - w_k) at each distinct input
//! p (zero cone), the pattern constraints (nonnegative cone; one row per distinct hyperplane and side, and
//! for a complete enumeration only the facets of each cell) and, with c the number of samples sharing an
//! (input, label) pair divided by n,
//! - squared loss: objective sum c (z_p - y)^2 / 2 + 2 lambda sum (a + b) (quadratic term P);
//! - logistic loss: log(1 + exp(-y z_p)) <= t as u1 + u2 <= 1, (-t, 1, u1) and (-y z_p - t, 1, u2) in
//!   clarabel's exponential cone {(x, y, z) : y exp(x / y) <= z, y > 0}, that is
//!   exp(-t) + exp(-y z_p - t) <= 1; objective sum c t + 2 lambda sum (a + b).
//!
//! When there are too many patterns, a sampled set is grown by column generation: at a solution with
//! residual r = grad R(F), a direction v with |sum_i r_i relu(v . x_i)| > 2 lambda gives a pattern that
//! improves the objective; when S = sup_{|v|=1} |...| <= 2 lambda (1 + tol) no pattern can, and the dual
//! bound of [`crate::certify`] certifies the solution.
//!
//! A network is read back in the finite-width form (docs/math.md, section Network as a measure): one neuron
//! u~ = v_k / sqrt|v_k|, w~ = sqrt|v_k| per nonzero v_k and u~ = w_k / sqrt|w_k|, w~ = -sqrt|w_k| per nonzero
//! w_k; its penalty
//! w~^2 + |u~|^2 = 2 |v_k| is the program's, and its predictions are sum relu(X v_k) - relu(X w_k).
//! Interior-point solutions split a neuron among the patterns whose cones share its direction: parallel
//! neurons of the same sign are merged (exact for parallel ones), and the amplitudes |v_k| are polished by
//! Newton's method with the directions fixed, which makes F accurate beyond the solver's ~sqrt(tolerance).
//! `value` is always L of the returned cloud, so value >= L*, and `dual` <= L* when the sphere maximum is
//! exact.
//!
//! [`max_margin`] solves the hard-margin limit lambda -> 0 over the same patterns: the maximum normalised
//! margin gamma* = 1 / (2 min sum_k (|v_k| + |w_k|)) subject to y_i (sum_k D_k X (v_k - w_k))_i >= 1 (derived
//! there), with a dual upper bound.

use std::collections::HashSet;

use clarabel::algebra::CscMatrix;
use clarabel::solver::{DefaultSettings, DefaultSolver, IPSolver, SolverStatus, SupportedConeT};
use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2};
use rand_distr::{Distribution as _, StandardNormal};

use crate::geometry::arrangement::{self, Cell, CircleArc, DistinctDirections, Visitor};
use crate::certify::{self, SphereMethod};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::loss::Loss;
use crate::rng::{self, Purpose};

/// Options of [`solve`].
#[derive(Clone, Debug, PartialEq)]
pub struct OptimumOptions {
    /// Largest number of patterns in one conic program. When the arrangement has at most this many, all are
    /// used (exact); otherwise patterns are sampled and grown by column generation up to this number.
    pub max_patterns: usize,
    /// Largest number of column-generation rounds (conic solves).
    pub max_rounds: usize,
    /// Column generation stops when S <= 2 lambda (1 + tol).
    pub tol: f64,
    /// Seed of the sampled patterns and of the estimated sphere maxima.
    pub seed: u64,
}

impl Default for OptimumOptions {
    /// 400 patterns, 40 rounds, tol = 1e-6, seed 0.
    fn default() -> Self {
        OptimumOptions { max_patterns: 400, max_rounds: 40, tol: 1e-6, seed: 0 }
    }
}

/// The solution of the convex program and the network read back from it.
#[derive(Clone, Debug, PartialEq)]
pub struct Optimum {
    /// Primal value L\[rho\] of the read-back cloud: R(F) + lambda * mean(w^2 + |u|^2); = L* if exact.
    pub value: f64,
    /// Dual bound D at the solution (certify::dual_bound with the solution's predictions).
    pub dual: f64,
    /// value - dual.
    pub gap: f64,
    /// Number of patterns in the final program.
    pub patterns: usize,
    /// All patterns were used, or column generation ended with an exact S <= 2 lambda (1 + tol).
    pub exact: bool,
    /// Number of nonzero neurons recovered.
    pub neurons: usize,
    /// Predictions F at the solution (those of the cloud).
    pub predictions: Array1<f64>,
    /// The recovered network as a mean-field cloud of m particles: m x (d+1), columns w, u_1..u_d, with
    /// theta = sqrt(m) (w~, u~). A single zero particle when the optimum is the zero network.
    pub particles: Array2<f64>,
}

/// Relative size under which a recovered neuron (|v_k| compared with the largest) is dropped.
const DROP: f64 = 1e-7;
/// Solver tolerances (gap and feasibility).
const SOLVER_TOL: f64 = 1e-10;
/// Most patterns added by one column-generation round.
const PATTERNS_PER_ROUND: usize = 16;

/// The activation patterns 1[X g >= 0] of all full-dimensional cells of the arrangement of the hyperplanes
/// x_i . g = 0 (each cell once, sorted), except those in which no nonzero input is active (they contribute
/// nothing). Zero rows are always active (0 >= 0). The number of cells grows like n^(d-1): this is meant for
/// small problems.
pub fn enumerate_patterns(x: ArrayView2<f64>) -> Result<Vec<Vec<bool>>> {
    Ok(cells(x)?.into_iter().map(|(p, _)| p).collect())
}

/// The patterns of [`enumerate_patterns`], each with the rows whose hyperplanes are facets of its cell: a
/// hyperplane is a facet of cell C iff flipping the signs of its rows gives another cell (the segment between
/// the two cells crosses only that hyperplane). The closed cell is the intersection of its facet half-spaces,
/// so only those rows need a constraint in the conic program.
fn cells(x: ArrayView2<f64>) -> Result<Vec<(Vec<bool>, Vec<usize>)>> {
    let (n, d) = x.dim();
    if d == 0 || n == 0 {
        return Err(Error::Invalid(format!("enumerate_patterns: inputs are {n} x {d}; need n >= 1 and d >= 1")));
    }
    if x.iter().any(|v| !v.is_finite()) {
        return Err(Error::Invalid("enumerate_patterns: inputs must be finite".into()));
    }
    let dirs = DistinctDirections::new(x);
    let k = dirs.len();
    let mut set: HashSet<Vec<bool>> = HashSet::new();
    if k == 0 {
        return Ok(Vec::new());
    }
    if d == 1 {
        set.insert((0..k).map(|j| dirs.dir(j)[0] > 0.0).collect());
        set.insert((0..k).map(|j| dirs.dir(j)[0] < 0.0).collect());
    } else {
        let zero = vec![0.0; k];
        for v in arrangement::visit(&dirs, &zero, || PatternVisitor { d, k, cells: HashSet::new() }) {
            set.extend(v.cells);
        }
    }
    let plane = planes(&dirs);
    let count = plane.iter().map(|p| p.0 + 1).max().unwrap_or(0);
    let mut representative = vec![usize::MAX; count];
    for (i, e) in dirs.of_row.iter().enumerate() {
        if let Some(j) = *e {
            if representative[plane[j].0] == usize::MAX {
                representative[plane[j].0] = i;
            }
        }
    }
    let mut out: Vec<(Vec<bool>, Vec<usize>)> = set
        .iter()
        .filter(|c| c.iter().any(|&a| a))
        .map(|c| {
            let rows = (0..count)
                .filter(|&h| {
                    let mut flipped = c.clone();
                    (0..k).filter(|&j| plane[j].0 == h).for_each(|j| flipped[j] = !flipped[j]);
                    set.contains(&flipped)
                })
                .map(|h| representative[h])
                .collect();
            (dirs.of_row.iter().map(|e| e.is_none_or(|j| c[j])).collect(), rows)
        })
        .collect();
    out.sort();
    Ok(out)
}

/// For each distinct direction, its hyperplane (a direction and its opposite share one) and whether it is
/// the opposite of the plane's first direction.
fn planes(dirs: &DistinctDirections) -> Vec<(usize, bool)> {
    let k = dirs.len();
    let mut plane: Vec<Option<(usize, bool)>> = vec![None; k];
    let mut count = 0;
    for j in 0..k {
        if plane[j].is_some() {
            continue;
        }
        plane[j] = Some((count, false));
        let e = dirs.dir(j);
        for (l, pl) in plane.iter_mut().enumerate().skip(j + 1) {
            if pl.is_none() && dirs.dir(l).iter().zip(e).all(|(a, b)| (a + b).abs() <= arrangement::TOL) {
                *pl = Some((count, true));
            }
        }
        count += 1;
    }
    plane.into_iter().map(|p| p.unwrap_or((0, false))).collect()
}

/// The rows to constrain for each pattern: one row per distinct constraint (rows with the same hyperplane and
/// the same required side give the same constraint), zero rows skipped.
fn constraint_rows(x: ArrayView2<f64>, patterns: &[Vec<bool>]) -> Vec<Vec<usize>> {
    let dirs = DistinctDirections::new(x);
    let plane = planes(&dirs);
    patterns
        .iter()
        .map(|p| {
            let mut seen = HashSet::new();
            (0..x.nrows())
                .filter(|&i| dirs.of_row[i].is_some_and(|j| seen.insert((plane[j].0, p[i] != plane[j].1))))
                .collect()
        })
        .collect()
}

/// Collects the activation patterns (over the distinct directions) of the top-level cells.
struct PatternVisitor {
    d: usize,
    k: usize,
    cells: HashSet<Vec<bool>>,
}

impl PatternVisitor {
    /// The pattern of the arc's free directions, completed by the groups of the levels 3..m with their sides.
    fn pattern(&self, arc: &CircleArc<'_>, frames: &[arrangement::Frame], sides: &[bool]) -> Vec<bool> {
        let mut p = vec![false; self.k];
        for (&j, &a) in arc.free.iter().zip(arc.active) {
            p[j] = a;
        }
        for (depth, &side) in sides.iter().enumerate() {
            let frame = &frames[frames.len() - 1 - depth];
            frame.plus.iter().for_each(|&j| p[j] = side);
            frame.minus.iter().for_each(|&j| p[j] = !side);
        }
        p
    }
}

impl Visitor for PatternVisitor {
    fn arc(&mut self, arc: &CircleArc<'_>) {
        if self.d == 2 {
            let p = self.pattern(arc, &[], &[]);
            self.cells.insert(p);
        }
    }

    fn cell(&mut self, cell: &Cell<'_>) {
        if cell.level == self.d {
            let p = self.pattern(cell.arc, cell.frames, cell.sides);
            self.cells.insert(p);
        }
    }
}

/// The pattern 1[x_i . v >= 0] of a direction v, rows on the boundary (|x_i . v| <= 1e-12 |x_i| |v|)
/// counted active if `boundary_active`, inactive otherwise (both cones contain v).
fn pattern_of(x: ArrayView2<f64>, v: ArrayView1<f64>, boundary_active: bool) -> Vec<bool> {
    let nv = v.dot(&v).sqrt();
    x.outer_iter()
        .map(|xi| {
            let z = xi.dot(&v);
            let tol = 1e-12 * xi.dot(&xi).sqrt() * nv;
            z > tol || (z.abs() <= tol && (boundary_active || xi.iter().all(|&c| c == 0.0)))
        })
        .collect()
}

/// The global optimum of L over clouds for `data`, `loss` and `lambda` > 0 (see the module documentation).
/// The dual bound is computed once, for the returned solution.
pub fn solve(data: &Dataset, loss: Loss, lambda: f64, opts: &OptimumOptions) -> Result<Optimum> {
    check(data, loss, lambda)?;
    if opts.max_patterns == 0 || opts.max_rounds == 0 || opts.tol.is_nan() || opts.tol < 0.0 {
        return Err(Error::Invalid(format!(
            "convex optimum: max_patterns = {}, max_rounds = {}, tol = {}; need max_patterns >= 1, \
             max_rounds >= 1 and tol >= 0",
            opts.max_patterns, opts.max_rounds, opts.tol
        )));
    }
    let (n, d) = data.x.dim();
    let distinct = DistinctDirections::new(data.x.view()).len();
    if cell_count_bound(distinct, d) <= opts.max_patterns as f64 {
        let all = cells(data.x.view())?;
        if all.len() <= opts.max_patterns {
            let (patterns, rows): (Vec<Vec<bool>>, Vec<Vec<usize>>) = all.into_iter().unzip();
            let solved = solve_program(data, loss, lambda, &patterns, &rows)?;
            return certify_solution(data, loss, lambda, solved, true, opts.seed);
        }
    }
    // Sampled patterns, grown by column generation.
    let mut patterns = PatternSet::default();
    let mut rng = rng::stream(opts.seed, Purpose::Certify, 1, 0);
    let initial = (2 * n + 16).min(opts.max_patterns);
    for _ in 0..20 * initial {
        if patterns.list.len() >= initial {
            break;
        }
        let g = Array1::from_shape_fn(d, |_| StandardNormal.sample(&mut rng));
        patterns.add(data.x.view(), g.view(), true);
    }
    let exact_affordable = certify::exact_cost(distinct, d) <= certify::EXACT_BUDGET;
    let threshold = 2.0 * lambda * (1.0 + opts.tol);
    let y = data.y.to_vec();
    let mut round = 0;
    loop {
        round += 1;
        let rows = constraint_rows(data.x.view(), &patterns.list);
        let solved = solve_program(data, loss, lambda, &patterns.list, &rows)?;
        if round >= opts.max_rounds || patterns.list.len() >= opts.max_patterns {
            return certify_solution(data, loss, lambda, solved, false, opts.seed);
        }
        // Directions with |phi| > 2 lambda (1 + tol) whose patterns are new: local maxima, else the exact maximum.
        let r = Array1::from(loss.risk_gradient(&y, &solved.predictions.to_vec()));
        let u = solved.particles.slice(s![.., 1..]).to_owned();
        let starts: Vec<Vec<f64>> = u.outer_iter().map(|row| row.to_vec()).collect();
        let local = certify::local_maxima(data.x.view(), r.view(), &starts, opts.seed.wrapping_add(round as u64));
        let mut found: Vec<Array1<f64>> = local
            .into_iter()
            .filter(|(val, v)| val.abs() > threshold && patterns.is_new(data.x.view(), ArrayView1::from(v)))
            .map(|(_, v)| Array1::from(v))
            .collect();
        if found.is_empty() {
            if !exact_affordable {
                return certify_solution(data, loss, lambda, solved, false, opts.seed);
            }
            let sm = certify::sphere_max(data.x.view(), r.view(), Some(u.view()), SphereMethod::Exact, opts.seed)?;
            if sm.value <= threshold {
                return certify_solution(data, loss, lambda, solved, true, opts.seed);
            }
            found.push(sm.argmax);
        }
        let before = patterns.list.len();
        let cap = opts.max_patterns.min(before + PATTERNS_PER_ROUND);
        for v in &found {
            for boundary_active in [true, false] {
                if patterns.list.len() < cap {
                    patterns.add(data.x.view(), v.view(), boundary_active);
                }
            }
        }
        if patterns.list.len() == before {
            return certify_solution(data, loss, lambda, solved, false, opts.seed);
        }
    }
}

/// Distinct patterns in insertion order.
#[derive(Default)]
struct PatternSet {
    set: HashSet<Vec<bool>>,
    list: Vec<Vec<bool>>,
}

impl PatternSet {
    /// Adds the pattern of direction v (see [`pattern_of`]) unless it is known or activates no nonzero input.
    fn add(&mut self, x: ArrayView2<f64>, v: ArrayView1<f64>, boundary_active: bool) {
        let p = pattern_of(x, v, boundary_active);
        let useful = p.iter().zip(x.outer_iter()).any(|(&a, xi)| a && xi.iter().any(|&c| c != 0.0));
        if useful && self.set.insert(p.clone()) {
            self.list.push(p);
        }
    }

    /// Whether either pattern of direction v (boundary rows active or inactive) is missing.
    fn is_new(&self, x: ArrayView2<f64>, v: ArrayView1<f64>) -> bool {
        [true, false].iter().any(|&b| !self.set.contains(&pattern_of(x, v, b)))
    }
}

/// An upper bound on the number of cells of k hyperplanes through the origin of R^d:
/// 2 sum_{i<d} C(k-1, i) (attained in general position).
fn cell_count_bound(k: usize, d: usize) -> f64 {
    let mut c = 1.0;
    let mut sum = 0.0;
    for i in 0..d {
        sum += c;
        c *= (k as f64 - 1.0 - i as f64).max(0.0) / (i as f64 + 1.0);
    }
    2.0 * sum
}

/// Checks the data and lambda for the convex program.
fn check(data: &Dataset, loss: Loss, lambda: f64) -> Result<()> {
    if !(lambda > 0.0 && lambda.is_finite()) {
        return Err(Error::Invalid(format!(
            "convex optimum: lambda = {lambda}; the convex program needs a finite lambda > 0"
        )));
    }
    if data.n() == 0 || data.d() == 0 {
        return Err(Error::Invalid(format!(
            "convex optimum: data are {} x {}; need n >= 1 and d >= 1",
            data.n(),
            data.d()
        )));
    }
    data.check_labels(loss, "convex optimum")
}

/// The convex program restricted to `patterns` (each of length n), solved by clarabel, the network read back
/// from it and its dual bound; `exact` is false (the caller knows whether the patterns are complete). `seed`
/// is passed to the dual bound's estimate when its sphere maximum is not computed exactly.
pub fn solve_with_patterns(
    data: &Dataset,
    loss: Loss,
    lambda: f64,
    patterns: &[Vec<bool>],
    seed: u64,
) -> Result<Optimum> {
    check(data, loss, lambda)?;
    let n = data.n();
    if let Some(p) = patterns.iter().find(|p| p.len() != n) {
        return Err(Error::Invalid(format!("convex optimum: a pattern has length {} but n = {n}", p.len())));
    }
    let rows = constraint_rows(data.x.view(), patterns);
    let solved = solve_program(data, loss, lambda, patterns, &rows)?;
    certify_solution(data, loss, lambda, solved, false, seed)
}

/// The maximum normalised margin over clouds on separable classification data, with a network that attains it.
#[derive(Clone, Debug, PartialEq)]
pub struct MaxMargin {
    /// gamma = min_i y_i F_i / integral |theta|^2 d rho of `particles`: gamma* up to the solver's tolerance
    /// (a margin that is attained, so gamma <= gamma*).
    pub gamma: f64,
    /// An upper bound on gamma* from the dual solution: gamma <= gamma* <= upper (see [`max_margin`]).
    pub upper: f64,
    /// Number of activation patterns (all cells of the arrangement).
    pub patterns: usize,
    /// Neurons of the returned network.
    pub neurons: usize,
    /// Predictions F of `particles` (min_i y_i F_i = 1 up to the solver's tolerance).
    pub predictions: Array1<f64>,
    /// The max-margin network as a mean-field cloud, m x (d+1), columns w, u_1..u_d (balanced neurons).
    pub particles: Array2<f64>,
}

/// The maximum normalised margin gamma* = sup over clouds of min_i y_i F_i / integral |theta|^2 d rho
/// (docs/math.md, section Convex program), exactly, by a convex program over all activation patterns.
///
/// Derivation. A cloud is a finite-width net sum_j w~_j relu(u~_j . x) with penalty
/// sum_j (w~_j^2 + |u~_j|^2) >= 2 sum_j |w~_j| |u~_j|, with equality for balanced neurons (w~^2 = |u~|^2).
/// Its predictions depend only on v_j = |w~_j| u~_j and the sign of w~_j. Neurons of one sign whose
/// directions lie in one closed cell of the arrangement add up to one neuron of that cell with the same
/// predictions and no larger sum of |v_j|, so with activation patterns D_k (one per cell)
///
/// ```text
/// gamma* = max  min_i y_i (sum_k D_k X (v_k - w_k))_i / (2 sum_k (|v_k|_2 + |w_k|_2))
/// ```
///
/// over (2 D_k - I) X v_k >= 0, (2 D_k - I) X w_k >= 0. Numerator and denominator are both 1-homogeneous in
/// (v, w); fixing min_i y_i F_i = 1 gives gamma* = 1 / (2 M) with the second-order cone program
///
/// ```text
/// M = min sum_k (|v_k|_2 + |w_k|_2)  s.t.  y_i (sum_k D_k X (v_k - w_k))_i >= 1,  the cone constraints.
/// ```
///
/// For example the 4-neuron net |x_1| - |x_2| (v = +-e_1, w = +-e_2) on `paper` data has min_i y_i F_i = 1 and
/// sum |v| + |w| = 4: gamma = 1/8.
///
/// Dual bound. For alpha >= 0 let S = sup_{|v|=1} |sum_i alpha_i y_i relu(v . x_i)|; any feasible network has
/// sum_i alpha_i <= sum_i alpha_i y_i F_i = sum_k (phi(v_k) - phi(w_k)) <= S sum_k (|v_k| + |w_k|), so
/// M >= sum_i alpha_i / S and gamma* <= S / (2 sum_i alpha_i). `upper` is this bound with alpha the solver's
/// dual variables of the margin rows and S computed exactly ([`certify::sphere_max`]).
///
/// # Errors
/// Labels other than -1 and +1; a zero input; more than `max_patterns` cells (the exact program is meant for
/// small problems: the cell count grows like n^(d-1)); data that no network separates (two samples on one
/// ray from the origin with different labels), which the solver reports as infeasible.
pub fn max_margin(data: &Dataset, max_patterns: usize) -> Result<MaxMargin> {
    data.check_labels(Loss::Logistic, "max margin")?;
    let (x, y, d) = (data.x.view(), data.y.view(), data.d());
    if let Some(i) = x.outer_iter().position(|xi| xi.iter().all(|&c| c == 0.0)) {
        return Err(Error::Invalid(format!(
            "max margin: sample {} is the zero input, where every network predicts 0; the data are not separable",
            i + 1
        )));
    }
    let bound = cell_count_bound(DistinctDirections::new(x).len(), d);
    let all = if bound <= max_patterns as f64 { cells(x)? } else { Vec::new() };
    if all.is_empty() || all.len() > max_patterns {
        return Err(Error::Invalid(format!(
            "max margin: the {} inputs in d = {d} have up to {bound} activation patterns, more than max_patterns = \
             {max_patterns}; the exact max margin is for small problems",
            data.n()
        )));
    }
    let (patterns, rows): (Vec<Vec<bool>>, Vec<Vec<usize>>) = all.into_iter().unzip();
    let kk = patterns.len();
    let program = Program::build(x, y, Goal::Margin, &patterns, &rows);
    let solution = program.solve().map_err(|e| match e {
        Error::Solver(m) => Error::Solver(format!(
            "max margin: {m}; are the data separable (no two samples on one ray from the origin with different \
             labels)?"
        )),
        other => other,
    })?;
    let margin = |n: &[(f64, Array1<f64>)]| -cloud_margin(x, y, cloud(n, d).view());
    let neurons = merge_if_harmless(read_neurons(&solution.x, kk, d), &MARGIN_MERGE, margin);
    let particles = cloud(&neurons, d);
    let (predictions, _) = cloud_predictions(x, particles.view());
    let gamma = cloud_margin(x, y, particles.view());
    let start = program.margin_rows;
    let alpha = Array1::from_iter(solution.z[start..start + data.n()].iter().map(|a| a.max(0.0)));
    let directions = particles.slice(s![.., 1..]);
    let sphere = certify::sphere_max(x, (&alpha * &y).view(), Some(directions), SphereMethod::Exact, 0)?;
    Ok(MaxMargin {
        gamma,
        upper: sphere.value / (2.0 * alpha.sum()),
        patterns: kk,
        neurons: neurons.len(),
        predictions,
        particles,
    })
}

/// Solves the program with sign constraints on `rows[k]` for pattern k, and reads the network back:
/// - neurons (w~, u~) = (+-sqrt|v|, v / sqrt|v|), dropping those with |v| below [`DROP`] times the largest;
/// - parallel neurons of the same sign are merged by adding their v, which leaves predictions and
///   penalty unchanged when they are exactly parallel (interior-point solutions split a neuron among the
///   patterns whose cones share its direction, up to ~1e-6 in direction); the first tolerance of [`MERGE`]
///   whose merged network has L within [`MERGE_SLACK`] of the unmerged one is kept;
/// - the amplitudes |v| are polished by Newton's method with the directions fixed
///   ([`polish_amplitudes`]), which makes F accurate where the solver leaves it to ~sqrt(tolerance);
/// - value = L of the cloud; `dual` and `gap` are left NaN for [`certify_solution`].
fn solve_program(
    data: &Dataset,
    loss: Loss,
    lambda: f64,
    patterns: &[Vec<bool>],
    rows: &[Vec<usize>],
) -> Result<Optimum> {
    let d = data.d();
    let x = data.x.view();
    let y = data.y.view();
    let kk = patterns.len();
    let mut neurons = if kk > 0 {
        let program = Program::build(x, y, Goal::Fit { loss, lambda }, patterns, rows);
        read_neurons(&program.solve()?.x, kk, d)
    } else {
        Vec::new()
    };
    neurons = merge_if_harmless(neurons, &MERGE, |n| cloud_objective(x, y, loss, lambda, cloud(n, d).view()).0);
    polish_amplitudes(x, y, loss, lambda, &mut neurons);
    let particles = cloud(&neurons, d);
    let (value, predictions) = cloud_objective(x, y, loss, lambda, particles.view());
    let count = if particles.iter().all(|&t| t == 0.0) { 0 } else { particles.nrows() };
    Ok(Optimum {
        value,
        dual: f64::NAN,
        gap: f64::NAN,
        patterns: kk,
        exact: false,
        neurons: count,
        predictions,
        particles,
    })
}

/// The neurons (sign, v) of a solution vector of [`Program`] with `kk` patterns in dimension d: (+1, v_k) and
/// (-1, w_k), dropping those with |v| below [`DROP`] times the largest (and zeros).
fn read_neurons(sol: &[f64], kk: usize, d: usize) -> Vec<(f64, Array1<f64>)> {
    let mut neurons: Vec<(f64, Array1<f64>)> = Vec::new();
    for (block, sign) in [(0, 1.0), (kk, -1.0)] {
        for k in 0..kk {
            neurons.push((sign, Array1::from(sol[(block + k) * d..(block + k + 1) * d].to_vec())));
        }
    }
    let largest = neurons.iter().map(|(_, v)| v.dot(v).sqrt()).fold(0.0, f64::max);
    neurons.retain(|(_, v)| {
        let nv = v.dot(v).sqrt();
        nv > DROP * largest && nv > 0.0
    });
    neurons
}

/// Merges parallel neurons of the same sign ([`merge_parallel`]) at the first of the `tolerances` whose
/// merged network's `score` (lower is better) is within [`MERGE_SLACK`] (relative to max(1, |score|)) of the
/// unmerged one's; the neurons unchanged if none is.
fn merge_if_harmless(
    neurons: Vec<(f64, Array1<f64>)>,
    tolerances: &[f64],
    score: impl Fn(&[(f64, Array1<f64>)]) -> f64,
) -> Vec<(f64, Array1<f64>)> {
    let before = score(&neurons);
    let slack = MERGE_SLACK * before.abs().max(1.0);
    for &tol in tolerances {
        let merged = merge_parallel(&neurons, tol);
        if merged.len() == neurons.len() {
            break;
        }
        if score(&merged) <= before + slack {
            return merged;
        }
    }
    neurons
}

/// Sets `exact`, dual = certify::dual_bound at the cloud's predictions (particle directions as starts) and
/// gap = value - dual.
fn certify_solution(
    data: &Dataset,
    loss: Loss,
    lambda: f64,
    mut opt: Optimum,
    exact: bool,
    seed: u64,
) -> Result<Optimum> {
    let (x, y) = (data.x.view(), data.y.view());
    let u = opt.particles.slice(s![.., 1..]);
    let db = certify::dual_bound(loss, y, opt.predictions.view(), x, lambda, Some(u), SphereMethod::Auto, seed)?;
    opt.dual = db.dual;
    opt.gap = opt.value - db.dual;
    opt.exact = exact;
    Ok(opt)
}

/// Most Newton iterations of [`polish_amplitudes`].
const POLISH_ITERS: usize = 30;

/// l''(y, z): logistic sigmoid(y z) sigmoid(-y z); squared 1.
fn second_derivative(loss: Loss, y: f64, z: f64) -> f64 {
    match loss {
        Loss::Logistic => crate::loss::sigmoid(y * z) * crate::loss::sigmoid(-y * z),
        Loss::Squared => 1.0,
    }
}

/// Projected Newton's method on the amplitudes a_j = |v_j| of neurons (sign_j, v_j), directions e_j = v_j / |v_j|
/// fixed: minimises J(a) = R(H a) + 2 lambda sum_j a_j over a >= 0, with H_ij = sign_j relu(x_i . e_j). The
/// variables at 0 with a nonnegative gradient are held; the others take the Newton step
/// (H' diag(l''/n) H) delta = -(H' r + 2 lambda) (r = l'/n), shortened to stay in a >= 0 and halved until J
/// decreases. Neurons whose amplitude reaches 0 are removed.
fn polish_amplitudes(
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
        let w: Array1<f64> = y.iter().zip(&f).map(|(&yi, &fi)| second_derivative(loss, yi, fi) / nf).collect();
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
fn solve_dense(mut a: Array2<f64>, mut b: Array1<f64>) -> Option<Array1<f64>> {
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

/// Distances between unit directions under which neurons are merged, tried in this order.
const MERGE: [f64; 3] = [1e-5, 1e-7, 1e-9];
/// Merge tolerances of [`max_margin`]: its solution has no amplitude polish, so neurons split among the cells
/// that share a direction stay ~sqrt(solver tolerance) apart; merging them never lowers the margin when they
/// are split copies, and a merge that does is refused.
const MARGIN_MERGE: [f64; 4] = [1e-3, 1e-5, 1e-7, 1e-9];
/// A merge is kept if it raises L by at most this much (relative to max(1, L)).
const MERGE_SLACK: f64 = 1e-9;

/// Adds up the v of neurons (sign, v) of the same sign whose unit directions are within `tol` (each
/// coordinate) of the first of their group.
fn merge_parallel(neurons: &[(f64, Array1<f64>)], tol: f64) -> Vec<(f64, Array1<f64>)> {
    let mut out: Vec<(f64, Array1<f64>)> = Vec::new();
    for (sign, v) in neurons {
        let dir = v / v.dot(v).sqrt();
        let same = out.iter_mut().find(|(s, w)| {
            let wd = w.mapv(|c| c / w.dot(w).sqrt());
            s == sign && (&wd - &dir).iter().all(|e| e.abs() <= tol)
        });
        match same {
            Some((_, w)) => *w += v,
            None => out.push((*sign, v.clone())),
        }
    }
    out
}

/// The mean-field cloud of finite-width neurons (sign, v): rows sqrt(m) (w~, u~) with w~ = sign sqrt|v| and
/// u~ = v / sqrt|v|; a single zero particle when there is no neuron.
fn cloud(neurons: &[(f64, Array1<f64>)], d: usize) -> Array2<f64> {
    let m = neurons.len();
    if m == 0 {
        return Array2::zeros((1, d + 1));
    }
    let scale = (m as f64).sqrt();
    let mut p = Array2::zeros((m, d + 1));
    for (mut row, (sign, v)) in p.outer_iter_mut().zip(neurons) {
        let root = v.dot(v).sqrt().sqrt();
        row[0] = scale * sign * root;
        row.slice_mut(s![1..]).assign(&(v * (scale / root)));
    }
    p
}

/// F_i = mean_j w_j relu(u_j . x_i) and the second moment mean_j (w_j^2 + |u_j|^2) of a cloud (rows (w, u)).
pub fn cloud_predictions(x: ArrayView2<f64>, particles: ArrayView2<f64>) -> (Array1<f64>, f64) {
    let m = particles.nrows() as f64;
    let w = particles.column(0);
    let u = particles.slice(s![.., 1..]);
    let f = x.dot(&u.t()).mapv(|t| t.max(0.0)).dot(&w) / m;
    (f, particles.iter().map(|t| t * t).sum::<f64>() / m)
}

/// L\[rho\] = R(F) + lambda * mean_j (w_j^2 + |u_j|^2) of a cloud (rows (w, u)), and F_i = mean_j w_j relu(u_j . x_i).
pub fn cloud_objective(
    x: ArrayView2<f64>,
    y: ArrayView1<f64>,
    loss: Loss,
    lambda: f64,
    particles: ArrayView2<f64>,
) -> (f64, Array1<f64>) {
    let (f, penalty) = cloud_predictions(x, particles);
    let risk = y.iter().zip(&f).map(|(&yi, &fi)| loss.value(yi, fi)).sum::<f64>() / y.len() as f64;
    (risk + lambda * penalty, f)
}

/// The normalised margin gamma = min_i y_i F_i / integral |theta|^2 d rho of a cloud (docs/math.md, section Margin); by
/// 2-homogeneity it is the margin of the cloud rescaled to integral |theta|^2 = 1. NaN for the zero cloud.
pub fn cloud_margin(x: ArrayView2<f64>, y: ArrayView1<f64>, particles: ArrayView2<f64>) -> f64 {
    let (f, second_moment) = cloud_predictions(x, particles);
    y.iter().zip(&f).map(|(&yi, &fi)| yi * fi).fold(f64::INFINITY, f64::min) / second_moment
}

/// The conic program in clarabel's form: min x'Px/2 + q'x subject to A x + s = b, s in the cones.
struct Program {
    p: CscMatrix<f64>,
    q: Vec<f64>,
    a: CscMatrix<f64>,
    b: Vec<f64>,
    cones: Vec<SupportedConeT<f64>>,
    /// For [`Goal::Margin`], the index of the first margin row y_i z_p >= 1 (one per sample, in order).
    margin_rows: usize,
}

/// What the program minimises over the cone-constrained v_k, w_k.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Goal {
    /// R(sum_k D_k X (v_k - w_k)) + 2 lambda sum_k (|v_k| + |w_k|).
    Fit { loss: Loss, lambda: f64 },
    /// sum_k (|v_k| + |w_k|) subject to y_i (sum_k D_k X (v_k - w_k))_i >= 1 for every sample.
    Margin,
}

/// A primal-dual solution: x the variables, z the dual variables of the rows of A (in row order).
struct Solution {
    x: Vec<f64>,
    z: Vec<f64>,
}

/// Triplets of a sparse matrix under construction, with a running row count.
#[derive(Default)]
struct Triplets {
    rows: Vec<usize>,
    cols: Vec<usize>,
    vals: Vec<f64>,
    b: Vec<f64>,
}

impl Triplets {
    /// Appends a row sum_j coef_j x_{col_j} (+ s) = rhs.
    fn row(&mut self, entries: impl IntoIterator<Item = (usize, f64)>, rhs: f64) {
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
    fn build(
        x: ArrayView2<f64>,
        y: ArrayView1<f64>,
        goal: Goal,
        patterns: &[Vec<bool>],
        rows: &[Vec<usize>],
    ) -> Program {
        let logistic = matches!(goal, Goal::Fit { loss: Loss::Logistic, .. });
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
        let p = match goal {
            Goal::Margin => CscMatrix::zeros((nvar, nvar)),
            Goal::Fit { loss: Loss::Squared, .. } => {
                // sum_terms c (z_p - y)^2 / 2 = z' diag(c) z / 2 - (c y)' z + constant.
                let mut diag = vec![0.0; np];
                for &(pt, yt, c) in &terms {
                    diag[pt] += c;
                    q[iz + pt] -= c * yt;
                }
                let idx: Vec<usize> = (iz..iz + np).collect();
                CscMatrix::new_from_triplets(nvar, nvar, idx.clone(), idx, diag)
            }
            Goal::Fit { loss: Loss::Logistic, .. } => {
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
    fn solve(&self) -> Result<Solution> {
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
            let mut solver = DefaultSolver::new(&self.p, &self.q, &self.a, &self.b, &self.cones, settings)
                .map_err(|e| Error::Solver(format!("invalid conic program: {e}")))?;
            solver.solve();
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
const RETRIES: [(&str, fn(&mut DefaultSettings<f64>)); 3] = [
    ("default steps", |_| {}),
    ("min_switch_step_length 1e-3, min_terminate_step_length 1e-8", |s| {
        s.min_switch_step_length = 1e-3;
        s.min_terminate_step_length = 1e-8;
    }),
    ("max_step_fraction 0.8", |s| s.max_step_fraction = 0.8),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Distribution, XorNoise};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn gaussian_data(n: usize, d: usize, loss: Loss, seed: u64) -> Dataset {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = Array2::from_shape_fn((n, d), |_| StandardNormal.sample(&mut rng));
        let y = Array1::from_shape_fn(n, |_| match loss {
            Loss::Logistic => {
                if rng.random::<bool>() {
                    1.0
                } else {
                    -1.0
                }
            }
            Loss::Squared => StandardNormal.sample(&mut rng),
        });
        Dataset::new(x, y).unwrap()
    }

    fn opts() -> OptimumOptions {
        OptimumOptions::default()
    }

    /// The cloud is balanced (w^2 = |u|^2 per particle) and reproduces `value` and `predictions`, value >= dual,
    /// and when `exact`, the dual bound of certify at the predictions (no particle directions given) is exact
    /// and within 1e-6 of the value.
    fn check_consistent(data: &Dataset, loss: Loss, lambda: f64, opt: &Optimum) {
        for p in opt.particles.outer_iter() {
            let u2 = p.slice(s![1..]).dot(&p.slice(s![1..]));
            assert!((p[0] * p[0] - u2).abs() <= 1e-12 * u2.max(1e-300), "unbalanced particle {p}");
        }
        let (value, f) = cloud_objective(data.x.view(), data.y.view(), loss, lambda, opt.particles.view());
        assert!((value - opt.value).abs() <= 1e-12 * value.abs().max(1.0));
        assert!((&f - &opt.predictions).iter().all(|e| e.abs() < 1e-12));
        assert!(opt.dual <= opt.value + 1e-12, "dual {} above value {}", opt.dual, opt.value);
        assert!((opt.gap - (opt.value - opt.dual)).abs() < 1e-15);
        if opt.exact {
            let (y, f, x) = (data.y.view(), opt.predictions.view(), data.x.view());
            let db = certify::dual_bound(loss, y, f, x, lambda, None, SphereMethod::Auto, 0).unwrap();
            assert!(db.exact);
            let gap = opt.value - db.dual;
            assert!((-1e-9..1e-6).contains(&gap), "gap of dual_bound at the solution: {gap}");
        }
    }

    /// clarabel's exponential cone is {(x, y, z) : y exp(x / y) <= z}: max x subject to (x, 1, e^5) in K_exp is 5.
    #[test]
    fn clarabel_exponential_cone_convention() {
        let p = CscMatrix::zeros((1, 1));
        let a = CscMatrix::new_from_triplets(3, 1, vec![0], vec![0], vec![-1.0]);
        let cones = [SupportedConeT::ExponentialConeT()];
        let b = vec![0.0, 1.0, 5f64.exp()];
        let program = Program { p, q: vec![-1.0], a, b, cones: cones.to_vec(), margin_rows: 0 };
        let x = program.solve().unwrap().x;
        assert!((x[0] - 5.0).abs() < 1e-7, "{}", x[0]);
    }

    /// n = 1, x = 1, y = 1: L* = min_a (a - 1)^2 / 2 + 2 lambda |a| = 2 lambda - 2 lambda^2 for lambda < 1/2
    /// (one neuron, output 1 - 2 lambda), and 1/2 (the zero network) for lambda >= 1/2.
    #[test]
    fn one_point_squared_matches_closed_form() {
        let data = Dataset::new(Array2::from_elem((1, 1), 1.0), Array1::from(vec![1.0])).unwrap();
        let opt = solve(&data, Loss::Squared, 0.1, &opts()).unwrap();
        assert!(opt.exact);
        assert!((opt.value - 0.18).abs() < 1e-8, "{}", opt.value);
        assert!((opt.predictions[0] - 0.8).abs() < 1e-7);
        assert_eq!(opt.neurons, 1);
        assert!(opt.gap.abs() < 1e-8);
        check_consistent(&data, Loss::Squared, 0.1, &opt);
        let opt = solve(&data, Loss::Squared, 0.6, &opts()).unwrap();
        assert!((opt.value - 0.5).abs() < 1e-8, "{}", opt.value);
        assert!(opt.predictions[0].abs() < 1e-7);
    }

    /// n = 1, x = 2, logistic.
    #[test]
    fn one_point_logistic_matches_closed_form() {
        let data = Dataset::new(Array2::from_elem((1, 1), 2.0), Array1::from(vec![1.0])).unwrap();
        let lambda: f64 = 0.1;
        // F = 2 v costs 2 lambda v = lambda F: L* = min_a log(1 + e^-a) + lambda a, at e^a = 1 / lambda - 1.
        let a = (1.0 / lambda - 1.0).ln();
        let exact = (1.0 + (-a).exp()).ln() + lambda * a;
        let opt = solve(&data, Loss::Logistic, lambda, &opts()).unwrap();
        assert!((opt.value - exact).abs() < 1e-8, "{} vs {exact}", opt.value);
        assert!((opt.predictions[0] - a).abs() < 1e-8, "{} vs {a}", opt.predictions[0]);
        assert!(opt.gap.abs() < 1e-8 && opt.exact);
        check_consistent(&data, Loss::Logistic, lambda, &opt);
    }

    /// x_1 = e_1, x_2 = e_2, squared loss. Opposite labels (1, -1) need two neurons, each solving
    /// min_a (a - 1)^2 / 4 + 2 lambda a: L* = 4 lambda - 8 lambda^2. Equal labels (1, 1) share one neuron
    /// along (1, 1) / sqrt 2 of cost 2 sqrt2 lambda a: L* = 2 sqrt2 lambda - 4 lambda^2.
    #[test]
    fn two_orthogonal_points_match_closed_form() {
        let x = Array2::from_shape_vec((2, 2), vec![1.0, 0.0, 0.0, 1.0]).unwrap();
        let lambda = 0.1;
        let opposite = Dataset::new(x.clone(), Array1::from(vec![1.0, -1.0])).unwrap();
        let opt = solve(&opposite, Loss::Squared, lambda, &opts()).unwrap();
        assert!((opt.value - (4.0 * lambda - 8.0 * lambda * lambda)).abs() < 1e-8, "{}", opt.value);
        assert_eq!(opt.neurons, 2);
        check_consistent(&opposite, Loss::Squared, lambda, &opt);
        let same = Dataset::new(x, Array1::from(vec![1.0, 1.0])).unwrap();
        let opt = solve(&same, Loss::Squared, lambda, &opts()).unwrap();
        let exact = 2.0 * 2f64.sqrt() * lambda - 4.0 * lambda * lambda;
        assert!((opt.value - exact).abs() < 1e-8, "{} vs {exact}", opt.value);
        assert_eq!(opt.neurons, 1);
        let u = opt.particles.row(0);
        assert!((u[1] - u[2]).abs() < 1e-6 * u[1].abs());
        assert!(opt.exact && opt.gap.abs() < 1e-8);
    }

    /// Every pattern found by 1e5 random directions is enumerated, and in general position the count is
    /// the number of cells 2 sum_{i<d} C(n-1, i).
    #[test]
    fn enumeration_finds_every_sampled_pattern() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let xor = Distribution::Xor { d: 2, noise: XorNoise::Sign }.sample(20, 1, Purpose::TrainData).unwrap();
        let paper = Distribution::Paper { d: 3 }.sample(30, 2, Purpose::TrainData).unwrap();
        let cases = [
            (gaussian_data(9, 2, Loss::Squared, 1).x, Some(18)),
            (gaussian_data(9, 3, Loss::Squared, 2).x, Some(9 * 8 + 2)),
            (gaussian_data(7, 2, Loss::Squared, 3).with_bias().x, Some(2 * (1 + 6 + 15))),
            (gaussian_data(6, 3, Loss::Squared, 4).with_bias().x, Some(2 * (1 + 5 + 10 + 10))),
            (xor.with_bias().x, None),
            (paper.x.clone(), None),
            (paper.with_bias().x, None),
        ];
        for (c, (x, count)) in cases.iter().enumerate() {
            let all: HashSet<Vec<bool>> = enumerate_patterns(x.view()).unwrap().into_iter().collect();
            let d = x.ncols();
            let mut seen = HashSet::new();
            for _ in 0..100_000 {
                let g = Array1::from_shape_fn(d, |_| StandardNormal.sample(&mut rng));
                let p: Vec<bool> = x.outer_iter().map(|xi| xi.dot(&g) >= 0.0).collect();
                if p.iter().zip(x.outer_iter()).any(|(&a, xi)| a && xi.iter().any(|&v| v != 0.0)) {
                    seen.insert(p);
                }
            }
            assert!(seen.is_subset(&all), "case {c}: sampling found a pattern the enumeration missed");
            if let Some(count) = count {
                // The all-inactive cell exists iff the points lie in an open half-space; it is skipped.
                assert!(
                    all.len() == *count || all.len() + 1 == *count,
                    "case {c}: {} cells, {count} expected",
                    all.len()
                );
            }
        }
    }

    /// The hypercube XOR and paper data (degenerate: 8 distinct points) with a bias, both losses: exact, and the
    /// dual bound at the optimum closes the gap.
    #[test]
    fn gap_closes_at_the_exact_optimum_on_degenerate_data() {
        let xor = Distribution::Xor { d: 3, noise: XorNoise::Sign }.sample(40, 3, Purpose::TrainData).unwrap();
        let paper = Distribution::Paper { d: 3 }.sample(40, 4, Purpose::TrainData).unwrap();
        for data in [xor.with_bias(), paper.with_bias()] {
            for loss in [Loss::Logistic, Loss::Squared] {
                let opt = solve(&data, loss, 0.01, &opts()).unwrap();
                assert!(opt.exact);
                assert!(opt.gap >= -1e-9 && opt.gap < 1e-6, "{loss:?}: gap {}", opt.gap);
                check_consistent(&data, loss, 0.01, &opt);
            }
        }
    }

    /// Adding patterns can only lower the value; with all patterns it reaches L* (gap < 1e-6).
    #[test]
    fn value_is_non_increasing_as_patterns_are_added() {
        let data = gaussian_data(12, 2, Loss::Logistic, 7).with_bias();
        let all = enumerate_patterns(data.x.view()).unwrap();
        let mut order: Vec<usize> = (0..all.len()).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for i in (1..order.len()).rev() {
            order.swap(i, rng.random_range(0..=i));
        }
        let mut last = f64::INFINITY;
        for count in [3, 8, 20, 40, all.len()] {
            let subset: Vec<Vec<bool>> = order[..count].iter().map(|&i| all[i].clone()).collect();
            let opt = solve_with_patterns(&data, Loss::Logistic, 0.02, &subset, 0).unwrap();
            assert!(opt.value <= last + 1e-8, "{count} patterns: {} > {last}", opt.value);
            assert!(opt.dual <= opt.value + 1e-12);
            last = opt.value;
            if count == all.len() {
                assert!(opt.gap < 1e-6, "gap {}", opt.gap);
            }
        }
    }

    /// dual bound at random clouds <= L* <= L[random cloud], d = 2 and 3, both losses, with and without bias.
    #[test]
    fn dual_bounds_and_random_clouds_bracket_the_optimum() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for (d, bias) in [(2, false), (2, true), (3, false), (3, true)] {
            for loss in [Loss::Logistic, Loss::Squared] {
                let base = gaussian_data(8, d, loss, 20 + d as u64);
                let data = if bias { base.with_bias() } else { base };
                let lambda = 0.05;
                let opt = solve(&data, loss, lambda, &opts()).unwrap();
                assert!(opt.exact && opt.gap < 1e-6, "d={d} bias={bias} {loss:?}: gap {}", opt.gap);
                for _ in 0..5 {
                    let cloud = Array2::from_shape_fn((6, data.d() + 1), |_| StandardNormal.sample(&mut rng));
                    let (l, f) = cloud_objective(data.x.view(), data.y.view(), loss, lambda, cloud.view());
                    let db = certify::dual_bound(
                        loss,
                        data.y.view(),
                        f.view(),
                        data.x.view(),
                        lambda,
                        None,
                        SphereMethod::Auto,
                        0,
                    )
                    .unwrap();
                    assert!(db.exact);
                    assert!(db.dual <= opt.value + 1e-9, "dual {} above L* {}", db.dual, opt.value);
                    assert!(opt.value <= l + 1e-9, "L* {} above a cloud's L {l}", opt.value);
                }
            }
        }
    }

    /// Plain gradient descent on a finite network sum_j a_j relu(b_j . x) with penalty lambda sum (a^2 + |b|^2):
    /// from the read-back neurons perturbed, and from a random start with 12 neurons, it never goes below
    /// the optimum, and from the perturbed optimum it returns to it.
    #[test]
    fn gradient_descent_cannot_beat_the_optimum() {
        let mut rng = ChaCha8Rng::seed_from_u64(13);
        for loss in [Loss::Logistic, Loss::Squared] {
            let data = gaussian_data(10, 2, loss, 30).with_bias();
            let lambda = 0.03;
            let opt = solve(&data, loss, lambda, &opts()).unwrap();
            let m = opt.particles.nrows() as f64;
            let finite = opt.particles.mapv(|t| t / m.sqrt());
            let perturbed = finite.mapv(|t| t * (1.0 + 0.1 * rng.random_range(-1.0..1.0)));
            let random = Array2::from_shape_fn((12, data.d() + 1), |_| {
                let z: f64 = StandardNormal.sample(&mut rng);
                0.5 * z
            });
            for (start, back_to_optimum) in [(perturbed, true), (random, false)] {
                let end = descend(&data, loss, lambda, start, 200_000);
                assert!(end >= opt.value - 1e-9, "{loss:?}: gd reached {end} below L* = {}", opt.value);
                if back_to_optimum {
                    assert!(
                        end - opt.value < 1e-4 * opt.value,
                        "{loss:?}: gd from the perturbed optimum ends at {end} vs {}",
                        opt.value
                    );
                }
            }
        }
    }

    /// Gradient descent with step 0.02 on the finite network (rows (a_j, b_j)); returns the final objective.
    fn descend(data: &Dataset, loss: Loss, lambda: f64, mut net: Array2<f64>, steps: usize) -> f64 {
        let n = data.n() as f64;
        let eta = 0.02;
        let objective = |net: &Array2<f64>| {
            let f = data.x.dot(&net.slice(s![.., 1..]).t()).mapv(|t| t.max(0.0)).dot(&net.column(0));
            let risk = data.y.iter().zip(&f).map(|(&y, &z)| loss.value(y, z)).sum::<f64>() / n;
            (risk + lambda * net.iter().map(|t| t * t).sum::<f64>(), f)
        };
        for _ in 0..steps {
            let (_, f) = objective(&net);
            let r: Array1<f64> = data.y.iter().zip(&f).map(|(&y, &z)| loss.derivative(y, z) / n).collect();
            let mut grad = net.mapv(|t| 2.0 * lambda * t);
            for (j, row) in net.outer_iter().enumerate() {
                for (xi, ri) in data.x.outer_iter().zip(&r) {
                    let pre = row.slice(s![1..]).dot(&xi);
                    if pre > 0.0 {
                        grad[[j, 0]] += ri * pre;
                        for k in 0..xi.len() {
                            grad[[j, k + 1]] += ri * row[0] * xi[k];
                        }
                    }
                }
            }
            net.scaled_add(-eta, &grad);
        }
        objective(&net).0
    }

    /// With a pattern budget below the number of cells, column generation still reaches L* and certifies it.
    #[test]
    fn column_generation_reaches_the_optimum() {
        for loss in [Loss::Logistic, Loss::Squared] {
            let data = gaussian_data(25, 2, loss, 40).with_bias();
            let lambda = 0.02;
            let all = solve(&data, loss, lambda, &OptimumOptions { max_patterns: 1000, ..opts() }).unwrap();
            assert!(all.exact && all.patterns > 200, "{} patterns", all.patterns);
            let small = OptimumOptions { max_patterns: 150, ..opts() };
            let cg = solve(&data, loss, lambda, &small).unwrap();
            assert!(cg.patterns <= 150);
            assert!(cg.exact, "{loss:?}: column generation did not certify ({} patterns)", cg.patterns);
            assert!(cg.gap < 1e-6, "{loss:?}: gap {}", cg.gap);
            assert!((cg.value - all.value).abs() < 1e-6, "{loss:?}: {} vs {}", cg.value, all.value);
            check_consistent(&data, loss, lambda, &cg);
        }
    }

    /// The same seed gives bit-identical optima with 1 and 3 threads (column generation included).
    #[test]
    fn results_do_not_depend_on_the_number_of_threads() {
        let data = gaussian_data(15, 2, Loss::Logistic, 50).with_bias();
        let small = OptimumOptions { max_patterns: 60, seed: 4, ..opts() };
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| solve(&data, Loss::Logistic, 0.02, &small).unwrap())
        };
        let (a, b) = (run(1), run(3));
        assert_eq!(a.value.to_bits(), b.value.to_bits());
        assert_eq!(a.dual.to_bits(), b.dual.to_bits());
        assert_eq!(a.particles, b.particles);
    }

    /// Hand-solved margins: one point at distance r has gamma* = r / 2 (F = r |v| >= 1 with penalty 2 |v|);
    /// e_1 (+1) and e_2 (-1) need a neuron each, |v| = |w| = 1: gamma* = 1/4; e_1 and e_2 both +1 share one neuron
    /// along (1, 1), |v| = sqrt 2: gamma* = 1 / (2 sqrt 2).
    #[test]
    fn max_margin_matches_hand_solutions() {
        let one = Dataset::new(Array2::from_elem((1, 1), 3.0), Array1::from(vec![-1.0])).unwrap();
        let e = Array2::from_shape_vec((2, 2), vec![1.0, 0.0, 0.0, 1.0]).unwrap();
        let opposite = Dataset::new(e.clone(), Array1::from(vec![1.0, -1.0])).unwrap();
        let same = Dataset::new(e, Array1::from(vec![1.0, 1.0])).unwrap();
        for (data, exact, neurons) in [(one, 1.5, 1), (opposite, 0.25, 2), (same, 1.0 / 8f64.sqrt(), 1)] {
            let mm = max_margin(&data, 100).unwrap();
            assert!((mm.gamma - exact).abs() < 1e-8, "{} vs {exact}", mm.gamma);
            assert!(mm.gamma <= mm.upper + 1e-12 && mm.upper - exact < 1e-7, "upper {} vs {exact}", mm.upper);
            assert_eq!(mm.neurons, neurons, "{}", mm.particles);
            let min = data.y.iter().zip(&mm.predictions).map(|(y, f)| y * f).fold(f64::INFINITY, f64::min);
            assert!((min - 1.0).abs() < 1e-7, "min y F = {min}");
            assert!((cloud_margin(data.x.view(), data.y.view(), mm.particles.view()) - mm.gamma).abs() < 1e-15);
        }
    }

    /// On `paper` data the net |x_1| - |x_2| has normalised margin exactly 1/8, so gamma* >= 1/8.
    #[test]
    fn max_margin_on_paper_data_is_at_least_one_eighth() {
        for (d, n, seed) in [(2, 12, 1), (3, 30, 2)] {
            let data = Distribution::Paper { d }.sample(n, seed, Purpose::TrainData).unwrap();
            let net = cloud_margin(data.x.view(), data.y.view(), crate::data::paper_network(d).view());
            assert!((net - 0.125).abs() < 1e-15, "{net}");
            let mm = max_margin(&data, 400).unwrap();
            assert!(mm.gamma >= 0.125 - 1e-9 && mm.upper >= mm.gamma - 1e-12, "d = {d}: {mm:?}");
            assert!(mm.upper - mm.gamma < 1e-6 * mm.gamma, "d = {d}: gamma {} upper {}", mm.gamma, mm.upper);
        }
    }

    /// The normalised margin of the exact regularised optimum (logistic loss) increases to gamma* as lambda -> 0
    /// (on `paper` data, d = 3: 0.0023, 0.104, 0.1155, 0.1186, 0.1202, 0.1211 for lambda = 1e-1 .. 1e-6, against
    /// gamma* = 1/8), never exceeding it.
    #[test]
    fn regularised_optimum_margin_approaches_the_max_margin() {
        let data = Distribution::Paper { d: 3 }.sample(30, 2, Purpose::TrainData).unwrap();
        let star = max_margin(&data, 400).unwrap().gamma;
        assert!((star - 0.125).abs() < 1e-9, "{star}");
        let gammas: Vec<f64> = [1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6]
            .iter()
            .map(|&lambda| {
                let opt = solve(&data, Loss::Logistic, lambda, &opts()).unwrap();
                cloud_margin(data.x.view(), data.y.view(), opt.particles.view())
            })
            .collect();
        assert!(gammas.windows(2).all(|w| w[1] > w[0]), "{gammas:?}");
        assert!(gammas.iter().all(|&g| g <= star + 1e-9), "{gammas:?}");
        let last = gammas[gammas.len() - 1];
        assert!(star - last < 0.25 * (star - gammas[1]) && last > 0.96 * star, "{gammas:?}");
    }

    #[test]
    fn max_margin_refuses_inseparable_and_large_problems() {
        let ray = Array2::from_shape_vec((2, 2), vec![1.0, 1.0, 2.0, 2.0]).unwrap();
        let data = Dataset::new(ray, Array1::from(vec![1.0, -1.0])).unwrap();
        let err = max_margin(&data, 100).unwrap_err().to_string();
        assert!(err.starts_with("convex solver: max margin: clarabel did not converge"), "{err}");
        assert!(
            err.ends_with("are the data separable (no two samples on one ray from the origin with different labels)?")
        );
        let zero = Dataset::new(Array2::zeros((1, 2)), Array1::from(vec![1.0])).unwrap();
        assert_eq!(
            max_margin(&zero, 100).unwrap_err().to_string(),
            "max margin: sample 1 is the zero input, where every network predicts 0; the data are not separable"
        );
        let big = gaussian_data(30, 3, Loss::Logistic, 9);
        assert_eq!(
            max_margin(&big, 100).unwrap_err().to_string(),
            "max margin: the 30 inputs in d = 3 have up to 872 activation patterns, more than max_patterns = 100; \
             the exact max margin is for small problems"
        );
    }

    #[test]
    fn invalid_arguments_are_reported() {
        let data = Dataset::new(Array2::ones((2, 1)), Array1::from(vec![1.0, 0.5])).unwrap();
        let err = solve(&data, Loss::Squared, 0.0, &opts()).unwrap_err();
        assert_eq!(err.to_string(), "convex optimum: lambda = 0; the convex program needs a finite lambda > 0");
        let err = solve(&data, Loss::Logistic, 0.1, &opts()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "convex optimum: sample 2: label 0.5 is not -1 or +1, as the logistic loss requires"
        );
        let err = solve_with_patterns(&data, Loss::Squared, 0.1, &[vec![true]], 0).unwrap_err();
        assert_eq!(err.to_string(), "convex optimum: a pattern has length 1 but n = 2");
    }
}
