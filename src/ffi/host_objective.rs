//! A session over a host-defined objective: the host supplies callbacks for
//! the loss and gradient, the curvature chunk and curvature products, so any
//! model a host can differentiate can be trained with this HF optimizer.

use std::ffi::{c_char, c_void};
use std::os::raw::c_int;

use super::args::slice_in;
use super::config::config_or_default;
use super::data::path_arg;
use super::error::{FfiError, FfiResult};
use super::guard::guard;
use super::handle::{hf_config, hf_session};
use super::net::curvature_code;
use super::session::{register_session, resume_session, DynObjective};
use super::status::hf_status;
use crate::error::{Error, ErrorKind, Result};
use crate::hf::{Chunk, CurvatureKind, Objective, Session};

/// The callbacks of a host-defined objective f(theta) = (mean over `num_examples`
/// examples of a per-example loss) + (any regulariser), for
/// `hf_session_new_host`. The struct is copied; `user` is passed back to
/// every callback and must stay valid until the session is freed (and any
/// call on it has returned).
///
/// Every callback returns 0 on success; any other value stops the current
/// `hf_session_step`/`hf_session_run` with `HF_ERR_CALLBACK` and a message
/// naming the callback and the value (theta, lambda and the schedule are left as they
/// were before that step). Arrays passed to callbacks hold `n` =
/// `num_params` floats and are valid only during the call. Callbacks run on
/// the thread that called `hf_session_step`/`hf_session_run`, one at a time,
/// and must not unwind (throw or longjmp) into hessfree. Returning NaN or
/// infinity is not an error: the optimizer rejects that step, raises lambda and
/// carries on.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy)]
pub struct hf_objective_callbacks {
    /// Passed unchanged as the first argument of every callback.
    pub user: *mut c_void,
    /// Number of parameters P (at least 1).
    pub num_params: usize,
    /// Number of examples N that curvature chunks are taken from (at least
    /// 1; an objective without examples uses 1 and ignores chunks).
    pub num_examples: usize,
    /// Required. Writes f(theta) over all examples to `*loss`; if `grad` is not
    /// NULL, writes the gradient there; if `precond_stat` is not NULL (only when
    /// `provides_precond_stat` is nonzero), writes the diagonal
    /// preconditioner statistic: the mean over examples of the squared
    /// per-example gradient plus the regulariser's diagonal curvature (every
    /// entry finite and >= 0).
    pub loss_grad: Option<
        unsafe extern "C" fn(
            user: *mut c_void,
            theta: *const f32,
            n: usize,
            loss: *mut f64,
            grad: *mut f32,
            precond_stat: *mut f32,
        ) -> c_int,
    >,
    /// Required. Fixes the examples `chunk_start .. chunk_start+chunk_len-1`
    /// and the point theta at which the following `curvature_product` calls
    /// multiply, and the curvature kind (an `hf_curvature` value; only
    /// kinds listed in `curvature_kinds` are ever asked for).
    pub set_chunk: Option<
        unsafe extern "C" fn(
            user: *mut c_void,
            theta: *const f32,
            n: usize,
            chunk_start: usize,
            chunk_len: usize,
            curvature_kind: i32,
        ) -> c_int,
    >,
    /// Required. Writes `out = C v`, C the curvature of the current chunk at
    /// the theta of the last `set_chunk` (a mean over the chunk's examples plus
    /// the regulariser's curvature; no damping: the optimizer adds lambda).
    /// Gauss-Newton curvature must be positive semi-definite.
    pub curvature_product: Option<
        unsafe extern "C" fn(user: *mut c_void, v: *const f32, n: usize, out: *mut f32) -> c_int,
    >,
    /// Optional. Writes the objective restricted to the current chunk at theta
    /// (used for the reduction ratio rho). NULL: the full objective from
    /// `loss_grad` is used instead, which is exact when chunks are the whole
    /// set (option `chunk_size` = 0, the default).
    pub chunk_loss: Option<
        unsafe extern "C" fn(
            user: *mut c_void,
            theta: *const f32,
            n: usize,
            loss: *mut f64,
        ) -> c_int,
    >,
    /// Bit k set = curvature kind k (`hf_curvature`) is supported. 0 means
    /// Gauss-Newton only (bit 0). The session's option `curvature` must be
    /// one of them.
    pub curvature_kinds: u32,
    /// Nonzero if `loss_grad` writes `precond_stat`. If 0, the statistic is
    /// taken as all zeros, so the preconditioner `(0 + lambda)^alpha` is a multiple of
    /// the identity: CG runs unpreconditioned.
    pub provides_precond_stat: c_int,
}

/// An [`Objective`] over host callbacks (checked non-NULL at creation).
struct HostObjective {
    cb: hf_objective_callbacks,
}

// SAFETY: the host promises (see `hf_objective_callbacks`) that its
// callbacks and `user` may be used from whichever thread calls
// `hf_session_step`/`hf_session_run`; the session's lock ensures one call
// at a time.
unsafe impl Send for HostObjective {}

/// `ErrorKind::Callback` naming the callback and what it returned.
fn callback_error(name: &str, rc: c_int) -> Error {
    Error::new(
        ErrorKind::Callback,
        format!("host callback '{name}' returned {rc} (nonzero = failure)"),
    )
}

fn check_rc(name: &str, rc: c_int) -> Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(callback_error(name, rc))
    }
}

/// A required callback that creation checked to be present.
fn present<T>(f: Option<T>, name: &str) -> Result<T> {
    f.ok_or_else(|| Error::new(ErrorKind::Internal, format!("callback '{name}' is NULL")))
}

impl HostObjective {
    /// Calls `loss_grad`; `grad`/`stat` NULL when not wanted.
    fn call_loss_grad(
        &mut self,
        name: &str,
        theta: &[f32],
        grad: Option<&mut [f32]>,
        stat: Option<&mut [f32]>,
    ) -> Result<f64> {
        let f = present(self.cb.loss_grad, "loss_grad")?;
        let mut loss = f64::NAN;
        let grad = grad.map_or(std::ptr::null_mut(), |g| g.as_mut_ptr());
        let stat = stat.map_or(std::ptr::null_mut(), |s| s.as_mut_ptr());
        // SAFETY: the host's contract; every array holds `num_params` floats
        // (the session checks θ's length, and gradient buffers match it).
        let rc = unsafe {
            f(
                self.cb.user,
                theta.as_ptr(),
                theta.len(),
                &mut loss,
                grad,
                stat,
            )
        };
        check_rc(name, rc)?;
        Ok(loss)
    }
}

impl Objective for HostObjective {
    fn num_params(&self) -> usize {
        self.cb.num_params
    }

    fn num_examples(&self) -> usize {
        self.cb.num_examples
    }

    fn supports_curvature(&self, kind: CurvatureKind) -> bool {
        let mask = if self.cb.curvature_kinds == 0 {
            1
        } else {
            self.cb.curvature_kinds
        };
        mask & (1 << curvature_code(kind)) != 0
    }

    fn loss(&mut self, theta: &[f32]) -> Result<f64> {
        self.call_loss_grad("loss_grad", theta, None, None)
    }

    fn loss_and_gradient(
        &mut self,
        theta: &[f32],
        grad: &mut [f32],
        precond_stat: Option<&mut [f32]>,
    ) -> Result<f64> {
        match precond_stat {
            Some(stat) if self.cb.provides_precond_stat != 0 => {
                self.call_loss_grad("loss_grad", theta, Some(grad), Some(stat))
            }
            Some(stat) => {
                stat.fill(0.0);
                self.call_loss_grad("loss_grad", theta, Some(grad), None)
            }
            None => self.call_loss_grad("loss_grad", theta, Some(grad), None),
        }
    }

    fn set_curvature_chunk(
        &mut self,
        theta: &[f32],
        chunk: Chunk,
        kind: CurvatureKind,
    ) -> Result<()> {
        let f = present(self.cb.set_chunk, "set_chunk")?;
        // SAFETY: the host's contract; θ holds `num_params` floats.
        let rc = unsafe {
            f(
                self.cb.user,
                theta.as_ptr(),
                theta.len(),
                chunk.start,
                chunk.len,
                curvature_code(kind),
            )
        };
        check_rc("set_chunk", rc)
    }

    fn curvature_product(&mut self, v: &[f32], out: &mut [f32]) -> Result<()> {
        let f = present(self.cb.curvature_product, "curvature_product")?;
        if v.len() != out.len() {
            return Err(Error::shape(format!(
                "curvature product: v has {} entries, out {}",
                v.len(),
                out.len()
            )));
        }
        // SAFETY: the host's contract; both arrays hold `num_params` floats.
        let rc = unsafe { f(self.cb.user, v.as_ptr(), v.len(), out.as_mut_ptr()) };
        check_rc("curvature_product", rc)
    }

    fn chunk_loss(&mut self, theta: &[f32]) -> Result<f64> {
        let Some(f) = self.cb.chunk_loss else {
            return self.call_loss_grad("loss_grad", theta, None, None);
        };
        let mut loss = f64::NAN;
        // SAFETY: the host's contract; θ holds `num_params` floats.
        let rc = unsafe { f(self.cb.user, theta.as_ptr(), theta.len(), &mut loss) };
        check_rc("chunk_loss", rc)?;
        Ok(loss)
    }
}

/// Copies and checks the callbacks: the required ones present, sizes
/// positive, curvature kinds known.
///
/// # Safety
/// `callbacks` must be NULL or point to a valid `hf_objective_callbacks`.
unsafe fn host_objective(callbacks: *const hf_objective_callbacks) -> FfiResult<HostObjective> {
    super::args::non_null(callbacks, "callbacks")?;
    // SAFETY: non-NULL and valid by the caller's contract; the struct is
    // plain data, copied here.
    let cb = unsafe { callbacks.read() };
    let missing = |name: &str| {
        FfiError::new(
            hf_status::HF_ERR_NULL_POINTER,
            format!("callback 'callbacks->{name}' is NULL (it is required)"),
        )
    };
    if cb.loss_grad.is_none() {
        return Err(missing("loss_grad"));
    }
    if cb.set_chunk.is_none() {
        return Err(missing("set_chunk"));
    }
    if cb.curvature_product.is_none() {
        return Err(missing("curvature_product"));
    }
    let invalid = |msg: String| FfiError::new(hf_status::HF_ERR_INVALID_ARGUMENT, msg);
    if cb.num_params == 0 {
        return Err(invalid("callbacks->num_params is 0".into()));
    }
    if cb.num_examples == 0 {
        return Err(invalid(
            "callbacks->num_examples is 0 (use 1 for an objective without examples)".into(),
        ));
    }
    if cb.curvature_kinds >> 3 != 0 {
        return Err(invalid(format!(
            "callbacks->curvature_kinds = {:#x} has bits beyond the 3 hf_curvature kinds",
            cb.curvature_kinds
        )));
    }
    Ok(HostObjective { cb })
}

const HOST_NOTE: &str = "host objective (callbacks)";

/// Creates a session that minimises the host-defined objective described by
/// `callbacks` (see `hf_objective_callbacks`), starting from `theta0`
/// (exactly `callbacks->num_params` finite floats, copied), with the options
/// of `cfg` (copied; NULL = the reference defaults). The options that
/// concern networks (`weight_cost`, `backend`, ...) are ignored: the host's
/// objective includes any regulariser itself.
///
/// Errors: `HF_ERR_NULL_POINTER` (a required callback; the message names
/// it), `HF_ERR_INVALID_ARGUMENT` (zero sizes, unknown curvature bits),
/// `HF_ERR_SHAPE_MISMATCH` (`theta0_len`), `HF_ERR_NON_FINITE` (theta0),
/// `HF_ERR_UNSUPPORTED` (option `curvature` not in `curvature_kinds`),
/// `HF_ERR_OUT_OF_RANGE` (options). No callback is called here.
///
/// # Safety
/// `callbacks` must be NULL or point to a valid struct whose callbacks
/// follow the contract above; `theta0` NULL or `theta0_len` floats; `out`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn hf_session_new_host(
    callbacks: *const hf_objective_callbacks,
    theta0: *const f32,
    theta0_len: usize,
    cfg: *const hf_config,
    out: *mut *mut hf_session,
) -> hf_status {
    guard("hf_session_new_host", || {
        // SAFETY: the caller's contracts.
        let (objective, theta0, result) = unsafe {
            (
                host_objective(callbacks)?,
                slice_in(theta0, theta0_len, "theta0")?,
                super::args::out(out, "out")?,
            )
        };
        super::args::check_len(
            theta0.len(),
            objective.cb.num_params,
            "theta0",
            "callbacks->num_params",
        )?;
        super::args::check_finite(theta0, "theta0")?;
        let config = config_or_default(cfg, "cfg")?;
        let objective: DynObjective = Box::new(objective);
        let session = Session::new(objective, theta0, config)?;
        register_session(session, None, HOST_NOTE.to_string(), result)
    })
}

/// Resumes a host-objective session saved with `hf_session_save` from the
/// file `path` over `callbacks` (the saved theta must have
/// `callbacks->num_params` entries); `cfg` replaces the saved options if not
/// NULL. Errors as for `hf_session_new_host` and `hf_session_resume`.
///
/// # Safety
/// As `hf_session_new_host`; `path` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn hf_session_resume_host(
    callbacks: *const hf_objective_callbacks,
    cfg: *const hf_config,
    path: *const c_char,
    out: *mut *mut hf_session,
) -> hf_status {
    guard("hf_session_resume_host", || {
        // SAFETY: the caller's contracts.
        let (objective, path, result) = unsafe {
            (
                host_objective(callbacks)?,
                path_arg(path, "path")?,
                super::args::out(out, "out")?,
            )
        };
        let (session, note) = resume_session(path, cfg, |_| {
            Ok((Box::new(objective) as DynObjective, HOST_NOTE.to_string()))
        })?;
        register_session(session, None, note, result)
    })
}
