"""The canonical cross-binding run (issue 6): Python prints exactly the line
that the C reference program ``tests/c/canonical.c`` prints, bit for bit."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import hessfree as hf


def canonical_line() -> str:
    """The canonical run through the Python binding."""
    with hf.Data.curves(400, 7) as all_data:
        x = all_data.inputs()
    with (
        hf.Data(x[:300]) as train,
        hf.Data(x[300:]) as test,
        hf.Net.autoencoder([784, 32, 6], output="logistic", seed=11) as net,
        hf.Config(chunk_size=150, threads=1, max_iters=3, backend="cpu") as cfg,
        hf.Session(net, train, test, cfg) as session,
    ):
        s = session.run()
    return "CANONICAL %.17g %.17g %.17g" % (
        s.final_objective,
        s.final_train_error,
        s.final_test_error,
    )


def c_line(root: Path, include: Path, tmp_path: Path) -> str:
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        pytest.fail(f"C compiler {cc!r} not found (set CC)")
    libdir = os.path.dirname(os.path.abspath(hf.library_path()))
    exe = tmp_path / "canonical"
    cmd = [
        cc,
        "-std=c11",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-I",
        str(include),
        str(root / "tests" / "c" / "canonical.c"),
        "-o",
        str(exe),
        f"-L{libdir}",
        "-lhessfree",
        f"-Wl,-rpath,{libdir}",
    ]
    built = subprocess.run(cmd, capture_output=True, text=True)
    assert built.returncode == 0, f"{' '.join(cmd)}\n{built.stderr}"
    # The run path is searched after LD_LIBRARY_PATH (cargo test sets one
    # that lists target/release, which may hold an older build): put the
    # binding's library directory first, so both sides run the same library.
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        p for p in (libdir, env.get("LD_LIBRARY_PATH")) if p
    )
    ran = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300, env=env)
    assert ran.returncode == 0, ran.stderr
    return ran.stdout.strip()


def test_python_matches_the_c_program(root, include_dir, tmp_path):
    py = canonical_line()
    print(py)
    assert py.startswith("CANONICAL ") and len(py.split()) == 4
    assert all(v not in ("nan", "inf") for v in py.split()[1:])
    assert py == c_line(root, include_dir, tmp_path)
