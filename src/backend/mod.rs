//! Compute backends: where a network's passes and curvature products run.
//!
//! A backend owns the data sets (so a GPU backend can upload them once) and
//! offers coarse operations — a full pass over a split, fixing a curvature
//! chunk, a curvature product — so that one HF iteration is a handful of
//! backend calls, not thousands of small ones.

mod cpu;

pub(crate) use cpu::{check_data_fits, evaluate_dataset};
pub use cpu::{CpuBackend, DEFAULT_EVAL_CHUNK};

use ndarray::{Array2, ArrayView2};

use crate::data::Dataset;
use crate::error::{Error, ErrorKind, Result};
use crate::hf::{BackendChoice, Chunk, CurvatureKind};
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

/// A backend chosen for a network, with a note on how it was chosen (for
/// example why `auto` fell back to the CPU).
pub struct ChosenBackend {
    /// The backend.
    pub backend: Box<dyn Backend>,
    /// A human-readable account of the choice.
    pub note: String,
}

/// Creates the backend `choice` asks for over `train` (and `test`).
///
/// `Cuda` fails with `ErrorKind::BackendUnavailable` (saying why) when the
/// library was built without the `cuda` feature or no device can be used;
/// `Auto` then falls back to the CPU and says so in the note.
pub fn create_backend(
    choice: BackendChoice,
    spec: NetSpec,
    train: Dataset,
    test: Option<Dataset>,
    eval_chunk: usize,
) -> Result<ChosenBackend> {
    let cuda_reason = match choice {
        BackendChoice::Cpu => None,
        BackendChoice::Auto | BackendChoice::Cuda => Some(cuda_unavailable_reason()),
    };
    if choice == BackendChoice::Cuda {
        return Err(Error::new(
            ErrorKind::BackendUnavailable,
            format!(
                "the CUDA backend is unavailable: {}",
                cuda_reason.unwrap_or_default()
            ),
        ));
    }
    let note = match cuda_reason {
        Some(reason) => format!("cpu (auto: CUDA unavailable: {reason})"),
        None => "cpu".to_string(),
    };
    Ok(ChosenBackend {
        backend: Box::new(CpuBackend::new(spec, train, test, eval_chunk)?),
        note,
    })
}

/// Why the CUDA backend cannot be used in this build.
fn cuda_unavailable_reason() -> String {
    if cfg!(feature = "cuda") {
        "the CUDA backend is not implemented in this version".to_string()
    } else {
        "this library was built without the `cuda` feature".to_string()
    }
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
    /// [`Backend::evaluate`] over the examples `start..start+len` of a split
    /// only (a minibatch; means are over those examples): mean loss and
    /// error and, with `grad`, their mean gradient. An empty or out-of-range
    /// row range is an `OutOfRange` error. Backends without minibatch passes
    /// keep this default, which returns `Unsupported`.
    fn evaluate_range(
        &mut self,
        _theta: &[f32],
        _split: Split,
        start: usize,
        len: usize,
        _grad: Option<&mut [f32]>,
    ) -> Result<PassResult> {
        Err(Error::unsupported(format!(
            "the {} backend cannot evaluate the example range {start}..{start}+{len} on its own",
            self.name()
        )))
    }
    /// Caches what curvature products on `chunk` of the training set at θ need.
    fn set_chunk(&mut self, theta: &[f32], chunk: Chunk, kind: CurvatureKind) -> Result<()>;
    /// `out = C·v` on the current chunk (mean over its examples).
    fn curvature_product(&mut self, v: &[f32], out: &mut [f32]) -> Result<()>;
    /// Mean loss on the current chunk's examples at `theta`.
    fn chunk_loss(&mut self, theta: &[f32]) -> Result<f64>;
    /// Network outputs for the rows of `x`.
    fn predict(&mut self, theta: &[f32], x: ArrayView2<'_, f32>) -> Result<Array2<f32>>;
}
