//! The GEMM on an operand packed once ([`Packed`], [`gemm_packed`]): the `gemm` crate's microkernels
//! called directly on panels the caller keeps, instead of the crate packing a copy at every call.

use ndarray::{ArrayView2, ArrayViewMut2};

use super::{backend, Lines, Real, Simd, LINE_BYTES};

/// Largest depth of [`gemm_packed`]: the `gemm` crate computes deeper products in blocks of its own
/// choosing (a cache-dependent depth of at least 512), whose sums [`gemm_packed`] would not repeat.
pub const PACKED_MAX_DEPTH: usize = 512;

/// A matrix A (rows x depth) packed once for the GEMM kernels of one tier, which then read it in
/// place ([`gemm_packed`]) instead of packing a copy at every call: panels of the microkernels' MR
/// rows, each depth after depth (the MR rows of one depth contiguous), zero past the rows.
#[derive(Clone, Debug)]
pub struct Packed<F> {
    /// The panels, starting on a cache line (each panel of 32 f64 or 64 f32 rows, the AVX-512 ones,
    /// a whole number of lines).
    data: Lines<F>,
    rows: usize,
    depth: usize,
    width: usize,
    simd: Simd,
}

impl<F: Real> Packed<F> {
    /// An empty packing for `simd`.
    pub fn new(simd: Simd) -> Self {
        Packed { data: Lines::new(LINE_BYTES), rows: 0, depth: 0, width: F::panel_rows(simd.tier()), simd }
    }

    /// The elements [`Packed::pack`] keeps for a rows x depth matrix in panels of `width` rows: whole
    /// panels and `width` more, which the microkernels' full-width loads at the last rows may touch.
    fn elements(rows: usize, depth: usize, width: usize) -> usize {
        rows.div_ceil(width) * width * depth + width
    }

    /// The bytes [`Packed::pack`] keeps for a rows x depth matrix, in the tier of this CPU that needs
    /// the most.
    pub fn bytes(rows: usize, depth: usize) -> usize {
        let widths = Simd::available().into_iter().map(|simd| F::panel_rows(simd.tier()));
        widths.map(|width| Self::elements(rows, depth, width)).max().unwrap_or(0) * std::mem::size_of::<F>()
    }

    /// Packs `a` (reusing the memory of the previous packing when it has the same shape).
    pub fn pack(&mut self, a: ArrayView2<F>) {
        let (rows, depth, width) = (a.nrows(), a.ncols(), self.width);
        self.data.resize(Self::elements(rows, depth, width), F::zero());
        for (p, panel) in self.data.chunks_exact_mut(width * depth).enumerate() {
            for (j, column) in panel.chunks_exact_mut(width).enumerate() {
                for (r, v) in column.iter_mut().enumerate() {
                    *v = a.get([p * width + r, j]).copied().unwrap_or(F::zero());
                }
            }
        }
        (self.rows, self.depth) = (rows, depth);
    }

    /// The tier the packing is for.
    pub fn simd(&self) -> Simd {
        self.simd
    }
}

/// C <- B A^T (`accumulate`: C <- C + B A^T) for B (p x k) and the rows `rows` and depths `depth`
/// (k of them, at most [`PACKED_MAX_DEPTH`]) of the packed A, C p x rows.len(), single-threaded, in
/// the GEMM kernels of the packing's tier. Every entry of C is one chain of fused multiply-adds over
/// the depth in order, as the `gemm` crate's general kernels compute it, so this gives the numbers of
/// [`linalg::gemm`](super::gemm()) on A itself for every product but the smallest (with at most 256
/// entries, depth 2 or a single row or column, it may take the crate's dot-product kernels instead).
pub fn gemm_packed<F: Real>(
    b: &ArrayView2<F>,
    a: &Packed<F>,
    rows: std::ops::Range<usize>,
    depth: std::ops::Range<usize>,
    accumulate: bool,
    c: &mut ArrayViewMut2<F>,
) {
    assert!(
        rows.end <= a.rows && depth.end <= a.depth,
        "gemm_packed: rows {rows:?}, depth {depth:?} of {} x {}",
        a.rows,
        a.depth
    );
    assert!(depth.len() <= PACKED_MAX_DEPTH, "gemm_packed: depth {} over {PACKED_MAX_DEPTH}", depth.len());
    assert!(
        b.ncols() == depth.len() && c.nrows() == b.nrows() && c.ncols() == rows.len(),
        "gemm_packed: shapes {:?} {:?} for {} rows",
        b.shape(),
        c.shape(),
        rows.len()
    );
    if c.is_empty() {
        return;
    }
    if depth.is_empty() {
        if !accumulate {
            c.fill(F::zero());
        }
        return;
    }
    let p = backend::Panels {
        m: rows.len(),
        n: b.nrows(),
        k: depth.len(),
        dst: c.as_mut_ptr(),
        dst_cs: c.strides()[0],
        dst_rs: c.strides()[1],
        accumulate,
        lhs: a.data.as_ptr(),
        lhs_depth: a.depth,
        row: rows.start,
        depth: depth.start,
        rhs: b.as_ptr(),
        rhs_rs: b.strides()[1],
        rhs_cs: b.strides()[0],
    };
    // SAFETY: the asserts keep the rows and depths inside the packing (whole panels plus MR elements,
    // which the microkernels' full-width loads may touch past the rows), B and C are views of the
    // given shapes (C borrowed mutably, so it overlaps neither), and the packing's tier is one this
    // CPU has.
    unsafe { F::panels_raw(a.simd.tier(), p) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::gemm;
    use ndarray::Array2;

    /// In every tier, the GEMM on a packed A gives the numbers of `gemm` on A itself, bit for bit:
    /// overwriting and accumulating, on row ranges that start inside a panel and end in a partial
    /// one, on depth ranges that start past 0, with B and C strided.
    fn packed_agrees<F: Real>(rows: usize, depth: usize, p: usize) {
        let value = |i: usize, j: usize, s: usize| F::of(((i * 31 + j * 17 + s) % 23) as f64 / 7.0 - 1.5);
        let a = Array2::from_shape_fn((rows, depth), |(i, j)| value(i, j, 1));
        let b = Array2::from_shape_fn((p, 2 * depth), |(i, j)| value(i, j, 2));
        let c0 = Array2::from_shape_fn((2 * p, rows), |(i, j)| value(i, j, 3));
        for simd in Simd::available() {
            let mut packed = Packed::new(simd);
            packed.pack(a.view());
            for (r, k) in [(0..rows, 0..depth), (3..rows - 5, 7..depth), (rows / 2..rows, 1..depth / 2 + 9)] {
                let bk = b.slice(ndarray::s![.., ..2 * k.len();2]);
                let ak = a.slice(ndarray::s![r.clone(), k.clone()]);
                for accumulate in [false, true] {
                    let (mut expected, mut got) = (c0.clone(), c0.clone());
                    let beta = if accumulate { F::one() } else { F::zero() };
                    let cols = ndarray::s![..;2, r.clone()];
                    gemm(simd, F::one(), &bk, &ak.t(), beta, &mut expected.slice_mut(cols));
                    gemm_packed(&bk, &packed, r.clone(), k.clone(), accumulate, &mut got.slice_mut(cols));
                    assert!(
                        got == expected,
                        "{} {} rows {r:?} depth {k:?} accumulate {accumulate}: packed differs from gemm",
                        F::NAME,
                        simd.name()
                    );
                }
            }
        }
    }

    #[test]
    fn packed_gemm_gives_the_numbers_of_gemm_in_every_tier() {
        for (rows, depth, p) in [(100, 256, 131), (256, 100, 128), (45, 37, 20)] {
            packed_agrees::<f64>(rows, depth, p);
            packed_agrees::<f32>(rows, depth, p);
        }
    }

    /// The panels start on a cache line in every tier, also when large enough for the allocator to map
    /// them (with glibc, a `Vec` of that size starts 16 bytes past a page).
    #[test]
    fn panels_start_on_a_cache_line() {
        for simd in Simd::available() {
            for rows in [3, 2000] {
                let mut packed = Packed::<f64>::new(simd);
                packed.pack(Array2::<f64>::ones((rows, 100)).view());
                assert_eq!(packed.data.as_ptr() as usize % LINE_BYTES, 0, "{} rows = {rows}", simd.name());
            }
        }
    }
}
