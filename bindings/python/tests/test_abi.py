"""The binding's declarations agree with include/hessfree.h, and its status
codes with the library, so the binding cannot drift silently."""

from __future__ import annotations

import ctypes

import pytest
from header_parse import Header

import hessfree as hf
from hessfree import _lib


@pytest.fixture(scope="module")
def header(header_path):
    return Header(header_path)


def test_every_declared_function_matches_the_header(header):
    problems = []
    for name, (restype, argtypes) in _lib.PROTOTYPES.items():
        if name not in header.functions:
            problems.append(f"{name}: not in the header")
            continue
        h_ret, h_args = header.functions[name]
        if h_ret != restype:
            problems.append(f"{name}: returns {h_ret}, binding says {restype}")
        if len(h_args) != len(argtypes):
            problems.append(f"{name}: {len(h_args)} arguments, binding declares {len(argtypes)}")
            continue
        for i, (h, b) in enumerate(zip(h_args, argtypes)):
            if h != b:
                problems.append(f"{name}: argument {i} is {h}, binding says {b}")
    assert not problems, "\n".join(problems)
    unbound = sorted(set(header.functions) - set(_lib.PROTOTYPES))
    if unbound:
        print("header functions without a Python wrapper:", ", ".join(unbound))


def test_the_header_parser_is_not_vacuous(header):
    assert len(header.functions) >= 60
    assert header.functions["hf_status_str"] == (ctypes.c_char_p, [ctypes.c_int])
    assert header.functions["hf_data_new"][1][-1] == ctypes.POINTER(ctypes.c_void_p)


def test_the_library_exports_every_declared_function():
    assert _lib.MISSING == []


@pytest.mark.parametrize(
    "c_name, table", [(k, v) for k, v in _lib.ENUMS.items()], ids=list(_lib.ENUMS)
)
def test_enum_tables_match_the_header(header, c_name, table):
    prefix, values = table
    expected = {k[len(prefix) :].lower(): v for k, v in header.enums[c_name].items()}
    assert values == expected


def test_status_codes_come_from_the_library_and_match_the_header(header):
    assert {s.name: int(s) for s in hf.Status} == header.enums["hf_status"]
    assert hf.Status.HF_OK == 0


def test_every_status_has_an_exception_family():
    for s in hf.Status:
        if s.name != "HF_OK":
            assert s.name in hf.FAMILIES, f"{s.name} has no exception class"


@pytest.mark.parametrize(
    "struct, c_name",
    [
        (_lib.IterationReport_C, "hf_iteration_report"),
        (_lib.Summary_C, "hf_summary"),
        (_lib.ObjectiveCallbacks_C, "hf_objective_callbacks"),
    ],
)
def test_struct_layouts_match_the_header(header, struct, c_name):
    h_fields = header.structs[c_name]
    assert [n for n, _ in h_fields] == [n for n, _ in struct._fields_]
    for (name, h_type), (_, b_type) in zip(h_fields, struct._fields_):
        if isinstance(h_type, tuple):  # function pointer: compare the signature
            _, ret, args = h_type
            assert b_type._restype_ == ret, name
            assert list(b_type._argtypes_) == args, name
        else:
            assert h_type == b_type, name


def test_progress_typedef_matches(header_path):
    text = header_path.read_text()
    assert (
        "typedef int (*hf_progress_fn)(void *user, const struct hf_iteration_report *report);"
        in text
    )
    assert _lib.PROGRESS_FN._restype_ is ctypes.c_int
