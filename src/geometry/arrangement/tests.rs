use super::*;
use crate::data::{Distribution, XorNoise};
use crate::rng::Purpose;
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution as _, StandardNormal};

/// Checks every arc and cell against direct computation: activity at an interior point, g and g2.
struct Checker<'a> {
    dirs: &'a DistinctDirections,
    weights: &'a [f64],
    arcs: usize,
    cells: usize,
}

impl Checker<'_> {
    fn sum(&self, active: impl Iterator<Item = usize>) -> Vec<f64> {
        let mut g = vec![0.0; self.dirs.d];
        for k in active {
            g.iter_mut().zip(self.dirs.dir(k)).for_each(|(gi, ei)| *gi += self.weights[k] * ei);
        }
        g
    }

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-10)
    }
}

impl Visitor for Checker<'_> {
    fn arc(&mut self, arc: &CircleArc<'_>) {
        self.arcs += 1;
        assert!(arc.end > arc.start && arc.end - arc.start <= std::f64::consts::TAU + 1e-12);
        assert!((norm(arc.b1) - 1.0).abs() < 1e-12 && (norm(arc.b2) - 1.0).abs() < 1e-12);
        assert!(dot(arc.b1, arc.b2).abs() < 1e-12);
        let mid = 0.5 * (arc.start + arc.end);
        let v: Vec<f64> = arc.b1.iter().zip(arc.b2).map(|(p, q)| mid.cos() * p + mid.sin() * q).collect();
        for (&k, &a) in arc.free.iter().zip(arc.active) {
            let z = dot(self.dirs.dir(k), &v);
            assert!(z.abs() > 1e-12 && (z > 0.0) == a, "direction {k}: e . v = {z}, flagged {a}");
        }
        let g = self.sum(arc.free.iter().zip(arc.active).filter(|(_, &a)| a).map(|(&k, _)| k));
        assert!(Self::close(&g, arc.g));
        assert!(Self::close(&[dot(&g, arc.b1), dot(&g, arc.b2)], &arc.g2));
        for k in 0..self.dirs.len() {
            if !arc.free.contains(&k) {
                let e = self.dirs.dir(k);
                assert!(dot(e, arc.b1).abs() < 1e-9 && dot(e, arc.b2).abs() < 1e-9, "{k} is not free but not on L_2");
            }
        }
    }

    /// A point of the open cell: the arc's midpoint pushed by eps^(l-2) along the side's normal at each
    /// level l = 3..m, for some eps in 1e-2..1e-7; its activity must match the cell's.
    fn cell(&mut self, cell: &Cell<'_>) {
        self.cells += 1;
        let arc = cell.arc;
        let mid = 0.5 * (arc.start + arc.end);
        let base: Vec<f64> = arc.b1.iter().zip(arc.b2).map(|(p, q)| mid.cos() * p + mid.sin() * q).collect();
        let mut expected: Vec<(usize, bool)> = arc.free.iter().copied().zip(arc.active.iter().copied()).collect();
        let mut normals = Vec::new();
        for (depth, &side) in cell.sides.iter().enumerate() {
            let frame = &cell.frames[cell.frames.len() - 1 - depth];
            expected.extend(frame.plus.iter().map(|&k| (k, side)));
            expected.extend(frame.minus.iter().map(|&k| (k, !side)));
            let normal = match frame.rep() {
                Some((k, in_plus)) => {
                    let e = self.dirs.dir(k);
                    let pn = frame.projected_norm(e);
                    let dir = frame.projected_dir(e, pn);
                    dir.iter().map(|c| if in_plus == side { *c } else { -c }).collect()
                }
                None => vec![0.0; self.dirs.d],
            };
            normals.push(normal);
        }
        let found = [1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7].iter().any(|&eps: &f64| {
            let mut v = base.clone();
            for (l, nl) in normals.iter().enumerate() {
                let step = eps.powi(l as i32 + 1);
                v.iter_mut().zip(nl).for_each(|(vi, ni)| *vi += step * ni);
            }
            expected.iter().all(|&(k, a)| {
                let z = dot(self.dirs.dir(k), &v);
                z != 0.0 && (z > 0.0) == a
            })
        });
        assert!(found, "no interior point found for a cell of level {}", cell.level);
        let g = self.sum(expected.iter().filter(|(_, a)| *a).map(|(k, _)| *k));
        assert!(Self::close(&g, cell.g));
    }
}

fn check(x: Array2<f64>, name: &str) {
    let dirs = DistinctDirections::new(x.view());
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let weights: Vec<f64> = (0..dirs.len()).map(|_| rng.random_range(-1.0..1.0)).collect();
    let checkers = visit(&dirs, &weights, || Checker { dirs: &dirs, weights: &weights, arcs: 0, cells: 0 });
    let arcs: usize = checkers.iter().map(|c| c.arcs).sum();
    let cells: usize = checkers.iter().map(|c| c.cells).sum();
    assert!(arcs > 0, "{name}: no arcs");
    assert!(x.ncols() == 2 || cells > 0, "{name}: no cells");
}

#[test]
fn arcs_and_cells_agree_with_direct_computation() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut gaussian = |n: usize, d: usize| Array2::from_shape_fn((n, d), |_| StandardNormal.sample(&mut rng));
    let bias = |x: Array2<f64>| {
        let mut out = Array2::ones((x.nrows(), x.ncols() + 1));
        out.slice_mut(ndarray::s![.., ..x.ncols()]).assign(&x);
        out
    };
    for d in [2, 3, 4] {
        check(gaussian(12, d), "gaussian");
        check(gaussian(15, d).mapv(|v| v.round()), "integer");
    }
    let xor = Distribution::Xor { d: 3, noise: XorNoise::Sign }.sample(30, 1, Purpose::TrainData).unwrap();
    let paper = Distribution::Paper { d: 3 }.sample(30, 2, Purpose::TrainData).unwrap();
    check(bias(xor.x.clone()), "xor + bias");
    check(xor.x, "xor");
    check(bias(paper.x.clone()), "paper + bias");
    check(paper.x, "paper");
    let mut coplanar = gaussian(10, 3);
    coplanar.column_mut(2).fill(0.0);
    check(coplanar, "coplanar");
    // DistinctDirections a rounding error off an axis: their line angle rounds to the wrap-around point.
    let near_axis =
        Array2::from_shape_vec((6, 2), vec![1.0, -1.4e-17, 1.0, 0.0, -1.0, 1.4e-17, 0.3, 1.0, 1.0, 1e-17, -0.5, -1.0])
            .unwrap();
    check(near_axis.clone(), "near axis");
    check(bias(near_axis), "near axis + bias");
}
