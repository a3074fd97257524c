"""Finding and loading ``libhessfree`` and declaring its C functions.

The search order is documented in :func:`find_library`. Every C function the
binding uses is declared once in :data:`PROTOTYPES` (return type and argument
types, in header order); ``tests/test_abi.py`` checks this table against
``include/hessfree.h`` so the binding cannot drift from the header silently.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char,
    c_char_p,
    c_double,
    c_float,
    c_int,
    c_int32,
    c_int64,
    c_size_t,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path

# ---------------------------------------------------------------------------
# C types
# ---------------------------------------------------------------------------

#: Handles are opaque pointer-sized numbers (never dereferenced here).
handle_t = c_void_p
status_t = c_int  # enum hf_status
size_p = POINTER(c_size_t)
float_p = POINTER(c_float)
double_p = POINTER(c_double)
handle_p = POINTER(c_void_p)
char_pp = POINTER(c_char_p)


class IterationReport_C(Structure):
    """``hf_iteration_report`` (field order and types as in the header)."""

    _fields_ = [
        ("iteration", c_uint64),
        ("objective", c_double),
        ("train_error", c_double),
        ("test_objective", c_double),
        ("test_error", c_double),
        ("cg_iterations", c_uint64),
        ("cg_iterations_total", c_uint64),
        ("cg_chosen", c_uint64),
        ("rho", c_double),
        ("lambda", c_double),
        ("ls_shrinks", c_uint64),
        ("ls_rate", c_double),
        ("p_norm", c_double),
        ("wall_seconds", c_double),
        ("total_seconds", c_double),
        ("products", c_uint64),
        ("products_total", c_uint64),
        ("evaluations", c_uint64),
        ("chunk_start", c_uint64),
        ("chunk_len", c_uint64),
        ("cg_stop", c_int32),
        ("rejected", c_int32),
        ("reject_reason", c_int32),
    ]


class Summary_C(Structure):
    """``hf_summary`` (field order and types as in the header)."""

    _fields_ = [
        ("iterations", c_uint64),
        ("iterations_total", c_uint64),
        ("rejected", c_uint64),
        ("cg_iterations_total", c_uint64),
        ("products_total", c_uint64),
        ("evaluations_total", c_uint64),
        ("final_objective", c_double),
        ("final_train_error", c_double),
        ("final_test_error", c_double),
        ("final_lambda", c_double),
        ("wall_seconds", c_double),
        ("total_seconds", c_double),
        ("termination", c_int32),
    ]


#: ``hf_progress_fn``: ``int (*)(void *user, const hf_iteration_report *r)``.
PROGRESS_FN = CFUNCTYPE(c_int, c_void_p, POINTER(IterationReport_C))
#: ``loss_grad(user, theta, n, loss, grad, precond_stat)``.
LOSS_GRAD_FN = CFUNCTYPE(c_int, c_void_p, float_p, c_size_t, double_p, float_p, float_p)
#: ``set_chunk(user, theta, n, chunk_start, chunk_len, curvature_kind)``.
SET_CHUNK_FN = CFUNCTYPE(c_int, c_void_p, float_p, c_size_t, c_size_t, c_size_t, c_int32)
#: ``curvature_product(user, v, n, out)``.
CURVATURE_PRODUCT_FN = CFUNCTYPE(c_int, c_void_p, float_p, c_size_t, float_p)
#: ``chunk_loss(user, theta, n, loss)``.
CHUNK_LOSS_FN = CFUNCTYPE(c_int, c_void_p, float_p, c_size_t, double_p)


class ObjectiveCallbacks_C(Structure):
    """``hf_objective_callbacks`` (a NULL function pointer is ``None``)."""

    _fields_ = [
        ("user", c_void_p),
        ("num_params", c_size_t),
        ("num_examples", c_size_t),
        ("loss_grad", LOSS_GRAD_FN),
        ("set_chunk", SET_CHUNK_FN),
        ("curvature_product", CURVATURE_PRODUCT_FN),
        ("chunk_loss", CHUNK_LOSS_FN),
        ("curvature_kinds", c_uint32),
        ("provides_precond_stat", c_int),
    ]


# ---------------------------------------------------------------------------
# Prototypes: name -> (restype, argtypes). Enum arguments (hf_activation,
# hf_curvature) are int32_t in the ABI; hf_key_type is an enum (int).
# ---------------------------------------------------------------------------

S, H, HP = status_t, handle_t, handle_p
PROTOTYPES: dict[str, tuple[object, list[object]]] = {
    # data
    "hf_data_new": (S, [c_size_t, c_size_t, float_p, c_size_t, c_size_t, float_p, c_size_t, HP]),
    "hf_data_new_f64": (
        S,
        [c_size_t, c_size_t, double_p, c_size_t, c_size_t, double_p, c_size_t, HP],
    ),
    "hf_data_new_autoencoder": (S, [c_size_t, c_size_t, float_p, c_size_t, HP]),
    "hf_data_new_autoencoder_f64": (S, [c_size_t, c_size_t, double_p, c_size_t, HP]),
    "hf_data_free": (S, [H]),
    "hf_data_size": (S, [H, size_p, size_p, size_p]),
    "hf_data_copy_inputs": (S, [H, float_p, c_size_t]),
    "hf_data_copy_targets": (S, [H, float_p, c_size_t]),
    "hf_data_load_mnist": (S, [c_char_p, HP, HP]),
    "hf_data_curves": (S, [c_size_t, c_uint64, HP]),
    "hf_data_faces": (S, [c_char_p, c_size_t, c_uint64, HP, HP]),
    "hf_data_preset": (S, [c_char_p, c_char_p, c_uint64, HP, HP]),
    # errors, status, version
    "hf_last_error_message": (S, [POINTER(c_char), c_size_t]),
    "hf_last_error_length": (S, [size_p]),
    "hf_status_str": (c_char_p, [c_int]),
    "hf_version": (c_char_p, []),
    "hf_version_numbers": (S, [POINTER(c_int), POINTER(c_int), POINTER(c_int)]),
    # config
    "hf_config_new": (S, [HP]),
    "hf_config_preset": (S, [c_char_p, HP]),
    "hf_config_clone": (S, [H, HP]),
    "hf_config_free": (S, [H]),
    "hf_config_set_f64": (S, [H, c_char_p, c_double]),
    "hf_config_set_i64": (S, [H, c_char_p, c_int64]),
    "hf_config_set_bool": (S, [H, c_char_p, c_int]),
    "hf_config_set_str": (S, [H, c_char_p, c_char_p]),
    "hf_config_set_from_string": (S, [H, c_char_p]),
    "hf_config_get_f64": (S, [H, c_char_p, double_p]),
    "hf_config_get_i64": (S, [H, c_char_p, POINTER(c_int64)]),
    "hf_config_get_bool": (S, [H, c_char_p, POINTER(c_int)]),
    "hf_config_get_str": (S, [H, c_char_p, POINTER(c_char), c_size_t]),
    "hf_config_validate": (S, [H]),
    "hf_config_to_text": (S, [H, POINTER(c_char), c_size_t]),
    "hf_config_key_count": (S, [size_p]),
    "hf_config_key_info": (S, [c_size_t, char_pp, POINTER(c_int), char_pp, char_pp, char_pp]),
    # net
    "hf_net_new": (S, [size_p, c_size_t, POINTER(c_int32), c_size_t, c_uint64, HP]),
    "hf_net_new_autoencoder": (S, [size_p, c_size_t, c_int32, c_uint64, HP]),
    "hf_net_new_preset": (S, [c_char_p, c_uint64, HP]),
    "hf_net_clone": (S, [H, HP]),
    "hf_net_free": (S, [H]),
    "hf_net_num_params": (S, [H, size_p]),
    "hf_net_num_layers": (S, [H, size_p]),
    "hf_net_layer_sizes": (S, [H, size_p, c_size_t]),
    "hf_net_layer_activations": (S, [H, POINTER(c_int32), c_size_t]),
    "hf_net_describe": (S, [H, POINTER(c_char), c_size_t]),
    "hf_net_get_params": (S, [H, float_p, c_size_t]),
    "hf_net_set_params": (S, [H, float_p, c_size_t]),
    "hf_net_predict": (S, [H, float_p, c_size_t, c_size_t, float_p, c_size_t]),
    "hf_net_evaluate": (S, [H, H, double_p, double_p]),
    "hf_net_gradient": (S, [H, H, float_p, c_size_t, double_p]),
    "hf_net_curvature_product": (S, [H, H, c_int32, float_p, c_size_t, float_p, c_size_t]),
    "hf_net_hessian_product_fd": (S, [H, H, float_p, c_size_t, c_double, float_p, c_size_t]),
    "hf_net_save": (S, [H, c_char_p]),
    "hf_net_load": (S, [c_char_p, HP]),
    # session
    "hf_termination_str": (c_char_p, [c_int32]),
    "hf_reject_reason_str": (c_char_p, [c_int32]),
    "hf_session_new": (S, [H, H, H, H, HP]),
    "hf_session_resume": (S, [H, H, H, H, c_char_p, HP]),
    "hf_session_free": (S, [H]),
    "hf_session_step": (S, [H, POINTER(IterationReport_C)]),
    "hf_session_run": (S, [H, PROGRESS_FN, c_void_p, POINTER(Summary_C)]),
    "hf_session_request_stop": (S, [H]),
    "hf_session_num_params": (S, [H, size_p]),
    "hf_session_get_params": (S, [H, float_p, c_size_t]),
    "hf_session_copy_net": (S, [H, HP]),
    "hf_session_iteration": (S, [H, POINTER(c_uint64)]),
    "hf_session_lambda": (S, [H, double_p]),
    "hf_session_set_config": (S, [H, H]),
    "hf_session_get_config": (S, [H, HP]),
    "hf_session_save": (S, [H, c_char_p]),
    "hf_session_backend_name": (S, [H, POINTER(c_char), c_size_t]),
    "hf_session_summary_text": (S, [H, c_int, POINTER(c_char), c_size_t]),
    "hf_session_report_text": (S, [H, POINTER(c_char), c_size_t]),
    # host objective
    "hf_session_new_host": (S, [POINTER(ObjectiveCallbacks_C), float_p, c_size_t, H, HP]),
    "hf_session_resume_host": (S, [POINTER(ObjectiveCallbacks_C), H, c_char_p, HP]),
}
del S, H, HP

# ---------------------------------------------------------------------------
# Finding the library
# ---------------------------------------------------------------------------

_SONAME = {"darwin": "libhessfree.dylib", "win32": "hessfree.dll"}.get(
    sys.platform, "libhessfree.so"
)


class LibraryNotFound(ImportError):
    """``libhessfree`` could not be found or loaded; the message lists where it looked."""


def repo_root() -> Path:
    """The crate root when this package is used from a source checkout
    (``bindings/python/hessfree`` -> three levels up)."""
    return Path(__file__).resolve().parents[3]


def candidates() -> list[tuple[str, str | None]]:
    """The places searched, in order, as ``(description, path or None)``."""
    found: list[tuple[str, str | None]] = []
    env = os.environ.get("HESSFREE_LIB")
    if env:
        found.append(("$HESSFREE_LIB", env))
        return found  # an explicit choice is never overridden by a guess
    root = repo_root()
    for sub in ("release", "debug", "release/deps", "debug/deps"):
        # `cargo test` alone leaves the cdylib in deps/ without copying it up.
        found.append((f"target/{sub} of the source tree", str(root / "target" / sub / _SONAME)))
    found.append(('ctypes.util.find_library("hessfree")', ctypes.util.find_library("hessfree")))
    return found


def find_library() -> ctypes.CDLL:
    """Loads libhessfree: ``$HESSFREE_LIB`` if set (and only that), else
    ``target/release`` then ``target/debug`` (then their ``deps/``) of the
    source tree this package sits in, else the system search
    (``ctypes.util.find_library``)."""
    tried: list[str] = []
    for where, path in candidates():
        if path is None:
            tried.append(f"  {where}: not found")
            continue
        if os.sep in path and not os.path.exists(path):
            tried.append(f"  {where}: {path} (no such file)")
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"  {where}: {path} ({e})")
    raise LibraryNotFound(
        "hessfree: cannot load the hessfree shared library. Looked in:\n"
        + "\n".join(tried)
        + "\nBuild it with `cargo build --release` in the crate root, or set "
        "HESSFREE_LIB to the path of libhessfree.so."
    )


def declare(lib: ctypes.CDLL) -> list[str]:
    """Sets restype/argtypes of every function in :data:`PROTOTYPES`;
    returns the names the library lacks (an older library)."""
    missing = []
    for name, (restype, argtypes) in PROTOTYPES.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            missing.append(name)
            continue
        fn.restype = restype
        fn.argtypes = argtypes
    return missing


lib = find_library()
#: Functions the loaded library does not export (calling them raises).
MISSING = declare(lib)
#: The path the library was loaded from.
path = lib._name

# ---------------------------------------------------------------------------
# Enumerations used as int32_t codes (checked against the header by
# tests/test_abi.py). Names are the header's, lower-cased, without prefix.
# ---------------------------------------------------------------------------

#: hf_activation.
ACTIVATIONS = {"logistic": 0, "tanh": 1, "linear": 2, "relu": 3, "softmax": 4}
#: hf_curvature.
CURVATURES = {"gauss_newton": 0, "hessian": 1, "empirical_fisher": 2}
#: hf_termination.
TERMINATIONS = {
    "max_iterations": 0,
    "max_seconds": 1,
    "target_error": 2,
    "target_objective": 3,
    "no_progress": 4,
    "stop_requested": 5,
    "callback_stop": 6,
    "too_many_rejected": 7,
}
#: hf_cg_stop.
CG_STOPS = {
    "none": 0,
    "relative_progress": 1,
    "max_iterations": 2,
    "negative_curvature": 3,
    "non_finite": 4,
    "converged": 5,
}
#: hf_reject_reason.
REJECT_REASONS = {
    "none": 0,
    "non_finite_gradient": 1,
    "non_finite_preconditioner": 2,
    "non_finite_curvature": 3,
    "non_finite_candidate": 4,
    "non_finite_chunk_loss": 5,
    "line_search_failed": 6,
}
#: C enum name -> (prefix of its constants, the table above).
ENUMS = {
    "hf_activation": ("HF_ACT_", ACTIVATIONS),
    "hf_curvature": ("HF_CURVATURE_", CURVATURES),
    "hf_termination": ("HF_TERMINATION_", TERMINATIONS),
    "hf_cg_stop": ("HF_CG_", CG_STOPS),
    "hf_reject_reason": ("HF_REJECT_", REJECT_REASONS),
}


def code_name(table: dict[str, int], code: int) -> str:
    """The name of ``code`` in ``table``, or ``"unknown(<code>)"``."""
    for name, c in table.items():
        if c == code:
            return name
    return f"unknown({code})"
