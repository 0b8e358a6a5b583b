//! The arrangement of the hyperplanes {v : x_i . v = 0} in R^d (great spheres on S^{d-1}).
//!
//! The hyperplanes cut R^d into open polyhedral cones, the *cells*, on each of which the activation
//! pattern {i : x_i . v > 0} is constant. Every cell has a facet on some hyperplane H, and the relative
//! interior of that facet is a cell of the arrangement restricted to H (the other inputs projected onto
//! H). So the cells of every dimension are reached by descending through hyperplanes
//!
//! ```text
//! R^d = L_d  ⊃  L_{d-1}  ⊃ ... ⊃  L_2,      L_{m-1} = L_m ∩ {v : a_m . v = 0},
//! ```
//!
//! where a_m is the (projected) direction of one group of parallel inputs at level m. In the plane L_2
//! the cells are arcs of the unit circle, found by sorting the breakpoint angles; a cell of L_m
//! (m >= 3) is an arc followed, at every level m' = 3..m, by one side (+ or -) of the hyperplane chosen
//! at that level. A cell is reached once per facet, so some cells are visited several times.
//!
//! Inputs are first reduced to distinct unit directions e (positive multiples merged), so that
//! duplicated and parallel points, common in {-1, 0, 1} data, are handled combinatorially. Two projected
//! unit inputs are treated as parallel when one is within [`TOL`] of the other's line (in a plane L_2:
//! when their line angles differ by at most [`TOL`]).

use rayon::prelude::*;

/// Relative tolerance under which two unit directions coincide, or a direction lies on a subspace.
pub(crate) const TOL: f64 = 1e-10;

/// The inputs reduced to distinct unit directions e_k, k = 1..K: row i of x is |x_i| e_{k(i)}.
#[derive(Clone, Debug)]
pub(crate) struct DistinctDirections {
    /// Input dimension d.
    pub d: usize,
    /// The distinct unit directions, K x d row-major.
    pub dirs: Vec<f64>,
    /// For each input row, its direction index, or `None` for a zero row.
    pub of_row: Vec<Option<usize>>,
    /// |x_i| for each input row.
    pub norms: Vec<f64>,
}

impl DistinctDirections {
    /// Reduces the rows of `x` (n x d) to distinct unit directions.
    pub fn new(x: ndarray::ArrayView2<f64>) -> Self {
        let d = x.ncols();
        let mut dirs: Vec<f64> = Vec::new();
        let mut of_row = Vec::with_capacity(x.nrows());
        let mut norms = Vec::with_capacity(x.nrows());
        for row in x.outer_iter() {
            let norm = row.dot(&row).sqrt();
            norms.push(norm);
            if norm == 0.0 {
                of_row.push(None);
                continue;
            }
            let e: Vec<f64> = row.iter().map(|v| v / norm).collect();
            let found = dirs.chunks_exact(d).position(|f| dist(f, &e) <= TOL);
            of_row.push(Some(found.unwrap_or_else(|| {
                dirs.extend_from_slice(&e);
                dirs.len() / d - 1
            })));
        }
        DistinctDirections { d, dirs, of_row, norms }
    }

    /// Number K of distinct directions.
    pub fn len(&self) -> usize {
        self.dirs.len() / self.d.max(1)
    }

    /// The unit direction e_k.
    pub fn dir(&self, k: usize) -> &[f64] {
        &self.dirs[k * self.d..(k + 1) * self.d]
    }

    /// Merged weights rho_k = sum_{i : k(i) = k} r_i |x_i|, so that
    /// sum_i r_i relu(v . x_i) = sum_k rho_k relu(v . e_k).
    pub fn weights(&self, r: &[f64]) -> Vec<f64> {
        let mut w = vec![0.0; self.len()];
        for ((k, norm), ri) in self.of_row.iter().zip(&self.norms).zip(r) {
            if let Some(k) = k {
                w[*k] += ri * norm;
            }
        }
        w
    }

    /// phi(v) = sum_k rho_k relu(v . e_k).
    pub fn phi(&self, weights: &[f64], v: &[f64]) -> f64 {
        self.dirs.chunks_exact(self.d).zip(weights).map(|(e, w)| w * dot(e, v).max(0.0)).sum()
    }
}

/// a . b.
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// |a - b|.
fn dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt()
}

/// |a|.
pub(crate) fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// The hyperplane chosen at one level m >= 3 of the descent, and the group of inputs lying on it.
#[derive(Clone, Debug)]
pub(crate) struct Frame {
    /// Orthonormal basis (m columns, original coordinates) of L_m; `None` when L_m = R^d.
    pub basis: Option<Vec<Vec<f64>>>,
    /// DistinctDirections whose projection onto L_m is a positive multiple of the normal a_m.
    pub plus: Vec<usize>,
    /// DistinctDirections whose projection onto L_m is a negative multiple of a_m.
    pub minus: Vec<usize>,
    /// sum_{k in plus} rho_k e_k.
    pub g_plus: Vec<f64>,
    /// sum_{k in minus} rho_k e_k.
    pub g_minus: Vec<f64>,
}

impl Frame {
    /// The group's first direction and whether it lies in `plus`: on the + side of the hyperplane it is
    /// active exactly when it is in `plus`.
    pub fn rep(&self) -> Option<(usize, bool)> {
        match (self.plus.first(), self.minus.first()) {
            (Some(&k), _) => Some((k, true)),
            (None, Some(&k)) => Some((k, false)),
            (None, None) => None,
        }
    }

    /// |P g|, with P the orthogonal projection onto L_m.
    pub fn projected_norm(&self, g: &[f64]) -> f64 {
        match &self.basis {
            None => norm(g),
            Some(cols) => cols.iter().map(|c| dot(c, g).powi(2)).sum::<f64>().sqrt(),
        }
    }

    /// P g / |P g| in original coordinates, given |P g| = `pnorm` > 0.
    pub fn projected_dir(&self, g: &[f64], pnorm: f64) -> Vec<f64> {
        match &self.basis {
            None => g.iter().map(|v| v / pnorm).collect(),
            Some(cols) => {
                let mut out = vec![0.0; g.len()];
                for c in cols {
                    let a = dot(c, g) / pnorm;
                    out.iter_mut().zip(c).for_each(|(o, ci)| *o += a * ci);
                }
                out
            }
        }
    }
}

/// One arc (a relatively open cell) of the arrangement restricted to a plane L_2 = span(b1, b2): the points
/// cos t b1 + sin t b2 for t in (start, end).
pub(crate) struct CircleArc<'a> {
    /// First basis vector of L_2 (original coordinates).
    pub b1: &'a [f64],
    /// Second basis vector of L_2.
    pub b2: &'a [f64],
    /// Start angle.
    pub start: f64,
    /// End angle, start < end <= start + 2 pi.
    pub end: f64,
    /// g in the (b1, b2) coordinates: sum over active free directions of rho_k (b1 . e_k, b2 . e_k).
    pub g2: [f64; 2],
    /// g = sum over active free directions of rho_k e_k (original coordinates).
    pub g: &'a [f64],
    /// The directions not lying on L_2's orthogonal complement ("free" at level 2).
    pub free: &'a [usize],
    /// Whether each free direction is active on the arc.
    pub active: &'a [bool],
    /// DistinctDirections whose hyperplanes bound the arc, with their activity on the arc (empty for a full circle).
    pub bounds: &'a [(usize, bool)],
    /// A step coprime with `free.len()`: p -> (p + stride) mod len visits the free directions in a scattered
    /// order.
    pub stride: usize,
}

/// A cell of L_m, m >= 3: an arc of L_2 followed by one side at each level 3..m.
pub(crate) struct Cell<'a> {
    /// The level m: the cell is open in L_m.
    pub level: usize,
    /// The frame of level m (its basis spans L_m).
    pub frame: &'a Frame,
    /// All frames, ordered from level d down to level 3.
    pub frames: &'a [Frame],
    /// Side taken at levels 3..=m (index 0 = level 3): true = plus side.
    pub sides: &'a [bool],
    /// The arc the cell was reached from.
    pub arc: &'a CircleArc<'a>,
    /// g_P = sum over the cell's active directions of rho_k e_k.
    pub g: &'a [f64],
    /// Necessary conditions of membership in the closed cell: (direction, active).
    pub conds: &'a [(usize, bool)],
}

/// What to do with every arc and every higher-dimensional cell of the arrangement.
pub(crate) trait Visitor {
    /// Called for every arc of every plane L_2 of the descent.
    fn arc(&mut self, arc: &CircleArc<'_>);
    /// Called for every cell of level m >= 3 reached from an arc.
    fn cell(&mut self, cell: &Cell<'_>);
}

/// The descent over the arrangement of `dirs` (d >= 2, at least one direction) with merged weights rho.
/// The top-level hyperplanes are processed in parallel, each with its own visitor from `make`; the
/// visitors are returned in a fixed order, so any reduction over them is thread-count independent.
pub(crate) fn visit<V, F>(dirs: &DistinctDirections, weights: &[f64], make: F) -> Vec<V>
where
    V: Visitor + Send,
    F: Fn() -> V + Sync,
{
    let d = dirs.d;
    let engine = Engine { dirs, weights };
    let ids: Vec<usize> = (0..dirs.len()).collect();
    if d == 2 {
        let mut visitor = make();
        let coords = dirs.dirs.clone();
        engine.sweep(&unit(d, 0), &unit(d, 1), &ids, &coords, &[], &mut visitor);
        return vec![visitor];
    }
    let groups = group(&ids, &dirs.dirs, d);
    groups
        .par_iter()
        .map(|grp| {
            let mut visitor = make();
            let mut frames = Vec::with_capacity(d - 2);
            engine.branch(None, &ids, &dirs.dirs, d, grp, &mut frames, &mut visitor);
            visitor
        })
        .collect()
}

/// The unit vector e_j of R^d.
fn unit(d: usize, j: usize) -> Vec<f64> {
    let mut e = vec![0.0; d];
    e[j] = 1.0;
    e
}

/// A group of (projected) directions lying on one line through the origin of L_m.
struct Group {
    /// Unit direction a of the line, in L_m coordinates.
    normal: Vec<f64>,
    /// Positions (in the free list) of the directions that are positive multiples of `normal`.
    plus: Vec<usize>,
    /// Positions of the negative multiples.
    minus: Vec<usize>,
}

/// Groups the free directions (coordinates `coords`, m each) into lines through the origin.
fn group(ids: &[usize], coords: &[f64], m: usize) -> Vec<Group> {
    let mut assigned = vec![false; ids.len()];
    let mut groups = Vec::new();
    for i in 0..ids.len() {
        if assigned[i] {
            continue;
        }
        let p = &coords[i * m..(i + 1) * m];
        let n = norm(p);
        let a: Vec<f64> = p.iter().map(|v| v / n).collect();
        let mut grp = Group { normal: a, plus: vec![i], minus: Vec::new() };
        assigned[i] = true;
        for j in i + 1..ids.len() {
            if assigned[j] {
                continue;
            }
            let q = &coords[j * m..(j + 1) * m];
            let c = dot(q, &grp.normal);
            let resid = q.iter().zip(&grp.normal).map(|(qi, ai)| (qi - c * ai).powi(2)).sum::<f64>().sqrt();
            if resid <= TOL {
                assigned[j] = true;
                if c > 0.0 {
                    grp.plus.push(j);
                } else {
                    grp.minus.push(j);
                }
            }
        }
        groups.push(grp);
    }
    groups
}

/// An orthonormal basis (m - 1 vectors of R^m) of the orthogonal complement of the unit vector a.
fn complement(a: &[f64]) -> Vec<Vec<f64>> {
    let m = a.len();
    let skip = (0..m).max_by(|&i, &j| a[i].abs().total_cmp(&a[j].abs())).unwrap_or(0);
    let mut out: Vec<Vec<f64>> = Vec::with_capacity(m - 1);
    for j in (0..m).filter(|&j| j != skip) {
        let mut q = vec![0.0; m];
        q[j] = 1.0;
        for _ in 0..2 {
            for b in std::iter::once(a).chain(out.iter().map(Vec::as_slice)) {
                let c = dot(&q, b);
                q.iter_mut().zip(b).for_each(|(qi, bi)| *qi -= c * bi);
            }
        }
        let n = norm(&q);
        q.iter_mut().for_each(|v| *v /= n);
        out.push(q);
    }
    out
}

struct Engine<'a> {
    dirs: &'a DistinctDirections,
    weights: &'a [f64],
}

impl Engine<'_> {
    /// sum_{k in members} rho_k e_k, members given as positions in `ids`.
    fn sum(&self, ids: &[usize], members: &[usize]) -> Vec<f64> {
        let mut g = vec![0.0; self.dirs.d];
        for &p in members {
            let k = ids[p];
            g.iter_mut().zip(self.dirs.dir(k)).for_each(|(gi, ei)| *gi += self.weights[k] * ei);
        }
        g
    }

    /// Descends from L_m (basis `basis`, `None` = R^d) into the hyperplane of group `grp`.
    #[allow(clippy::too_many_arguments)]
    fn branch<V: Visitor>(
        &self,
        basis: Option<&[Vec<f64>]>,
        ids: &[usize],
        coords: &[f64],
        m: usize,
        grp: &Group,
        frames: &mut Vec<Frame>,
        visitor: &mut V,
    ) {
        // Ctrl-C or SIGTERM: visit nothing more; the caller reports the interruption.
        if crate::interrupt::signalled() {
            return;
        }
        let d = self.dirs.d;
        let q = complement(&grp.normal);
        let cols: Vec<Vec<f64>> = match basis {
            None => q.clone(),
            Some(b) => q
                .iter()
                .map(|qc| {
                    let mut c = vec![0.0; d];
                    for (bj, qj) in b.iter().zip(qc) {
                        c.iter_mut().zip(bj).for_each(|(ci, bi)| *ci += qj * bi);
                    }
                    c
                })
                .collect(),
        };
        let in_group: Vec<bool> = {
            let mut f = vec![false; ids.len()];
            grp.plus.iter().chain(&grp.minus).for_each(|&p| f[p] = true);
            f
        };
        let mut next_ids = Vec::with_capacity(ids.len());
        let mut next_coords = Vec::with_capacity(ids.len() * (m - 1));
        for (p, &k) in ids.iter().enumerate() {
            if in_group[p] {
                continue;
            }
            let pc = &coords[p * m..(p + 1) * m];
            next_ids.push(k);
            next_coords.extend(q.iter().map(|qc| dot(qc, pc)));
        }
        frames.push(Frame {
            basis: basis.map(<[Vec<f64>]>::to_vec),
            plus: grp.plus.iter().map(|&p| ids[p]).collect(),
            minus: grp.minus.iter().map(|&p| ids[p]).collect(),
            g_plus: self.sum(ids, &grp.plus),
            g_minus: self.sum(ids, &grp.minus),
        });
        self.descend(&cols, &next_ids, &next_coords, m - 1, frames, visitor);
        frames.pop();
    }

    /// Enumerates the cells of L_m (basis `basis`, m columns) with free directions `ids`.
    fn descend<V: Visitor>(
        &self,
        basis: &[Vec<f64>],
        ids: &[usize],
        coords: &[f64],
        m: usize,
        frames: &mut Vec<Frame>,
        visitor: &mut V,
    ) {
        if m == 2 {
            self.sweep(&basis[0], &basis[1], ids, coords, frames, visitor);
            return;
        }
        let mut groups = group(ids, coords, m);
        if groups.is_empty() {
            groups.push(Group { normal: unit(m, 0), plus: Vec::new(), minus: Vec::new() });
        }
        for grp in &groups {
            self.branch(Some(basis), ids, coords, m, grp, frames, visitor);
        }
    }

    /// The arcs of the plane span(b1, b2), free directions `ids` with plane coordinates `coords`.
    fn sweep<V: Visitor>(
        &self,
        b1: &[f64],
        b2: &[f64],
        ids: &[usize],
        coords: &[f64],
        frames: &[Frame],
        visitor: &mut V,
    ) {
        use std::f64::consts::{PI, TAU};
        let d = self.dirs.d;
        let mut scratch = Scratch::default();
        // Lines through the origin, by the angle of the line in [0, pi).
        let mut lines: Vec<(f64, usize, bool)> = (0..ids.len())
            .map(|p| {
                let (px, py) = (coords[2 * p], coords[2 * p + 1]);
                let mut t = py.atan2(px).rem_euclid(PI);
                if t >= PI {
                    t = 0.0;
                }
                (t, p, px * t.cos() + py * t.sin() > 0.0)
            })
            .collect();
        lines.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut groups: Vec<(f64, Vec<usize>, Vec<usize>)> = Vec::new();
        for &(t, p, pos) in &lines {
            match groups.last_mut() {
                Some(g) if t - g.0 <= TOL => {
                    if pos {
                        g.1.push(p)
                    } else {
                        g.2.push(p)
                    }
                }
                _ => groups.push((t, if pos { vec![p] } else { vec![] }, if pos { vec![] } else { vec![p] })),
            }
        }
        if groups.len() > 1 {
            let last = groups.len() - 1;
            if groups[0].0 + PI - groups[last].0 <= TOL {
                let (_, plus, minus) = groups.pop().unwrap_or_default();
                groups[0].1.extend(minus);
                groups[0].2.extend(plus);
            }
        }
        if groups.is_empty() {
            let g = vec![0.0; d];
            let arc = CircleArc {
                b1,
                b2,
                start: 0.0,
                end: TAU,
                g2: [0.0, 0.0],
                g: &g,
                free: ids,
                active: &[],
                bounds: &[],
                stride: 1,
            };
            self.emit_all(&arc, frames, &mut scratch, visitor);
            return;
        }
        // Events: at angle t - pi/2 the plus members of a line become active and the minus members inactive;
        // at t + pi/2 the reverse.
        struct Event {
            angle: f64,
            line: usize,
            enter: bool,
        }
        let mut events: Vec<Event> = Vec::with_capacity(2 * groups.len());
        for (l, g) in groups.iter().enumerate() {
            events.push(Event { angle: (g.0 - PI / 2.0).rem_euclid(TAU), line: l, enter: true });
            events.push(Event { angle: (g.0 + PI / 2.0).rem_euclid(TAU), line: l, enter: false });
        }
        events
            .sort_unstable_by(|a, b| a.angle.total_cmp(&b.angle).then(a.line.cmp(&b.line)).then(a.enter.cmp(&b.enter)));
        let ne = events.len();
        // Start in the middle of the widest gap, far from every breakpoint.
        let (mut gap_at, mut gap) = (ne - 1, events[0].angle + TAU - events[ne - 1].angle);
        for k in 0..ne - 1 {
            let w = events[k + 1].angle - events[k].angle;
            if w > gap {
                gap = w;
                gap_at = k;
            }
        }
        let theta0 = events[gap_at].angle + gap / 2.0;
        let (c0, s0) = (theta0.cos(), theta0.sin());
        let mut active: Vec<bool> = (0..ids.len()).map(|p| coords[2 * p] * c0 + coords[2 * p + 1] * s0 > 0.0).collect();
        let mut g = vec![0.0; d];
        let mut g2 = [0.0, 0.0];
        let add = |g: &mut Vec<f64>, g2: &mut [f64; 2], p: usize, sign: f64| {
            let k = ids[p];
            let w = sign * self.weights[k];
            g.iter_mut().zip(self.dirs.dir(k)).for_each(|(gi, ei)| *gi += w * ei);
            g2[0] += w * coords[2 * p];
            g2[1] += w * coords[2 * p + 1];
        };
        for p in (0..ids.len()).filter(|&p| active[p]) {
            add(&mut g, &mut g2, p, 1.0);
        }
        // Events in angular order starting after theta0, angles unwrapped to (theta0, theta0 + 2 pi).
        let order: Vec<(f64, usize)> = (1..=ne)
            .map(|j| {
                let k = (gap_at + j) % ne;
                let a = if k > gap_at { events[k].angle } else { events[k].angle + TAU };
                (a, k)
            })
            .collect();
        let stride = coprime_stride(ids.len());
        let rep = |l: usize| groups[l].1.first().or(groups[l].2.first()).copied().unwrap_or(0);
        for j in 0..ne {
            let (a, k) = order[j];
            let ev = &events[k];
            let (plus, minus) = (&groups[ev.line].1, &groups[ev.line].2);
            for &p in plus {
                if active[p] != ev.enter {
                    active[p] = ev.enter;
                    add(&mut g, &mut g2, p, if ev.enter { 1.0 } else { -1.0 });
                }
            }
            for &p in minus {
                if active[p] == ev.enter {
                    active[p] = !ev.enter;
                    add(&mut g, &mut g2, p, if ev.enter { -1.0 } else { 1.0 });
                }
            }
            let (b, kb) = if j + 1 < ne { order[j + 1] } else { (order[0].0 + TAU, order[0].1) };
            let (ra, rb) = (rep(ev.line), rep(events[kb].line));
            let bounds = [(ids[ra], active[ra]), (ids[rb], active[rb])];
            let arc =
                CircleArc { b1, b2, start: a, end: b, g2, g: &g, free: ids, active: &active, bounds: &bounds, stride };
            self.emit_all(&arc, frames, &mut scratch, visitor);
        }
    }

    /// Visits an arc and every higher cell reached from it.
    fn emit_all<V: Visitor>(&self, arc: &CircleArc<'_>, frames: &[Frame], scratch: &mut Scratch, visitor: &mut V) {
        visitor.arc(arc);
        if frames.is_empty() {
            return;
        }
        scratch.conds.clear();
        scratch.conds.extend_from_slice(arc.bounds);
        scratch.sides.clear();
        scratch.g.resize(frames.len() + 1, Vec::new());
        scratch.g[0].clear();
        scratch.g[0].extend_from_slice(arc.g);
        self.emit(arc, frames, scratch, visitor);
    }

    /// Cells of levels 3.. reached from `arc`, with sides `scratch.sides` already chosen at the levels
    /// below and g_P of the current cell in `scratch.g[depth]`.
    fn emit<V: Visitor>(&self, arc: &CircleArc<'_>, frames: &[Frame], scratch: &mut Scratch, visitor: &mut V) {
        let depth = scratch.sides.len();
        // Every arc has 2^(d-2) cells above it: Ctrl-C or SIGTERM stops here too.
        if depth == frames.len() || crate::interrupt::signalled() {
            return;
        }
        let frame = &frames[frames.len() - 1 - depth];
        let rep = frame.rep();
        for side in [true, false] {
            let add = if side { &frame.g_plus } else { &frame.g_minus };
            let (lower, upper) = scratch.g.split_at_mut(depth + 1);
            upper[0].clear();
            upper[0].extend(lower[depth].iter().zip(add).map(|(a, b)| a + b));
            if let Some((k, in_plus)) = rep {
                scratch.conds.push((k, in_plus == side));
            }
            scratch.sides.push(side);
            visitor.cell(&Cell {
                level: depth + 3,
                frame,
                frames,
                sides: &scratch.sides,
                arc,
                g: &scratch.g[depth + 1],
                conds: &scratch.conds,
            });
            self.emit(arc, frames, scratch, visitor);
            scratch.sides.pop();
            if rep.is_some() {
                scratch.conds.pop();
            }
        }
    }
}

/// A step near 0.618 len that is coprime with len (1 for len <= 2).
fn coprime_stride(len: usize) -> usize {
    let gcd = |mut a: usize, mut b: usize| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    let mut s = ((len as f64 * 0.618) as usize).max(1);
    while gcd(s, len) != 1 {
        s += 1;
    }
    s
}

/// Buffers reused across the arcs of a descent.
#[derive(Default)]
struct Scratch {
    conds: Vec<(usize, bool)>,
    sides: Vec<bool>,
    g: Vec<Vec<f64>>,
}

#[cfg(test)]
mod tests;
