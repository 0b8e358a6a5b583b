//! The dual lower bound on L* (docs/math.md, section Dual bound; the computation of S: section Sphere maximum).
//!
//! With r_i = l'(y_i, F_i) / n at the current predictions F, the sphere maximum
//!
//! ```text
//! S = sup_{|v| = 1} |phi(v)|,   phi(v) = sum_i r_i relu(v . x_i),
//! ```
//!
//! and c = min(1, 2 lambda / S), the vector c r is feasible for the dual of the convex problem
//! min_mu R(F_mu) + 2 lambda |mu|_TV, so D = -R*(c r) <= L* <= L\[rho\].
//!
//! S is computed exactly, when affordable (any d; at d = 3 up to about 2000 distinct inputs), from the
//! arrangement of the hyperplanes x_i . v = 0 (see `geometry::arrangement`): on a cell with activation pattern P,
//! phi(v) = g_P . v with g_P = sum_{i in P} r_i x_i, so the maximum of |phi| over the closure of a cell is
//! attained either at +-g_P / |g_P| (if that point lies in the cell) or on the cell's boundary, which is made
//! of cells of lower-dimensional restricted arrangements. On arcs of 2-D subspaces the maximum of
//! a cos t + b sin t is taken in closed form; on cells of dimension >= 3 the value |g_P| counts only if
//! +-g_P / |g_P| lies in the closed cell, which is checked against every input, and only for cells whose
//! |g_P| beats the best value so far. Otherwise S is estimated from given directions, random directions and

pub mod free_energy;

mod dual;
mod estimate;
mod exact;
mod phi;
mod sphere;
#[cfg(test)]
mod tests;

pub use dual::{dual_bound, dual_value, dual_value_argmax, DualBound, DualProblem};
pub use estimate::estimate_cost;
pub(crate) use estimate::{local_maxima, phi_many};
pub use exact::{exact_cost, EXACT_BUDGET};
pub use sphere::{sphere_max, SphereMax, SphereMethod};
