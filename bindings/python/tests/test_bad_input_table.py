"""The shared bad-input table (``tests/bad_input/cases.tsv``, issue 8) run
through the Python binding.

Every row of the table is one parametrised case: it builds the row's call
through the binding's own API (classes and methods, never ctypes calls into
the library), and checks the documented status (the exception's ``name`` and
``status``), that the message contains the row's fragment, and that the
fixture's data, net, config and sessions are unchanged and usable afterwards.
Rows the table declares not applicable to Python are skipped with the
table's reason; an operation this runner does not know fails. The closing
line ``bad_input_table[python]: N passed, M failed, K not applicable`` is
printed by ``conftest.pytest_terminal_summary`` and checked by
``tests/python.rs``.
"""

from __future__ import annotations

import math
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest

import hessfree as hf
from hessfree._handle import Handle

BINDING = "python"
TABLE = Path(__file__).resolve().parents[3] / "tests" / "bad_input" / "cases.tsv"
COLUMNS = ["id", "op", "arg", "kind", "value", "status", "fragment", "override", "not_applicable"]

#: Per-row outcome ("passed", "failed", "n/a"), read by conftest's summary hook.
RESULTS: dict[str, str] = {}

# Kind tags of the C handles (src/ffi/handle.rs): forged_tagged uses a valid
# tag with a serial never issued.
TAGS = {hf.Config: 1, hf.Data: 2, hf.Net: 3, hf.Session: 4}
P = 45  # parameters of the fixture's 6-3-6 network


class Row(NamedTuple):
    id: str
    op: str
    arg: str
    kind: str
    value: str
    status: str
    fragment: str
    override: dict[str, str]
    not_applicable: dict[str, str]


def _entries(text: str) -> dict[str, str]:
    """``"binding: text | binding: text"`` as a dict."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(" | "))):
        binding, _, rest = part.partition(":")
        out[binding.strip()] = rest.strip()
    return out


def load_rows() -> list[Row]:
    rows = []
    header_seen = False
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if not header_seen:
            assert fields == COLUMNS, f"unexpected header {fields}"
            header_seen = True
            continue
        assert len(fields) == len(COLUMNS), f"row {fields[0]!r} has {len(fields)} fields"
        rows.append(
            Row(*fields[:7], override=_entries(fields[7]), not_applicable=_entries(fields[8]))
        )
    return rows


ROWS = load_rows()

# -- value encodings (see the table's header) --------------------------------


def number(text: str) -> Any:
    """An int (``2^K``, ``2^K-1`` allowed) or a float (NaN, Inf, -Inf, 2.5)."""
    m = re.fullmatch(r"2\^(\d+)(-1)?", text)
    if m:
        return (1 << int(m.group(1))) - (1 if m.group(2) else 0)
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return float(text.replace("Inf", "inf"))


def fill(i: int, j: int, d: int) -> float:
    return ((i * d + j) % 7 + 1) / 8


def matrix(text: str) -> Any:
    """An N x D array (or one of the special shapes) from the matrix encoding."""
    if text == "rank3":
        return np.full((2, 2, 2), 0.5, np.float32)
    if text.startswith("rank1:"):
        return np.full(int(text[6:]), 0.5, np.float32)
    if text == "ragged":
        return [[0.5], [0.5, 0.5]]
    dtype = np.float32
    if text.startswith(("f32:", "f64:")):
        dtype = np.float64 if text.startswith("f64") else np.float32
        text = text[4:]
    shape, *sets = text.split(";")
    n, d = (number(s) for s in shape.split("x"))
    a = np.array([[fill(i, j, d) for j in range(d)] for i in range(n)], dtype).reshape(n, d)
    for s in sets:
        where, v = s.split("=")
        i, j = (int(t) for t in where.split(","))
        with np.errstate(over="ignore"):
            a[i, j] = number(v)
    return a


def vector(text: str) -> Any:
    if text.startswith("rank2:"):
        r, c = (int(t) for t in text[6:].split("x"))
        return np.full((r, c), 0.5, np.float32)
    dtype = np.float32
    if text.startswith(("f32:", "f64:")):
        dtype = np.float64 if text.startswith("f64") else np.float32
        text = text[4:]
    k, *sets = text.split(";")
    a = np.full(int(k), 0.5, dtype)
    for s in sets:
        i, v = s.split("=")
        a[int(i)] = number(v)
    return a


def option(text: str) -> tuple[str, str, str]:
    """``KEY=TYPE:VALUE`` (or ``KEY=TYPE``) as (key, type, value)."""
    key, _, rest = text.partition("=")
    ty, _, value = rest.partition(":")
    return key, ty, value


def option_value(ty: str, value: str, fx: "Fixture") -> Any:
    if ty == "f64":
        return float(number(value))
    if ty == "i64":
        return number(value)
    if ty == "bool":
        return value == "true"
    return fx.text(value)  # str, text: Python passes text for both


class Quadratic:
    """f(θ) = Σ ½(k+1)θ_k² (the fixture's host objective)."""

    def __init__(self, num_examples: int = 1):
        self.num_examples = num_examples

    def loss_grad(self, theta: Any) -> tuple[float, Any]:
        w = np.arange(1, len(theta) + 1, dtype=np.float32)
        return float(0.5 * np.sum(w * theta * theta)), w * theta

    def set_chunk(self, theta: Any, start: int, length: int) -> None:
        pass

    def curvature_product(self, v: Any) -> Any:
        return np.arange(1, len(v) + 1, dtype=np.float32) * v


class NoLossGrad:
    num_examples = 1

    def set_chunk(self, theta: Any, start: int, length: int) -> None:
        pass

    def curvature_product(self, v: Any) -> Any:
        return v


# -- the fixture -------------------------------------------------------------


class Fixture:
    """The table's fixture objects, their snapshot, and scratch files."""

    def __init__(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="hf-bad-input-")
        x = np.array([[((6 * i + j) % 10 + 1) / 11 for j in range(6)] for i in range(12)])
        self.data = hf.Data(x.astype(np.float32))
        self.net = hf.Net.autoencoder([6, 3], output="logistic", seed=1)
        self.cfg = hf.Config(chunk_size=6, threads=1, backend="cpu", max_iters=5, cg_max_iters=10)
        self.session = hf.Session(self.net, self.data, config=self.cfg)
        self.host_cfg = hf.Config(threads=1, backend="cpu")
        self.host = hf.Session.from_objective(Quadratic(), [1.0] * 4, config=self.host_cfg)
        self.objects = {
            "data": self.data,
            "net": self.net,
            "config": self.cfg,
            "session": self.session,
        }
        self.freed = {}
        for cls, make in (
            (hf.Data, lambda: hf.Data(x[:2])),
            (hf.Net, lambda: hf.Net([2, 1], ["linear"])),
            (hf.Config, hf.Config),
            (hf.Session, lambda: hf.Session(self.net, self.data, config=self.cfg)),
        ):
            obj = make()
            obj.close()
            self.freed[cls] = obj
        Path(self.tmp, "garbage.bin").write_text("this is not a hessfree file\n")
        Path(self.tmp, "empty.bin").write_bytes(b"")
        self.net.save(f"{self.tmp}/net.hfnet")
        self.session.save(f"{self.tmp}/session.hfs")
        self.host.save(f"{self.tmp}/host.hfs")
        self.snapshot = self.state()

    def text(self, value: str) -> str:
        return "" if value == "<empty>" else value.replace("<tmp>", self.tmp)

    def state(self) -> dict[str, Any]:
        return {
            "data.shape": self.data.shape,
            "data.inputs": self.data.inputs().tobytes(),
            "data.targets": self.data.targets().tobytes(),
            "net.describe": self.net.describe(),
            "net.params": self.net.params.tobytes(),
            "cfg.text": self.cfg.to_text(),
            "session.iteration": self.session.iteration,
            "session.lambda": self.session.damping,
            "session.params": self.session.params.tobytes(),
            "session.config": self.session.config.to_text(),
            "host.iteration": self.host.iteration,
            "host.params": self.host.params.tobytes(),
            "host.config": self.host.config.to_text(),
        }

    def changes(self) -> list[str]:
        try:
            now = self.state()
        except Exception as e:  # an object no longer usable
            return [f"fixture unusable: {type(e).__name__}: {e}"]
        return [k for k in self.snapshot if now[k] != self.snapshot[k]]

    def obj(self, cls: type, value: str, default: Any, for_free: bool = False) -> Any:
        """The object a row passes for an argument of class ``cls``."""
        if value == "" or value is None:
            return default
        wrapped = None
        if value == "freed":
            return self.freed[cls]
        if value == "forged":
            wrapped = cls._wrap(0x1234)
        elif value == "forged_tagged":
            wrapped = cls._wrap((TAGS[cls] << 56) | 0xFFFFFFFFFF)
        elif value.startswith("wrong_kind:"):
            wrapped = cls._wrap(self.objects[value[11:]].handle.value)
        elif value == "null":
            wrapped = cls._wrap(None)
        elif value.startswith("other_class:"):
            return self.objects[value[12:]]
        elif value.startswith("data:"):
            return hf.Data(matrix(value[5:]))
        elif value.startswith("cfg:"):
            cfg = hf.Config()
            for setting in value[4:].split(";"):
                key, ty, v = option(setting)
                cfg[key] = option_value(ty, v, self)
            return cfg
        elif value == "host":
            return self.host
        else:
            raise ValueError(f"unknown object encoding {value!r}")
        # Not ours to free, except where the row is about freeing it.
        wrapped._closed = not for_free
        return wrapped

    def close(self) -> None:
        for o in (self.host, self.session, self.host_cfg, self.cfg, self.net, self.data):
            o.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _with_precision(default: str, bad: Any) -> Any:
    """The default array of a supervised row, in the bad array's precision."""
    a = matrix(default)
    return a.astype(bad.dtype) if isinstance(bad, np.ndarray) else a


def run(fx: Fixture, row: Row) -> Any:
    """Performs the row's call through the binding; returns what it returned."""
    op, arg, v = row.op, row.arg, row.value

    def pick(name: str, convert: Any, default: Any) -> Any:
        return convert(v) if arg == name else default

    def me(cls: type, default: Any) -> Any:
        return fx.obj(cls, v, default, for_free=op.endswith(".free")) if arg == "self" else default

    if op == "data.new":
        return hf.Data(matrix(v))
    if op == "data.new_supervised":
        if arg == "inputs":
            x = matrix(v)
            return hf.Data(x, _with_precision("3x1", x))
        y = matrix(v)
        return hf.Data(_with_precision("3x2", y), y)
    if op == "data.curves":
        return hf.Data.curves(number(v), 1)
    if op == "data.mnist":
        return hf.Data.mnist(fx.text(v))
    if op == "data.faces":
        path = pick("path", fx.text, f"{fx.tmp}/garbage.bin")
        return hf.Data.faces(path, pick("per_image", number, 1), 0)
    if op == "data.preset":
        return hf.Data.preset(pick("name", fx.text, "mnist"), pick("data_dir", fx.text, fx.tmp), 0)
    if op.startswith("data."):
        d = me(hf.Data, fx.data)
        return {
            "data.size": lambda: d.shape,
            "data.inputs": d.inputs,
            "data.targets": d.targets,
            "data.free": d.close,
        }[op]()
    if op == "net.new":
        sizes = pick("sizes", sizes_of, [6, 3, 6])
        acts = pick("activations", acts_of, ["logistic"] * max(len(sizes) - 1, 0))
        return hf.Net(sizes, acts, 1)
    if op == "net.new_autoencoder":
        encoder = pick("encoder", sizes_of, [6, 3])
        output = pick("output", lambda t: acts_of(t)[0], "logistic")
        return hf.Net.autoencoder(encoder, output=output, seed=1)
    if op == "net.new_preset":
        return hf.Net.preset(fx.text(v), 1)
    if op == "net.load":
        return hf.Net.load(fx.text(v))
    if op.startswith("net."):
        n = me(hf.Net, fx.net)
        data = pick("data", lambda t: fx.obj(hf.Data, t, fx.data), fx.data)
        vec = pick("v", vector, np.full(P, 0.5, np.float32))
        calls = {
            "net.save": lambda: n.save(pick("path", fx.text, f"{fx.tmp}/out.hfnet")),
            "net.clone": n.copy,
            "net.num_params": lambda: n.num_params,
            "net.describe": n.describe,
            "net.get_params": lambda: n.params,
            "net.free": n.close,
            "net.set_params": lambda: setattr(
                n, "params", pick("params", vector, np.full(P, 0.5, np.float32))
            ),
            "net.predict": lambda: n.predict(pick("inputs", matrix, matrix("2x6"))),
            "net.evaluate": lambda: n.evaluate(data),
            "net.gradient": lambda: n.gradient(data),
            "net.curvature_product": lambda: n.curvature_product(
                data, vec, kind=pick("kind", lambda t: acts_of(t)[0], "gauss_newton")
            ),
            "net.hessian_product_fd": lambda: n.hessian_product_fd(
                data, vec, h=pick("h", lambda t: float(number(t)), 1e-3)
            ),
        }
        return calls[op]()
    if op == "config.preset":
        return hf.Config.preset(fx.text(v))
    if op.startswith("config."):
        c = me(hf.Config, fx.cfg)
        key, ty, value = option(pick("option", str, "max_iters=i64:3"))

        def set_option() -> None:
            c[key] = option_value(ty, value, fx)

        return {
            "config.set": set_option,
            "config.get": lambda: c[key],
            "config.validate": c.validate,
            "config.to_text": c.to_text,
            "config.clone": c.copy,
            "config.free": c.close,
        }[op]()
    if op in ("session.new", "session.resume"):
        net = pick("net", lambda t: fx.obj(hf.Net, t, fx.net), fx.net)
        train = pick("train", lambda t: fx.obj(hf.Data, t, fx.data), fx.data)
        test = pick("test", lambda t: fx.obj(hf.Data, t, None), None)
        if op == "session.new":
            cfg = pick("cfg", lambda t: fx.obj(hf.Config, t, fx.cfg), fx.cfg)
            return hf.Session(net, train, test, config=cfg)
        cfg = pick("cfg", lambda t: fx.obj(hf.Config, t, None), None)
        path = pick("path", fx.text, f"{fx.tmp}/session.hfs")
        return hf.Session.resume(path, net, train, test, config=cfg)
    if op == "session.new_host":
        objective = NoLossGrad() if arg == "loss_grad" else Quadratic(
            pick("num_examples", number, 1)
        )
        theta0 = pick("theta0", vector, [1.0] * 4)
        cfg = pick("cfg", lambda t: fx.obj(hf.Config, t, fx.host_cfg), fx.host_cfg)
        return hf.Session.from_objective(objective, theta0, config=cfg)
    if op == "session.resume_host":
        path = pick("path", fx.text, f"{fx.tmp}/host.hfs")
        return hf.Session.resume_objective(path, Quadratic(), pick("num_params", number, 4))
    if op.startswith("session."):
        s = me(hf.Session, fx.session)

        def set_config() -> None:
            s.config = pick("cfg", lambda t: fx.obj(hf.Config, t, fx.cfg), fx.cfg)

        calls = {
            "session.step": s.step,
            "session.run": s.run,
            "session.request_stop": s.request_stop,
            "session.get_params": lambda: s.params,
            "session.copy_net": s.net,
            "session.iteration": lambda: s.iteration,
            "session.lambda": lambda: s.damping,
            "session.get_config": lambda: s.config,
            "session.set_config": set_config,
            "session.save": lambda: s.save(pick("path", fx.text, f"{fx.tmp}/out.hfs")),
            "session.backend_name": lambda: s.backend,
            "session.summary_text": s.summary_text,
            "session.report_text": s.report_text,
            "session.free": s.close,
        }
        return calls[op]()
    raise KeyError(f"operation {op!r} is not implemented by the Python runner")


def sizes_of(text: str) -> list[Any]:
    return [] if text == "<empty>" else [number(t) for t in text.split(",")]


def acts_of(text: str) -> list[Any]:
    return [number(t) if re.fullmatch(r"-?\d+|2\^\d+(-1)?", t) else t for t in text.split(",")]


@pytest.fixture(scope="module")
def fx():
    """Shared by every row, so a row that corrupted an object fails the
    following ones too."""
    f = Fixture()
    yield f
    f.close()


def _expected(row: Row, fx: Fixture) -> tuple[str, str]:
    status, fragment = row.status, row.fragment
    if BINDING in row.override:
        status, _, fragment = row.override[BINDING].partition(":")
    return status, fx.text(fragment) if fragment else ""


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_bad_input_row(fx: Fixture, row: Row) -> None:
    if BINDING in row.not_applicable:
        RESULTS[row.id] = "n/a"
        pytest.skip(f"not applicable to Python: {row.not_applicable[BINDING]}")
    RESULTS[row.id] = "failed"
    status, fragment = _expected(row, fx)
    got, message, result = "HF_OK", "", None
    try:
        result = run(fx, row)
    except hf.HessfreeError as e:
        got, message = e.name, e.message
        assert e.status == int(hf.Status[e.name]), f"status {e.status} for {e.name}"
    # Anything else (a plain TypeError, KeyError, ...) fails the row as is.
    if isinstance(result, Handle):
        result.close()  # an unexpected success made an object
    assert got == status, f"expected {status}, got {got}: {message!r}"
    if status != "HF_OK":
        assert message, "empty error message"
        assert fragment in message, f"{fragment!r} not in {message!r}"
    changed = fx.changes()
    assert not changed, f"fixture changed or unusable after the row: {changed}"
    RESULTS[row.id] = "passed"


def test_fixture_still_trains_after_the_table(fx: Fixture) -> None:
    report = fx.session.step()
    assert report.iteration == 1 and math.isfinite(report.objective)
    report = fx.host.step()
    assert report.iteration == 1 and math.isfinite(report.objective)
