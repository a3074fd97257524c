//! The GPU primitives the CUDA backend is built from: one context and stream,
//! a cuBLAS handle, the NVRTC-compiled kernels, device buffers, and checked
//! wrappers for GEMMs, kernel launches and host transfers.
//!
//! Everything is enqueued on one stream, so ordering is the stream's and no
//! cross-stream events are needed: event tracking is switched off before the
//! first allocation, and buffers are addressed by raw device addresses
//! (`u64`), which lets a GEMM read a layer's weights straight out of θ.
//!
//! Loading CUDA can panic inside cudarc (a library or symbol that is missing):
//! [`probe_libraries`] checks the libraries first, and [`Gpu::open`] is called
//! inside `catch_unwind` by the backend.

use std::ffi::CString;
use std::sync::Arc;

use parking_lot::Mutex;

use cudarc::cublas::{result as blas, sys as blas_sys, CudaBlas};
use cudarc::driver::{
    result as drv, sys as drv_sys, CudaContext, CudaFunction, CudaSlice, CudaStream, DevicePtr,
    DeviceRepr, DriverError, LaunchConfig, PinnedHostSlice, PushKernelArg, ValidAsZeroBits,
};
use cudarc::nvrtc::{result as nvrtc, sys as nvrtc_sys, Ptx};

use crate::error::{Error, ErrorKind, Result};

/// The kernels' CUDA C++ source: shared definitions first, then the kernels.
pub const KERNEL_SOURCE: &str = concat!(
    include_str!("kernels/common.cuh"),
    "\n",
    include_str!("kernels/elementwise.cu"),
    "\n",
    include_str!("kernels/columns.cu"),
    "\n",
    include_str!("kernels/cg.cu"),
);

/// Names of every kernel in [`KERNEL_SOURCE`] (all are looked up at start-up,
/// so a missing one fails there, not in the middle of training).
const KERNEL_NAMES: [&str; 18] = [
    "bias_act",
    "deriv_mul",
    "hess_back",
    "loss_hess_elem",
    "square",
    "scale_cols",
    "augment",
    "fill_row",
    "softmax_cols",
    "loss_cols",
    "loss_hess_softmax",
    "col_dot_acc",
    "sum_losses",
    "cg_damp",
    "cg_start",
    "cg_update",
    "cg_direction",
    "cg_finish",
];

/// Threads per block of the element-wise kernels.
const ELEMENTWISE_THREADS: u32 = 256;
/// Upper bound on blocks of the grid-stride element-wise kernels.
const MAX_ELEMENTWISE_BLOCKS: u64 = 8192;

/// Checks that the CUDA driver, NVRTC and cuBLAS libraries can be loaded, so
/// that cudarc's lazy loader will not panic later. Returns why not otherwise.
pub(crate) fn probe_libraries() -> std::result::Result<(), String> {
    // SAFETY: each probe only tries to open shared libraries by name.
    let checks: [(bool, &str); 3] = unsafe {
        [
            (
                drv_sys::is_culib_present(),
                "the CUDA driver library (libcuda.so) was not found: no NVIDIA driver is installed",
            ),
            (
                cudarc::nvrtc::sys::is_culib_present(),
                "the NVRTC library (libnvrtc.so.13 or .12) was not found: add the CUDA toolkit's lib64 folder to LD_LIBRARY_PATH",
            ),
            (
                blas_sys::is_culib_present(),
                "the cuBLAS library (libcublas.so.13 or .12) was not found: add the CUDA toolkit's lib64 folder to LD_LIBRARY_PATH",
            ),
        ]
    };
    match checks.iter().find(|(present, _)| !present) {
        Some((_, why)) => Err(why.to_string()),
        None => Ok(()),
    }
}

/// A compiled kernel module: machine code for one architecture, or PTX for
/// the driver to JIT when NVRTC cannot target the device directly.
#[derive(Clone)]
enum Image {
    Cubin(Vec<u8>),
    Ptx(String),
}

/// Kernel images compiled in this process, per compute capability.
static IMAGES: Mutex<Vec<((i32, i32), Image)>> = Mutex::new(Vec::new());

/// The kernels compiled by NVRTC for compute capability `cc` (once per
/// process and architecture). Machine code (CUBIN) is preferred: it needs
/// no JIT at load time and loads on any driver of the same major version,
/// whereas PTX from a newer NVRTC than the driver cannot be JIT-compiled.
pub(crate) fn kernel_image(cc: (i32, i32)) -> Result<Ptx> {
    Ok(match image_for(cc)? {
        Image::Cubin(bytes) => Ptx::from_binary(bytes),
        Image::Ptx(text) => Ptx::from_src(text),
    })
}

/// Size in bytes of the kernels compiled for `cc`, and whether it is
/// machine code (else PTX).
pub(crate) fn compiled_size(cc: (i32, i32)) -> Result<(usize, bool)> {
    Ok(match image_for(cc)? {
        Image::Cubin(bytes) => (bytes.len(), true),
        Image::Ptx(text) => (text.len(), false),
    })
}

fn image_for(cc: (i32, i32)) -> Result<Image> {
    let mut cache = IMAGES.lock();
    let image = match cache.iter().find(|(c, _)| *c == cc) {
        Some((_, image)) => image.clone(),
        None => {
            let arch = format!("sm_{}{}", cc.0, cc.1);
            let image = match compile(&arch, true) {
                Ok(image) => image,
                // An architecture this NVRTC does not know: portable PTX.
                Err(cubin_error) => compile("compute_75", false).map_err(|ptx_error| {
                    Error::new(
                        ErrorKind::BackendUnavailable,
                        format!(
                            "compiling the CUDA kernels with NVRTC failed: for {arch}: {cubin_error}; as PTX: {ptx_error}"
                        ),
                    )
                })?,
            };
            cache.push((cc, image.clone()));
            image
        }
    };
    Ok(image)
}

/// Compiles [`KERNEL_SOURCE`] for `arch`, returning machine code when
/// `cubin`, else PTX; errors carry NVRTC's log.
fn compile(arch: &str, cubin: bool) -> std::result::Result<Image, String> {
    let src = CString::new(KERNEL_SOURCE).map_err(|_| "kernel source holds a NUL byte")?;
    let prog =
        nvrtc::create_program(&src, Some(c"hessfree_kernels.cu")).map_err(|e| format!("{e:?}"))?;
    let options = vec![
        // Precise division and square roots, no flush-to-zero: the CPU
        // backend's results are the reference.
        "--ftz=false".to_string(),
        "--prec-div=true".to_string(),
        "--prec-sqrt=true".to_string(),
        format!("--gpu-architecture={arch}"),
    ];
    // SAFETY: `prog` was created above and is destroyed exactly once below;
    // `src` outlives it.
    let result = unsafe {
        match nvrtc::compile_program(prog, &options) {
            Err(e) => {
                let log = nvrtc::get_program_log(prog)
                    .map(|l| c_chars_to_string(&l))
                    .unwrap_or_default();
                Err(format!("{e:?}: {log}"))
            }
            Ok(()) if cubin => cubin_of(prog).map(Image::Cubin),
            Ok(()) => nvrtc::get_ptx(prog)
                .map(|p| Image::Ptx(c_chars_to_string(&p)))
                .map_err(|e| format!("{e:?}")),
        }
    };
    // SAFETY: see above.
    let _ = unsafe { nvrtc::destroy_program(prog) };
    result
}

/// The CUBIN of a compiled program.
///
/// # Safety
/// `prog` must be a live, successfully compiled NVRTC program.
unsafe fn cubin_of(prog: nvrtc_sys::nvrtcProgram) -> std::result::Result<Vec<u8>, String> {
    let mut size = 0usize;
    nvrtc_sys::nvrtcGetCUBINSize(prog, &mut size)
        .result()
        .map_err(|e| format!("{e:?}"))?;
    if size == 0 {
        return Err("NVRTC produced no machine code".to_string());
    }
    let mut bytes = vec![0u8; size];
    nvrtc_sys::nvrtcGetCUBIN(prog, bytes.as_mut_ptr().cast())
        .result()
        .map_err(|e| format!("{e:?}"))?;
    Ok(bytes)
}

/// A NUL-terminated C character buffer as a string.
fn c_chars_to_string(chars: &[std::ffi::c_char]) -> String {
    let bytes: Vec<u8> = chars
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Converts a driver error, mapping out-of-memory to `ResourceLimit`.
pub(crate) fn driver_error(what: &str, e: DriverError) -> Error {
    if e.0 == drv_sys::CUresult::CUDA_ERROR_OUT_OF_MEMORY {
        Error::new(
            ErrorKind::ResourceLimit,
            format!("{what}: the GPU is out of memory ({e:?}); use a smaller chunk_size / eval_chunk_size"),
        )
    } else {
        Error::new(
            ErrorKind::BackendUnavailable,
            format!("{what}: CUDA driver error {e:?}"),
        )
    }
}

fn blas_error(what: &str, e: blas::CublasError) -> Error {
    Error::new(
        ErrorKind::BackendUnavailable,
        format!("{what}: cuBLAS error {e:?}"),
    )
}

/// A buffer in device memory with its raw address.
pub(crate) struct DevBuf<T> {
    slice: CudaSlice<T>,
    ptr: u64,
}

impl<T> DevBuf<T> {
    /// Device address of element `offset` (checked against the length in
    /// debug builds; callers compute offsets from validated shapes).
    pub(crate) fn at(&self, offset: usize) -> u64 {
        debug_assert!(offset <= self.slice.len(), "device offset out of range");
        self.ptr + (offset * std::mem::size_of::<T>()) as u64
    }
    /// Device address of the first element.
    pub(crate) fn ptr(&self) -> u64 {
        self.ptr
    }
    /// Number of elements.
    pub(crate) fn len(&self) -> usize {
        self.slice.len()
    }
}

/// Operand transposition of a cuBLAS call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// As stored.
    N,
    /// Transposed.
    T,
}

/// A column-major matrix operand: device address and leading dimension.
#[derive(Clone, Copy, Debug)]
pub(crate) struct M {
    /// Device address of element (0, 0).
    pub ptr: u64,
    /// Leading dimension (elements between consecutive columns).
    pub ld: usize,
}

/// The kernels of one loaded module.
struct Kernels {
    functions: Vec<CudaFunction>,
}

impl Kernels {
    fn get(&self, name: &str) -> &CudaFunction {
        let i = KERNEL_NAMES
            .iter()
            .position(|&n| n == name)
            .unwrap_or_else(|| unreachable!("kernel {name} is listed in KERNEL_NAMES"));
        &self.functions[i]
    }
}

/// One CUDA device as the backend uses it.
pub(crate) struct Gpu {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    blas: CudaBlas,
    kernels: Kernels,
    /// Page-locked host buffer for parameter-sized transfers.
    staging: PinnedHostSlice<f32>,
    name: String,
    tf32: bool,
}

impl Gpu {
    /// Opens device `ordinal`: context, stream, cuBLAS (with TF32 tensor-core
    /// math when `tf32`), kernels, and a page-locked staging buffer of
    /// `staging_len` floats. May panic inside cudarc if a library lacks a
    /// symbol: call it inside `catch_unwind`.
    pub(crate) fn open(ordinal: usize, tf32: bool, staging_len: usize) -> Result<Gpu> {
        let open = |e| driver_error(&format!("opening CUDA device {ordinal}"), e);
        let ctx = CudaContext::new(ordinal).map_err(open)?;
        // SAFETY: all work goes to the one stream created below, so the
        // per-buffer events cudarc would record to order streams are not needed.
        unsafe { ctx.disable_event_tracking() };
        let name = ctx.name().map_err(open)?;
        let stream = ctx.new_stream().map_err(open)?;
        let blas = CudaBlas::new(stream.clone()).map_err(|e| blas_error("creating cuBLAS", e))?;
        let mode = if tf32 {
            blas_sys::cublasMath_t::CUBLAS_TF32_TENSOR_OP_MATH
        } else {
            blas_sys::cublasMath_t::CUBLAS_DEFAULT_MATH
        };
        // SAFETY: the handle is valid for the lifetime of `blas`.
        unsafe { blas_sys::cublasSetMathMode(*blas.handle(), mode) }
            .result()
            .map_err(|e| blas_error("setting the cuBLAS math mode", e))?;
        let cc = ctx
            .compute_capability()
            .map_err(|e| driver_error("querying the compute capability", e))?;
        let module = ctx
            .load_module(kernel_image(cc)?)
            .map_err(|e| driver_error("loading the CUDA kernels", e))?;
        let functions = KERNEL_NAMES
            .iter()
            .map(|n| {
                module
                    .load_function(n)
                    .map_err(|e| driver_error(&format!("finding kernel {n}"), e))
            })
            .collect::<Result<Vec<_>>>()?;
        // SAFETY: the staging buffer is only read after being written.
        let staging = unsafe { ctx.alloc_pinned_with_flags::<f32>(staging_len.max(1), 0) }
            .map_err(|e| driver_error("allocating page-locked host memory", e))?;
        Ok(Gpu {
            ctx,
            stream,
            blas,
            kernels: Kernels { functions },
            staging,
            name,
            tf32,
        })
    }

    /// The device's name (e.g. "NVIDIA H100 80GB HBM3").
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Whether cuBLAS may use TF32 tensor cores.
    pub(crate) fn tf32(&self) -> bool {
        self.tf32
    }

    /// Free and total device memory in bytes.
    pub(crate) fn memory(&self) -> Result<(usize, usize)> {
        self.ctx
            .mem_get_info()
            .map_err(|e| driver_error("querying device memory", e))
    }

    /// Makes the context current on the calling thread (a backend may be
    /// moved between threads between calls).
    pub(crate) fn bind(&self) -> Result<()> {
        self.ctx
            .bind_to_thread()
            .map_err(|e| driver_error("binding the CUDA context", e))
    }

    /// Waits for all enqueued work.
    pub(crate) fn sync(&self) -> Result<()> {
        self.stream
            .synchronize()
            .map_err(|e| driver_error("waiting for the GPU", e))
    }

    /// A zero-filled device buffer of `len` elements.
    pub(crate) fn alloc<T: DeviceRepr + ValidAsZeroBits>(&self, len: usize) -> Result<DevBuf<T>> {
        let slice = self
            .stream
            .alloc_zeros::<T>(len.max(1))
            .map_err(|e| driver_error(&format!("allocating {len} device values"), e))?;
        let ptr = {
            let (ptr, _no_event) = slice.device_ptr(&self.stream);
            ptr
        };
        Ok(DevBuf { slice, ptr })
    }

    /// Sets `len` floats at `ptr` to zero.
    pub(crate) fn zero(&self, ptr: u64, len: usize) -> Result<()> {
        // SAFETY: callers pass addresses inside buffers they own.
        unsafe { drv::memset_d8_async(ptr, 0, len * 4, self.stream.cu_stream()) }
            .map_err(|e| driver_error("clearing device memory", e))
    }

    /// Copies `src` to device address `dst` directly from pageable memory
    /// (for large one-off uploads such as data sets).
    pub(crate) fn upload_direct(&self, src: &[f32], dst: u64) -> Result<()> {
        // SAFETY: `dst` has room for `src` (checked by callers); the copy is
        // complete when `sync` returns, before `src` can be dropped.
        unsafe { drv::memcpy_htod_async(dst, src, self.stream.cu_stream()) }
            .map_err(|e| driver_error("copying data to the GPU", e))?;
        self.sync()
    }

    /// Copies a parameter-sized vector to `dst` through the page-locked
    /// staging buffer (falls back to a direct copy when it is too small).
    pub(crate) fn upload(&mut self, src: &[f32], dst: u64) -> Result<()> {
        if src.len() > self.staging.len() {
            return self.upload_direct(src, dst);
        }
        // The previous transfer through the staging buffer must be finished.
        self.sync()?;
        let staging = self
            .staging
            .as_mut_slice()
            .map_err(|e| driver_error("mapping the staging buffer", e))?;
        staging[..src.len()].copy_from_slice(src);
        // SAFETY: the staging buffer stays alive and unmodified until the
        // next `sync`, which precedes any later write to it.
        unsafe { drv::memcpy_htod_async(dst, &staging[..src.len()], self.stream.cu_stream()) }
            .map_err(|e| driver_error("copying a vector to the GPU", e))
    }

    /// Copies `dst.len()` floats from device address `src` into `dst`,
    /// waiting for all work enqueued before.
    pub(crate) fn download(&mut self, src: u64, dst: &mut [f32]) -> Result<()> {
        if dst.len() > self.staging.len() {
            // SAFETY: `src` holds `dst.len()` floats; we wait before returning.
            unsafe { drv::memcpy_dtoh_async(dst, src, self.stream.cu_stream()) }
                .map_err(|e| driver_error("copying results from the GPU", e))?;
            return self.sync();
        }
        let n = dst.len();
        let stream = self.stream.cu_stream();
        let staging = self
            .staging
            .as_mut_slice()
            .map_err(|e| driver_error("mapping the staging buffer", e))?;
        // SAFETY: as above; the staging buffer is read only after the sync.
        unsafe { drv::memcpy_dtoh_async(&mut staging[..n], src, stream) }
            .map_err(|e| driver_error("copying a vector from the GPU", e))?;
        self.sync()?;
        let staging = self
            .staging
            .as_slice()
            .map_err(|e| driver_error("mapping the staging buffer", e))?;
        dst.copy_from_slice(&staging[..n]);
        Ok(())
    }

    /// Copies `n` doubles from device address `src` to a new vector.
    pub(crate) fn download_f64(&self, src: u64, n: usize) -> Result<Vec<f64>> {
        let mut out = vec![0.0f64; n];
        // SAFETY: `src` holds `n` doubles; we wait before returning.
        unsafe { drv::memcpy_dtoh_async(&mut out[..], src, self.stream.cu_stream()) }
            .map_err(|e| driver_error("copying sums from the GPU", e))?;
        self.sync()?;
        Ok(out)
    }

    /// `C = alpha · op(A) · op(B) + beta · C` with `op(A)` m×k, `op(B)` k×n
    /// (column-major, single precision; TF32 when enabled).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn gemm(
        &self,
        op_a: Op,
        op_b: Op,
        (m, n, k): (usize, usize, usize),
        alpha: f32,
        a: M,
        b: M,
        beta: f32,
        c: M,
    ) -> Result<()> {
        let op = |o| match o {
            Op::N => blas_sys::cublasOperation_t::CUBLAS_OP_N,
            Op::T => blas_sys::cublasOperation_t::CUBLAS_OP_T,
        };
        let dims = [m, n, k, a.ld, b.ld, c.ld].map(i32::try_from);
        let [Ok(m), Ok(n), Ok(k), Ok(lda), Ok(ldb), Ok(ldc)] = dims else {
            return Err(Error::new(
                ErrorKind::ResourceLimit,
                format!("a GEMM of {m}×{n}×{k} exceeds cuBLAS's 32-bit dimensions"),
            ));
        };
        // SAFETY: operands are device addresses inside live buffers whose
        // shapes the backend derived from the network's layout.
        unsafe {
            blas::sgemm(
                *self.blas.handle(),
                op(op_a),
                op(op_b),
                m,
                n,
                k,
                &alpha,
                a.ptr as *const f32,
                lda,
                b.ptr as *const f32,
                ldb,
                &beta,
                c.ptr as *mut f32,
                ldc,
            )
        }
        .map_err(|e| blas_error("a matrix product", e))
    }

    /// Launch shape of an element-wise kernel over `elements` values.
    fn elementwise(elements: usize) -> LaunchConfig {
        let blocks = (elements as u64)
            .div_ceil(ELEMENTWISE_THREADS as u64)
            .clamp(1, MAX_ELEMENTWISE_BLOCKS);
        LaunchConfig {
            grid_dim: (blocks as u32, 1, 1),
            block_dim: (ELEMENTWISE_THREADS, 1, 1),
            shared_mem_bytes: 0,
        }
    }

    /// Launch shape of a per-column kernel: one block per column, a warp
    /// multiple of threads (at most 256) over the rows.
    fn per_column(rows: usize, n: usize) -> Result<LaunchConfig> {
        let blocks = u32::try_from(n).map_err(|_| {
            Error::new(
                ErrorKind::ResourceLimit,
                format!("{n} columns exceed a kernel grid"),
            )
        })?;
        let threads = (rows.div_ceil(32) * 32).clamp(32, 256) as u32;
        Ok(LaunchConfig {
            grid_dim: (blocks, 1, 1),
            block_dim: (threads, 1, 1),
            shared_mem_bytes: 0,
        })
    }

    /// Launches kernel `name` with `cfg`, the arguments pushed by `args`.
    fn launch<'a>(
        &'a self,
        name: &str,
        cfg: LaunchConfig,
        args: impl FnOnce(&mut cudarc::driver::LaunchArgs<'a>),
    ) -> Result<()> {
        let f = self.kernels.get(name);
        let mut b = self.stream.launch_builder(f);
        args(&mut b);
        // SAFETY: every wrapper below pushes exactly the argument types its
        // kernel declares, and addresses lie inside live buffers.
        unsafe { b.launch(cfg) }
            .map(|_| ())
            .map_err(|e| driver_error(&format!("launching kernel {name}"), e))
    }
}

/// Scalars pushed as kernel arguments must outlive the launch builder, so
/// the wrappers take them by value into locals and push references.
fn i64_of(x: usize) -> i64 {
    x as i64
}

fn i32_of(x: usize) -> Result<i32> {
    i32::try_from(x).map_err(|_| {
        Error::new(
            ErrorKind::ResourceLimit,
            format!("{x} exceeds a kernel's 32-bit size argument"),
        )
    })
}

impl Gpu {
    /// `out = f(z + b)`; with `zb`, also `zb = z + b` (see `bias_act`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn bias_act(
        &self,
        z: M,
        bias: u64,
        zb: Option<M>,
        out: M,
        rows: usize,
        n: usize,
        act: u32,
    ) -> Result<()> {
        let (ldz, ldo) = (i64_of(z.ld), i64_of(out.ld));
        let zb_ptr = zb.map_or(0u64, |m| m.ptr);
        let ldzb = i64_of(zb.map_or(1, |m| m.ld));
        let (r, c, a) = (i32_of(rows)?, i32_of(n)?, act as i32);
        self.launch("bias_act", Self::elementwise(rows * n), |b| {
            b.arg(&z.ptr)
                .arg(&ldz)
                .arg(&bias)
                .arg(&zb_ptr)
                .arg(&ldzb)
                .arg(&out.ptr)
                .arg(&ldo)
                .arg(&r)
                .arg(&c)
                .arg(&a);
        })
    }

    /// `out = in ⊙ f'(a)`.
    pub(crate) fn deriv_mul(
        &self,
        out: M,
        inp: M,
        a: M,
        rows: usize,
        n: usize,
        act: u32,
    ) -> Result<()> {
        let (ldo, ldi, lda) = (i64_of(out.ld), i64_of(inp.ld), i64_of(a.ld));
        let (r, c, ac) = (i32_of(rows)?, i32_of(n)?, act as i32);
        self.launch("deriv_mul", Self::elementwise(rows * n), |b| {
            b.arg(&out.ptr)
                .arg(&ldo)
                .arg(&inp.ptr)
                .arg(&ldi)
                .arg(&a.ptr)
                .arg(&lda)
                .arg(&r)
                .arg(&c)
                .arg(&ac);
        })
    }

    /// `p = p ⊙ f'(a) + e ⊙ f''(a) ⊙ rz`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn hess_back(
        &self,
        p: M,
        e: M,
        a: M,
        rz: M,
        rows: usize,
        n: usize,
        act: u32,
    ) -> Result<()> {
        let (ldp, lde, lda, ldrz) = (i64_of(p.ld), i64_of(e.ld), i64_of(a.ld), i64_of(rz.ld));
        let (r, c, ac) = (i32_of(rows)?, i32_of(n)?, act as i32);
        self.launch("hess_back", Self::elementwise(rows * n), |b| {
            b.arg(&p.ptr)
                .arg(&ldp)
                .arg(&e.ptr)
                .arg(&lde)
                .arg(&a.ptr)
                .arg(&lda)
                .arg(&rz.ptr)
                .arg(&ldrz)
                .arg(&r)
                .arg(&c)
                .arg(&ac);
        })
    }

    /// Element-wise loss Hessian in place (cross-entropy or squared error).
    pub(crate) fn loss_hess_elem(
        &self,
        r: M,
        y: M,
        rows: usize,
        n: usize,
        loss: u32,
    ) -> Result<()> {
        let (ldr, ldy) = (i64_of(r.ld), i64_of(y.ld));
        let (ro, c, l) = (i32_of(rows)?, i32_of(n)?, loss as i32);
        self.launch("loss_hess_elem", Self::elementwise(rows * n), |b| {
            b.arg(&r.ptr)
                .arg(&ldr)
                .arg(&y.ptr)
                .arg(&ldy)
                .arg(&ro)
                .arg(&c)
                .arg(&l);
        })
    }

    /// Softmax loss Hessian in place, per column.
    pub(crate) fn loss_hess_softmax(&self, r: M, y: M, t: M, rows: usize, n: usize) -> Result<()> {
        let (ldr, ldy, ldt) = (i64_of(r.ld), i64_of(y.ld), i64_of(t.ld));
        let (ro, c) = (i32_of(rows)?, i32_of(n)?);
        self.launch("loss_hess_softmax", Self::per_column(rows, n)?, |b| {
            b.arg(&r.ptr)
                .arg(&ldr)
                .arg(&y.ptr)
                .arg(&ldy)
                .arg(&t.ptr)
                .arg(&ldt)
                .arg(&ro)
                .arg(&c);
        })
    }

    /// `out = in ⊙ in`.
    pub(crate) fn square(&self, out: M, inp: M, rows: usize, n: usize) -> Result<()> {
        let (ldo, ldi) = (i64_of(out.ld), i64_of(inp.ld));
        let (r, c) = (i32_of(rows)?, i32_of(n)?);
        self.launch("square", Self::elementwise(rows * n), |b| {
            b.arg(&out.ptr)
                .arg(&ldo)
                .arg(&inp.ptr)
                .arg(&ldi)
                .arg(&r)
                .arg(&c);
        })
    }

    /// `out = d ⊙ s` column-wise.
    pub(crate) fn scale_cols(&self, out: M, d: M, s: u64, rows: usize, n: usize) -> Result<()> {
        let (ldo, ldd) = (i64_of(out.ld), i64_of(d.ld));
        let (r, c) = (i32_of(rows)?, i32_of(n)?);
        self.launch("scale_cols", Self::elementwise(rows * n), |b| {
            b.arg(&out.ptr)
                .arg(&ldo)
                .arg(&d.ptr)
                .arg(&ldd)
                .arg(&s)
                .arg(&r)
                .arg(&c);
        })
    }

    /// Augmented copy: `rows` rows of `src`, a ones row, zero padding to `dst.ld`.
    pub(crate) fn augment(&self, dst: M, src: M, rows: usize, n: usize) -> Result<()> {
        let (ldd, lds) = (i64_of(dst.ld), i64_of(src.ld));
        let (r, c) = (i32_of(rows)?, i32_of(n)?);
        self.launch("augment", Self::elementwise(dst.ld * n), |b| {
            b.arg(&dst.ptr)
                .arg(&ldd)
                .arg(&src.ptr)
                .arg(&lds)
                .arg(&r)
                .arg(&c);
        })
    }

    /// Sets row `row` of `n` columns of `m` to `value`.
    pub(crate) fn fill_row(&self, m: M, row: usize, n: usize, value: f32) -> Result<()> {
        let ld = i64_of(m.ld);
        let (r, c) = (i32_of(row)?, i32_of(n)?);
        self.launch("fill_row", Self::elementwise(n), |b| {
            b.arg(&m.ptr).arg(&ld).arg(&r).arg(&c).arg(&value);
        })
    }

    /// Softmax output layer: `zb = z + b`, `y = softmax(zb)` per column.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn softmax_cols(
        &self,
        z: M,
        bias: u64,
        zb: M,
        y: M,
        rows: usize,
        n: usize,
    ) -> Result<()> {
        let (ldz, ldzb, ldy) = (i64_of(z.ld), i64_of(zb.ld), i64_of(y.ld));
        let (r, c) = (i32_of(rows)?, i32_of(n)?);
        self.launch("softmax_cols", Self::per_column(rows, n)?, |b| {
            b.arg(&z.ptr)
                .arg(&ldz)
                .arg(&bias)
                .arg(&zb.ptr)
                .arg(&ldzb)
                .arg(&y.ptr)
                .arg(&ldy)
                .arg(&r)
                .arg(&c);
        })
    }

    /// Per-example losses and errors into `per_ex` (2n doubles); with
    /// `delta`, the output deltas too.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn loss_cols(
        &self,
        z: M,
        y: M,
        t: M,
        rows: usize,
        n: usize,
        loss: u32,
        per_ex: u64,
        delta: Option<M>,
    ) -> Result<()> {
        let (ldz, ldy, ldt) = (i64_of(z.ld), i64_of(y.ld), i64_of(t.ld));
        let d_ptr = delta.map_or(0u64, |m| m.ptr);
        let ldd = i64_of(delta.map_or(1, |m| m.ld));
        let (r, c, l) = (i32_of(rows)?, i32_of(n)?, loss as i32);
        self.launch("loss_cols", Self::per_column(rows, n)?, |b| {
            b.arg(&z.ptr)
                .arg(&ldz)
                .arg(&y.ptr)
                .arg(&ldy)
                .arg(&t.ptr)
                .arg(&ldt)
                .arg(&r)
                .arg(&c)
                .arg(&l)
                .arg(&per_ex)
                .arg(&d_ptr)
                .arg(&ldd);
        })
    }

    /// `s[c] += Σ_r u(r,c)·d(r,c)`.
    pub(crate) fn col_dot_acc(&self, u: M, d: M, rows: usize, n: usize, s: u64) -> Result<()> {
        let (ldu, ldd) = (i64_of(u.ld), i64_of(d.ld));
        let (r, c) = (i32_of(rows)?, i32_of(n)?);
        self.launch("col_dot_acc", Self::per_column(rows, n)?, |b| {
            b.arg(&u.ptr)
                .arg(&ldu)
                .arg(&d.ptr)
                .arg(&ldd)
                .arg(&r)
                .arg(&c)
                .arg(&s);
        })
    }

    /// Sums `per_ex` (2n doubles) into `out[0]` (losses) and `out[1]` (errors).
    pub(crate) fn sum_losses(&self, per_ex: u64, n: usize, out: u64) -> Result<()> {
        let c = i32_of(n)?;
        let cfg = LaunchConfig {
            grid_dim: (1, 1, 1),
            block_dim: (1024, 1, 1),
            shared_mem_bytes: 0,
        };
        self.launch("sum_losses", cfg, |b| {
            b.arg(&per_ex).arg(&c).arg(&out);
        })
    }
}

/// Threads per block of the CG vector kernels.
const CG_THREADS: u32 = 256;
/// Most blocks of a CG vector kernel (and so most partial sums per quantity).
const CG_MAX_BLOCKS: usize = 1024;
/// Threads of `cg_finish`, the one block that adds the partial sums.
const CG_FINISH_THREADS: u32 = 256;

/// Blocks of the CG vector kernels over `n` elements: about four elements
/// per thread, at most [`CG_MAX_BLOCKS`]. A function of `n` alone, so every
/// CG sum over the same length is formed in the same order.
pub(crate) fn cg_blocks(n: usize) -> usize {
    n.div_ceil(CG_THREADS as usize * 4).clamp(1, CG_MAX_BLOCKS)
}

/// CG's vector kernels (`kernels/cg.cu`). Each reducing kernel writes its
/// per-block sums to `partial` (at least `2 * cg_blocks(n)` doubles);
/// [`Gpu::cg_finish`] adds them.
impl Gpu {
    fn cg_config(n: usize) -> LaunchConfig {
        LaunchConfig {
            grid_dim: (cg_blocks(n) as u32, 1, 1),
            block_dim: (CG_THREADS, 1, 1),
            shared_mem_bytes: 0,
        }
    }

    /// `out += (wc·mask)⊙v` (f32), then `out += λ·v` (f64, rounded); partial
    /// sums of `vᵀout`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn cg_damp(
        &self,
        out: u64,
        v: u64,
        mask: u64,
        wc: f32,
        lambda: f64,
        n: usize,
        partial: u64,
    ) -> Result<()> {
        let len = i64_of(n);
        self.launch("cg_damp", Self::cg_config(n), |b| {
            b.arg(&out)
                .arg(&v)
                .arg(&mask)
                .arg(&wc)
                .arg(&lambda)
                .arg(&len)
                .arg(&partial);
        })
    }

    /// `r −= b`, `y = r / m` (`m = 0`: no preconditioner), `p = −y`; partial
    /// sums of `rᵀy` and `xᵀ(r − b)`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn cg_start(
        &self,
        (r, y, p): (u64, u64, u64),
        x: u64,
        b: u64,
        m: u64,
        n: usize,
        partial: u64,
    ) -> Result<()> {
        let len = i64_of(n);
        self.launch("cg_start", Self::cg_config(n), |a| {
            a.arg(&r)
                .arg(&y)
                .arg(&p)
                .arg(&x)
                .arg(&b)
                .arg(&m)
                .arg(&len)
                .arg(&partial);
        })
    }

    /// `x += α·p`, `r += α·Ap`, `y = r / m`; partial sums of `rᵀy` and
    /// `xᵀ(r − b)`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn cg_update(
        &self,
        (x, r, y): (u64, u64, u64),
        (p, ap): (u64, u64),
        b: u64,
        m: u64,
        alpha: f64,
        n: usize,
        partial: u64,
    ) -> Result<()> {
        let len = i64_of(n);
        self.launch("cg_update", Self::cg_config(n), |a| {
            a.arg(&x)
                .arg(&r)
                .arg(&y)
                .arg(&p)
                .arg(&ap)
                .arg(&b)
                .arg(&m)
                .arg(&alpha)
                .arg(&len)
                .arg(&partial);
        })
    }

    /// `p = −y + β·p`.
    pub(crate) fn cg_direction(&self, p: u64, y: u64, beta: f64, n: usize) -> Result<()> {
        let len = i64_of(n);
        self.launch("cg_direction", Self::cg_config(n), |a| {
            a.arg(&p).arg(&y).arg(&beta).arg(&len);
        })
    }

    /// Adds the `count` quantities' partial sums of a CG kernel over `n`
    /// elements into `out[..count]` and downloads them (waits for the GPU).
    pub(crate) fn cg_finish(
        &self,
        partial: u64,
        n: usize,
        count: usize,
        out: u64,
    ) -> Result<Vec<f64>> {
        let blocks = i32_of(cg_blocks(n))?;
        let k = i32_of(count)?;
        let cfg = LaunchConfig {
            grid_dim: (1, 1, 1),
            block_dim: (CG_FINISH_THREADS, 1, 1),
            shared_mem_bytes: 0,
        };
        self.launch("cg_finish", cfg, |a| {
            a.arg(&partial).arg(&blocks).arg(&k).arg(&out);
        })?;
        self.download_f64(out, count)
    }
}
