"""Feed-forward networks (``hf_net``)."""

from __future__ import annotations

import ctypes
import math
import os
from typing import Any, NamedTuple, Sequence

from ._arrays import Output, matrix_in, numpy_enabled, vector_in
from ._handle import Handle, lib, text_out
from ._lib import ACTIVATIONS, CURVATURES, code_name
from .data import Data, _seed
from .errors import binding_error, check


class Evaluation(NamedTuple):
    """``loss``: mean per-example loss; ``error``: mean per-example sum of
    squared errors (the paper's reported error)."""

    loss: float
    error: float


def _code(table: dict[str, int], value: Any, what: str) -> int:
    """The C code of a name (``"logistic"``) or code (``0``) in ``table``."""
    if isinstance(value, str):
        try:
            return table[value.lower()]
        except KeyError:
            raise binding_error(
                "HF_ERR_INVALID_ARGUMENT",
                f"{what} = {value!r} is not one of {', '.join(table)}",
            ) from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be a name ({', '.join(table)}) or an int code")
    if not -(1 << 31) <= value < 1 << 31:
        # ctypes would silently keep only the low 32 bits (2^32 would become 0).
        raise binding_error("HF_ERR_INVALID_ARGUMENT", f"{what} = {value} is not a valid code")
    return value  # the library checks the code


def _sizes(sizes: Sequence[Any], what: str) -> Any:
    values = []
    for i, s in enumerate(sizes):
        if isinstance(s, float) and not math.isfinite(s):
            raise binding_error("HF_ERR_NON_FINITE", f"{what}[{i}] is {s}; a layer size must be finite")
        if isinstance(s, float) and not s.is_integer():
            raise binding_error(
                "HF_ERR_OUT_OF_RANGE", f"{what}[{i}] = {s} is not a whole number of units"
            )
        values.append(int(s))
    if any(s < 0 for s in values):
        raise binding_error("HF_ERR_INVALID_ARGUMENT", f"{what}: negative layer size in {values}")
    if any(s >= 1 << 64 for s in values):
        # ctypes would silently keep only the low 64 bits.
        raise binding_error(
            "HF_ERR_OUT_OF_RANGE", f"{what}: layer size beyond the largest size in {values}"
        )
    return (ctypes.c_size_t * max(len(values), 1))(*values), len(values)


class Net(Handle):
    """A network: layer sizes, one activation per non-input layer, and the
    parameter vector θ (per layer: the fan_in x fan_out weights, row-major,
    then the biases), sparsely initialised from ``seed`` as in the paper.

    ``Net([4, 3, 2], ["tanh", "linear"], seed=1)``;
    ``Net.autoencoder([784, 32, 6], output="logistic", seed=11)``;
    ``Net.preset("mnist")``; ``Net.load(path)``.
    """

    _free = lib.hf_net_free
    _kind = "net"

    def __init__(self, sizes: Sequence[int], activations: Sequence[Any], seed: int = 0):
        sz, n = _sizes(sizes, "sizes")
        codes = [_code(ACTIVATIONS, a, f"activations[{i}]") for i, a in enumerate(activations)]
        acts = (ctypes.c_int32 * max(len(codes), 1))(*codes)
        out = ctypes.c_void_p()
        check(lib.hf_net_new(sz, n, acts, len(codes), _seed(seed), ctypes.byref(out)))
        Handle.__init__(self, out.value or 0)

    @classmethod
    def autoencoder(cls, encoder: Sequence[int], output: Any = "logistic", seed: int = 0) -> "Net":
        """A deep autoencoder: ``encoder`` from the input to the code layer,
        mirrored for the decoder; logistic hidden units, a linear code layer,
        ``output`` units ("logistic" or "linear")."""
        sz, n = _sizes(encoder, "encoder")
        return cls._create(
            lib.hf_net_new_autoencoder, sz, n, _code(ACTIVATIONS, output, "output"), _seed(seed)
        )

    @classmethod
    def preset(cls, name: str, seed: int = 0) -> "Net":
        """The network of the paper's experiment ``name`` ("curves", "mnist", "faces")."""
        return cls._create(lib.hf_net_new_preset, name.encode(), _seed(seed))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "Net":
        """A network written by :meth:`save` (FileError / FileFormatError on failure)."""
        return cls._create(lib.hf_net_load, os.fsencode(path))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes architecture and θ to ``path`` atomically (versioned, checksummed)."""
        check(lib.hf_net_save(self._h, os.fsencode(path)))

    def copy(self) -> "Net":
        """An independent copy (architecture and θ)."""
        return Net._create(lib.hf_net_clone, self._h)

    # -- architecture ----------------------------------------------------

    @property
    def num_params(self) -> int:
        """P, the length of θ."""
        n = ctypes.c_size_t()
        check(lib.hf_net_num_params(self._h, ctypes.byref(n)))
        return n.value

    @property
    def sizes(self) -> list[int]:
        """Layer sizes, input first."""
        n = ctypes.c_size_t()
        check(lib.hf_net_num_layers(self._h, ctypes.byref(n)))
        buf = (ctypes.c_size_t * n.value)()
        check(lib.hf_net_layer_sizes(self._h, buf, n.value))
        return list(buf)

    @property
    def activations(self) -> list[str]:
        """The activation of each non-input layer."""
        n = len(self.sizes) - 1
        buf = (ctypes.c_int32 * n)()
        check(lib.hf_net_layer_activations(self._h, buf, n))
        return [code_name(ACTIVATIONS, c) for c in buf]

    @property
    def input_dim(self) -> int:
        """Width of the input layer."""
        return self.sizes[0]

    @property
    def output_dim(self) -> int:
        """Width of the output layer."""
        return self.sizes[-1]

    def describe(self) -> str:
        """E.g. ``"784-32(logistic)-6(linear)-32(logistic)-784(logistic)"``."""
        return text_out(lib.hf_net_describe, self._h)

    def __repr__(self) -> str:
        if self._closed:
            return "<hessfree.Net (closed)>"
        return f"<hessfree.Net {self.describe()}, {self.num_params} parameters>"

    # -- parameters --------------------------------------------------------

    @property
    def params(self) -> Any:
        """A copy of θ (float32 numpy vector, or list). Assigning checks the
        length (ShapeMismatch) and finiteness (NonFinite); on error θ is unchanged."""
        out = Output((self.num_params,))
        check(lib.hf_net_get_params(self._h, out.ptr, out.size))
        return out.value()

    @params.setter
    def params(self, theta: Any) -> None:
        v = vector_in(theta, "params")
        check(lib.hf_net_set_params(self._h, v.ptr, v.size))

    # -- computations ------------------------------------------------------

    def predict(self, x: Any) -> Any:
        """Outputs for the rows of ``x`` (N x input_dim); a single example
        (a vector) gives a vector."""
        single = _is_vector(x)
        rows = [x] if single and not numpy_enabled() else x
        if single and numpy_enabled():
            import numpy as np

            rows = np.asarray(x)[None, :]
        m = matrix_in(rows, "inputs", allow_f64=False)
        n = m.shape[0]
        # The library checks the width: pass the caller's length, not ours.
        out = Output((n, self.output_dim))
        check(lib.hf_net_predict(self._h, m.ptr, m.size, n, out.ptr, out.size))
        y = out.value()
        return y[0] if single else y

    def evaluate(self, data: Data) -> Evaluation:
        """Mean loss and mean squared error on ``data`` (no weight cost)."""
        loss, err = ctypes.c_double(), ctypes.c_double()
        check(lib.hf_net_evaluate(self._h, _data(data), ctypes.byref(loss), ctypes.byref(err)))
        return Evaluation(loss.value, err.value)

    def loss_and_gradient(self, data: Data) -> tuple[float, Any]:
        """``(loss, ∇loss)`` on ``data`` (mean over examples, no weight cost)."""
        out = Output((self.num_params,))
        loss = ctypes.c_double()
        check(lib.hf_net_gradient(self._h, _data(data), out.ptr, out.size, ctypes.byref(loss)))
        return loss.value, out.value()

    def gradient(self, data: Data) -> Any:
        """∇loss on ``data`` (see :meth:`loss_and_gradient`)."""
        return self.loss_and_gradient(data)[1]

    def curvature_product(self, data: Data, v: Any, kind: Any = "gauss_newton") -> Any:
        """``C v`` on all of ``data`` at the current θ; ``kind`` is
        "gauss_newton", "hessian" or "empirical_fisher"."""
        vec = vector_in(v, "v")
        out = Output((self.num_params,))
        check(
            lib.hf_net_curvature_product(
                self._h,
                _data(data),
                _code(CURVATURES, kind, "kind"),
                vec.ptr,
                vec.size,
                out.ptr,
                out.size,
            )
        )
        return out.value()

    def hessian_product_fd(self, data: Data, v: Any, h: float = 1e-3) -> Any:
        """``H v`` by central differences of the gradient (for checking)."""
        vec = vector_in(v, "v")
        out = Output((self.num_params,))
        check(
            lib.hf_net_hessian_product_fd(
                self._h, _data(data), vec.ptr, vec.size, float(h), out.ptr, out.size
            )
        )
        return out.value()


def _is_vector(x: Any) -> bool:
    if numpy_enabled() and hasattr(x, "ndim"):
        return x.ndim == 1
    return isinstance(x, (list, tuple)) and bool(x) and not isinstance(x[0], (list, tuple))


def _data(data: Any) -> Any:
    """The handle of a Data argument (:class:`~hessfree.WrongType`, a TypeError,
    for anything else)."""
    if not isinstance(data, Data):
        raise binding_error(
            "HF_ERR_WRONG_TYPE", f"expected a hessfree.Data, got {type(data).__name__}"
        )
    return data.handle
