//! Activation patterns: the cells of the hyperplane arrangement of the inputs (all of them, for a
//! complete program), the constraint rows that bound each cell, and the growing set of sampled patterns
//! used by column generation.

use std::collections::HashSet;

use ndarray::{ArrayView1, ArrayView2};

use crate::error::{Error, Result};
use crate::geometry::arrangement::{self, Cell, CircleArc, DistinctDirections, Visitor};

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
pub(super) fn cells(x: ArrayView2<f64>) -> Result<Vec<(Vec<bool>, Vec<usize>)>> {
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
pub(super) fn planes(dirs: &DistinctDirections) -> Vec<(usize, bool)> {
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
pub(super) fn constraint_rows(x: ArrayView2<f64>, patterns: &[Vec<bool>]) -> Vec<Vec<usize>> {
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
pub(super) struct PatternVisitor {
    pub(super) d: usize,
    pub(super) k: usize,
    pub(super) cells: HashSet<Vec<bool>>,
}

impl PatternVisitor {
    /// The pattern of the arc's free directions, completed by the groups of the levels 3..m with their sides.
    pub(super) fn pattern(&self, arc: &CircleArc<'_>, frames: &[arrangement::Frame], sides: &[bool]) -> Vec<bool> {
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
pub(super) fn pattern_of(x: ArrayView2<f64>, v: ArrayView1<f64>, boundary_active: bool) -> Vec<bool> {
    let nv = v.dot(&v).sqrt();
    x.outer_iter()
        .map(|xi| {
            let z = xi.dot(&v);
            let tol = 1e-12 * xi.dot(&xi).sqrt() * nv;
            z > tol || (z.abs() <= tol && (boundary_active || xi.iter().all(|&c| c == 0.0)))
        })
        .collect()
}

/// Distinct patterns in insertion order.
#[derive(Default)]
pub(super) struct PatternSet {
    pub(super) set: HashSet<Vec<bool>>,
    pub(super) list: Vec<Vec<bool>>,
}

impl PatternSet {
    /// Adds the pattern of direction v (see [`pattern_of`]) unless it is known or activates no nonzero input.
    pub(super) fn add(&mut self, x: ArrayView2<f64>, v: ArrayView1<f64>, boundary_active: bool) {
        let p = pattern_of(x, v, boundary_active);
        let useful = p.iter().zip(x.outer_iter()).any(|(&a, xi)| a && xi.iter().any(|&c| c != 0.0));
        if useful && self.set.insert(p.clone()) {
            self.list.push(p);
        }
    }

    /// Whether either pattern of direction v (boundary rows active or inactive) is missing.
    pub(super) fn is_new(&self, x: ArrayView2<f64>, v: ArrayView1<f64>) -> bool {
        [true, false].iter().any(|&b| !self.set.contains(&pattern_of(x, v, b)))
    }
}

/// An upper bound on the number of cells of k hyperplanes through the origin of R^d:
/// 2 sum_{i<d} C(k-1, i) (attained in general position).
pub(super) fn cell_count_bound(k: usize, d: usize) -> f64 {
    let mut c = 1.0;
    let mut sum = 0.0;
    for i in 0..d {
        sum += c;
        c *= (k as f64 - 1.0 - i as f64).max(0.0) / (i as f64 + 1.0);
    }
    2.0 * sum
}
