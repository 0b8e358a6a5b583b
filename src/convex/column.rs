//! Solving for L*: the complete program when the arrangement is small, otherwise sampled patterns grown
//! by column generation until the sphere maximum certifies that no pattern can improve the solution.

use ndarray::{s, Array1, ArrayView1};
use rand_distr::{Distribution as _, StandardNormal};

use super::merge::{cloud, cloud_objective, merge_if_harmless, read_neurons, MERGE};
use super::patterns::{cell_count_bound, cells, constraint_rows, PatternSet};
use super::polish::polish_amplitudes;
use super::program::{Goal, Program};
use super::{check, Optimum, OptimumOptions};
use crate::certify::{self, DualProblem, SphereMethod};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::geometry::arrangement::DistinctDirections;
use crate::loss::Loss;
use crate::rng::{self, Purpose};

/// Most patterns added by one column-generation round.
pub(super) const PATTERNS_PER_ROUND: usize = 16;

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

/// Solves the program with sign constraints on `rows[k]` for pattern k, and reads the network back:
/// - neurons (w~, u~) = (+-sqrt|v|, v / sqrt|v|), dropping those with |v| below [`DROP`] times the largest;
/// - parallel neurons of the same sign are merged by adding their v, which leaves predictions and
///   penalty unchanged when they are exactly parallel (interior-point solutions split a neuron among the
///   patterns whose cones share its direction, up to ~1e-6 in direction); the first tolerance of [`MERGE`]
///   whose merged network has L within [`MERGE_SLACK`] of the unmerged one is kept;
/// - the amplitudes |v| are polished by Newton's method with the directions fixed
///   ([`polish_amplitudes`]), which makes F accurate where the solver leaves it to ~sqrt(tolerance);
/// - value = L of the cloud; `dual` and `gap` are left NaN for [`certify_solution`].
pub(super) fn solve_program(
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

/// Sets `exact`, dual = certify::dual_bound at the cloud's predictions (particle directions as starts) and
/// gap = value - dual.
pub(super) fn certify_solution(
    data: &Dataset,
    loss: Loss,
    lambda: f64,
    mut opt: Optimum,
    exact: bool,
    seed: u64,
) -> Result<Optimum> {
    let (x, y) = (data.x.view(), data.y.view());
    let u = opt.particles.slice(s![.., 1..]);
    let problem = DualProblem { loss, y, x, lambda };
    let db = certify::dual_bound(&problem, opt.predictions.view(), Some(u), SphereMethod::Auto, seed)?;
    opt.dual = db.dual;
    opt.gap = opt.value - db.dual;
    opt.exact = exact;
    Ok(opt)
}
