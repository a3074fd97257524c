//! The Hessian-free optimizer. It works on any [`Objective`] and never names a
//! network type.

mod objective;

pub use objective::{Chunk, CurvatureKind, Metrics, Objective};
