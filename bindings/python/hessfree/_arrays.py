"""Arrays in and out: numpy when it is installed, plain lists otherwise.

Inputs are converted to what the C ABI wants (C-order float32, or float64 for
the ``*_f64`` data constructors so the library itself range-checks values
that do not fit a float) and kept alive by the returned object for the
duration of the call. Set ``HESSFREE_NO_NUMPY=1`` to force the list path.
"""

from __future__ import annotations

import ctypes
import os
from ctypes import POINTER, c_double, c_float
from typing import Any

from .errors import binding_error

try:
    if os.environ.get("HESSFREE_NO_NUMPY"):
        raise ImportError("HESSFREE_NO_NUMPY is set")
    import numpy as np
except ImportError:
    np = None  # type: ignore[assignment]


def numpy_enabled() -> bool:
    """Whether arrays come back as numpy arrays (else as lists)."""
    return np is not None


class CArray:
    """A C view of converted host data; ``ptr`` is valid while this lives."""

    def __init__(self, keep: Any, ptr: Any, shape: tuple[int, ...], is_f64: bool):
        self.keep = keep
        self.ptr = ptr
        self.shape = shape
        self.is_f64 = is_f64

    @property
    def size(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n


def _shape_error(what: str, detail: str) -> Exception:
    return binding_error("HF_ERR_SHAPE_MISMATCH", f"{what}: {detail}")


def _numpy_array(x: Any, what: str, ndim: int, allow_f64: bool) -> CArray:
    a = np.asarray(x)
    if a.ndim != ndim:
        want = "an N x D matrix (one example per row)" if ndim == 2 else "a vector"
        raise _shape_error(what, f"expected {want}, got an array of shape {a.shape}")
    kind = a.dtype.kind
    if kind not in "fiub":
        raise TypeError(f"{what}: expected real numbers, got dtype {a.dtype}")
    wide = kind in "iu" or (kind == "f" and a.dtype.itemsize > 4)
    if allow_f64 and wide:
        a = np.ascontiguousarray(a, dtype=np.float64)
        return CArray(a, a.ctypes.data_as(POINTER(c_double)), a.shape, True)
    with np.errstate(over="ignore"):  # too-large values become inf: reported as non-finite
        a = np.ascontiguousarray(a, dtype=np.float32)
    return CArray(a, a.ctypes.data_as(POINTER(c_float)), a.shape, False)


def _number(v: Any, what: str) -> float:
    if isinstance(v, (str, bytes)) or not hasattr(v, "__float__"):
        raise TypeError(f"{what}: expected a real number, got {type(v).__name__}")
    return float(v)


def _list_matrix(x: Any, what: str) -> CArray:
    rows = list(x)
    if not rows or not all(isinstance(r, (list, tuple)) for r in rows):
        raise _shape_error(what, "expected a non-empty list of rows (one example per row)")
    d = len(rows[0])
    for i, r in enumerate(rows):
        if len(r) != d:
            raise _shape_error(what, f"row {i} has {len(r)} values, row 0 has {d}")
    flat = [_number(v, what) for r in rows for v in r]
    buf = (c_double * len(flat))(*flat)
    return CArray(buf, ctypes.cast(buf, POINTER(c_double)), (len(rows), d), True)


def _list_vector(x: Any, what: str) -> CArray:
    values = [_number(v, what) for v in x]
    buf = (c_float * len(values))(*values)
    return CArray(buf, ctypes.cast(buf, POINTER(c_float)), (len(values),), False)


def matrix_in(x: Any, what: str, allow_f64: bool = True) -> CArray:
    """An N x D matrix (numpy array of any real dtype, or a list of rows).
    Wide types come back as float64 when ``allow_f64``, else float32."""
    if np is not None and not _is_nested_list(x):
        return _numpy_array(x, what, 2, allow_f64)
    c = _list_matrix(x, what)
    return c if allow_f64 else _to_f32(c)


def vector_in(x: Any, what: str) -> CArray:
    """A float32 vector (numpy array or a list of numbers)."""
    if np is not None and not isinstance(x, (list, tuple)):
        return _numpy_array(x, what, 1, False)
    if np is not None:
        return _numpy_array(np.asarray(x, dtype=np.float64), what, 1, False)
    return _list_vector(x, what)


def _is_nested_list(x: Any) -> bool:
    return isinstance(x, (list, tuple)) and (not x or isinstance(x[0], (list, tuple)))


def _to_f32(c: CArray) -> CArray:
    values = list(c.keep)
    buf = (c_float * len(values))(*values)
    return CArray(buf, ctypes.cast(buf, POINTER(c_float)), c.shape, False)


class Output:
    """A float32 output buffer of ``shape``; :meth:`value` gives the host
    value (a numpy array, or a list / list of rows)."""

    def __init__(self, shape: tuple[int, ...]):
        self.shape = shape
        size = 1
        for s in shape:
            size *= s
        self.size = size
        if np is not None:
            self.keep = np.empty(shape, dtype=np.float32)
            self.ptr = self.keep.ctypes.data_as(POINTER(c_float))
        else:
            self.keep = (c_float * max(size, 1))()
            self.ptr = ctypes.cast(self.keep, POINTER(c_float))

    def value(self) -> Any:
        if np is not None:
            return self.keep
        flat = list(self.keep)[: self.size]
        if len(self.shape) == 1:
            return flat
        d = self.shape[1]
        return [flat[i * d : (i + 1) * d] for i in range(self.shape[0])]


def view_f32(ptr: Any, n: int) -> Any:
    """A copy of ``n`` floats at ``ptr`` (valid only during a callback) as a
    numpy array or list: copied so host code may keep it."""
    if np is not None:
        return np.ctypeslib.as_array(ptr, shape=(n,)).copy()
    return list(ptr[:n])


def write_f32(ptr: Any, n: int, values: Any, what: str) -> None:
    """Writes ``n`` floats from host ``values`` to ``ptr``; the length must
    be exactly ``n``."""
    if np is not None:
        a = np.asarray(values, dtype=np.float32).reshape(-1)
        if a.shape[0] != n:
            raise ValueError(f"{what} has {a.shape[0]} values, expected {n}")
        np.ctypeslib.as_array(ptr, shape=(n,))[:] = a
        return
    values = [_number(v, what) for v in values]
    if len(values) != n:
        raise ValueError(f"{what} has {len(values)} values, expected {n}")
    for i, v in enumerate(values):
        ptr[i] = v
