//! `hf_session`: one HF optimisation run over a network and its data (or
//! over a host-defined objective, see `hf_session_new_host`), with reports,
//! a progress callback, a thread-safe stop request, and save/resume.
//!
//! Threads: calls on one session serialize (a second thread calling
//! `hf_session_get_params` while another is inside `hf_session_run` waits
//! until the run returns). `hf_session_request_stop` is the exception: it
//! never waits, and may be called from any thread and from inside callbacks.
//! Any other call on a session from inside its own progress or objective
//! callback fails with `HF_ERR_UNSUPPORTED` instead of deadlocking.

use std::ffi::{c_char, c_void, CString};
use std::os::raw::c_int;
use std::sync::atomic::{AtomicU64, Ordering};

use once_cell::sync::Lazy;

use super::args::{copy_text, out, Out};
use super::config::{config_copy, config_or_default, register_config};
use super::data::path_arg;
use super::error::{FfiError, FfiResult};
use super::guard::guard;
use super::handle::{self, hf_config, hf_data, hf_net, hf_session, HandleKind, Kind, Locked};
use super::net::{copy_out, net_parts, register_net};
use super::status::hf_status;
use crate::data::Dataset;
use crate::error::Error;
use crate::hf::cg::CgStop;
use crate::hf::{
    Control, HfConfig, IterationReport, Objective, RejectReason, Session, StopHandle, Summary,
    Termination,
};
use crate::net::{NetObjective, NetSpec, Network};

/// The objective type every session handle holds, so network and host
/// sessions share one handle kind.
pub(crate) type DynObjective = Box<dyn Objective + Send>;

/// Why an `hf_session_run` stopped (`int32_t` field `termination` of
/// `hf_summary`; text from `hf_termination_str`).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum hf_termination {
    /// The session's total iterations reached option `max_iters`.
    HF_TERMINATION_MAX_ITERATIONS = 0,
    /// The session's accumulated time reached option `max_seconds`.
    HF_TERMINATION_MAX_SECONDS = 1,
    /// The training error reached option `target_error`.
    HF_TERMINATION_TARGET_ERROR = 2,
    /// The training objective reached option `target_objective`.
    HF_TERMINATION_TARGET_OBJECTIVE = 3,
    /// No new best objective for `no_progress_iters` iterations.
    HF_TERMINATION_NO_PROGRESS = 4,
    /// `hf_session_request_stop` was called.
    HF_TERMINATION_STOP_REQUESTED = 5,
    /// The progress callback returned nonzero.
    HF_TERMINATION_CALLBACK_STOP = 6,
    /// `max_rejected_in_row` steps in a row were rejected for NaN/Inf.
    HF_TERMINATION_TOO_MANY_REJECTED = 7,
}

/// Why CG stopped in an iteration (`int32_t` field `cg_stop` of
/// `hf_iteration_report`).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum hf_cg_stop {
    /// CG did not run (the step was rejected before it).
    HF_CG_NONE = 0,
    /// Martens' relative-progress rule fired.
    HF_CG_RELATIVE_PROGRESS = 1,
    /// Option `cg_max_iters` was reached.
    HF_CG_MAX_ITERATIONS = 2,
    /// Negative curvature was met (possible with `curvature = hessian`).
    HF_CG_NEGATIVE_CURVATURE = 3,
    /// A CG scalar was NaN or infinite.
    HF_CG_NON_FINITE = 4,
    /// The residual vanished (the system was solved exactly).
    HF_CG_CONVERGED = 5,
}

/// Why a step was rejected, theta left unchanged (`int32_t` field
/// `reject_reason` of `hf_iteration_report`; text from
/// `hf_reject_reason_str`).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum hf_reject_reason {
    /// The step was accepted.
    HF_REJECT_NONE = 0,
    /// The objective or gradient at theta was NaN/Inf.
    HF_REJECT_NON_FINITE_GRADIENT = 1,
    /// The preconditioner statistic was NaN/Inf or negative.
    HF_REJECT_NON_FINITE_PRECONDITIONER = 2,
    /// CG met NaN/Inf (a curvature product or CG scalar).
    HF_REJECT_NON_FINITE_CURVATURE = 3,
    /// Every candidate step gave a NaN/Inf objective.
    HF_REJECT_NON_FINITE_CANDIDATE = 4,
    /// The chunk objective at theta was NaN/Inf.
    HF_REJECT_NON_FINITE_CHUNK_LOSS = 5,
    /// The line search accepted no step length.
    HF_REJECT_LINE_SEARCH_FAILED = 6,
}

/// What one HF iteration did. A value that does not exist (test error
/// without a test set, training error for a host objective, rho when CG did
/// not run) is NaN.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct hf_iteration_report {
    /// The session's iteration count after this step (1-based, across resumes).
    pub iteration: u64,
    /// Training objective at the new theta (mean loss plus weight cost).
    pub objective: f64,
    /// Training error (mean per-example sum of squared errors), or NaN.
    pub train_error: f64,
    /// Test objective, or NaN without a test set.
    pub test_objective: f64,
    /// Test error, or NaN without a test set.
    pub test_error: f64,
    /// CG iterations in this HF iteration.
    pub cg_iterations: u64,
    /// CG iterations over the whole session.
    pub cg_iterations_total: u64,
    /// CG iteration whose iterate backtracking chose.
    pub cg_chosen: u64,
    /// Reduction ratio rho on the curvature chunk (NaN if not computed).
    pub rho: f64,
    /// Damping lambda after this iteration's update.
    pub lambda: f64,
    /// Line-search shrinks (0 when the full step was accepted).
    pub ls_shrinks: u64,
    /// Accepted step length (0 when the step was rejected).
    pub ls_rate: f64,
    /// Euclidean norm of the chosen CG direction.
    pub p_norm: f64,
    /// Wall-clock seconds of this iteration.
    pub wall_seconds: f64,
    /// Session wall-clock seconds so far (across resumes).
    pub total_seconds: f64,
    /// Curvature products in this iteration.
    pub products: u64,
    /// Curvature products over the whole session.
    pub products_total: u64,
    /// Full-batch objective evaluations in this iteration.
    pub evaluations: u64,
    /// First example of the curvature chunk.
    pub chunk_start: u64,
    /// Examples in the curvature chunk.
    pub chunk_len: u64,
    /// Why CG stopped: an `hf_cg_stop` value.
    pub cg_stop: i32,
    /// 1 if the step was rejected (theta unchanged), else 0.
    pub rejected: i32,
    /// Why it was rejected: an `hf_reject_reason` value.
    pub reject_reason: i32,
}

/// The result of `hf_session_run`. Values that do not exist are NaN.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct hf_summary {
    /// Iterations done by this run.
    pub iterations: u64,
    /// The session's total iterations (across runs and resumes).
    pub iterations_total: u64,
    /// Steps rejected during this run.
    pub rejected: u64,
    /// CG iterations over the session.
    pub cg_iterations_total: u64,
    /// Curvature products over the session.
    pub products_total: u64,
    /// Full-batch objective evaluations over the session.
    pub evaluations_total: u64,
    /// Training objective at the final theta (NaN if no iteration ran).
    pub final_objective: f64,
    /// Training error at the final theta, or NaN.
    pub final_train_error: f64,
    /// Test error at the final theta, or NaN.
    pub final_test_error: f64,
    /// Final damping lambda.
    pub final_lambda: f64,
    /// Wall-clock seconds of this run.
    pub wall_seconds: f64,
    /// Session wall-clock seconds (across runs and resumes).
    pub total_seconds: f64,
    /// Why the run stopped: an `hf_termination` value.
    pub termination: i32,
}

/// Progress callback of `hf_session_run`, called after every iteration with
/// the `user` pointer given to `hf_session_run` and the iteration's report
/// (valid only during the call). Return 0 to continue, nonzero to stop the
/// run after this iteration (termination `HF_TERMINATION_CALLBACK_STOP`). It
/// runs on the thread that called `hf_session_run` and must not unwind
/// (throw a C++ exception or longjmp) into hessfree.
#[allow(non_camel_case_types)]
pub type hf_progress_fn =
    Option<unsafe extern "C" fn(user: *mut c_void, report: *const hf_iteration_report) -> c_int>;

fn cg_stop_code(stop: Option<CgStop>) -> i32 {
    let code = match stop {
        None => hf_cg_stop::HF_CG_NONE,
        Some(CgStop::RelativeProgress) => hf_cg_stop::HF_CG_RELATIVE_PROGRESS,
        Some(CgStop::MaxIterations) => hf_cg_stop::HF_CG_MAX_ITERATIONS,
        Some(CgStop::NegativeCurvature) => hf_cg_stop::HF_CG_NEGATIVE_CURVATURE,
        Some(CgStop::NonFinite) => hf_cg_stop::HF_CG_NON_FINITE,
        Some(CgStop::Converged) => hf_cg_stop::HF_CG_CONVERGED,
    };
    code as i32
}

/// Reject reasons in `hf_reject_reason` order (code = index + 1).
const REJECT_REASONS: [RejectReason; 6] = [
    RejectReason::NonFiniteGradient,
    RejectReason::NonFinitePreconditioner,
    RejectReason::NonFiniteCurvature,
    RejectReason::NonFiniteCandidate,
    RejectReason::NonFiniteChunkLoss,
    RejectReason::LineSearchFailed,
];

/// Terminations in `hf_termination` order (code = index).
const TERMINATIONS: [Termination; 8] = [
    Termination::MaxIterations,
    Termination::MaxSeconds,
    Termination::TargetError,
    Termination::TargetObjective,
    Termination::NoProgress,
    Termination::StopRequested,
    Termination::CallbackStop,
    Termination::TooManyRejected,
];

fn reject_code(reason: Option<RejectReason>) -> i32 {
    reason
        .and_then(|r| REJECT_REASONS.iter().position(|&x| x == r))
        .map_or(0, |i| i as i32 + 1)
}

fn termination_code(t: Termination) -> i32 {
    TERMINATIONS.iter().position(|&x| x == t).unwrap_or(0) as i32
}

fn nan_if_none(v: Option<f64>) -> f64 {
    v.unwrap_or(f64::NAN)
}

impl From<&IterationReport> for hf_iteration_report {
    fn from(r: &IterationReport) -> Self {
        hf_iteration_report {
            iteration: r.iteration,
            objective: r.objective,
            train_error: nan_if_none(r.train_error),
            test_objective: nan_if_none(r.test_objective),
            test_error: nan_if_none(r.test_error),
            cg_iterations: r.cg_iterations,
            cg_iterations_total: r.cg_iterations_total,
            cg_chosen: r.cg_chosen,
            rho: r.rho,
            lambda: r.lambda,
            ls_shrinks: r.ls_shrinks,
            ls_rate: r.ls_rate,
            p_norm: r.p_norm,
            wall_seconds: r.wall_seconds,
            total_seconds: r.total_seconds,
            products: r.products,
            products_total: r.products_total,
            evaluations: r.evaluations,
            chunk_start: r.chunk_start,
            chunk_len: r.chunk_len,
            cg_stop: cg_stop_code(r.cg_stop),
            rejected: i32::from(r.rejected),
            reject_reason: reject_code(r.reject_reason),
        }
    }
}

impl From<&Summary> for hf_summary {
    fn from(s: &Summary) -> Self {
        hf_summary {
            iterations: s.iterations,
            iterations_total: s.iterations_total,
            rejected: s.rejected,
            cg_iterations_total: s.cg_iterations_total,
            products_total: s.products_total,
            evaluations_total: s.evaluations_total,
            final_objective: s.final_objective,
            final_train_error: nan_if_none(s.final_train_error),
            final_test_error: nan_if_none(s.final_test_error),
            final_lambda: s.final_lambda,
            wall_seconds: s.wall_seconds,
            total_seconds: s.total_seconds,
            termination: termination_code(s.termination),
        }
    }
}

/// NUL-terminated static texts: termination reasons, then reject reasons.
static TERMINATION_TEXTS: Lazy<Vec<CString>> = Lazy::new(|| {
    TERMINATIONS
        .iter()
        .map(|t| CString::new(t.text()).unwrap_or_default())
        .collect()
});
static REJECT_TEXTS: Lazy<Vec<CString>> = Lazy::new(|| {
    std::iter::once("accepted")
        .chain(REJECT_REASONS.iter().map(|r| r.text()))
        .map(|t| CString::new(t).unwrap_or_default())
        .collect()
});
const UNKNOWN_CODE: &str = "unknown code\0";

fn static_text(table: &'static [CString], code: i32) -> *const c_char {
    usize::try_from(code)
        .ok()
        .and_then(|i| table.get(i))
        .map_or(UNKNOWN_CODE.as_ptr().cast(), |s| s.as_ptr())
}

/// A description of an `hf_termination` value (e.g. "stop requested"): a
/// static string, never NULL, never to be freed; "unknown code" for a value
/// that is not an `hf_termination`.
#[no_mangle]
pub extern "C" fn hf_termination_str(termination: i32) -> *const c_char {
    static_text(&TERMINATION_TEXTS, termination)
}

/// A description of an `hf_reject_reason` value (e.g. "line search
/// accepted no rate"): a static string, never NULL, never to be freed.
#[no_mangle]
pub extern "C" fn hf_reject_reason_str(reason: i32) -> *const c_char {
    static_text(&REJECT_TEXTS, reason)
}

/// A small per-thread number (never 0) to detect calls from inside a
/// session's own callbacks.
fn this_thread() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static ID: u64 = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    ID.try_with(|id| *id).unwrap_or(u64::MAX)
}

/// The mutable state of a session handle.
pub(crate) struct SessionState {
    session: Session<DynObjective>,
    /// The network architecture, for network sessions.
    spec: Option<NetSpec>,
    last_report: Option<IterationReport>,
    last_summary: Option<Summary>,
}

/// The object behind an `hf_session` handle. The stop handle lives outside
/// the lock so `hf_session_request_stop` never waits for a running step.
pub struct SessionObj {
    stop: StopHandle,
    backend_note: String,
    /// `this_thread()` of the thread inside step/run, 0 when none.
    running_in: AtomicU64,
    inner: Locked<SessionState>,
}

impl HandleKind for SessionObj {
    type C = hf_session;
    const KIND: Kind = Kind::Session;
}

/// Clears `running_in` when a step or run ends, also by a panic.
struct NotRunning<'a>(&'a AtomicU64);

impl Drop for NotRunning<'_> {
    fn drop(&mut self) {
        self.0.store(0, Ordering::Release);
    }
}

impl SessionObj {
    /// Runs `f` with the session locked; a call from inside this session's
    /// own callback is refused instead of deadlocking.
    fn with<R>(&self, f: impl FnOnce(&mut SessionState) -> FfiResult<R>) -> FfiResult<R> {
        if self.running_in.load(Ordering::Acquire) == this_thread() {
            return Err(FfiError::new(
                hf_status::HF_ERR_UNSUPPORTED,
                "argument 'session' is running on this thread (called from its own progress or \
                 objective callback); only hf_session_request_stop may be called there",
            ));
        }
        self.inner.with("session", f)
    }

    /// As [`SessionObj::with`], marking the session as running on this thread.
    fn with_running<R>(&self, f: impl FnOnce(&mut SessionState) -> FfiResult<R>) -> FfiResult<R> {
        self.with(|state| {
            self.running_in.store(this_thread(), Ordering::Release);
            let _reset = NotRunning(&self.running_in);
            f(state)
        })
    }
}

/// Registers a new session and writes its handle.
pub(crate) fn register_session(
    session: Session<DynObjective>,
    spec: Option<NetSpec>,
    backend_note: String,
    result: Out<'_, *mut hf_session>,
) -> FfiResult<()> {
    let obj = SessionObj {
        stop: session.stop_handle(),
        backend_note,
        running_in: AtomicU64::new(0),
        inner: Locked::new(SessionState {
            session,
            spec,
            last_report: None,
            last_summary: None,
        }),
    };
    result.write(handle::register(obj)?);
    Ok(())
}

fn get_session(session: *const hf_session) -> FfiResult<std::sync::Arc<SessionObj>> {
    handle::get::<SessionObj>(session, "session")
}

/// The training set behind `train` and the optional test set behind `test`
/// (cheap copies sharing the data).
fn data_sets(train: *const hf_data, test: *const hf_data) -> FfiResult<(Dataset, Option<Dataset>)> {
    let train = handle::get::<Dataset>(train, "train")?.as_ref().clone();
    let test = if test.is_null() {
        None
    } else {
        Some(handle::get::<Dataset>(test, "test")?.as_ref().clone())
    };
    Ok((train, test))
}

/// The network objective for `spec` on the data, as `config` asks.
fn net_objective(
    spec: NetSpec,
    train: Dataset,
    test: Option<Dataset>,
    config: &HfConfig,
) -> FfiResult<(DynObjective, String)> {
    let (objective, note) = NetObjective::from_config(spec, train, test, config)?;
    Ok((Box::new(objective), note))
}

/// Creates a session that trains a copy of `net` (its architecture and
/// current theta) on `train`, reporting on `test` if that is not NULL, with the
/// options of `cfg` (copied; NULL = the reference defaults). The data sets
/// are shared, not copied, and may be freed by the host afterwards.
///
/// Errors: `HF_ERR_SHAPE_MISMATCH` (data widths do not fit the network),
/// `HF_ERR_OUT_OF_RANGE` (an option or a combination of options),
/// `HF_ERR_BACKEND_UNAVAILABLE` (option `backend` = `"cuda"` in a build or on
/// a machine without CUDA; the message says why - `"auto"` falls back to the
/// CPU, see `hf_session_backend_name`), `HF_ERR_INVALID_HANDLE`,
/// `HF_ERR_NULL_POINTER`.
///
/// # Safety
/// `out` must be NULL or point to a writable `hf_session *`.
#[no_mangle]
pub unsafe extern "C" fn hf_session_new(
    net: *const hf_net,
    train: *const hf_data,
    test: *const hf_data,
    cfg: *const hf_config,
    out: *mut *mut hf_session,
) -> hf_status {
    guard("hf_session_new", || {
        // SAFETY: the caller's contract.
        let result = unsafe { super::args::out(out, "out")? };
        let (spec, theta) = net_parts(net, "net")?;
        let (train, test) = data_sets(train, test)?;
        let config = config_or_default(cfg, "cfg")?;
        config.validate()?;
        let (objective, note) = net_objective(spec.clone(), train, test, &config)?;
        let session = Session::new(objective, &theta, config)?;
        register_session(session, Some(spec), note, result)
    })
}

/// The options stored in a session file, read before the objective exists
/// (building the objective needs some of them: backend, weight cost, ...).
fn session_file_config(bytes: &[u8]) -> crate::error::Result<HfConfig> {
    let file = crate::checkpoint::decode(bytes)?;
    file.expect_kind(crate::hf::session::SESSION_KIND)?;
    let text = std::str::from_utf8(file.require("config")?)
        .map_err(|_| Error::format("session config is not UTF-8"))?;
    HfConfig::from_text(text)
}

/// Resumes a session saved with `hf_session_save`, over `objective_for`'s
/// objective. The options are `cfg` if given (replacing the saved ones, e.g.
/// to raise `max_iters`), else the saved ones.
pub(crate) fn resume_session(
    path: &std::path::Path,
    cfg: *const hf_config,
    objective_for: impl FnOnce(&HfConfig) -> FfiResult<(DynObjective, String)>,
) -> FfiResult<(Session<DynObjective>, String)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, "cannot read session file", e))?;
    let in_path = |e: Error| e.context(format!("'{}'", path.display()));
    let saved = session_file_config(&bytes).map_err(in_path)?;
    let config = if cfg.is_null() {
        saved
    } else {
        config_copy(cfg, "cfg")?
    };
    config.validate()?;
    let (objective, note) = objective_for(&config)?;
    let mut session = Session::from_bytes(objective, &bytes).map_err(in_path)?;
    session.set_config(config)?;
    Ok((session, note))
}

/// Resumes a network session saved with `hf_session_save` from the file
/// `path`: `net` gives the architecture (its theta is ignored; the saved theta must
/// have the same length), `train`/`test` the data (as for `hf_session_new`),
/// `cfg` the options (NULL = those saved in the file). Running m more
/// iterations gives bit-identical results to a session that was never
/// interrupted, given the same options and data.
///
/// Errors: as `hf_session_new`, plus `HF_ERR_IO`, `HF_ERR_FORMAT`,
/// `HF_ERR_CHECKSUM`, `HF_ERR_VERSION` for the file, and
/// `HF_ERR_SHAPE_MISMATCH` when the saved theta does not fit `net`.
///
/// # Safety
/// `path` must be NULL or a NUL-terminated string; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn hf_session_resume(
    net: *const hf_net,
    train: *const hf_data,
    test: *const hf_data,
    cfg: *const hf_config,
    path: *const c_char,
    out: *mut *mut hf_session,
) -> hf_status {
    guard("hf_session_resume", || {
        // SAFETY: the caller's contracts.
        let (path, result) = unsafe { (path_arg(path, "path")?, super::args::out(out, "out")?) };
        let (spec, _) = net_parts(net, "net")?;
        let (train, test) = data_sets(train, test)?;
        let (session, note) = resume_session(path, cfg, |config| {
            net_objective(spec.clone(), train, test, config)
        })?;
        register_session(session, Some(spec), note, result)
    })
}

/// Releases a session. NULL and an already freed `hf_session` are harmless;
/// a handle of another kind is `HF_ERR_INVALID_HANDLE`. If another thread is
/// inside a call on the session, the session lives until that call returns.
#[no_mangle]
pub extern "C" fn hf_session_free(session: *mut hf_session) -> hf_status {
    guard("hf_session_free", || {
        handle::free::<SessionObj>(session, "session")
    })
}

/// Checks an optional out-parameter: NULL means "not wanted".
///
/// # Safety
/// `ptr` must be NULL or valid for writing one `T`.
unsafe fn optional_out<'a, T>(ptr: *mut T, arg: &str) -> FfiResult<Option<Out<'a, T>>> {
    if ptr.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded caller contract.
        unsafe { out(ptr, arg).map(Some) }
    }
}

/// Runs one HF iteration and, if `report` is not NULL, writes its report.
/// A rejected step (NaN/Inf, failed line search) is not an error: the report
/// says so, theta is unchanged and lambda raised. An error from the objective (e.g.
/// `HF_ERR_CALLBACK` from a host objective) leaves theta, lambda and the schedule as
/// they were. Stop requests and stop options do not apply to single steps.
///
/// # Safety
/// `report` must be NULL or point to a writable `hf_iteration_report`.
#[no_mangle]
pub unsafe extern "C" fn hf_session_step(
    session: *mut hf_session,
    report: *mut hf_iteration_report,
) -> hf_status {
    guard("hf_session_step", || {
        // SAFETY: the caller's contract.
        let result = unsafe { optional_out(report, "report")? };
        let obj = get_session(session)?;
        let r = obj.with_running(|state| {
            let r = state.session.step()?;
            state.last_report = Some(r.clone());
            Ok(r)
        })?;
        if let Some(result) = result {
            result.write((&r).into());
        }
        Ok(())
    })
}

/// Runs HF iterations until a stop condition (options `max_iters` - the
/// session's total -, `max_seconds`, `target_error`, `target_objective`,
/// `no_progress_iters`, `max_rejected_in_row`; `hf_session_request_stop`; or
/// `progress` returning nonzero). `progress` (may be NULL) is called with
/// `user` after every iteration. If `summary` is not NULL it receives the
/// summary; its `termination` says why the run stopped, which is not an
/// error: the status is `HF_OK`.
///
/// Errors: an error from the objective stops the run at once (for a host
/// objective, `HF_ERR_CALLBACK` naming the callback); theta is that of the last
/// completed iteration and the session stays usable.
///
/// # Safety
/// `progress` must be NULL or a valid callback; `summary` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn hf_session_run(
    session: *mut hf_session,
    progress: hf_progress_fn,
    user: *mut c_void,
    summary: *mut hf_summary,
) -> hf_status {
    guard("hf_session_run", || {
        // SAFETY: the caller's contract.
        let result = unsafe { optional_out(summary, "summary")? };
        let obj = get_session(session)?;
        let s = obj.with_running(|state| {
            let mut last = None;
            let run = state.session.run(|r| {
                last = Some(r.clone());
                let Some(callback) = progress else {
                    return Control::Continue;
                };
                let c_report = hf_iteration_report::from(r);
                // SAFETY: the host's contract on `progress` and `user`; the
                // report lives across the call.
                let answer = unsafe { callback(user, &c_report) };
                if answer == 0 {
                    Control::Continue
                } else {
                    Control::Stop
                }
            });
            if last.is_some() {
                state.last_report = last;
            }
            let s = run?;
            state.last_summary = Some(s.clone());
            Ok(s)
        })?;
        if let Some(result) = result {
            result.write((&s).into());
        }
        Ok(())
    })
}

/// Asks the session to stop: a run in progress stops after its current
/// iteration (termination `HF_TERMINATION_STOP_REQUESTED`). Never waits for
/// the session; safe from any thread, from signal-free contexts such as a
/// GUI thread, and from inside the session's own callbacks. A request made
/// while no run is in progress stops the next `hf_session_run` before its
/// first iteration (0 iterations); single steps ignore it.
#[no_mangle]
pub extern "C" fn hf_session_request_stop(session: *const hf_session) -> hf_status {
    guard("hf_session_request_stop", || {
        get_session(session)?.stop.request_stop();
        Ok(())
    })
}

/// Writes the number of parameters P of the session's objective.
///
/// # Safety
/// `count` must be NULL or point to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn hf_session_num_params(
    session: *const hf_session,
    count: *mut usize,
) -> hf_status {
    guard("hf_session_num_params", || {
        // SAFETY: the caller's contract.
        let result = unsafe { out(count, "count")? };
        let n = get_session(session)?.with(|s| Ok(s.session.theta().len()))?;
        result.write(n);
        Ok(())
    })
}

/// Copies the current theta into `out` (at least P floats).
///
/// # Safety
/// `out` must be NULL or point to `out_len` writable floats.
#[no_mangle]
pub unsafe extern "C" fn hf_session_get_params(
    session: *const hf_session,
    out: *mut f32,
    out_len: usize,
) -> hf_status {
    guard("hf_session_get_params", || {
        get_session(session)?.with(|s| {
            // SAFETY: the caller's contract.
            unsafe {
                copy_out(
                    s.session.theta(),
                    out,
                    out_len,
                    "out",
                    "the number of parameters",
                )
            }
        })
    })
}

/// Creates a new network with the session's architecture and current theta.
/// A session over a host objective has no network: `HF_ERR_UNSUPPORTED`.
///
/// # Safety
/// `out` must be NULL or point to a writable `hf_net *`.
#[no_mangle]
pub unsafe extern "C" fn hf_session_copy_net(
    session: *const hf_session,
    out: *mut *mut hf_net,
) -> hf_status {
    guard("hf_session_copy_net", || {
        // SAFETY: the caller's contract.
        let result = unsafe { super::args::out(out, "out")? };
        let (spec, theta) = get_session(session)?.with(|s| match &s.spec {
            Some(spec) => Ok((spec.clone(), s.session.theta().to_vec())),
            None => Err(FfiError::new(
                hf_status::HF_ERR_UNSUPPORTED,
                "the session trains a host-defined objective, not an hf_net",
            )),
        })?;
        register_net(Network::with_params(spec, theta)?, result)
    })
}

/// Writes the number of HF iterations the session has done (across runs
/// and resumes).
///
/// # Safety
/// `iteration` must be NULL or point to a writable `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn hf_session_iteration(
    session: *const hf_session,
    iteration: *mut u64,
) -> hf_status {
    guard("hf_session_iteration", || {
        // SAFETY: the caller's contract.
        let result = unsafe { out(iteration, "iteration")? };
        result.write(get_session(session)?.with(|s| Ok(s.session.iteration()))?);
        Ok(())
    })
}

/// Writes the current damping lambda.
///
/// # Safety
/// `lambda` must be NULL or point to a writable `double`.
#[no_mangle]
pub unsafe extern "C" fn hf_session_lambda(
    session: *const hf_session,
    lambda: *mut f64,
) -> hf_status {
    guard("hf_session_lambda", || {
        // SAFETY: the caller's contract.
        let result = unsafe { out(lambda, "lambda")? };
        result.write(get_session(session)?.with(|s| Ok(s.session.lambda()))?);
        Ok(())
    })
}

/// Replaces the session's options with a copy of `cfg` (validated; on error
/// nothing changes). theta, lambda and the chunk schedule keep their state, so this
/// is how to continue a finished run, e.g. with a larger `max_iters`.
#[no_mangle]
pub extern "C" fn hf_session_set_config(
    session: *mut hf_session,
    cfg: *const hf_config,
) -> hf_status {
    guard("hf_session_set_config", || {
        let config = config_copy(cfg, "cfg")?;
        get_session(session)?.with(|s| Ok(s.session.set_config(config)?))
    })
}

/// Creates a new `hf_config` holding a copy of the session's options.
///
/// # Safety
/// `out` must be NULL or point to a writable `hf_config *`.
#[no_mangle]
pub unsafe extern "C" fn hf_session_get_config(
    session: *const hf_session,
    out: *mut *mut hf_config,
) -> hf_status {
    guard("hf_session_get_config", || {
        // SAFETY: the caller's contract.
        let result = unsafe { super::args::out(out, "out")? };
        let config = get_session(session)?.with(|s| Ok(s.session.config().clone()))?;
        register_config(config, result)
    })
}

/// Saves the session (theta, lambda, CG warm start, iteration, chunk schedule, random
/// state, counters, options) to `path` atomically: a crash leaves the old
/// file or the new one, never a torn one. `HF_ERR_IO` names the path.
///
/// # Safety
/// `path` must be NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn hf_session_save(
    session: *const hf_session,
    path: *const c_char,
) -> hf_status {
    guard("hf_session_save", || {
        // SAFETY: the caller's contract.
        let path = unsafe { path_arg(path, "path")? };
        let bytes = get_session(session)?.with(|s| Ok(s.session.to_bytes()))?;
        Ok(crate::checkpoint::write_atomic(path, &bytes)?)
    })
}

/// Copies the name of the compute backend and how it was chosen (e.g.
/// `"cpu (auto: CUDA unavailable: ...)"`, or `"host objective"`) into `buf`.
/// If it does not fit, nothing is written (`HF_ERR_BUFFER_TOO_SMALL`; the
/// message gives the size needed).
///
/// # Safety
/// `buf` must be NULL or point to `len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn hf_session_backend_name(
    session: *const hf_session,
    buf: *mut c_char,
    len: usize,
) -> hf_status {
    guard("hf_session_backend_name", || {
        let obj = get_session(session)?;
        // SAFETY: the caller's contract.
        unsafe { copy_text(&obj.backend_note, buf, len, "buf") }
    })
}

/// Copies the last run's summary as text into `buf`: one line if `full` is
/// 0, else a multi-line table of every total (about 600 bytes). Before any
/// run has finished: `HF_ERR_INVALID_ARGUMENT`. If the text does not fit,
/// nothing is written (`HF_ERR_BUFFER_TOO_SMALL`).
///
/// # Safety
/// `buf` must be NULL or point to `len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn hf_session_summary_text(
    session: *const hf_session,
    full: c_int,
    buf: *mut c_char,
    len: usize,
) -> hf_status {
    guard("hf_session_summary_text", || {
        let text = get_session(session)?.with(|s| match &s.last_summary {
            Some(sum) if full != 0 => Ok(sum.full()),
            Some(sum) => Ok(sum.brief()),
            None => Err(FfiError::new(
                hf_status::HF_ERR_INVALID_ARGUMENT,
                "no hf_session_run has finished on this session yet",
            )),
        })?;
        // SAFETY: the caller's contract.
        unsafe { copy_text(&text, buf, len, "buf") }
    })
}

/// Copies the last iteration's report as one log line into `buf`. Before
/// any iteration: `HF_ERR_INVALID_ARGUMENT`. If the text does not fit,
/// nothing is written (`HF_ERR_BUFFER_TOO_SMALL`).
///
/// # Safety
/// `buf` must be NULL or point to `len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn hf_session_report_text(
    session: *const hf_session,
    buf: *mut c_char,
    len: usize,
) -> hf_status {
    guard("hf_session_report_text", || {
        let text = get_session(session)?.with(|s| match &s.last_report {
            Some(r) => Ok(r.log_line()),
            None => Err(FfiError::new(
                hf_status::HF_ERR_INVALID_ARGUMENT,
                "no iteration has run on this session yet",
            )),
        })?;
        // SAFETY: the caller's contract.
        unsafe { copy_text(&text, buf, len, "buf") }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_enums() {
        assert_eq!(cg_stop_code(None), hf_cg_stop::HF_CG_NONE as i32);
        assert_eq!(
            termination_code(Termination::TooManyRejected),
            hf_termination::HF_TERMINATION_TOO_MANY_REJECTED as i32
        );
        assert_eq!(
            termination_code(Termination::CallbackStop),
            hf_termination::HF_TERMINATION_CALLBACK_STOP as i32
        );
        assert_eq!(
            reject_code(Some(RejectReason::LineSearchFailed)),
            hf_reject_reason::HF_REJECT_LINE_SEARCH_FAILED as i32
        );
        assert_eq!(reject_code(None), 0);
        let text = |p: *const c_char| unsafe { std::ffi::CStr::from_ptr(p) }.to_str().unwrap();
        assert_eq!(text(hf_termination_str(5)), "stop requested");
        assert_eq!(text(hf_termination_str(8)), "unknown code");
        assert_eq!(text(hf_termination_str(-1)), "unknown code");
        assert_eq!(text(hf_reject_reason_str(0)), "accepted");
        assert_eq!(
            text(hf_reject_reason_str(6)),
            "line search accepted no rate"
        );
    }
}
