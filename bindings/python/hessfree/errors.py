"""Status codes and the exceptions they become.

The codes are not copied from the header: :data:`Status` is built at import
time by asking the library for the name of every code (``hf_status_str``)
until it answers ``HF_ERR_UNKNOWN_STATUS``. Each code maps to one exception
class by its name; families group related codes and also derive from the
matching built-in exception (``ShapeMismatch`` is a ``ValueError``,
``UnknownKey`` a ``KeyError``, ``FileError`` an ``OSError``, ...), so ordinary
``except ValueError`` code keeps working.
"""

from __future__ import annotations

import ctypes
import enum

from . import _lib

_lib_handle = _lib.lib
_UNKNOWN = "HF_ERR_UNKNOWN_STATUS"


def _status_names() -> dict[str, int]:
    names: dict[str, int] = {}
    code = 0
    while code < 1024:
        name = _lib_handle.hf_status_str(code).decode()
        if name == _UNKNOWN:
            break
        names[name] = code
        code += 1
    return names


#: Every status code of the loaded library, e.g. ``Status.HF_ERR_NON_FINITE``.
Status = enum.IntEnum("Status", _status_names(), module=__name__)
Status.__doc__ = "The library's hf_status codes (derived from hf_status_str at import)."


class HessfreeError(Exception):
    """An error reported by libhessfree.

    Attributes: ``status`` (the numeric ``hf_status``), ``name`` (e.g.
    ``"HF_ERR_NON_FINITE"``) and ``message`` (the library's detailed message:
    which function, argument, index or shape).
    """

    def __init__(self, status: int, name: str, message: str):
        super().__init__(status, name, message)
        self.status = int(status)
        self.name = name
        self.message = message

    def __str__(self) -> str:
        return f"{self.name}: {self.message}"


class InvalidArgument(HessfreeError, ValueError):
    """An argument is invalid (HF_ERR_INVALID_ARGUMENT, HF_ERR_NULL_POINTER)."""


class ShapeMismatch(InvalidArgument):
    """Array sizes or shapes do not agree (HF_ERR_SHAPE_MISMATCH)."""


class NonFinite(InvalidArgument):
    """Data or parameters contain NaN or infinity (HF_ERR_NON_FINITE)."""


class OutOfRange(InvalidArgument):
    """A value lies outside its documented range (HF_ERR_OUT_OF_RANGE)."""


class UnknownKey(HessfreeError, KeyError):
    """A configuration key is not known (HF_ERR_UNKNOWN_KEY); the message
    suggests the nearest key."""

    def __str__(self) -> str:  # KeyError would quote the args tuple
        return HessfreeError.__str__(self)


class WrongType(HessfreeError, TypeError):
    """A value has the wrong type for its key (HF_ERR_WRONG_TYPE)."""


class InvalidHandle(HessfreeError, ValueError):
    """A freed, forged or wrong-kind object was used (HF_ERR_INVALID_HANDLE)."""


class FileError(HessfreeError, OSError):
    """A file could not be read or written (HF_ERR_IO)."""

    def __str__(self) -> str:
        return HessfreeError.__str__(self)


class FileFormatError(HessfreeError, ValueError):
    """A file is malformed, from another format version, or corrupted
    (HF_ERR_FORMAT, HF_ERR_VERSION, HF_ERR_CHECKSUM)."""


class ResourceLimit(HessfreeError, MemoryError):
    """The request needs more memory than allowed (HF_ERR_RESOURCE_LIMIT)."""


class BackendUnavailable(HessfreeError, RuntimeError):
    """The requested compute backend is not available (HF_ERR_BACKEND_UNAVAILABLE)."""


class CallbackError(HessfreeError, RuntimeError):
    """A host callback reported failure (HF_ERR_CALLBACK). When the failure
    was a Python exception, that exception is raised instead, with this
    error as its ``__cause__``."""


class NumericalError(HessfreeError, ArithmeticError):
    """An unrecoverable numerical failure (HF_ERR_NUMERICAL)."""


class Unsupported(HessfreeError, NotImplementedError):
    """The operation is not supported by this object (HF_ERR_UNSUPPORTED)."""


class BufferTooSmall(HessfreeError, RuntimeError):
    """An output buffer was too small (HF_ERR_BUFFER_TOO_SMALL); the binding
    sizes its buffers, so this indicates a bug."""


class InternalError(HessfreeError, RuntimeError):
    """A bug in hessfree (HF_ERR_INTERNAL, HF_ERR_PANIC)."""


#: Exception family of each status name. A code this binding does not know
#: (a newer library) raises the base class :class:`HessfreeError`.
FAMILIES: dict[str, type[HessfreeError]] = {
    "HF_ERR_NULL_POINTER": InvalidArgument,
    "HF_ERR_INVALID_ARGUMENT": InvalidArgument,
    "HF_ERR_INVALID_HANDLE": InvalidHandle,
    "HF_ERR_SHAPE_MISMATCH": ShapeMismatch,
    "HF_ERR_NON_FINITE": NonFinite,
    "HF_ERR_UNKNOWN_KEY": UnknownKey,
    "HF_ERR_OUT_OF_RANGE": OutOfRange,
    "HF_ERR_WRONG_TYPE": WrongType,
    "HF_ERR_IO": FileError,
    "HF_ERR_FORMAT": FileFormatError,
    "HF_ERR_VERSION": FileFormatError,
    "HF_ERR_CHECKSUM": FileFormatError,
    "HF_ERR_RESOURCE_LIMIT": ResourceLimit,
    "HF_ERR_BACKEND_UNAVAILABLE": BackendUnavailable,
    "HF_ERR_CALLBACK": CallbackError,
    "HF_ERR_NUMERICAL": NumericalError,
    "HF_ERR_UNSUPPORTED": Unsupported,
    "HF_ERR_BUFFER_TOO_SMALL": BufferTooSmall,
    "HF_ERR_PANIC": InternalError,
    "HF_ERR_INTERNAL": InternalError,
}


def status_name(code: int) -> str:
    """The name of status ``code`` as the library gives it."""
    return _lib_handle.hf_status_str(int(code)).decode()


def last_error_message() -> str:
    """The calling thread's last error message from the library."""
    length = ctypes.c_size_t(0)
    if _lib_handle.hf_last_error_length(ctypes.byref(length)) != 0:
        return ""
    buf = ctypes.create_string_buffer(length.value + 1)
    _lib_handle.hf_last_error_message(buf, len(buf))
    return buf.value.decode("utf-8", errors="replace")


def error_for(code: int, message: str | None = None) -> HessfreeError:
    """The exception for status ``code`` with ``message`` (default: the
    thread's last error message)."""
    name = status_name(code)
    cls = FAMILIES.get(name, HessfreeError)
    return cls(code, name, last_error_message() if message is None else message)


def check(code: int) -> None:
    """Raises the exception for ``code`` unless it is HF_OK (0)."""
    if code != 0:
        raise error_for(code)


def binding_error(status_name_: str, message: str) -> HessfreeError:
    """An error detected by the binding itself before calling the library,
    carrying the status the library would have used."""
    code = Status[status_name_]
    return FAMILIES.get(status_name_, HessfreeError)(int(code), status_name_, message)
