//! Geometry shared by the dual certificate ([`crate::certify`]) and the exact convex program
//! ([`crate::convex`]): the arrangement of the hyperplanes x_i . v = 0 and its cells.

pub(crate) mod arrangement;
