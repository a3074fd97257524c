"""Optimizer options (``hf_config``) as a typed, dict-like object."""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from ._handle import Handle, lib, text_out
from .errors import binding_error, check

#: hf_key_type values, in header order.
KEY_TYPES = ("f64", "i64", "bool", "str")


@dataclass(frozen=True)
class KeyInfo:
    """One option: ``name``, ``type`` ("f64", "i64", "bool" or "str"),
    ``default`` (as text), ``range`` (as text) and a one-line ``doc``."""

    name: str
    type: str
    default: str
    range: str
    doc: str


def _load_keys() -> dict[str, KeyInfo]:
    count = ctypes.c_size_t()
    check(lib.hf_config_key_count(ctypes.byref(count)))
    keys: dict[str, KeyInfo] = {}
    for i in range(count.value):
        name, default, rng, doc = (ctypes.c_char_p() for _ in range(4))
        ty = ctypes.c_int()
        check(
            lib.hf_config_key_info(
                i,
                ctypes.byref(name),
                ctypes.byref(ty),
                ctypes.byref(default),
                ctypes.byref(rng),
                ctypes.byref(doc),
            )
        )
        info = KeyInfo(
            name.value.decode(),
            KEY_TYPES[ty.value],
            default.value.decode(),
            rng.value.decode(),
            doc.value.decode(),
        )
        keys[info.name] = info
    return keys


#: Every option the library knows, by name (read from hf_config_key_info).
KEYS: dict[str, KeyInfo] = _load_keys()


class Config(Handle):
    """Optimizer options behind documented string keys.

    ``Config(chunk_size=150, threads=1)`` starts from the reference defaults;
    ``Config.preset("curves")`` from one of the paper's experiments. Index it
    like a dict: ``cfg["initial_lambda"] = 10.0``; values are typed by the
    key (see :data:`KEYS` / :meth:`info`). An unknown key raises
    :class:`~hessfree.UnknownKey` suggesting the nearest one; a bad value
    :class:`~hessfree.OutOfRange` naming the valid range.
    """

    _free = lib.hf_config_free
    _kind = "config"

    def __init__(self, options: Mapping[str, Any] | None = None, **kwargs: Any):
        out = ctypes.c_void_p()
        check(lib.hf_config_new(ctypes.byref(out)))
        Handle.__init__(self, out.value or 0)
        self.update(options or {}, **kwargs)

    @classmethod
    def preset(cls, name: str, **kwargs: Any) -> "Config":
        """The options of the paper's experiment ``name`` ("curves",
        "mnist", "faces"), then ``kwargs``."""
        cfg = cls._create(lib.hf_config_preset, name.encode())
        cfg.update(**kwargs)
        return cfg

    @classmethod
    def coerce(cls, value: "Config | Mapping[str, Any] | None") -> "Config":
        """``value`` itself if it is a Config, else a new Config from a mapping
        (or the defaults for None)."""
        if isinstance(value, Config):
            return value
        return cls(value or {})

    @staticmethod
    def info(key: str) -> KeyInfo:
        """The description of option ``key`` (KeyError naming it if unknown)."""
        try:
            return KEYS[key]
        except KeyError:
            raise KeyError(f"unknown option {key!r}") from None

    def copy(self) -> "Config":
        """An independent copy."""
        return Config._create(lib.hf_config_clone, self._h)

    # -- dict interface ----------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        info = KEYS.get(key)
        k = key.encode()
        if info is None or info.type == "f64":
            v = ctypes.c_double()
            check(lib.hf_config_get_f64(self._h, k, ctypes.byref(v)))
            return v.value
        if info.type == "i64":
            i = ctypes.c_int64()
            check(lib.hf_config_get_i64(self._h, k, ctypes.byref(i)))
            return i.value
        if info.type == "bool":
            b = ctypes.c_int()
            check(lib.hf_config_get_bool(self._h, k, ctypes.byref(b)))
            return bool(b.value)
        return text_out(lib.hf_config_get_str, self._h, k, size=64)

    def __setitem__(self, key: str, value: Any) -> None:
        """Sets ``key``; the setter is chosen by the key's type (an integral
        float is accepted for an integer key, text is parsed as the key's
        type) and the library checks the value."""
        info = KEYS.get(key)
        kind = info.type if info else None
        k = key.encode()
        if (
            isinstance(value, int)
            and not isinstance(value, bool)
            and kind != "f64"
            and not -(1 << 63) <= value < 1 << 63
        ):
            # ctypes would silently keep only the low 64 bits (2^70 would become 0).
            raise binding_error(
                "HF_ERR_OUT_OF_RANGE", f"option {key!r} = {value} does not fit a 64-bit integer"
            )
        if isinstance(value, str) and kind != "str":
            check(lib.hf_config_set_from_string(self._h, f"{key}={value}".encode()))
        elif isinstance(value, str):
            check(lib.hf_config_set_str(self._h, k, value.encode()))
        elif isinstance(value, bool) or kind == "bool":
            if not isinstance(value, (bool, int)):
                check(lib.hf_config_set_f64(self._h, k, float(value)))  # WRONG_TYPE
            check(lib.hf_config_set_bool(self._h, k, int(bool(value))))
        elif kind == "i64" and isinstance(value, float) and value.is_integer():
            check(lib.hf_config_set_i64(self._h, k, int(value)))
        elif isinstance(value, int) and kind != "f64":
            check(lib.hf_config_set_i64(self._h, k, int(value)))
        elif isinstance(value, (int, float)) or hasattr(value, "__float__"):
            check(lib.hf_config_set_f64(self._h, k, float(value)))
        else:
            raise TypeError(f"option {key!r}: cannot use a {type(value).__name__}")

    def __delitem__(self, key: str) -> None:
        """Resets ``key`` to its default."""
        self[key] = self.info(key).default

    def __contains__(self, key: object) -> bool:
        return key in KEYS

    def __iter__(self) -> Iterator[str]:
        return iter(KEYS)

    def __len__(self) -> int:
        return len(KEYS)

    def keys(self) -> list[str]:
        """Every option name."""
        return list(KEYS)

    def items(self) -> list[tuple[str, Any]]:
        """``(name, value)`` for every option."""
        return [(k, self[k]) for k in KEYS]

    def to_dict(self) -> dict[str, Any]:
        """Every option and its value."""
        return dict(self.items())

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, or ``default`` if the key is unknown."""
        return self[key] if key in KEYS else default

    def update(self, options: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        """Sets several options (stops at the first invalid one)."""
        for key, value in {**(options or {}), **kwargs}.items():
            self[key] = value

    def validate(self) -> None:
        """Checks every option and the cross-key rules (OutOfRange names the problem)."""
        check(lib.hf_config_validate(self._h))

    def to_text(self) -> str:
        """Every option as ``key=value`` lines (floats round-trip exactly)."""
        return text_out(lib.hf_config_to_text, self._h, size=8192)

    def __repr__(self) -> str:
        if self._closed:
            return "<hessfree.Config (closed)>"
        return f"hessfree.Config({self.to_dict()!r})"
