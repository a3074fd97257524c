"""The base class of every object that owns a C handle."""

from __future__ import annotations

import ctypes
from typing import Any, Callable

from . import _lib
from .errors import check

lib = _lib.lib


class Handle:
    """Owns one C handle. ``close()`` frees it (idempotent); so do ``with``
    blocks and garbage collection. After ``close()`` the object keeps the
    stale handle, so using it reaches the library, which reports
    :class:`~hessfree.InvalidHandle` (handles are never reused)."""

    _free: Callable[[Any], int]  # the hf_*_free function, set by subclasses
    _kind = "object"

    def __init__(self, handle: int):
        self._h = ctypes.c_void_p(handle)
        self._closed = False

    @classmethod
    def _create(cls, fn: Callable[..., int], *args: Any) -> Any:
        """Calls constructor ``fn(*args, &out)`` and wraps the new handle."""
        out = ctypes.c_void_p()
        check(fn(*args, ctypes.byref(out)))
        return cls._wrap(out.value)

    @classmethod
    def _wrap(cls, handle: int | None) -> Any:
        obj = cls.__new__(cls)
        Handle.__init__(obj, handle or 0)
        obj._init_extra()
        return obj

    def _init_extra(self) -> None:
        """Subclass hook run after wrapping a new handle."""

    @property
    def handle(self) -> ctypes.c_void_p:
        """The C handle (for passing to other C code)."""
        return self._h

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._closed

    def close(self) -> None:
        """Frees the C object now. Calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        check(type(self)._free(self._h))

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        # At interpreter shutdown module globals may already be gone; a
        # failed free then only leaks memory the process is about to lose.
        try:
            if not getattr(self, "_closed", True):
                self._closed = True
                type(self)._free(self._h)
        except Exception:
            pass


def text_out(fn: Callable[..., int], *args: Any, size: int = 256) -> str:
    """Calls ``fn(*args, buf, len)``, growing the buffer until the text fits."""
    from .errors import Status, error_for

    too_small = int(Status.HF_ERR_BUFFER_TOO_SMALL)
    while True:
        buf = ctypes.create_string_buffer(size)
        status = fn(*args, buf, size)
        if status == 0:
            return buf.value.decode("utf-8", errors="replace")
        if status != too_small or size >= 1 << 24:
            raise error_for(status)
        size *= 4
