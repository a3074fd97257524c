//! The CUDA backend: cuBLAS GEMMs and fused NVRTC kernels on one GPU.
//!
//! **What lives where.** The training and test sets are uploaded once, as
//! column-major `(D+1) × N` matrices (one example per column, the row-major
//! `N × D` host layout read the other way) with a row of ones appended: the
//! bias input. θ, the gradient, the statistic, the CG vector in and out, the
//! cached chunk's activations (and, for the Hessian and empirical Fisher, its
//! deltas) all stay on the device. Only scalars (loss sums) and the
//! parameter-sized vectors of the host API cross the bus: per curvature
//! product `v` goes up and `C·v` comes down (P floats each way, 11 MB for the
//! MNIST autoencoder), because the optimizer keeps its CG vectors on the host.
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
//! Reductions that decide something (losses) run per example in f64 and are
//! summed in one block in a fixed order: results are deterministic for a
//! given device, and so are cuBLAS's FP32 GEMMs on one stream.

mod device;

use std::panic::{catch_unwind, AssertUnwindSafe};

use ndarray::{Array2, ArrayView2};

use self::device::{probe_libraries, DevBuf, Gpu, Op, M};
pub use self::device::KERNEL_SOURCE;
use super::{check_data_fits, Backend, PassResult, Split, DEFAULT_EVAL_CHUNK};
use crate::data::Dataset;
use crate::error::{Error, ErrorKind, Result};
use crate::hf::{Chunk, CurvatureKind};
use crate::net::{Activation, Loss, NetSpec};

/// Environment variable selecting the GPU (an ordinal, default 0).
pub const DEVICE_ENV: &str = "HESSFREE_CUDA_DEVICE";

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
}

impl CudaOptions {
    /// Options with the device taken from `HESSFREE_CUDA_DEVICE` (default 0).
    pub fn from_env(tf32: bool, eval_chunk: usize) -> Result<Self> {
        let device = match std::env::var(DEVICE_ENV) {
            Ok(s) => s.trim().parse::<usize>().map_err(|_| {
                Error::out_of_range(format!(
                    "{DEVICE_ENV}={s:?} is not a device ordinal (0, 1, …)"
                ))
            })?,
            Err(_) => 0,
        };
        Ok(CudaOptions {
            device,
            tf32,
            eval_chunk,
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

/// Leading dimension of an activation with `rows` units plus the ones row,
/// padded to 4 floats so that every column starts 16-byte aligned.
fn ld_aug(rows: usize) -> usize {
    (rows + 1).next_multiple_of(4)
}

/// Leading dimension of a plain `rows`-row matrix, padded to 4 floats.
fn ld_pad(rows: usize) -> usize {
    rows.next_multiple_of(4)
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

/// The loss code the kernels use.
fn loss_code(loss: Loss) -> u32 {
    match loss {
        Loss::CrossEntropy => 0,
        Loss::SquaredError => 1,
        Loss::SoftmaxCrossEntropy => 2,
    }
}

/// One weight layer's shape, place in θ and activation.
#[derive(Clone, Copy, Debug)]
struct Layer {
    fan_in: usize,
    fan_out: usize,
    weights: usize,
    biases: usize,
    act: Activation,
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
            gpu.augment(dst, M { ptr: tmp.ptr(), ld: d }, d, len)?;
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

/// Activations, deltas and loss scratch for passes over up to `cap` examples.
struct Workspace {
    cap: usize,
    /// Outputs of the hidden layers, augmented with the ones row.
    hidden: Vec<DevBuf<f32>>,
    /// Output pre-activations (bias included) and outputs, `s_L × cap`.
    z_out: DevBuf<f32>,
    y: DevBuf<f32>,
    /// `deltas[l] = ∂ℓ/∂z_l` per example.
    deltas: Vec<DevBuf<f32>>,
    /// Per-example losses then errors (2·cap).
    per_ex: DevBuf<f64>,
    /// Squared activations and deltas for the statistic (when asked for).
    squares: Option<(DevBuf<f32>, DevBuf<f32>)>,
}

/// What curvature products need beyond a workspace.
struct Scratch {
    /// `R{z_l}` (Gauss-Newton: `R{a_l}` in place), and the Fisher's temporaries.
    rz: Vec<DevBuf<f32>>,
    /// `R{a_l}` of hidden layers (Hessian only).
    ra: Vec<DevBuf<f32>>,
    /// `δ_{l+1}·W_{l+1}ᵀ` before the derivative (Hessian only).
    pre: Vec<DevBuf<f32>>,
    /// Ping-pong buffers of the backward pass.
    back: Vec<DevBuf<f32>>,
    /// Per-example `g_nᵀv` (empirical Fisher only).
    s: Option<DevBuf<f32>>,
}

/// The cached curvature chunk.
struct CurvatureState {
    chunk: Chunk,
    kind: CurvatureKind,
    theta: DevBuf<f32>,
    ws: Workspace,
    scratch: Scratch,
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

    fn check_len(&self, what: &str, len: usize) -> Result<()> {
        if len != self.spec.num_params() {
            return Err(Error::shape(format!(
                "{what} has {len} entries, the network has {} parameters",
                self.spec.num_params()
            )));
        }
        Ok(())
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

    /// Enqueues `out = C·v` on the cached chunk.
    fn enqueue_product(&self) -> Result<()> {
        let state = self
            .curvature
            .as_ref()
            .ok_or_else(|| Error::invalid("curvature product requested before a chunk was set"))?;
        let pass = self.pass();
        let x = self.train.x(state.chunk.start);
        let t = self.train.t(state.chunk.start);
        let n = state.chunk.len;
        match state.kind {
            CurvatureKind::GaussNewton | CurvatureKind::Hessian => pass.gn_or_hessian(
                state,
                &self.v,
                &self.out,
                x,
                t,
                n,
                state.kind == CurvatureKind::Hessian,
            ),
            CurvatureKind::EmpiricalFisher => pass.fisher(state, &self.v, &self.out, x, n),
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

/// The network's passes, enqueued on the GPU.
struct Pass<'a> {
    gpu: &'a Gpu,
    layers: &'a [Layer],
    loss: Loss,
}

impl Pass<'_> {
    fn last(&self) -> usize {
        self.layers.len() - 1
    }

    /// The (augmented) input of layer `l`.
    fn input(&self, ws: &Workspace, x: M, l: usize) -> M {
        if l == 0 {
            x
        } else {
            self.hidden(ws, l - 1)
        }
    }

    /// The output of hidden layer `l` (augmented).
    fn hidden(&self, ws: &Workspace, l: usize) -> M {
        M {
            ptr: ws.hidden[l].ptr(),
            ld: ld_aug(self.layers[l].fan_out),
        }
    }

    /// The per-example deltas of layer `l`.
    fn delta(&self, ws: &Workspace, l: usize) -> M {
        M {
            ptr: ws.deltas[l].ptr(),
            ld: ld_pad(self.layers[l].fan_out),
        }
    }

    /// A per-layer scratch matrix with layer `l`'s output rows.
    fn per_layer(&self, bufs: &[DevBuf<f32>], l: usize) -> M {
        M {
            ptr: bufs[l].ptr(),
            ld: ld_pad(self.layers[l].fan_out),
        }
    }

    fn output(&self, buf: &DevBuf<f32>) -> M {
        M {
            ptr: buf.ptr(),
            ld: self.layers[self.last()].fan_out,
        }
    }

    /// Layer `l`'s weights `W` (column-major `fan_out × fan_in`) in `params`;
    /// with the ones row, the same address read as `fan_out × (fan_in+1)` is `[W | b]`.
    fn weights(&self, params: &DevBuf<f32>, l: usize) -> M {
        let g = &self.layers[l];
        M {
            ptr: params.at(g.weights),
            ld: g.fan_out,
        }
    }

    /// Forward pass over `n` examples from `x` at θ: hidden activations, output
    /// pre-activations and outputs into `ws`.
    fn forward(&self, theta: &DevBuf<f32>, x: M, ws: &Workspace, n: usize) -> Result<()> {
        for (l, g) in self.layers.iter().enumerate() {
            let inp = self.input(ws, x, l);
            let w = self.weights(theta, l);
            let bias = theta.at(g.biases);
            let dims = (g.fan_out, n, g.fan_in);
            if l < self.last() {
                let out = self.hidden(ws, l);
                self.gpu.gemm(Op::N, Op::N, dims, 1.0, w, inp, 0.0, out)?;
                self.gpu
                    .bias_act(out, bias, None, out, g.fan_out, n, g.act.code())?;
            } else {
                let (z, y) = (self.output(&ws.z_out), self.output(&ws.y));
                self.gpu.gemm(Op::N, Op::N, dims, 1.0, w, inp, 0.0, z)?;
                if g.act == Activation::Softmax {
                    self.gpu.softmax_cols(z, bias, z, y, g.fan_out, n)?;
                } else {
                    self.gpu
                        .bias_act(z, bias, Some(z), y, g.fan_out, n, g.act.code())?;
                }
            }
        }
        Ok(())
    }

    /// Per-example losses of the last forward pass summed into `sums_at`
    /// (loss, error); with `delta`, the output deltas into `ws.deltas`.
    fn losses(&self, ws: &Workspace, t: M, n: usize, delta: bool, sums_at: u64) -> Result<()> {
        let last = self.last();
        let (z, y) = (self.output(&ws.z_out), self.output(&ws.y));
        let d = delta.then(|| self.delta(ws, last));
        let rows = self.layers[last].fan_out;
        let per_ex = ws.per_ex.ptr();
        self.gpu
            .loss_cols(z, y, t, rows, n, loss_code(self.loss), per_ex, d)?;
        self.gpu.sum_losses(per_ex, n, sums_at)
    }

    /// Backpropagates the output deltas of the last pass, adding
    /// `scale·Σ_n ∇ℓ_n` to `grad` and, with `stat`, `scale·Σ_n (∇ℓ_n)²`.
    #[allow(clippy::too_many_arguments)]
    fn backward_gradient(
        &self,
        theta: &DevBuf<f32>,
        x: M,
        ws: &Workspace,
        n: usize,
        scale: f32,
        grad: &DevBuf<f32>,
        stat: Option<&DevBuf<f32>>,
    ) -> Result<()> {
        for l in (0..self.layers.len()).rev() {
            let g = self.layers[l];
            let (inp, d) = (self.input(ws, x, l), self.delta(ws, l));
            let dims = (g.fan_out, g.fan_in + 1, n);
            let gw = self.weights(grad, l);
            self.gpu.gemm(Op::N, Op::T, dims, scale, d, inp, 1.0, gw)?;
            if let (Some(stat), Some((sq_a, sq_d))) = (stat, ws.squares.as_ref()) {
                let max_in = self.layers.iter().map(|g| g.fan_in).max().unwrap_or(1);
                let max_out = self.layers.iter().map(|g| g.fan_out).max().unwrap_or(1);
                let sa = M {
                    ptr: sq_a.ptr(),
                    ld: ld_aug(max_in),
                };
                let sd = M {
                    ptr: sq_d.ptr(),
                    ld: ld_pad(max_out),
                };
                self.gpu.square(sd, d, g.fan_out, n)?;
                self.gpu.square(sa, inp, g.fan_in + 1, n)?;
                let sw = self.weights(stat, l);
                self.gpu.gemm(Op::N, Op::T, dims, scale, sd, sa, 1.0, sw)?;
            }
            if l > 0 {
                self.delta_to_previous(theta, ws, l, None, n)?;
            }
        }
        Ok(())
    }

    /// `δ_{l−1} = (W_lᵀ δ_l) ⊙ f'(a_{l−1})`; with `pre`, the product before
    /// the derivative is kept there (the Hessian's cached term).
    fn delta_to_previous(
        &self,
        theta: &DevBuf<f32>,
        ws: &Workspace,
        l: usize,
        pre: Option<M>,
        n: usize,
    ) -> Result<()> {
        let g = self.layers[l];
        let prev = self.delta(ws, l - 1);
        let target = pre.unwrap_or(prev);
        let dims = (g.fan_in, n, g.fan_out);
        let w = self.weights(theta, l);
        self.gpu
            .gemm(Op::T, Op::N, dims, 1.0, w, self.delta(ws, l), 0.0, target)?;
        let act = self.layers[l - 1].act.code();
        self.gpu
            .deriv_mul(prev, target, self.hidden(ws, l - 1), g.fan_in, n, act)
    }

    /// All per-example deltas of a chunk (Hessian and Fisher caches).
    fn chunk_deltas(
        &self,
        theta: &DevBuf<f32>,
        ws: &Workspace,
        scratch: &Scratch,
        t: M,
        n: usize,
        sums_at: u64,
    ) -> Result<()> {
        self.losses(ws, t, n, true, sums_at)?;
        for l in (1..self.layers.len()).rev() {
            let pre = (!scratch.pre.is_empty()).then(|| self.per_layer(&scratch.pre, l - 1));
            self.delta_to_previous(theta, ws, l, pre, n)?;
        }
        Ok(())
    }

    /// Gauss-Newton (Schraudolph's R-op) or, with `hessian`, exact Hessian
    /// (Pearlmutter) product `out = C·v` on the cached chunk.
    #[allow(clippy::too_many_arguments)]
    fn gn_or_hessian(
        &self,
        state: &CurvatureState,
        v: &DevBuf<f32>,
        out: &DevBuf<f32>,
        x: M,
        t: M,
        n: usize,
        hessian: bool,
    ) -> Result<()> {
        let (ws, sc, theta) = (&state.ws, &state.scratch, &state.theta);
        let last = self.last();
        let ra = |l: usize| {
            if hessian {
                self.per_layer(&sc.ra, l)
            } else {
                self.per_layer(&sc.rz, l)
            }
        };
        // R-forward: R{z_l} = [V|v_b]·[a_{l−1}; 1] + W_l·R{a_{l−1}}.
        for (l, g) in self.layers.iter().enumerate() {
            let (inp, rz) = (self.input(ws, x, l), self.per_layer(&sc.rz, l));
            let vw = self.weights(v, l);
            self.gpu
                .gemm(Op::N, Op::N, (g.fan_out, n, g.fan_in + 1), 1.0, vw, inp, 0.0, rz)?;
            if l > 0 {
                let w = self.weights(theta, l);
                self.gpu
                    .gemm(Op::N, Op::N, (g.fan_out, n, g.fan_in), 1.0, w, ra(l - 1), 1.0, rz)?;
            }
            if l < last {
                let a = self.hidden(ws, l);
                self.gpu
                    .deriv_mul(ra(l), rz, a, g.fan_out, n, g.act.code())?;
            } else {
                // R{∂ℓ/∂z_L} = H_L · R{z_L}, in place.
                let y = self.output(&ws.y);
                if self.loss == Loss::SoftmaxCrossEntropy {
                    self.gpu.loss_hess_softmax(rz, y, t, g.fan_out, n)?;
                } else {
                    self.gpu
                        .loss_hess_elem(rz, y, g.fan_out, n, loss_code(self.loss))?;
                }
            }
        }
        // Backward: out_l = mean_n R{δ_l}·[a_{l−1}; 1]ᵀ (+ δ_l·R{a_{l−1}}ᵀ).
        let scale = 1.0 / n as f32;
        let mut rd = self.per_layer(&sc.rz, last);
        for l in (0..self.layers.len()).rev() {
            let g = self.layers[l];
            let inp = self.input(ws, x, l);
            let ow = self.weights(out, l);
            self.gpu
                .gemm(Op::N, Op::T, (g.fan_out, g.fan_in + 1, n), scale, rd, inp, 0.0, ow)?;
            if l == 0 {
                break;
            }
            let d_l = self.delta(ws, l);
            if hessian {
                self.gpu
                    .gemm(Op::N, Op::T, (g.fan_out, g.fan_in, n), scale, d_l, ra(l - 1), 1.0, ow)?;
            }
            let p = M {
                ptr: sc.back[(last - l) % 2].ptr(),
                ld: ld_pad(g.fan_in),
            };
            let dims = (g.fan_in, n, g.fan_out);
            let w = self.weights(theta, l);
            self.gpu.gemm(Op::T, Op::N, dims, 1.0, w, rd, 0.0, p)?;
            let (a, act) = (self.hidden(ws, l - 1), self.layers[l - 1].act.code());
            if hessian {
                let vw = self.weights(v, l);
                self.gpu.gemm(Op::T, Op::N, dims, 1.0, vw, d_l, 1.0, p)?;
                let (e, rz) = (self.per_layer(&sc.pre, l - 1), self.per_layer(&sc.rz, l - 1));
                self.gpu.hess_back(p, e, a, rz, g.fan_in, n, act)?;
            } else {
                self.gpu.deriv_mul(p, p, a, g.fan_in, n, act)?;
            }
            rd = p;
        }
        Ok(())
    }

    /// Empirical Fisher product `out = mean_n g_n (g_nᵀ v)`.
    fn fisher(
        &self,
        state: &CurvatureState,
        v: &DevBuf<f32>,
        out: &DevBuf<f32>,
        x: M,
        n: usize,
    ) -> Result<()> {
        let (ws, sc) = (&state.ws, &state.scratch);
        let s = sc.s.as_ref().ok_or_else(|| {
            Error::new(ErrorKind::Internal, "the Fisher scratch was not allocated")
        })?;
        self.gpu.zero(s.ptr(), n)?;
        for (l, g) in self.layers.iter().enumerate() {
            let (inp, u) = (self.input(ws, x, l), self.per_layer(&sc.rz, l));
            let vw = self.weights(v, l);
            self.gpu
                .gemm(Op::N, Op::N, (g.fan_out, n, g.fan_in + 1), 1.0, vw, inp, 0.0, u)?;
            self.gpu
                .col_dot_acc(u, self.delta(ws, l), g.fan_out, n, s.ptr())?;
        }
        let scale = 1.0 / n as f32;
        for (l, g) in self.layers.iter().enumerate() {
            let (inp, wd) = (self.input(ws, x, l), self.per_layer(&sc.rz, l));
            self.gpu
                .scale_cols(wd, self.delta(ws, l), s.ptr(), g.fan_out, n)?;
            let ow = self.weights(out, l);
            self.gpu
                .gemm(Op::N, Op::T, (g.fan_out, g.fan_in + 1, n), scale, wd, inp, 0.0, ow)?;
        }
        Ok(())
    }
}

impl Backend for CudaBackend {
    fn name(&self) -> String {
        let tf32 = if self.gpu.tf32() { ", tf32" } else { "" };
        format!("cuda ({}{tf32})", self.gpu.name())
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
        self.check_len("theta", theta.len())?;
        if let Some(g) = grad.as_ref() {
            self.check_len("gradient buffer", g.len())?;
        }
        if let Some(s) = stat.as_ref() {
            self.check_len("statistic buffer", s.len())?;
        }
        let total = self.data(split)?.n;
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
                let start = k * slice;
                let n = slice.min(total - start);
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
                self.evaluate(theta, split, Some(&mut g), Some(s))?;
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

    fn set_chunk(&mut self, theta: &[f32], chunk: Chunk, kind: CurvatureKind) -> Result<()> {
        self.check_len("theta", theta.len())?;
        let n = self.train.n;
        if chunk.len == 0 || chunk.start.checked_add(chunk.len).is_none_or(|end| end > n) {
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
            Error::new(ErrorKind::Internal, "standard-layout inputs are not contiguous")
        })?;
        let slice = self.eval_chunk.min(rows);
        self.gpu.bind()?;
        self.ensure_eval(slice, false)?;
        self.gpu.upload(theta, self.theta.ptr())?;
        let raw = self.gpu.alloc::<f32>(size(d, slice)?)?;
        let aug = self.gpu.alloc::<f32>(size(ld_aug(d), slice)?)?;
        let out = y.as_slice_mut().ok_or_else(|| {
            Error::new(ErrorKind::Internal, "a new array is not contiguous")
        })?;
        let mut start = 0;
        while start < rows {
            let n = slice.min(rows - start);
            self.gpu
                .upload_direct(&host[start * d..(start + n) * d], raw.ptr())?;
            let xin = M {
                ptr: aug.ptr(),
                ld: ld_aug(d),
            };
            self.gpu.augment(xin, M { ptr: raw.ptr(), ld: d }, d, n)?;
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
