//! # hessfree
//!
//! Hessian-free (truncated Newton) optimization for neural networks, after
//! Martens, "Deep learning via Hessian-free optimization" (ICML 2010), with the
//! conventions of the paper's public MATLAB reference code.
//!
//! - [`net`]: feed-forward networks (layer specs, activations, matched losses,
//!   the flat parameter layout, sparse initialisation).
//! - [`curvature`]: forward and gradient passes and curvature-vector products
//!   (Gauss-Newton, Hessian, empirical Fisher, finite differences).
//! - [`backend`]: where the numbers are crunched (CPU; CUDA behind the `cuda` feature).
//! - [`hf`]: the optimizer, which works on any [`hf::Objective`].
//! - [`firstorder`]: SGD with momentum and Adam baselines over the same objectives.
//! - [`data`]: data sets, the MNIST reader and the CURVES-like and FACES-like generators.
//! - [`ffi`]: the C ABI (`include/hessfree.h`).

pub mod backend;
pub mod checkpoint;
pub mod curvature;
pub mod data;
pub mod error;
pub mod ffi;
pub mod firstorder;
pub mod hf;
pub mod net;
pub mod presets;
pub mod rng;

pub use error::{Error, ErrorKind, Result};
