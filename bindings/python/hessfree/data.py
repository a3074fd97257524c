"""Data sets (``hf_data``): N x D inputs and targets, one example per row."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Any

from . import _lib
from ._arrays import Output, matrix_in
from ._handle import Handle, lib
from .errors import binding_error, check


def default_data_dir() -> Path:
    """``$HESSFREE_DATA_DIR``, else ``../shared/data`` next to the source tree."""
    env = os.environ.get("HESSFREE_DATA_DIR")
    if env:
        return Path(env)
    return _lib.repo_root().parent / "shared" / "data"


def _pair(fn: Any, *args: Any) -> tuple["Data", "Data"]:
    train, test = ctypes.c_void_p(), ctypes.c_void_p()
    check(fn(*args, ctypes.byref(train), ctypes.byref(test)))
    return Data._wrap(train.value), Data._wrap(test.value)


class Data(Handle):
    """A data set of N examples: ``inputs`` N x D_in and ``targets`` N x
    D_out, row-major (one example per row).

    ``Data(x)`` is an autoencoder set (targets = inputs, stored once);
    ``Data(x, y)`` a supervised one. ``x`` and ``y`` are numpy arrays of any
    real dtype (float64 and integers go through the library's double-precision
    constructor, which range-checks them; others become float32) or lists of
    rows. The library validates shapes and rejects NaN/Inf with
    :class:`~hessfree.NonFinite` naming the example and component. The data
    are copied: the host arrays may change afterwards.
    """

    _free = lib.hf_data_free
    _kind = "data"

    def __init__(self, inputs: Any, targets: Any = None):
        x = matrix_in(inputs, "inputs")
        out = ctypes.c_void_p()
        if targets is None:
            fn = lib.hf_data_new_autoencoder_f64 if x.is_f64 else lib.hf_data_new_autoencoder
            check(fn(x.shape[0], x.shape[1], x.ptr, x.size, ctypes.byref(out)))
        else:
            y = matrix_in(targets, "targets")
            if x.is_f64 != y.is_f64:  # one precision for both arrays
                x = matrix_in(inputs, "inputs", allow_f64=False)
                y = matrix_in(targets, "targets", allow_f64=False)
            fn = lib.hf_data_new_f64 if x.is_f64 else lib.hf_data_new
            # n comes from the inputs; the library checks the targets against it.
            check(
                fn(
                    x.shape[0],
                    x.shape[1],
                    x.ptr,
                    x.size,
                    y.shape[1],
                    y.ptr,
                    y.size,
                    ctypes.byref(out),
                )
            )
        Handle.__init__(self, out.value or 0)

    # -- generated and loaded sets -----------------------------------------

    @classmethod
    def curves(cls, n: int, seed: int = 0) -> "Data":
        """``n`` CURVES-like 28x28 images (autoencoder set); the same
        ``(n, seed)`` always gives the same data."""
        return cls._create(lib.hf_data_curves, _count(n, "n"), _seed(seed))

    @classmethod
    def mnist(cls, directory: str | os.PathLike[str] | None = None) -> tuple["Data", "Data"]:
        """MNIST ``(train, test)`` autoencoder sets from ``directory``
        (default ``<data dir>/mnist``)."""
        # Not Path(directory): Path("") is ".", which would hide an empty path.
        d = os.fspath(directory) if directory is not None else default_data_dir() / "mnist"
        return _pair(lib.hf_data_load_mnist, os.fsencode(d))

    @classmethod
    def faces(
        cls,
        olivetti_npy: str | os.PathLike[str] | None = None,
        per_image: int = 414,
        seed: int = 0,
    ) -> tuple["Data", "Data"]:
        """FACES-like ``(train, test)`` sets: ``per_image`` random views of
        each Olivetti face (default file under the data dir)."""
        path = (
            os.fspath(olivetti_npy)
            if olivetti_npy is not None
            else default_data_dir() / "olivetti" / "olivetti_faces_uint8_400x4096.npy"
        )
        return _pair(
            lib.hf_data_faces, os.fsencode(path), _count(per_image, "per_image"), _seed(seed)
        )

    @classmethod
    def preset(
        cls, name: str, data_dir: str | os.PathLike[str] | None = None, seed: int = 0
    ) -> tuple["Data", "Data"]:
        """The ``(train, test)`` sets of the paper's experiment ``name``
        ("curves", "mnist", "faces")."""
        d = os.fspath(data_dir) if data_dir is not None else default_data_dir()
        return _pair(lib.hf_data_preset, name.encode(), os.fsencode(d), _seed(seed))

    # -- queries ---------------------------------------------------------

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(n, input_dim, target_dim)``."""
        n, di, dt = ctypes.c_size_t(), ctypes.c_size_t(), ctypes.c_size_t()
        check(lib.hf_data_size(self._h, ctypes.byref(n), ctypes.byref(di), ctypes.byref(dt)))
        return n.value, di.value, dt.value

    def __len__(self) -> int:
        return self.shape[0]

    def inputs(self) -> Any:
        """A copy of the inputs: an N x D float32 numpy array (or list of rows)."""
        n, d, _ = self.shape
        out = Output((n, d))
        check(lib.hf_data_copy_inputs(self._h, out.ptr, out.size))
        return out.value()

    def targets(self) -> Any:
        """A copy of the targets, as :meth:`inputs`."""
        n, _, d = self.shape
        out = Output((n, d))
        check(lib.hf_data_copy_targets(self._h, out.ptr, out.size))
        return out.value()

    def __repr__(self) -> str:
        if self._closed:
            return "<hessfree.Data (closed)>"
        n, di, dt = self.shape
        return f"<hessfree.Data: {n} examples, {di} inputs, {dt} targets>"


def _count(n: Any, what: str) -> int:
    """A size argument: a non-negative int (the library rejects 0 itself)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{what} must be an int, got {type(n).__name__}")
    if n < 0 or n >= 1 << 64:
        raise binding_error("HF_ERR_INVALID_ARGUMENT", f"{what} = {n} is not a valid size")
    return n


def _seed(seed: Any) -> int:
    """A seed: any int, reduced modulo 2^64 (so -1 is allowed)."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    return seed % (1 << 64)
