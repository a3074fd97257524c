//! Forward and gradient passes and curvature-vector products of feed-forward
//! networks on the CPU, generic over `f32` (training) and `f64` (checks).
//!
//! Everything here works on one batch of rows (`x`: N×D inputs, `t`: N×D'
//! targets) and a flat parameter vector laid out as [`crate::net::NetSpec`]
//! documents. Normalisation follows the reference code: losses, gradients and
//! curvature products are **means over the batch's examples**; callers that
//! split a data set into chunks pass the total count so the chunks add up to
//! the mean over the whole set. Regularisers (the weight cost) are not
//! included here; the network objective adds them.

mod backward;
mod fastmath;
mod finite_diff;
mod forward;
mod gemm;
pub(crate) mod parallel;
mod products;
mod real;
mod scratch;

pub use backward::{accumulate_gradient, output_delta};
pub use finite_diff::{batch_gradient, fd_gradient_check, fd_hessian_vector};
pub use forward::{batch_loss, forward, Activations, BatchLoss};
pub use gemm::{sgemm, sgemm_bias, sgemm_name};
pub use parallel::{set_threads, threads};
pub(crate) use products::SharedRows;
pub use products::{curvature_product, ChunkCache};
pub use real::Real;
pub use scratch::release_pooled_buffers;
