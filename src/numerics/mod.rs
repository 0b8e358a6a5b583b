//! Numerical foundations with a determinism guarantee each: [`linalg`] (the only place that names the
//! GEMM backend or SIMD), [`exact`] (sums whose result does not depend on their order) and [`comm`]
//! (the communicator: one process, or MPI ranks sharing one cloud). They are re-exported at the crate
//! root (`crate::linalg`, `crate::exact`, `crate::comm`).

pub mod comm;
pub mod exact;
pub mod linalg;
