//! Compute backends: where a network's passes and curvature products run.
//!
//! A backend owns the data sets (so a GPU backend can upload them once) and
//! offers coarse operations — a full pass over a split, fixing a curvature
//! chunk, a curvature product — so that one HF iteration is a handful of
//! backend calls, not thousands of small ones.

mod cpu;
#[cfg(feature = "cuda")]
pub mod cuda;
pub mod memory;

pub(crate) use cpu::{
    check_data_fits, evaluate_dataset, remembered_pass_floats, REMEMBERED_PASSES,
};
pub use cpu::{CpuBackend, DEFAULT_EVAL_CHUNK};

use ndarray::{Array2, ArrayView2};

use crate::data::Dataset;
use crate::error::{Error, ErrorKind, Result};
use crate::hf::cg::{CgOptions, CgResult, DampedSystem};
pub use crate::hf::BackendChoice;
use crate::hf::{Chunk, CurvatureKind};
use crate::net::NetSpec;

/// The weight cost's curvature `wc·diag(mask)`, which an objective adds to
/// its backend's curvature products.
#[derive(Clone, Copy, Debug)]
pub struct WeightCost<'a> {
    /// The coefficient `wc` (as the products add it, in `f32`).
    pub coefficient: f32,
    /// 1 on the parameters that bear the weight cost, 0 elsewhere.
    pub mask: &'a [f32],
}

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

/// Which backend was created: what decides where a run's memory lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// The CPU backend: passes and the curvature chunk in host memory.
    Cpu,
    /// The CUDA backend: data, passes and the curvature chunk on the device.
    Cuda,
}

impl BackendKind {
    /// The backend's name in messages (`"CPU"`, `"CUDA"`).
    pub fn label(self) -> &'static str {
        match self {
            BackendKind::Cpu => "CPU",
            BackendKind::Cuda => "CUDA",
        }
    }
}

/// A backend chosen for a network, with a note on how it was chosen (for
/// example why `auto` fell back to the CPU).
pub struct ChosenBackend {
    /// The backend.
    pub backend: Box<dyn Backend>,
    /// Which backend it is (`auto` resolved).
    pub kind: BackendKind,
    /// A human-readable account of the choice.
    pub note: String,
}

/// How a backend should run, beyond which one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackendOptions {
    /// Examples per slice of a full pass (0 = [`DEFAULT_EVAL_CHUNK`]).
    pub eval_chunk: usize,
    /// Allow TF32 tensor-core GEMMs (CUDA only).
    pub tf32: bool,
    /// The largest curvature chunk (examples) the run will fix and its
    /// kind, for the GPU's up-front memory check (`None`: not checked up
    /// front; each chunk is still checked before it is allocated).
    pub curvature: Option<(usize, CurvatureKind)>,
}

/// Checks that a vector called `what` has one entry per parameter; the
/// message every backend gives for a wrong length.
pub(crate) fn check_param_len(what: &str, len: usize, num_params: usize) -> Result<()> {
    if len != num_params {
        return Err(Error::shape(format!(
            "{what} has {len} entries, the network has {num_params} parameters"
        )));
    }
    Ok(())
}

/// Checks that θ and the optional gradient and statistic buffers of a pass
/// have one entry per parameter, in that order.
pub(crate) fn check_pass_buffers(
    spec: &NetSpec,
    theta: &[f32],
    grad: Option<&[f32]>,
    stat: Option<&[f32]>,
) -> Result<()> {
    let p = spec.num_params();
    check_param_len("theta", theta.len(), p)?;
    if let Some(g) = grad {
        check_param_len("gradient buffer", g.len(), p)?;
    }
    if let Some(s) = stat {
        check_param_len("statistic buffer", s.len(), p)?;
    }
    Ok(())
}

/// Creates the backend `choice` asks for over `train` (and `test`), with
/// FP32 GEMMs; see [`create_backend_with`].
pub fn create_backend(
    choice: BackendChoice,
    spec: NetSpec,
    train: Dataset,
    test: Option<Dataset>,
    eval_chunk: usize,
) -> Result<ChosenBackend> {
    let options = BackendOptions {
        eval_chunk,
        ..BackendOptions::default()
    };
    create_backend_with(choice, spec, train, test, options)
}

/// Creates the backend `choice` asks for over `train` (and `test`).
///
/// `Cuda` fails with `ErrorKind::BackendUnavailable` (saying why) when the
/// library was built without the `cuda` feature or no device can be used
/// (`ResourceLimit`, with the numbers, when the estimated device memory of
/// the data, a pass and the largest curvature chunk exceeds the free device
/// memory); `Auto` then falls back to the CPU and says why in the note.
pub fn create_backend_with(
    choice: BackendChoice,
    spec: NetSpec,
    train: Dataset,
    test: Option<Dataset>,
    options: BackendOptions,
) -> Result<ChosenBackend> {
    check_data_fits(&spec, &train, "training")?;
    if let Some(test) = &test {
        check_data_fits(&spec, test, "test")?;
    }
    let cuda_failure = match choice {
        BackendChoice::Cpu => None,
        BackendChoice::Auto | BackendChoice::Cuda => {
            match try_cuda(&spec, &train, test.as_ref(), options) {
                Ok(chosen) => return Ok(chosen),
                Err(e) => Some(e),
            }
        }
    };
    if let (BackendChoice::Cuda, Some(e)) = (choice, &cuda_failure) {
        if e.kind() == ErrorKind::ResourceLimit {
            return Err(e.clone());
        }
        return Err(Error::new(
            ErrorKind::BackendUnavailable,
            format!("the CUDA backend is unavailable: {}", e.message()),
        ));
    }
    let note = match cuda_failure {
        Some(e) if e.kind() == ErrorKind::ResourceLimit => {
            format!("cpu (auto: not enough GPU memory: {})", e.message())
        }
        Some(e) => format!("cpu (auto: CUDA unavailable: {})", e.message()),
        None => "cpu".to_string(),
    };
    Ok(ChosenBackend {
        backend: Box::new(CpuBackend::new(spec, train, test, options.eval_chunk)?),
        kind: BackendKind::Cpu,
        note,
    })
}

/// Whether the CUDA backend can run here: the name of the device it would
/// use (`HESSFREE_CUDA_DEVICE`, default 0), or why not.
pub fn cuda_status() -> std::result::Result<String, String> {
    #[cfg(feature = "cuda")]
    {
        let device = cuda::CudaOptions::from_env(false, 0).map_err(|e| e.message().to_string())?;
        cuda::device_status(device.device)
    }
    #[cfg(not(feature = "cuda"))]
    {
        Err(NO_CUDA_FEATURE.to_string())
    }
}

#[cfg(not(feature = "cuda"))]
const NO_CUDA_FEATURE: &str = "this library was built without the `cuda` feature";

#[cfg(feature = "cuda")]
fn try_cuda(
    spec: &NetSpec,
    train: &Dataset,
    test: Option<&Dataset>,
    options: BackendOptions,
) -> Result<ChosenBackend> {
    let cuda_options = cuda::CudaOptions {
        curvature: options.curvature,
        ..cuda::CudaOptions::from_env(options.tf32, options.eval_chunk)?
    };
    let backend = cuda::CudaBackend::new(spec, train, test, cuda_options)?;
    let note = backend.name();
    Ok(ChosenBackend {
        backend: Box::new(backend),
        kind: BackendKind::Cuda,
        note,
    })
}

#[cfg(not(feature = "cuda"))]
fn try_cuda(
    _spec: &NetSpec,
    _train: &Dataset,
    _test: Option<&Dataset>,
    _options: BackendOptions,
) -> Result<ChosenBackend> {
    Err(Error::new(ErrorKind::BackendUnavailable, NO_CUDA_FEATURE))
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

    /// Solves `(C + wc·diag(mask) + λI) x = b` by CG from `x0` on the
    /// backend's own vectors (C the curvature of the chunk fixed by
    /// [`Backend::set_chunk`], `wc·diag(mask)` the objective's weight-cost
    /// curvature, λ and b from `system`), when the backend offers that.
    /// `Ok(None)`, the default, means it does not: the caller runs CG on the
    /// host through [`Backend::curvature_product`]. The CUDA backend offers
    /// it, so CG's vectors stay on the GPU.
    fn solve_damped(
        &mut self,
        _system: &DampedSystem<'_>,
        _weight_cost: WeightCost<'_>,
        _x0: &[f32],
        _opts: &CgOptions,
    ) -> Result<Option<CgResult>> {
        Ok(None)
    }
    /// Network outputs for the rows of `x`.
    fn predict(&mut self, theta: &[f32], x: ArrayView2<'_, f32>) -> Result<Array2<f32>>;
}
