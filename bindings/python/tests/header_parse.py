"""A small parser for the cbindgen-generated ``include/hessfree.h``: enums,
structs (including function-pointer fields) and function prototypes, with C
types mapped to ctypes so the binding's declarations can be compared."""

from __future__ import annotations

import ctypes
import re
from ctypes import POINTER
from pathlib import Path

from hessfree import _lib

_BASE = {
    "void": None,
    "char": ctypes.c_char,
    "int": ctypes.c_int,
    "int32_t": ctypes.c_int32,
    "uint32_t": ctypes.c_uint32,
    "int64_t": ctypes.c_int64,
    "uint64_t": ctypes.c_uint64,
    "size_t": ctypes.c_size_t,
    "float": ctypes.c_float,
    "double": ctypes.c_double,
    "bool": ctypes.c_bool,
}
_STRUCTS = {
    "hf_iteration_report": _lib.IterationReport_C,
    "hf_summary": _lib.Summary_C,
    "hf_objective_callbacks": _lib.ObjectiveCallbacks_C,
}
_HANDLES = {"hf_config", "hf_data", "hf_net", "hf_session"}
_FN_TYPEDEFS = {"hf_progress_fn": _lib.PROGRESS_FN}


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def ctype_of(decl: str) -> object:
    """The ctypes type of a C type such as ``const struct hf_data **``."""
    stars = decl.count("*")
    words = [w for w in decl.replace("*", " ").split() if w not in ("const", "struct", "enum")]
    if len(words) != 1:
        raise ValueError(f"cannot map C type {decl!r}")
    base = words[0]
    if base in _HANDLES:
        if stars == 0:
            raise ValueError(f"handle type {base} by value")
        t: object = ctypes.c_void_p
        stars -= 1
    elif base == "hf_status" or base in ("hf_key_type",):
        t = ctypes.c_int
    elif base in _STRUCTS:
        t = _STRUCTS[base]
    elif base in _FN_TYPEDEFS:
        t = _FN_TYPEDEFS[base]
    elif base in _BASE:
        t = _BASE[base]
    else:
        raise ValueError(f"unknown C type {decl!r}")
    if t is ctypes.c_char and stars >= 1 and "const" in decl.split("*")[0]:
        t, stars = ctypes.c_char_p, stars - 1  # const char * is a string
    if t is None:
        if stars == 0:
            return None
        t, stars = ctypes.c_void_p, stars - 1
    for _ in range(stars):
        t = POINTER(t)
    return t


def _split_decl(decl: str) -> tuple[str, str]:
    """``"const float *theta"`` -> (``"const float *"``, ``"theta"``)."""
    m = re.match(r"^(.*?)(\w+)\s*$", decl.strip(), flags=re.S)
    if not m:
        raise ValueError(f"cannot parse declaration {decl!r}")
    return m.group(1).strip(), m.group(2)


def _params(text: str) -> list[object]:
    text = text.strip()
    if text in ("", "void"):
        return []
    return [ctype_of(_split_decl(p)[0]) for p in text.split(",")]


class Header:
    """The parsed header: ``enums`` (name -> {constant: value}),
    ``structs`` (name -> [(field, ctype or ('fn', restype, argtypes))]) and
    ``functions`` (name -> (restype, [argtypes]))."""

    def __init__(self, path: Path):
        self.path = path
        text = strip_comments(path.read_text())
        self.enums = self._enums(text)
        self.structs = self._structs(text)
        self.functions = self._functions(text)

    @staticmethod
    def _enums(text: str) -> dict[str, dict[str, int]]:
        enums = {}
        for m in re.finditer(r"typedef\s+enum\s+(\w+)\s*\{(.*?)\}", text, flags=re.S):
            values = {}
            for item in m.group(2).split(","):
                if "=" in item:
                    k, v = item.split("=")
                    values[k.strip()] = int(v.strip())
            enums[m.group(1)] = values
        return enums

    @staticmethod
    def _structs(text: str) -> dict[str, list[tuple[str, object]]]:
        structs = {}
        for m in re.finditer(r"typedef\s+struct\s+(\w+)\s*\{(.*?)\}\s*\w+\s*;", text, flags=re.S):
            fields: list[tuple[str, object]] = []
            for decl in m.group(2).split(";"):
                decl = " ".join(decl.split())
                if not decl:
                    continue
                fp = re.match(r"^(.*?)\(\s*\*\s*(\w+)\s*\)\s*\((.*)\)$", decl)
                if fp:
                    fields.append(
                        (fp.group(2), ("fn", ctype_of(fp.group(1)), _params(fp.group(3))))
                    )
                else:
                    ty, name = _split_decl(decl)
                    fields.append((name, ctype_of(ty)))
            structs[m.group(1)] = fields
        return structs

    @staticmethod
    def _functions(text: str) -> dict[str, tuple[object, list[object]]]:
        text = re.sub(r"^\s*#.*$", " ", text, flags=re.M)  # preprocessor lines
        text = text.replace('extern "C" {', " ")
        text = re.sub(r"typedef\s+(struct|enum)\s+\w+\s*\{.*?\}\s*\w+\s*;", " ", text, flags=re.S)
        text = re.sub(r"typedef[^;]*;", " ", text)
        functions = {}
        pattern = r"(?:^|[;{}])\s*([A-Za-z_][\w\s\*]*?)\b(hf_\w+)\s*\(([^()]*)\)\s*;"
        for m in re.finditer(pattern, text, flags=re.M):
            functions[m.group(2)] = (ctype_of(m.group(1)), _params(m.group(3)))
        return functions
