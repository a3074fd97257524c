//! Compute backends: where a network's passes and curvature products run.
//!
//! A backend owns the data sets (so a GPU backend can upload them once) and
//! offers coarse operations — a full pass over a split, fixing a curvature
//! chunk, a curvature product — so that one HF iteration is a handful of
//! backend calls, not thousands of small ones.

mod cpu;

pub use cpu::{CpuBackend, DEFAULT_EVAL_CHUNK};
pub(crate) use cpu::{check_data_fits, evaluate_dataset};

use ndarray::{Array2, ArrayView2};

use crate::error::Result;
use crate::hf::{Chunk, CurvatureKind};
use crate::net::NetSpec;

/// Which data set a pass runs over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// The training set.
    Train,
    /// The held-out test set.
    Test,
}

/// Result of a full pass over a split.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PassResult {
    /// Mean per-example loss (no weight cost).
    pub loss: f64,
    /// Mean per-example sum of squared reconstruction error (Table 2's error).
    pub error: f64,
    /// Number of examples seen.
    pub examples: usize,
}

/// Which backend to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendChoice {
    /// CUDA when it is built in and a device is present, else the CPU.
    Auto,
    /// The CPU backend.
    Cpu,
    /// The CUDA backend; an error if unavailable.
    Cuda,
}

/// The numerical engine behind a network objective (all `f32` storage; the
/// reductions that decide something are returned as `f64`).
///
/// Normalisation: every loss, gradient, statistic and product is a **mean
/// over the examples** involved; no weight cost is included.
pub trait Backend: Send {
    /// A short name for reports (`"cpu"`, `"cuda (NVIDIA H200)"`).
    fn name(&self) -> String;
    /// The network architecture this backend computes.
    fn spec(&self) -> &NetSpec;
    /// Number of examples in a split (0 for a missing test set).
    fn num_examples(&self, split: Split) -> usize;
    /// One pass over a whole split in bounded-memory chunks: mean loss and
    /// error; with `grad`, the mean gradient; with `stat`, the mean
    /// per-example squared gradient (diagonal empirical Fisher).
    fn evaluate(
        &mut self,
        theta: &[f32],
        split: Split,
        grad: Option<&mut [f32]>,
        stat: Option<&mut [f32]>,
    ) -> Result<PassResult>;
    /// Caches what curvature products on `chunk` of the training set at θ need.
    fn set_chunk(&mut self, theta: &[f32], chunk: Chunk, kind: CurvatureKind) -> Result<()>;
    /// `out = C·v` on the current chunk (mean over its examples).
    fn curvature_product(&mut self, v: &[f32], out: &mut [f32]) -> Result<()>;
    /// Mean loss on the current chunk's examples at `theta`.
    fn chunk_loss(&mut self, theta: &[f32]) -> Result<f64>;
    /// Network outputs for the rows of `x`.
    fn predict(&mut self, theta: &[f32], x: ArrayView2<'_, f32>) -> Result<Array2<f32>>;
}
