//! The CUDA backend: cuBLAS GEMMs and fused NVRTC kernels on one GPU.
//!
//! **What lives where.** The training and test sets are uploaded once, as
//! column-major `(D+1) × N` matrices (one example per column, the row-major
//! `N × D` host layout read the other way) with a row of ones appended: the
//! bias input. θ, the gradient, the statistic, the CG vector in and out, the
//! cached chunk's activations (and, for the Hessian and empirical Fisher, its
//! deltas) all stay on the device. Only scalars (loss sums) and the
//! parameter-sized vectors of the host API cross the bus. CG runs on the
//! device too ([`Backend::solve_damped`], module `cg`): per CG iteration only
//! three f64 scalars come back; the right-hand side, preconditioner and start
//! go up once per solve and the kept iterates come down for backtracking.
//! With `host_cg` (or through [`Backend::curvature_product`]) a product's `v`
//! goes up and `C·v` comes down instead (P floats each way, 11 MB for the
//! MNIST autoencoder).
//!
//! **Layout tricks.** θ stores each layer as `W` (`fan_in × fan_out`,
//! row-major) followed by `b`: read column-major that is `[W | b]`, a
//! `fan_out × (fan_in+1)` matrix. With the ones row on every activation the
//! gradient `[∇W | ∇b] = δ · [A; 1]ᵀ` and the R-forward term `[V | v_b]·[A; 1]`
//! are one GEMM each. The forward pass keeps the bias out of the GEMM (added in
//! FP32 by the activation kernel, so TF32 never rounds it).
//!
//! **Launches per G·v product** with L weight layers: R-forward 2 GEMMs and 1
//! fused kernel per layer (1 GEMM for the first), backward 1 gradient GEMM per
//! layer plus 1 GEMM and 1 kernel per hidden layer: about `6L − 3` launches
//! (45 for the 8-layer MNIST autoencoder), plus one upload and one download.
//!
//! **Memory.** [`device_estimate`] counts what a run will allocate (data,
//! vectors, a pass slice, the largest curvature chunk); `new` compares it
//! with the free device memory before uploading anything, and each new chunk
//! or pass workspace is checked again before allocation, so that too little
//! memory is a `ResourceLimit` error naming the numbers (and `auto` falls
//! back to the CPU) rather than an allocation failing half-way.
//!
//! Reductions that decide something (losses) run per example in f64 and are
//! summed in one block in a fixed order: results are deterministic for a
//! given device, and so are cuBLAS's FP32 GEMMs on one stream.

mod cg;
mod device;
mod passes;

use std::panic::{catch_unwind, AssertUnwindSafe};

use ndarray::{Array2, ArrayView2};

use self::cg::{cg_device_bytes, DeviceSpace, CG_DEVICE_VECTORS};
pub use self::device::KERNEL_SOURCE;
use self::device::{probe_libraries, DevBuf, Gpu, Op, M};
use self::passes::{ld_aug, ld_pad, CurvatureState, Layer, Pass, Scratch, Workspace};
use super::{check_data_fits, Backend, PassResult, Split, WeightCost, DEFAULT_EVAL_CHUNK};
use crate::data::Dataset;
use crate::error::{Error, ErrorKind, Result};
use crate::hf::cg::{self as hf_cg, CgOptions, CgResult, DampedSystem};
use crate::hf::{Chunk, CurvatureKind};
use crate::net::NetSpec;

/// Environment variable selecting the GPU (an ordinal, default 0).
pub const DEVICE_ENV: &str = "HESSFREE_CUDA_DEVICE";

/// Environment variable that, set to `1`, keeps CG's vectors on the host
/// (see [`CudaOptions::host_cg`]).
pub const HOST_CG_ENV: &str = "HESSFREE_CUDA_HOST_CG";

/// Examples uploaded per step when a data set is copied to the GPU.
const UPLOAD_SLICE: usize = 16384;

/// Options of the CUDA backend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CudaOptions {
    /// Device ordinal (0 = the first GPU).
    pub device: usize,
    /// Let cuBLAS use TF32 tensor cores for GEMMs (inputs rounded to a 10-bit
    /// mantissa; accumulation stays FP32).
    pub tf32: bool,
    /// Examples per slice of a full pass (0 = [`DEFAULT_EVAL_CHUNK`]).
    pub eval_chunk: usize,
    /// The largest curvature chunk the run will fix and its kind, so that
    /// [`CudaBackend::new`] can check up front that it fits in device memory
    /// (`None`: only the data, vectors and a pass slice are checked there;
    /// `set_chunk` still checks each new chunk before allocating it).
    pub curvature: Option<(usize, CurvatureKind)>,
    /// Run CG's vector work on the host, as before the device CG existed:
    /// every curvature product's vector then crosses the bus both ways.
    /// For comparisons and diagnosis; off by default.
    pub host_cg: bool,
}

impl CudaOptions {
    /// Options with the device taken from `HESSFREE_CUDA_DEVICE` (default 0)
    /// and `host_cg` from `HESSFREE_CUDA_HOST_CG` (`1` or `0`, default 0).
    pub fn from_env(tf32: bool, eval_chunk: usize) -> Result<Self> {
        let device = match std::env::var(DEVICE_ENV) {
            Ok(s) => s.trim().parse::<usize>().map_err(|_| {
                Error::out_of_range(format!(
                    "{DEVICE_ENV}={s:?} is not a device ordinal (0, 1, …)"
                ))
            })?,
            Err(_) => 0,
        };
        let host_cg = match std::env::var(HOST_CG_ENV) {
            Ok(s) => match s.trim() {
                "1" => true,
                "0" | "" => false,
                _ => {
                    return Err(Error::out_of_range(format!(
                        "{HOST_CG_ENV}={s:?}: expected 1 (CG on the host) or 0"
                    )))
                }
            },
            Err(_) => false,
        };
        Ok(CudaOptions {
            device,
            tf32,
            eval_chunk,
            curvature: None,
            host_cg,
        })
    }
}

/// Whether CUDA device `device` can be used here: its name, or why not.
/// Never panics (cudarc's load-time panics are caught).
pub fn device_status(device: usize) -> std::result::Result<String, String> {
    probe_libraries()?;
    let probe = catch_unwind(|| {
        cudarc::driver::CudaContext::new(device)
            .and_then(|ctx| ctx.name())
            .map_err(|e| format!("CUDA device {device} cannot be opened: {e:?}"))
    });
    probe.unwrap_or_else(|p| Err(format!("loading CUDA panicked: {}", panic_text(&p))))
}

/// Compiles the kernels with NVRTC for compute capability `cc` (e.g. `(9, 0)`
/// for Hopper); needs only the NVRTC library, no GPU. Returns the size of
/// the compiled image and whether it is machine code (else PTX). For checks
/// on machines without a device.
pub fn compile_kernels(cc: (i32, i32)) -> Result<(usize, bool)> {
    if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
        return Err(Error::new(
            ErrorKind::BackendUnavailable,
            "the NVRTC library (libnvrtc.so.13 or .12) was not found",
        ));
    }
    catch_unwind(|| device::compiled_size(cc)).map_err(|p| {
        Error::new(
            ErrorKind::BackendUnavailable,
            format!("loading NVRTC panicked: {}", panic_text(&p)),
        )
    })?
}

fn panic_text(payload: &Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".to_string())
}

/// `a · b` for buffer sizes, failing cleanly on overflow.
fn size(a: usize, b: usize) -> Result<usize> {
    a.checked_mul(b).ok_or_else(|| {
        Error::new(
            ErrorKind::ResourceLimit,
            format!("a {a} × {b} device buffer overflows"),
        )
    })
}

/// Device memory the CUDA backend uses beyond its buffers' sizes: cuBLAS's
/// workspace and the allocator's granularity, plus a share of the estimate
/// for small buffers it leaves out (loss sums, predictions' inputs).
fn device_margin(bytes: u128) -> u128 {
    bytes / 20 + (64u128 << 20)
}

/// Bytes of a pass workspace for `cap` examples (mirrors `workspace`).
fn workspace_bytes(spec: &NetSpec, cap: usize, squares: bool) -> u128 {
    let slots = spec.slots();
    let cap = cap.max(1) as u128;
    let hidden: u128 = slots[..slots.len() - 1]
        .iter()
        .map(|s| ld_aug(s.fan_out) as u128)
        .sum();
    let deltas: u128 = slots.iter().map(|s| ld_pad(s.fan_out) as u128).sum();
    let out = 2 * spec.output_dim() as u128;
    let squares = if squares {
        let max_in = slots.iter().map(|s| s.fan_in).max().unwrap_or(1);
        let max_out = slots.iter().map(|s| s.fan_out).max().unwrap_or(1);
        (ld_aug(max_in) + ld_pad(max_out)) as u128
    } else {
        0
    };
    // Floats per example, plus two f64 loss sums per example.
    4 * cap * (hidden + deltas + out + squares) + 16 * cap
}

/// Bytes of a curvature product's scratch for `cap` examples (mirrors `scratch`).
fn scratch_bytes(spec: &NetSpec, cap: usize, kind: CurvatureKind) -> u128 {
    let slots = spec.slots();
    let cap = cap.max(1) as u128;
    let hidden = &slots[..slots.len() - 1];
    let per_hidden: u128 = hidden.iter().map(|s| ld_pad(s.fan_out) as u128).sum();
    let rz: u128 = slots.iter().map(|s| ld_pad(s.fan_out) as u128).sum();
    let max_hidden = hidden.iter().map(|s| s.fan_out).max().unwrap_or(1);
    let back = 2 * ld_pad(max_hidden) as u128;
    let extra = match kind {
        CurvatureKind::Hessian => 2 * per_hidden,
        CurvatureKind::EmpiricalFisher => 1,
        CurvatureKind::GaussNewton => 0,
    };
    4 * cap * (rz + back + extra)
}

/// Bytes of a cached curvature chunk of `len` examples: its θ, activations
/// (and deltas) and the products' scratch.
fn curvature_bytes(spec: &NetSpec, len: usize, kind: CurvatureKind) -> u128 {
    4 * spec.num_params() as u128
        + workspace_bytes(spec, len, false)
        + scratch_bytes(spec, len, kind)
}

/// Bytes of a data set held on the device.
fn data_bytes(data: &Dataset) -> u128 {
    let n = data.len() as u128;
    let x = ld_aug(data.input_dim()) as u128 * n;
    let t = if data.is_autoencoder() {
        0
    } else {
        data.target_dim() as u128 * n
    };
    4 * (x + t)
}

/// An estimate of the peak device memory, in bytes, of training `spec` on
/// `train` (and `test`) with the CUDA backend under `options`: the data
/// sets, five parameter-sized vectors and the device CG's vectors (eight
/// more, unless `options.host_cg`), a full pass's workspace (with the
/// statistic's squares), the largest curvature chunk of
/// `options.curvature` (with its own θ), the upload staging and a margin for
/// cuBLAS and the allocator. Compared
/// with the device's free memory before anything is uploaded.
pub fn device_estimate(
    spec: &NetSpec,
    train: &Dataset,
    test: Option<&Dataset>,
    options: &CudaOptions,
) -> u128 {
    let eval_chunk = if options.eval_chunk == 0 {
        DEFAULT_EVAL_CHUNK
    } else {
        options.eval_chunk
    };
    let largest = train.len().max(test.map_or(0, Dataset::len));
    let slice = eval_chunk.min(largest);
    let staging = 4 * (spec.input_dim() * UPLOAD_SLICE.min(largest)) as u128;
    // θ, gradient, statistic and the product's in and out; then one device
    // CG solve's vectors and partial sums.
    let cg = if options.host_cg {
        0
    } else {
        cg_device_bytes(spec.num_params())
    };
    let vectors = 4 * 5 * spec.num_params() as u128 + cg;
    let curvature = options.curvature.map_or(0, |(len, kind)| {
        curvature_bytes(spec, len.min(train.len()), kind)
    });
    let bytes = data_bytes(train)
        + test.map_or(0, data_bytes)
        + vectors
        + workspace_bytes(spec, slice, true)
        + curvature
        + staging;
    bytes + device_margin(bytes)
}

/// Fails with `ResourceLimit`, naming the numbers, when `need` bytes
/// exceed the free device memory `free` of `total`.
fn check_device_fits(need: u128, free: usize, total: usize, what: &str) -> Result<()> {
    if need > free as u128 {
        let gib = |b: u128| b as f64 / (1u64 << 30) as f64;
        return Err(Error::new(
            ErrorKind::ResourceLimit,
            format!(
                "{what} needs about {:.2} GiB of GPU memory but only {:.2} GiB of the device's \
                 {:.2} GiB is free; use a smaller chunk_size / eval_chunk_size, a smaller \
                 network, or the CPU backend",
                gib(need),
                gib(free as u128),
                gib(total as u128)
            ),
        ));
    }
    Ok(())
}

/// A data set on the device: augmented inputs and, unless the targets are
/// the inputs (autoencoders), the targets.
struct DeviceData {
    x: DevBuf<f32>,
    x_ld: usize,
    t: Option<DevBuf<f32>>,
    t_ld: usize,
    n: usize,
}

impl DeviceData {
    fn upload(gpu: &Gpu, data: &Dataset) -> Result<Self> {
        let (n, d) = (data.len(), data.input_dim());
        let x_ld = ld_aug(d);
        let x = gpu.alloc::<f32>(size(x_ld, n)?)?;
        let slice = UPLOAD_SLICE.min(n);
        let tmp = gpu.alloc::<f32>(size(d, slice)?)?;
        let mut start = 0;
        while start < n {
            let len = slice.min(n - start);
            gpu.upload_direct(&data.inputs()[start * d..(start + len) * d], tmp.ptr())?;
            let dst = M {
                ptr: x.at(start * x_ld),
                ld: x_ld,
            };
            gpu.augment(
                dst,
                M {
                    ptr: tmp.ptr(),
                    ld: d,
                },
                d,
                len,
            )?;
            start += len;
        }
        let t_ld = data.target_dim();
        let t = if data.is_autoencoder() {
            None
        } else {
            let t = gpu.alloc::<f32>(size(t_ld, n)?)?;
            gpu.upload_direct(data.targets(), t.ptr())?;
            Some(t)
        };
        gpu.sync()?;
        Ok(DeviceData {
            x,
            x_ld,
            t,
            t_ld,
            n,
        })
    }

    /// Inputs from example `start` on.
    fn x(&self, start: usize) -> M {
        M {
            ptr: self.x.at(start * self.x_ld),
            ld: self.x_ld,
        }
    }

    /// Targets from example `start` on.
    fn t(&self, start: usize) -> M {
        match &self.t {
            Some(t) => M {
                ptr: t.at(start * self.t_ld),
                ld: self.t_ld,
            },
            None => self.x(start),
        }
    }
}

/// Runs a network on one CUDA device over data sets held in device memory.
pub struct CudaBackend {
    spec: NetSpec,
    layers: Vec<Layer>,
    gpu: Gpu,
    train: DeviceData,
    test: Option<DeviceData>,
    eval_chunk: usize,
    /// θ of full passes, chunk losses and predictions.
    theta: DevBuf<f32>,
    grad: DevBuf<f32>,
    stat: DevBuf<f32>,
    v: DevBuf<f32>,
    out: DevBuf<f32>,
    /// Loss and error sums, two per pass slice.
    sums: DevBuf<f64>,
    eval: Option<Workspace>,
    curvature: Option<CurvatureState>,
    /// Leave CG to the host (`CudaOptions::host_cg`).
    host_cg: bool,
}

impl CudaBackend {
    /// A backend for `spec` on the GPU `options.device`, with `train` (and
    /// `test`) uploaded to it. Fails with `BackendUnavailable` (saying why)
    /// when no usable driver, library or device is present, and with
    /// `ResourceLimit` when the data do not fit in device memory. Never panics:
    /// cudarc's load-time panics are caught and reported.
    pub fn new(
        spec: &NetSpec,
        train: &Dataset,
        test: Option<&Dataset>,
        options: CudaOptions,
    ) -> Result<Self> {
        check_data_fits(spec, train, "training")?;
        if let Some(test) = test {
            check_data_fits(spec, test, "test")?;
        }
        probe_libraries().map_err(|why| Error::new(ErrorKind::BackendUnavailable, why))?;
        catch_unwind(AssertUnwindSafe(|| Self::open(spec, train, test, options))).unwrap_or_else(
            |p| {
                Err(Error::new(
                    ErrorKind::BackendUnavailable,
                    format!("loading CUDA panicked: {}", panic_text(&p)),
                ))
            },
        )
    }

    fn open(
        spec: &NetSpec,
        train: &Dataset,
        test: Option<&Dataset>,
        options: CudaOptions,
    ) -> Result<Self> {
        let p = spec.num_params();
        let mut gpu = Gpu::open(options.device, options.tf32, p)?;
        gpu.bind()?;
        smoke_test(&mut gpu)?;
        let (free, total) = gpu.memory()?;
        let need = device_estimate(spec, train, test, &options);
        check_device_fits(
            need,
            free,
            total,
            &format!("training {} on {}", spec.describe(), gpu.name()),
        )?;
        let layers = spec
            .slots()
            .iter()
            .zip(spec.activations())
            .map(|(s, &act)| Layer {
                fan_in: s.fan_in,
                fan_out: s.fan_out,
                weights: s.weights,
                biases: s.biases,
                act,
            })
            .collect();
        let train = DeviceData::upload(&gpu, train)?;
        let test = test.map(|t| DeviceData::upload(&gpu, t)).transpose()?;
        Ok(CudaBackend {
            spec: spec.clone(),
            layers,
            theta: gpu.alloc(p)?,
            grad: gpu.alloc(p)?,
            stat: gpu.alloc(p)?,
            v: gpu.alloc(p)?,
            out: gpu.alloc(p)?,
            sums: gpu.alloc(2)?,
            gpu,
            train,
            test,
            eval_chunk: if options.eval_chunk == 0 {
                DEFAULT_EVAL_CHUNK
            } else {
                options.eval_chunk
            },
            eval: None,
            curvature: None,
            host_cg: options.host_cg,
        })
    }

    /// The device's name.
    pub fn device_name(&self) -> &str {
        self.gpu.name()
    }

    /// Whether GEMMs use TF32 tensor cores.
    pub fn tf32(&self) -> bool {
        self.gpu.tf32()
    }

    /// Free and total device memory in bytes.
    pub fn device_memory(&self) -> Result<(usize, usize)> {
        self.gpu.memory()
    }

    /// Uploads `v` as the vector of [`CudaBackend::product_on_device`]
    /// (benchmarks: separates the product from the host transfers).
    pub fn upload_vector(&mut self, v: &[f32]) -> Result<()> {
        self.check_len("v", v.len())?;
        self.gpu.bind()?;
        self.gpu.upload(v, self.v.ptr())?;
        self.gpu.sync()
    }

    /// `C·v` for the last uploaded `v`, left on the device; waits for the
    /// GPU to finish (benchmarks time exactly the device work this way).
    pub fn product_on_device(&mut self) -> Result<()> {
        self.gpu.bind()?;
        self.enqueue_product()?;
        self.gpu.sync()
    }

    /// Downloads the result of the last product.
    pub fn download_product(&mut self, out: &mut [f32]) -> Result<()> {
        self.check_len("output buffer", out.len())?;
        self.gpu.bind()?;
        self.gpu.download(self.out.ptr(), out)
    }

    /// Fails with `ResourceLimit` when `bytes` more (plus a margin) would
    /// not fit in the device's free memory: a clear error instead of an
    /// allocation failing half-way.
    fn check_fits(&self, bytes: u128, what: &str) -> Result<()> {
        // Buffers just dropped are freed in stream order: wait, so that the
        // free memory includes them.
        self.gpu.sync()?;
        let (free, total) = self.gpu.memory()?;
        check_device_fits(bytes + device_margin(bytes), free, total, what)
    }

    fn check_len(&self, what: &str, len: usize) -> Result<()> {
        crate::backend::check_param_len(what, len, self.spec.num_params())
    }

    fn data(&self, split: Split) -> Result<&DeviceData> {
        match split {
            Split::Train => Ok(&self.train),
            Split::Test => self
                .test
                .as_ref()
                .ok_or_else(|| Error::invalid("no test set was given")),
        }
    }

    /// Allocates a workspace for `cap` examples (with the statistic's squares
    /// when `squares`) and, for curvature, the products' scratch.
    fn workspace(&self, cap: usize, squares: bool) -> Result<Workspace> {
        let gpu = &self.gpu;
        let l_count = self.layers.len();
        let mut hidden = Vec::with_capacity(l_count - 1);
        for g in &self.layers[..l_count - 1] {
            let ld = ld_aug(g.fan_out);
            let buf = gpu.alloc::<f32>(size(ld, cap)?)?;
            gpu.fill_row(M { ptr: buf.ptr(), ld }, g.fan_out, cap, 1.0)?;
            hidden.push(buf);
        }
        let out_dim = self.spec.output_dim();
        let deltas = self
            .layers
            .iter()
            .map(|g| gpu.alloc::<f32>(size(ld_pad(g.fan_out), cap)?))
            .collect::<Result<Vec<_>>>()?;
        let squares = if squares {
            let max_in = self.layers.iter().map(|g| g.fan_in).max().unwrap_or(1);
            let max_out = self.layers.iter().map(|g| g.fan_out).max().unwrap_or(1);
            Some((
                gpu.alloc::<f32>(size(ld_aug(max_in), cap)?)?,
                gpu.alloc::<f32>(size(ld_pad(max_out), cap)?)?,
            ))
        } else {
            None
        };
        Ok(Workspace {
            cap,
            hidden,
            z_out: gpu.alloc(size(out_dim, cap)?)?,
            y: gpu.alloc(size(out_dim, cap)?)?,
            deltas,
            per_ex: gpu.alloc(size(2, cap)?)?,
            squares,
        })
    }

    fn scratch(&self, cap: usize, kind: CurvatureKind) -> Result<Scratch> {
        let gpu = &self.gpu;
        let l_count = self.layers.len();
        let hidden = &self.layers[..l_count - 1];
        let per_hidden = |on: bool| -> Result<Vec<DevBuf<f32>>> {
            if !on {
                return Ok(Vec::new());
            }
            hidden
                .iter()
                .map(|g| gpu.alloc::<f32>(size(ld_pad(g.fan_out), cap)?))
                .collect()
        };
        let hessian = kind == CurvatureKind::Hessian;
        let max_hidden = hidden.iter().map(|g| g.fan_out).max().unwrap_or(1);
        Ok(Scratch {
            rz: self
                .layers
                .iter()
                .map(|g| gpu.alloc::<f32>(size(ld_pad(g.fan_out), cap)?))
                .collect::<Result<Vec<_>>>()?,
            ra: per_hidden(hessian)?,
            pre: per_hidden(hessian)?,
            back: (0..2)
                .map(|_| gpu.alloc::<f32>(size(ld_pad(max_hidden), cap)?))
                .collect::<Result<Vec<_>>>()?,
            s: if kind == CurvatureKind::EmpiricalFisher {
                Some(gpu.alloc(cap)?)
            } else {
                None
            },
        })
    }

    /// Makes sure the pass workspace holds `cap` examples (and the squares).
    fn ensure_eval(&mut self, cap: usize, squares: bool) -> Result<()> {
        let fits = self
            .eval
            .as_ref()
            .is_some_and(|w| w.cap >= cap && (w.squares.is_some() || !squares));
        if !fits {
            self.eval = None; // free the old buffers before allocating new ones
            let bytes = workspace_bytes(&self.spec, cap, squares);
            self.check_fits(bytes, &format!("a pass over {cap} examples"))?;
            self.eval = Some(self.workspace(cap, squares)?);
        }
        Ok(())
    }

    /// Makes sure the sums buffer holds `pairs` (loss, error) pairs.
    fn ensure_sums(&mut self, pairs: usize) -> Result<()> {
        if self.sums.len() < 2 * pairs {
            self.sums = self.gpu.alloc(size(2, pairs)?)?;
        }
        Ok(())
    }

    /// Enqueues `out = C·v` on the cached chunk for the backend's own
    /// product vectors.
    fn enqueue_product(&self) -> Result<()> {
        self.enqueue_product_into(&self.v, &self.out)
    }

    /// A new device vector holding `x` (uploaded through the staging buffer).
    fn device_copy(&mut self, x: &[f32]) -> Result<DevBuf<f32>> {
        let buf = self.gpu.alloc::<f32>(x.len())?;
        self.gpu.upload(x, buf.ptr())?;
        Ok(buf)
    }

    /// Enqueues `out = C·v` on the cached chunk (both parameter-sized).
    fn enqueue_product_into(&self, v: &DevBuf<f32>, out: &DevBuf<f32>) -> Result<()> {
        let state = self
            .curvature
            .as_ref()
            .ok_or_else(|| Error::invalid("curvature product requested before a chunk was set"))?;
        let pass = self.pass();
        let x = self.train.x(state.chunk.start);
        let t = self.train.t(state.chunk.start);
        let n = state.chunk.len;
        match state.kind {
            CurvatureKind::GaussNewton | CurvatureKind::Hessian => {
                pass.gn_or_hessian(state, v, out, x, t, n, state.kind == CurvatureKind::Hessian)
            }
            CurvatureKind::EmpiricalFisher => pass.fisher(state, v, out, x, n),
        }
    }

    fn pass(&self) -> Pass<'_> {
        Pass {
            gpu: &self.gpu,
            layers: &self.layers,
            loss: self.spec.loss(),
        }
    }

    /// Mean loss on examples `start..start+len` of the training set at the
    /// uploaded θ, in pass-sized slices.
    fn mean_loss_on(&mut self, start: usize, len: usize) -> Result<f64> {
        let slice = self.eval_chunk.min(len);
        self.ensure_eval(slice, false)?;
        let slices = len.div_ceil(slice);
        self.ensure_sums(slices)?;
        let ws = self.eval.as_ref().ok_or_else(no_workspace)?;
        let pass = self.pass();
        for k in 0..slices {
            let s0 = start + k * slice;
            let n = slice.min(start + len - s0);
            pass.forward(&self.theta, self.train.x(s0), ws, n)?;
            pass.losses(ws, self.train.t(s0), n, false, self.sums.at(2 * k))?;
        }
        let sums = self.gpu.download_f64(self.sums.ptr(), 2 * slices)?;
        Ok(sums.iter().step_by(2).sum::<f64>() / len as f64)
    }

    /// One pass over examples `start..start+len` of a split (validated by
    /// the callers): mean loss and error over those examples and, on request,
    /// their mean gradient and statistic. Only θ goes up and the requested
    /// vectors and two sums per slice come down.
    fn evaluate_rows(
        &mut self,
        theta: &[f32],
        split: Split,
        first: usize,
        total: usize,
        grad: Option<&mut [f32]>,
        stat: Option<&mut [f32]>,
    ) -> Result<PassResult> {
        crate::backend::check_pass_buffers(&self.spec, theta, grad.as_deref(), stat.as_deref())?;
        if total == 0 {
            return Err(Error::invalid("a pass over no examples has no mean"));
        }
        let slice = self.eval_chunk.min(total);
        let slices = total.div_ceil(slice);
        let p = self.spec.num_params();
        self.gpu.bind()?;
        self.ensure_eval(slice, stat.is_some())?;
        self.ensure_sums(slices)?;
        self.gpu.upload(theta, self.theta.ptr())?;
        let (want_grad, want_stat) = (grad.is_some(), stat.is_some() && grad.is_some());
        if want_grad {
            self.gpu.zero(self.grad.ptr(), p)?;
        }
        if want_stat {
            self.gpu.zero(self.stat.ptr(), p)?;
        }
        {
            let data = self.data(split)?;
            let ws = self.eval.as_ref().ok_or_else(no_workspace)?;
            let pass = self.pass();
            let scale = 1.0 / total as f32;
            for k in 0..slices {
                let start = first + k * slice;
                let n = slice.min(first + total - start);
                let x = data.x(start);
                pass.forward(&self.theta, x, ws, n)?;
                pass.losses(ws, data.t(start), n, want_grad, self.sums.at(2 * k))?;
                if want_grad {
                    let stat_buf = want_stat.then_some(&self.stat);
                    pass.backward_gradient(&self.theta, x, ws, n, scale, &self.grad, stat_buf)?;
                }
            }
        }
        let sums = self.gpu.download_f64(self.sums.ptr(), 2 * slices)?;
        if let Some(g) = grad {
            self.gpu.download(self.grad.ptr(), g)?;
        }
        match stat {
            Some(s) if want_stat => self.gpu.download(self.stat.ptr(), s)?,
            // A statistic without a gradient is never asked for by the
            // objective; compute it the simple way rather than fail.
            Some(s) => {
                let mut g = vec![0.0f32; p];
                self.evaluate_rows(theta, split, first, total, Some(&mut g), Some(s))?;
            }
            None => {}
        }
        let loss_sum: f64 = sums.iter().step_by(2).sum();
        let err_sum: f64 = sums.iter().skip(1).step_by(2).sum();
        Ok(PassResult {
            loss: loss_sum / total as f64,
            error: err_sum / total as f64,
            examples: total,
        })
    }
}

fn no_workspace() -> Error {
    Error::new(
        ErrorKind::Internal,
        "the CUDA pass workspace was not allocated",
    )
}

/// Exercises every kind of driver and cuBLAS call the backend makes (staged
/// transfers both ways, a GEMM, a kernel launch, a double download), so that
/// a library lacking a symbol fails here, inside `catch_unwind`, and a broken
/// device is reported before training starts.
fn smoke_test(gpu: &mut Gpu) -> Result<()> {
    let buf = gpu.alloc::<f32>(4)?;
    gpu.upload(&[1.0, 2.0, 3.0, 0.0], buf.ptr())?;
    let at = |i: usize| M {
        ptr: buf.at(i),
        ld: 1,
    };
    gpu.gemm(Op::N, Op::N, (1, 1, 1), 1.0, at(1), at(2), 0.0, at(3))?;
    gpu.fill_row(at(0), 0, 1, 5.0)?;
    let sums = gpu.alloc::<f64>(2)?;
    let zeros = gpu.download_f64(sums.ptr(), 2)?;
    let mut got = [0.0f32; 4];
    gpu.download(buf.ptr(), &mut got)?;
    if got != [5.0, 2.0, 3.0, 6.0] || zeros != [0.0, 0.0] {
        return Err(Error::new(
            ErrorKind::BackendUnavailable,
            format!("the CUDA self-test computed {got:?} and {zeros:?} (expected [5, 2, 3, 6] and [0, 0])"),
        ));
    }
    Ok(())
}

impl Backend for CudaBackend {
    fn name(&self) -> String {
        let tf32 = if self.gpu.tf32() { ", tf32" } else { "" };
        let cg = if self.host_cg { ", CG on the host" } else { "" };
        format!("cuda ({}{tf32}{cg})", self.gpu.name())
    }

    fn spec(&self) -> &NetSpec {
        &self.spec
    }

    fn num_examples(&self, split: Split) -> usize {
        self.data(split).map(|d| d.n).unwrap_or(0)
    }

    fn evaluate(
        &mut self,
        theta: &[f32],
        split: Split,
        grad: Option<&mut [f32]>,
        stat: Option<&mut [f32]>,
    ) -> Result<PassResult> {
        let total = self.data(split)?.n;
        self.evaluate_rows(theta, split, 0, total, grad, stat)
    }

    fn evaluate_range(
        &mut self,
        theta: &[f32],
        split: Split,
        start: usize,
        len: usize,
        grad: Option<&mut [f32]>,
    ) -> Result<PassResult> {
        let n = self.data(split)?.n;
        crate::backend::cpu::check_row_range(start, len, n)?;
        self.evaluate_rows(theta, split, start, len, grad, None)
    }

    fn set_chunk(&mut self, theta: &[f32], chunk: Chunk, kind: CurvatureKind) -> Result<()> {
        self.check_len("theta", theta.len())?;
        let n = self.train.n;
        let inside = matches!(chunk.start.checked_add(chunk.len), Some(end) if end <= n);
        if chunk.len == 0 || !inside {
            return Err(Error::out_of_range(format!(
                "curvature chunk {}..{}+{} lies outside the {n} training examples",
                chunk.start, chunk.start, chunk.len
            )));
        }
        self.gpu.bind()?;
        let reuse = self
            .curvature
            .as_ref()
            .is_some_and(|s| s.kind == kind && s.ws.cap >= chunk.len);
        if !reuse {
            self.curvature = None; // free the old cache before building the new one
            let bytes = curvature_bytes(&self.spec, chunk.len, kind);
            self.check_fits(
                bytes,
                &format!("a {kind:?} curvature chunk of {} examples", chunk.len),
            )?;
            let state = CurvatureState {
                chunk,
                kind,
                theta: self.gpu.alloc(self.spec.num_params())?,
                ws: self.workspace(chunk.len, false)?,
                scratch: self.scratch(chunk.len, kind)?,
            };
            self.curvature = Some(state);
        }
        self.ensure_sums(1)?;
        let state = self.curvature.as_mut().ok_or_else(no_workspace)?;
        state.chunk = chunk;
        self.gpu.upload(theta, state.theta.ptr())?;
        let state = self.curvature.as_ref().ok_or_else(no_workspace)?;
        let pass = self.pass();
        let (x, t) = (self.train.x(chunk.start), self.train.t(chunk.start));
        pass.forward(&state.theta, x, &state.ws, chunk.len)?;
        if kind != CurvatureKind::GaussNewton {
            pass.chunk_deltas(
                &state.theta,
                &state.ws,
                &state.scratch,
                t,
                chunk.len,
                self.sums.ptr(),
            )?;
        }
        self.gpu.sync()
    }

    fn curvature_product(&mut self, v: &[f32], out: &mut [f32]) -> Result<()> {
        self.check_len("v", v.len())?;
        self.check_len("output buffer", out.len())?;
        if self.curvature.is_none() {
            return Err(Error::invalid(
                "curvature product requested before a chunk was set",
            ));
        }
        self.gpu.bind()?;
        self.gpu.upload(v, self.v.ptr())?;
        self.enqueue_product()?;
        self.gpu.download(self.out.ptr(), out)
    }

    fn solve_damped(
        &mut self,
        system: &DampedSystem<'_>,
        weight_cost: WeightCost<'_>,
        x0: &[f32],
        opts: &CgOptions,
    ) -> Result<Option<CgResult>> {
        if self.host_cg {
            return Ok(None);
        }
        self.check_len("right-hand side", system.b.len())?;
        self.check_len("starting point", x0.len())?;
        self.check_len("weight-cost mask", weight_cost.mask.len())?;
        if let Some(m) = system.precond {
            self.check_len("preconditioner", m.len())?;
        }
        if self.curvature.is_none() {
            return Err(Error::invalid(
                "CG requested before a curvature chunk was set",
            ));
        }
        self.gpu.bind()?;
        let p = self.spec.num_params();
        let fits = self.check_fits(
            cg_device_bytes(p),
            &format!("CG's {CG_DEVICE_VECTORS} vectors of {p} parameters"),
        );
        match fits {
            // Too little device memory left (say, after a chunk grew): the
            // host loop over the same products computes the same solve, only
            // with the vectors crossing the bus, so the run goes on.
            Err(e) if e.kind() == ErrorKind::ResourceLimit => return Ok(None),
            other => other?,
        }
        let mut space = DeviceSpace::new(self, system, weight_cost)?;
        hf_cg::solve_in(&mut space, x0, opts).map(Some)
    }

    fn chunk_loss(&mut self, theta: &[f32]) -> Result<f64> {
        self.check_len("theta", theta.len())?;
        let chunk = self
            .curvature
            .as_ref()
            .map(|s| s.chunk)
            .ok_or_else(|| Error::invalid("chunk loss requested before a chunk was set"))?;
        self.gpu.bind()?;
        self.gpu.upload(theta, self.theta.ptr())?;
        self.mean_loss_on(chunk.start, chunk.len)
    }

    fn predict(&mut self, theta: &[f32], x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        self.check_len("theta", theta.len())?;
        let d = self.spec.input_dim();
        if x.ncols() != d {
            return Err(Error::shape(format!(
                "inputs are {} wide, the network takes {d}",
                x.ncols()
            )));
        }
        let rows = x.nrows();
        let out_dim = self.spec.output_dim();
        let mut y = Array2::<f32>::zeros((rows, out_dim));
        if rows == 0 {
            return Ok(y);
        }
        let x = x.as_standard_layout();
        let host = x.as_slice().ok_or_else(|| {
            Error::new(
                ErrorKind::Internal,
                "standard-layout inputs are not contiguous",
            )
        })?;
        let slice = self.eval_chunk.min(rows);
        self.gpu.bind()?;
        self.ensure_eval(slice, false)?;
        self.gpu.upload(theta, self.theta.ptr())?;
        let raw = self.gpu.alloc::<f32>(size(d, slice)?)?;
        let aug = self.gpu.alloc::<f32>(size(ld_aug(d), slice)?)?;
        let out = y
            .as_slice_mut()
            .ok_or_else(|| Error::new(ErrorKind::Internal, "a new array is not contiguous"))?;
        let mut start = 0;
        while start < rows {
            let n = slice.min(rows - start);
            self.gpu
                .upload_direct(&host[start * d..(start + n) * d], raw.ptr())?;
            let xin = M {
                ptr: aug.ptr(),
                ld: ld_aug(d),
            };
            self.gpu.augment(
                xin,
                M {
                    ptr: raw.ptr(),
                    ld: d,
                },
                d,
                n,
            )?;
            let ws = self.eval.as_ref().ok_or_else(no_workspace)?;
            self.pass().forward(&self.theta, xin, ws, n)?;
            let y_ptr = ws.y.ptr();
            self.gpu
                .download(y_ptr, &mut out[start * out_dim..(start + n) * out_dim])?;
            start += n;
        }
        Ok(y)
    }
}
