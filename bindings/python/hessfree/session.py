"""Training sessions (``hf_session``), progress callbacks and host objectives."""

from __future__ import annotations

import ctypes
import inspect
import os
from dataclasses import dataclass, fields
from typing import Any, Callable, Mapping

from . import _arrays
from ._handle import Handle, lib, text_out
from ._lib import (
    CG_STOPS,
    CHUNK_LOSS_FN,
    CURVATURE_PRODUCT_FN,
    CURVATURES,
    LOSS_GRAD_FN,
    PROGRESS_FN,
    REJECT_REASONS,
    SET_CHUNK_FN,
    TERMINATIONS,
    IterationReport_C,
    ObjectiveCallbacks_C,
    Summary_C,
    code_name,
)
from .config import Config
from .data import Data
from .errors import CallbackError, HessfreeError, binding_error, check
from .net import Net


@dataclass(frozen=True)
class IterationReport:
    """What one HF iteration did (values that do not exist are NaN)."""

    iteration: int
    objective: float
    train_error: float
    test_objective: float
    test_error: float
    cg_iterations: int
    cg_iterations_total: int
    cg_chosen: int
    rho: float
    lambda_: float
    ls_shrinks: int
    ls_rate: float
    p_norm: float
    wall_seconds: float
    total_seconds: float
    products: int
    products_total: int
    evaluations: int
    chunk_start: int
    chunk_len: int
    cg_stop: str
    rejected: bool
    reject_reason: str

    @classmethod
    def _from_c(cls, r: IterationReport_C) -> "IterationReport":
        values = {
            f.name: getattr(r, "lambda" if f.name == "lambda_" else f.name) for f in fields(cls)
        }
        values["cg_stop"] = code_name(CG_STOPS, r.cg_stop)
        values["rejected"] = bool(r.rejected)
        values["reject_reason"] = code_name(REJECT_REASONS, r.reject_reason)
        return cls(**values)


@dataclass(frozen=True)
class Summary:
    """The result of :meth:`Session.run` (values that do not exist are NaN).
    ``termination`` is a name such as "max_iterations" or "callback_stop";
    ``termination_text`` the library's description."""

    iterations: int
    iterations_total: int
    rejected: int
    cg_iterations_total: int
    products_total: int
    evaluations_total: int
    final_objective: float
    final_train_error: float
    final_test_error: float
    final_lambda: float
    wall_seconds: float
    total_seconds: float
    termination: str
    termination_text: str

    @classmethod
    def _from_c(cls, s: Summary_C) -> "Summary":
        values = {f.name: getattr(s, f.name) for f in fields(cls) if f.name != "termination_text"}
        values["termination"] = code_name(TERMINATIONS, s.termination)
        values["termination_text"] = lib.hf_termination_str(s.termination).decode()
        return cls(**values)


class _Pending:
    """The first exception raised by Python code the library called back
    during one C call, to re-raise once that call has returned."""

    def __init__(self) -> None:
        self.exc: BaseException | None = None

    def guard(self, fn: Callable[..., Any], *args: Any) -> int:
        """Runs ``fn``; 0 on success, 1 (failure) after storing its exception.
        Nothing may propagate into C (ctypes would print and drop it)."""
        if self.exc is not None:
            return 1
        try:
            fn(*args)
            return 0
        except BaseException as e:  # KeyboardInterrupt too: stop the run, re-raise later
            self.exc = e
            return 1

    def reraise(self, status: int) -> None:
        """After the C call: raises the stored exception (with the library's
        error, if any, as its cause) or the status's own error."""
        exc, self.exc = self.exc, None
        if exc is None:
            check(status)
            return
        if status != 0:
            try:
                check(status)
            except HessfreeError as err:
                raise exc from err
        raise exc


def _config_handle(config: Config | Mapping[str, Any] | None) -> tuple[Any, Config | None]:
    if config is None:
        return None, None
    cfg = Config.coerce(config)
    return cfg.handle, cfg


def _check_type(value: Any, cls: type, what: str) -> Any:
    if not isinstance(value, cls):
        raise binding_error(
            "HF_ERR_WRONG_TYPE",
            f"{what} must be a hessfree.{cls.__name__}, got {type(value).__name__}",
        )
    return value.handle


class Session(Handle):
    """One HF optimisation run.

    ``Session(net, train, test=None, config=None, **options)`` trains a copy
    of ``net`` (its θ) on ``train``; ``config`` is a :class:`Config` or a
    dict, ``options`` are set on top of it. :meth:`step` runs one iteration,
    :meth:`run` runs until a stop condition. :meth:`request_stop` may be
    called from any thread. For a Python-defined objective see
    :meth:`from_objective`.
    """

    _free = lib.hf_session_free
    _kind = "session"

    def __init__(
        self,
        net: Net,
        train: Data,
        test: Data | None = None,
        config: Config | Mapping[str, Any] | None = None,
        **options: Any,
    ):
        cfg = _merged_config(config, options)
        out = ctypes.c_void_p()
        check(
            lib.hf_session_new(
                _check_type(net, Net, "net"),
                _check_type(train, Data, "train"),
                None if test is None else _check_type(test, Data, "test"),
                None if cfg is None else cfg.handle,
                ctypes.byref(out),
            )
        )
        Handle.__init__(self, out.value or 0)
        self._init_extra()

    def _init_extra(self) -> None:
        self._pending = _Pending()
        self._objective: _HostObjective | None = None

    @classmethod
    def resume(
        cls,
        path: str | os.PathLike[str],
        net: Net,
        train: Data,
        test: Data | None = None,
        config: Config | Mapping[str, Any] | None = None,
    ) -> "Session":
        """A network session saved by :meth:`save`; ``net`` gives the
        architecture, ``config`` (None = the saved options) may change e.g.
        ``max_iters``."""
        cfg_h, _cfg = _config_handle(config)
        return cls._create(
            lib.hf_session_resume,
            _check_type(net, Net, "net"),
            _check_type(train, Data, "train"),
            None if test is None else _check_type(test, Data, "test"),
            cfg_h,
            os.fsencode(path),
        )

    @classmethod
    def from_objective(
        cls,
        objective: Any,
        theta0: Any,
        config: Config | Mapping[str, Any] | None = None,
        **options: Any,
    ) -> "Session":
        """A session minimising a Python objective from ``theta0``.

        ``objective`` provides ``loss_grad(theta) -> (loss, grad)`` (or
        ``(loss, grad, precond_stat)`` when its attribute
        ``provides_precond_stat`` is true), ``set_chunk(theta, start, length)``
        (or ``(theta, start, length, kind)``) and ``curvature_product(v) -> Cv``;
        optionally ``chunk_loss(theta) -> loss``, ``num_examples`` (default 1)
        and ``curvature_kinds`` (names; default ``["gauss_newton"]``). An
        exception raised in any of them stops the step or run, which then
        re-raises it (the library saw HF_ERR_CALLBACK).
        """
        cfg = _merged_config(config, options)
        host = _HostObjective(objective)
        theta = _arrays.vector_in(theta0, "theta0")
        host.struct.num_params = theta.size
        out = ctypes.c_void_p()
        check(
            lib.hf_session_new_host(
                ctypes.byref(host.struct),
                theta.ptr,
                theta.size,
                None if cfg is None else cfg.handle,
                ctypes.byref(out),
            )
        )
        session = cls._wrap(out.value)
        session._attach(host)
        return session

    @classmethod
    def resume_objective(
        cls,
        path: str | os.PathLike[str],
        objective: Any,
        num_params: int,
        config: Config | Mapping[str, Any] | None = None,
    ) -> "Session":
        """A host-objective session saved by :meth:`save`, over ``objective``."""
        host = _HostObjective(objective)
        host.struct.num_params = int(num_params)
        cfg_h, _cfg = _config_handle(config)
        out = ctypes.c_void_p()
        check(
            lib.hf_session_resume_host(
                ctypes.byref(host.struct), cfg_h, os.fsencode(path), ctypes.byref(out)
            )
        )
        session = cls._wrap(out.value)
        session._attach(host)
        return session

    def _attach(self, host: "_HostObjective") -> None:
        # The session keeps the callbacks (and their CFUNCTYPE objects)
        # alive as long as the C side may call them.
        self._objective = host
        host.pending = self._pending

    # -- running -----------------------------------------------------------

    def step(self) -> IterationReport:
        """Runs one HF iteration and returns its report."""
        report = IterationReport_C()
        status = lib.hf_session_step(self._h, ctypes.byref(report))
        self._pending.reraise(status)
        return IterationReport._from_c(report)

    def run(self, callback: Callable[[IterationReport], Any] | None = None) -> Summary:
        """Runs iterations until a stop condition and returns the summary.

        ``callback(report)`` is called after every iteration; a truthy
        return value stops the run (termination "callback_stop"). If it
        raises, the run stops after that iteration and the exception is
        re-raised here."""
        pending = self._pending
        summary = Summary_C()

        def progress(_user: Any, report: Any) -> int:
            stop = [False]

            def call() -> None:
                stop[0] = bool(callback(IterationReport._from_c(report.contents)))

            rc = pending.guard(call)
            return 1 if rc or stop[0] else 0

        c_progress = PROGRESS_FN(progress) if callback is not None else PROGRESS_FN()
        status = lib.hf_session_run(self._h, c_progress, None, ctypes.byref(summary))
        del c_progress  # the library no longer calls it once run returns
        pending.reraise(status)
        return Summary._from_c(summary)

    def request_stop(self) -> None:
        """Asks a run in progress to stop after its current iteration; safe
        from any thread and from callbacks; never waits."""
        check(lib.hf_session_request_stop(self._h))

    # -- state -------------------------------------------------------------

    @property
    def num_params(self) -> int:
        """P, the length of θ."""
        n = ctypes.c_size_t()
        check(lib.hf_session_num_params(self._h, ctypes.byref(n)))
        return n.value

    @property
    def params(self) -> Any:
        """A copy of the current θ."""
        out = _arrays.Output((self.num_params,))
        check(lib.hf_session_get_params(self._h, out.ptr, out.size))
        return out.value()

    def net(self) -> Net:
        """A new network with the session's architecture and current θ
        (Unsupported for a host objective)."""
        return Net._create(lib.hf_session_copy_net, self._h)

    @property
    def iteration(self) -> int:
        """HF iterations done (across runs and resumes)."""
        n = ctypes.c_uint64()
        check(lib.hf_session_iteration(self._h, ctypes.byref(n)))
        return n.value

    @property
    def damping(self) -> float:
        """The current damping λ."""
        v = ctypes.c_double()
        check(lib.hf_session_lambda(self._h, ctypes.byref(v)))
        return v.value

    @property
    def config(self) -> Config:
        """A copy of the session's options; assigning replaces them
        (validated), e.g. to continue with a larger ``max_iters``."""
        return Config._create(lib.hf_session_get_config, self._h)

    @config.setter
    def config(self, value: Config | Mapping[str, Any]) -> None:
        cfg = Config.coerce(value)
        check(lib.hf_session_set_config(self._h, cfg.handle))

    @property
    def backend(self) -> str:
        """The compute backend and how it was chosen, e.g. ``"cpu"``."""
        return text_out(lib.hf_session_backend_name, self._h)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Saves the whole session state to ``path`` atomically."""
        check(lib.hf_session_save(self._h, os.fsencode(path)))

    def summary_text(self, full: bool = False) -> str:
        """The last run's summary as text (one line, or a table if ``full``)."""
        return text_out(lib.hf_session_summary_text, self._h, int(bool(full)), size=2048)

    def report_text(self) -> str:
        """The last iteration's report as one log line."""
        return text_out(lib.hf_session_report_text, self._h, size=1024)

    def __repr__(self) -> str:
        if self._closed:
            return "<hessfree.Session (closed)>"
        return f"<hessfree.Session iteration {self.iteration}, backend {self.backend!r}>"


def _merged_config(
    config: Config | Mapping[str, Any] | None, options: Mapping[str, Any]
) -> Config | None:
    if config is None and not options:
        return None
    if isinstance(config, Config) and not options:
        return config
    cfg = config.copy() if isinstance(config, Config) else Config(config or {})
    cfg.update(options)
    return cfg


def _positional_arity(fn: Any) -> int | None:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return None
    return sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))


class _HostObjective:
    """The C callbacks over a Python objective. Every callback runs the
    Python code under :meth:`_Pending.guard`, so an exception becomes a
    nonzero return (HF_ERR_CALLBACK in C) and is re-raised by the session."""

    def __init__(self, obj: Any):
        missing = [
            f"{name}()"
            for name in ("loss_grad", "set_chunk", "curvature_product")
            if not callable(getattr(obj, name, None))
        ]
        if missing:
            raise binding_error(
                "HF_ERR_WRONG_TYPE", f"the objective lacks the method(s) {', '.join(missing)}"
            )
        self.obj = obj
        self.pending = _Pending()
        self.with_stat = bool(getattr(obj, "provides_precond_stat", False))
        self.chunk_kind = _positional_arity(obj.set_chunk) == 4
        kinds = getattr(obj, "curvature_kinds", ["gauss_newton"])
        mask = 0
        for k in kinds:
            mask |= 1 << CURVATURES[k] if isinstance(k, str) else 1 << int(k)
        self._fns = {
            "loss_grad": LOSS_GRAD_FN(self._loss_grad),
            "set_chunk": SET_CHUNK_FN(self._set_chunk),
            "curvature_product": CURVATURE_PRODUCT_FN(self._curvature_product),
            "chunk_loss": (
                CHUNK_LOSS_FN(self._chunk_loss)
                if callable(getattr(obj, "chunk_loss", None))
                else CHUNK_LOSS_FN()
            ),
        }
        self.struct = ObjectiveCallbacks_C(
            user=None,
            num_params=0,
            num_examples=int(getattr(obj, "num_examples", 1)),
            loss_grad=self._fns["loss_grad"],
            set_chunk=self._fns["set_chunk"],
            curvature_product=self._fns["curvature_product"],
            chunk_loss=self._fns["chunk_loss"],
            curvature_kinds=mask,
            provides_precond_stat=int(self.with_stat),
        )

    def _loss_grad(self, _user: Any, theta: Any, n: int, loss: Any, grad: Any, stat: Any) -> int:
        def call() -> None:
            result = self.obj.loss_grad(_arrays.view_f32(theta, n))
            if not isinstance(result, tuple) or len(result) not in (2, 3):
                raise TypeError("loss_grad must return (loss, grad) or (loss, grad, precond_stat)")
            if stat and len(result) != 3:
                raise TypeError("provides_precond_stat is set: loss_grad must return 3 values")
            if grad:
                _arrays.write_f32(grad, n, result[1], "loss_grad's gradient")
            if stat:
                _arrays.write_f32(stat, n, result[2], "loss_grad's precond_stat")
            loss[0] = float(result[0])

        return self.pending.guard(call)

    def _set_chunk(self, _user: Any, theta: Any, n: int, start: int, length: int, kind: int) -> int:
        def call() -> None:
            t = _arrays.view_f32(theta, n)
            if self.chunk_kind:
                self.obj.set_chunk(t, start, length, code_name(CURVATURES, kind))
            else:
                self.obj.set_chunk(t, start, length)

        return self.pending.guard(call)

    def _curvature_product(self, _user: Any, v: Any, n: int, out: Any) -> int:
        def call() -> None:
            cv = self.obj.curvature_product(_arrays.view_f32(v, n))
            _arrays.write_f32(out, n, cv, "curvature_product's result")

        return self.pending.guard(call)

    def _chunk_loss(self, _user: Any, theta: Any, n: int, loss: Any) -> int:
        def call() -> None:
            loss[0] = float(self.obj.chunk_loss(_arrays.view_f32(theta, n)))

        return self.pending.guard(call)


__all__ = ["IterationReport", "Summary", "Session", "CallbackError"]
