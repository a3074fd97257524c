"""Shared fixtures: the source tree, the loaded library, small data sets."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the package, when not installed
sys.path.insert(0, str(HERE))  # header_parse

import hessfree as hf  # noqa: E402

ROOT = HERE.parents[2]
#: The header matching the library under test: $HESSFREE_INCLUDE/hessfree.h,
#: else the source tree's include/hessfree.h.
INCLUDE = Path(os.environ.get("HESSFREE_INCLUDE") or ROOT / "include")
HEADER = INCLUDE / "hessfree.h"


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def include_dir() -> Path:
    return INCLUDE


@pytest.fixture(scope="session")
def header_path() -> Path:
    if not HEADER.is_file():
        pytest.fail(f"{HEADER} is missing")
    return HEADER


@pytest.fixture(scope="session")
def curves_inputs():
    """400 CURVES-like images (the canonical run's data) as an array."""
    with hf.Data.curves(400, 7) as d:
        return d.inputs()


@pytest.fixture()
def small_problem(curves_inputs):
    """A small autoencoder problem: 120 training and 40 test images, a
    784-16-4 autoencoder. Closed after the test."""
    train = hf.Data(curves_inputs[:120])
    test = hf.Data(curves_inputs[120:160])
    net = hf.Net.autoencoder([784, 16, 4], output="logistic", seed=3)
    yield net, train, test
    for obj in (net, train, test):
        obj.close()


#: Options that keep a run small and deterministic.
FAST = {"chunk_size": 60, "threads": 1, "backend": "cpu", "cg_max_iters": 30}


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    """Prints the shared bad-input table's closing line (checked by
    tests/python.rs) when test_bad_input_table ran."""
    module = sys.modules.get("test_bad_input_table")
    results = getattr(module, "RESULTS", None)
    if not results:
        return
    counts = {k: sum(1 for v in results.values() if v == k) for k in ("passed", "failed", "n/a")}
    terminalreporter.write_line(
        f"bad_input_table[python]: {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['n/a']} not applicable"
    )
