"""hessfree: Hessian-free optimization (Martens, ICML 2010) for Python.

A thin ctypes layer over the hessfree C library (``libhessfree.so``, found
through ``$HESSFREE_LIB``, the source tree's ``target/release`` or
``target/debug``, or the system library path). Arrays come back as numpy
arrays when numpy is installed, as lists otherwise.

>>> import hessfree as hf
>>> x = hf.Data.curves(400, seed=7).inputs()
>>> with hf.Data(x[:300]) as train, hf.Data(x[300:]) as test, \\
...      hf.Net.autoencoder([784, 32, 6], output="logistic", seed=11) as net, \\
...      hf.Session(net, train, test, chunk_size=150, max_iters=3) as s:
...     summary = s.run(lambda r: print(r.iteration, r.objective))
"""

from __future__ import annotations

import ctypes as _ctypes

from . import _lib
from ._arrays import numpy_enabled
from ._lib import LibraryNotFound
from .config import KEYS, Config, KeyInfo
from .data import Data
from .errors import (
    FAMILIES,
    BackendUnavailable,
    BufferTooSmall,
    CallbackError,
    FileError,
    FileFormatError,
    HessfreeError,
    InternalError,
    InvalidArgument,
    InvalidHandle,
    NonFinite,
    NumericalError,
    OutOfRange,
    ResourceLimit,
    ShapeMismatch,
    Status,
    UnknownKey,
    Unsupported,
    WrongType,
    last_error_message,
    status_name,
)
from .net import Evaluation, Net
from .session import IterationReport, Session, Summary

__version__ = _lib.lib.hf_version().decode()

#: Names in hf_activation, hf_curvature, hf_termination order.
ACTIVATIONS = tuple(_lib.ACTIVATIONS)
CURVATURES = tuple(_lib.CURVATURES)
TERMINATIONS = tuple(_lib.TERMINATIONS)


def version() -> str:
    """The loaded library's version, e.g. ``"0.1.0"``."""
    return _lib.lib.hf_version().decode()


def version_numbers() -> tuple[int, int, int]:
    """``(major, minor, patch)`` of the loaded library."""
    v = [_ctypes.c_int() for _ in range(3)]
    _lib.lib.hf_version_numbers(*(_ctypes.byref(x) for x in v))
    return v[0].value, v[1].value, v[2].value


def library_path() -> str:
    """The path libhessfree was loaded from."""
    return _lib.path


__all__ = [
    "ACTIVATIONS",
    "CURVATURES",
    "TERMINATIONS",
    "KEYS",
    "FAMILIES",
    "BackendUnavailable",
    "BufferTooSmall",
    "CallbackError",
    "Config",
    "Data",
    "Evaluation",
    "FileError",
    "FileFormatError",
    "HessfreeError",
    "InternalError",
    "InvalidArgument",
    "InvalidHandle",
    "IterationReport",
    "KeyInfo",
    "LibraryNotFound",
    "Net",
    "NonFinite",
    "NumericalError",
    "OutOfRange",
    "ResourceLimit",
    "Session",
    "ShapeMismatch",
    "Status",
    "Summary",
    "UnknownKey",
    "Unsupported",
    "WrongType",
    "last_error_message",
    "library_path",
    "numpy_enabled",
    "status_name",
    "version",
    "version_numbers",
]
