"""Table-driven bad input through every wrapper (issue 8): each case must
raise the documented exception with the documented status and a message
naming the problem, and the objects involved must still work afterwards."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import FAST

import hessfree as hf

P = 784 * 8 + 8 + 8 * 784 + 784  # parameters of the 784-8 autoencoder below


class Objects:
    """A fresh set of live objects (and closed ones) for every case."""

    def __init__(self, x):
        self.x = x
        self.data = hf.Data(x[:20])
        self.net = hf.Net.autoencoder([784, 8], seed=1)
        self.cfg = hf.Config(FAST)
        self.session = hf.Session(self.net, self.data, config=self.cfg)
        self.closed_data = hf.Data(x[:2])
        self.closed_data.close()
        self.closed_net = hf.Net([2, 1], ["linear"])
        self.closed_net.close()
        self.closed_cfg = hf.Config()
        self.closed_cfg.close()

    def still_usable(self):
        assert self.data.shape == (20, 784, 784)
        assert self.net.num_params == P and np.isfinite(self.net.evaluate(self.data).loss)
        assert self.cfg["chunk_size"] == FAST["chunk_size"]
        assert len(self.session.params) == P

    def close(self):
        for o in (self.session, self.cfg, self.net, self.data):
            o.close()


def nan_rows(n, d, where=(0, 0), value=np.nan):
    a = np.zeros((n, d), np.float32)
    a[where] = value
    return a


# (id, action(objects), exception, status, message fragment)
CASES = [
    # Data construction
    ("data-1d", lambda o: hf.Data(np.zeros(5)), hf.ShapeMismatch, "HF_ERR_SHAPE_MISMATCH", "N x D"),
    (
        "data-3d",
        lambda o: hf.Data(np.zeros((2, 2, 2))),
        hf.ShapeMismatch,
        "HF_ERR_SHAPE_MISMATCH",
        "shape",
    ),
    (
        "data-zero-rows",
        lambda o: hf.Data(np.zeros((0, 3))),
        hf.InvalidArgument,
        "HF_ERR_INVALID_ARGUMENT",
        "",
    ),
    (
        "data-zero-cols",
        lambda o: hf.Data(np.zeros((3, 0))),
        hf.InvalidArgument,
        "HF_ERR_INVALID_ARGUMENT",
        "",
    ),
    (
        "data-target-rows",
        lambda o: hf.Data(np.zeros((3, 2)), np.zeros((4, 2))),
        hf.ShapeMismatch,
        "HF_ERR_SHAPE_MISMATCH",
        "targets",
    ),
    (
        "data-nan",
        lambda o: hf.Data(nan_rows(3, 2, (1, 1))),
        hf.NonFinite,
        "HF_ERR_NON_FINITE",
        "example 1",
    ),
    (
        "data-inf-target",
        lambda o: hf.Data(np.zeros((3, 2)), nan_rows(3, 1, (2, 0), np.inf)),
        hf.NonFinite,
        "HF_ERR_NON_FINITE",
        "example 2",
    ),
    (
        "data-f64-overflow",
        lambda o: hf.Data(np.full((1, 1), 1e39)),
        hf.OutOfRange,
        "HF_ERR_OUT_OF_RANGE",
        "",
    ),
    (
        "data-ragged",
        lambda o: hf.Data([[1.0], [1.0, 2.0]]),
        hf.ShapeMismatch,
        "HF_ERR_SHAPE_MISMATCH",
        "row 1",
    ),
    ("curves-zero", lambda o: hf.Data.curves(0), hf.InvalidArgument, "HF_ERR_INVALID_ARGUMENT", ""),
    (
        "curves-negative",
        lambda o: hf.Data.curves(-1),
        hf.InvalidArgument,
        "HF_ERR_INVALID_ARGUMENT",
        "n = -1",
    ),
    (
        "mnist-missing",
        lambda o: hf.Data.mnist("/nonexistent/mnist"),
        hf.FileError,
        "HF_ERR_IO",
        "/nonexistent/mnist",
    ),
    (
        "faces-missing",
        lambda o: hf.Data.faces("/nonexistent/f.npy", per_image=1),
        hf.FileError,
        "HF_ERR_IO",
        "/nonexistent/f.npy",
    ),
    (
        "preset-unknown",
        lambda o: hf.Data.preset("cifar"),
        hf.InvalidArgument,
        "HF_ERR_INVALID_ARGUMENT",
        "cifar",
    ),
    (
        "data-closed",
        lambda o: o.closed_data.inputs(),
        hf.InvalidHandle,
        "HF_ERR_INVALID_HANDLE",
        "freed",
    ),
    # Net construction and use
    (
        "net-zero-layer",
        lambda o: hf.Net([4, 0, 2], ["tanh", "linear"]),
        hf.InvalidArgument,
        "HF_ERR_INVALID_ARGUMENT",
        "zero units",
    ),
    ("net-one-size", lambda o: hf.Net([4], []), hf.InvalidArgument, "HF_ERR_INVALID_ARGUMENT", ""),
    (
        "net-2^40-layer",
        lambda o: hf.Net([1 << 40, 4], ["linear"]),
        hf.ResourceLimit,
        "HF_ERR_RESOURCE_LIMIT",
        "",
    ),
    (
        "net-act-count",
        lambda o: hf.Net([4, 3, 2], ["tanh"]),
        hf.ShapeMismatch,
        "HF_ERR_SHAPE_MISMATCH",
        "",
    ),
    (
        "net-act-code",
        lambda o: hf.Net([4, 3], [42]),
        hf.InvalidArgument,
        "HF_ERR_INVALID_ARGUMENT",
        "42",
    ),
    (
        "net-act-name",
        lambda o: hf.Net([4, 3], ["sigmoidish"]),
        hf.InvalidArgument,
        "HF_ERR_INVALID_ARGUMENT",
        "sigmoidish",
    ),
    (
        "net-softmax-hidden",
        lambda o: hf.Net([4, 3, 2], ["softmax", "linear"]),
        hf.InvalidArgument,
        "HF_ERR_INVALID_ARGUMENT",
        "softmax",
    ),
    (
        "net-autoencoder-softmax-output",
        lambda o: hf.Net.autoencoder([6, 3, 2], output="softmax"),
        hf.InvalidArgument,
        "HF_ERR_INVALID_ARGUMENT",
        "output_activation = 4 (softmax)",
    ),
    (
        "net-preset-unknown",
        lambda o: hf.Net.preset("cifar"),
        hf.InvalidArgument,
        "HF_ERR_INVALID_ARGUMENT",
        "cifar",
    ),
    (
        "params-short",
        lambda o: setattr(o.net, "params", np.zeros(P - 1)),
        hf.ShapeMismatch,
        "HF_ERR_SHAPE_MISMATCH",
        "params",
    ),
    (
        "params-nan",
        lambda o: setattr(o.net, "params", nan_rows(1, P, (0, 7))[0]),
        hf.NonFinite,
        "HF_ERR_NON_FINITE",
        "params[7]",
    ),
    (
        "params-2d",
        lambda o: setattr(o.net, "params", np.zeros((2, P))),
        hf.ShapeMismatch,
        "HF_ERR_SHAPE_MISMATCH",
        "vector",
    ),
    (
        "predict-width",
        lambda o: o.net.predict(np.zeros((1, 3))),
        hf.ShapeMismatch,
        "HF_ERR_SHAPE_MISMATCH",
        "inputs",
    ),
    (
        "predict-inf",
        lambda o: o.net.predict(nan_rows(2, 784, (1, 3), -np.inf)),
        hf.NonFinite,
        "HF_ERR_NON_FINITE",
        "example 1",
    ),
    (
        "evaluate-closed-data",
        lambda o: o.net.evaluate(o.closed_data),
        hf.InvalidHandle,
        "HF_ERR_INVALID_HANDLE",
        "data",
    ),
    (
        "evaluate-wrong-width",
        lambda o: o.net.evaluate(hf.Data(np.zeros((2, 3)))),
        hf.ShapeMismatch,
        "HF_ERR_SHAPE_MISMATCH",
        "",
    ),
    (
        "gradient-closed-net",
        lambda o: o.closed_net.gradient(o.data),
        hf.InvalidHandle,
        "HF_ERR_INVALID_HANDLE",
        "net",
    ),
    (
        "curv-kind",
        lambda o: o.net.curvature_product(o.data, np.zeros(P), kind=7),
        hf.InvalidArgument,
        "HF_ERR_INVALID_ARGUMENT",
        "kind = 7",
    ),
    (
        "curv-kind-name",
        lambda o: o.net.curvature_product(o.data, np.zeros(P), kind="newton"),
        hf.InvalidArgument,
        "HF_ERR_INVALID_ARGUMENT",
        "newton",
    ),
    (
        "curv-v-nan",
        lambda o: o.net.curvature_product(o.data, nan_rows(1, P, (0, 3))[0]),
        hf.NonFinite,
        "HF_ERR_NON_FINITE",
        "v",
    ),
    (
        "fd-step",
        lambda o: o.net.hessian_product_fd(o.data, np.zeros(P), h=-1.0),
        hf.OutOfRange,
        "HF_ERR_OUT_OF_RANGE",
        "",
    ),
    (
        "net-load-missing",
        lambda o: hf.Net.load("/nonexistent/n.hfnet"),
        hf.FileError,
        "HF_ERR_IO",
        "/nonexistent/n.hfnet",
    ),
    (
        "net-save-unwritable",
        lambda o: o.net.save("/nonexistent/dir/n.hfnet"),
        hf.FileError,
        "HF_ERR_IO",
        "/nonexistent/dir",
    ),
    (
        "net-save-empty-path",
        lambda o: o.net.save(""),
        hf.InvalidArgument,
        "HF_ERR_INVALID_ARGUMENT",
        "empty path",
    ),
    # Config
    (
        "cfg-unknown",
        lambda o: o.cfg.__setitem__("chunk_sizes", 1),
        hf.UnknownKey,
        "HF_ERR_UNKNOWN_KEY",
        "chunk_size",
    ),
    ("cfg-unknown-get", lambda o: o.cfg["lambda"], hf.UnknownKey, "HF_ERR_UNKNOWN_KEY", ""),
    (
        "cfg-range-f64",
        lambda o: o.cfg.__setitem__("ls_shrink", 1.5),
        hf.OutOfRange,
        "HF_ERR_OUT_OF_RANGE",
        "(0, 1)",
    ),
    (
        "cfg-range-nan",
        lambda o: o.cfg.__setitem__("initial_lambda", float("nan")),
        hf.OutOfRange,
        "HF_ERR_OUT_OF_RANGE",
        "initial_lambda",
    ),
    (
        "cfg-range-i64",
        lambda o: o.cfg.__setitem__("cg_max_iters", 0),
        hf.OutOfRange,
        "HF_ERR_OUT_OF_RANGE",
        "cg_max_iters",
    ),
    (
        "cfg-choice",
        lambda o: o.cfg.__setitem__("curvature", "newton"),
        hf.OutOfRange,
        "HF_ERR_OUT_OF_RANGE",
        "gauss_newton",
    ),
    (
        "cfg-type",
        lambda o: o.cfg.__setitem__("chunk_size", 0.5),
        hf.WrongType,
        "HF_ERR_WRONG_TYPE",
        "",
    ),
    (
        "cfg-text-type",
        lambda o: o.cfg.__setitem__("chunk_size", "many"),
        hf.WrongType,
        "HF_ERR_WRONG_TYPE",
        "",
    ),
    (
        "cfg-preset",
        lambda o: hf.Config.preset("cifar"),
        hf.InvalidArgument,
        "HF_ERR_INVALID_ARGUMENT",
        "cifar",
    ),
    (
        "cfg-closed",
        lambda o: o.closed_cfg["chunk_size"],
        hf.InvalidHandle,
        "HF_ERR_INVALID_HANDLE",
        "freed",
    ),
    # Session
    (
        "session-closed-net",
        lambda o: hf.Session(o.closed_net, o.data),
        hf.InvalidHandle,
        "HF_ERR_INVALID_HANDLE",
        "net",
    ),
    (
        "session-closed-test",
        lambda o: hf.Session(o.net, o.data, o.closed_data),
        hf.InvalidHandle,
        "HF_ERR_INVALID_HANDLE",
        "test",
    ),
    (
        "session-closed-cfg",
        lambda o: hf.Session(o.net, o.data, config=o.closed_cfg),
        hf.InvalidHandle,
        "HF_ERR_INVALID_HANDLE",
        "cfg",
    ),
    (
        "session-bad-cfg",
        lambda o: hf.Session(o.net, o.data, cg_min_iters=9, cg_max_iters=3),
        hf.OutOfRange,
        "HF_ERR_OUT_OF_RANGE",
        "cg_min_iters",
    ),
    (
        "session-width",
        lambda o: hf.Session(o.net, hf.Data(np.zeros((3, 5)))),
        hf.ShapeMismatch,
        "HF_ERR_SHAPE_MISMATCH",
        "",
    ),
    (
        "session-set-bad-cfg",
        lambda o: setattr(o.session, "config", {"chunk_size": -5}),
        hf.OutOfRange,
        "HF_ERR_OUT_OF_RANGE",
        "chunk_size",
    ),
    (
        "session-resume-missing",
        lambda o: hf.Session.resume("/nonexistent/s", o.net, o.data),
        hf.FileError,
        "HF_ERR_IO",
        "/nonexistent/s",
    ),
    (
        "session-save-unwritable",
        lambda o: o.session.save("/nonexistent/dir/s"),
        hf.FileError,
        "HF_ERR_IO",
        "/nonexistent/dir",
    ),
    (
        "host-theta-len",
        lambda o: hf.Session.from_objective(_Zero(), []),
        hf.InvalidArgument,
        "HF_ERR_INVALID_ARGUMENT",
        "num_params",
    ),
    (
        "host-theta-inf",
        lambda o: hf.Session.from_objective(_Zero(), [np.inf]),
        hf.NonFinite,
        "HF_ERR_NON_FINITE",
        "theta0",
    ),
    (
        "host-curvature-kind",
        lambda o: hf.Session.from_objective(_Zero(), [1.0], curvature="hessian"),
        hf.Unsupported,
        "HF_ERR_UNSUPPORTED",
        "hessian",
    ),
    (
        "host-zero-examples",
        lambda o: hf.Session.from_objective(_Zero(num_examples=0), [1.0]),
        hf.InvalidArgument,
        "HF_ERR_INVALID_ARGUMENT",
        "num_examples",
    ),
]


class _Zero:
    def __init__(self, num_examples=1):
        self.num_examples = num_examples

    def loss_grad(self, theta):
        return 0.0, theta * 0

    def set_chunk(self, theta, start, length):
        pass

    def curvature_product(self, v):
        return v


@pytest.fixture(scope="module")
def objects(curves_inputs):
    """Shared by every case, so a case that corrupted an object would break
    the following ones."""
    o = Objects(curves_inputs)
    yield o
    o.close()


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input(objects, case):
    _, action, cls, status, fragment = case
    with pytest.raises(cls) as info:
        action(objects)
    err = info.value
    assert err.name == status, str(err)
    assert err.status == int(hf.Status[status])
    assert fragment in err.message, f"{fragment!r} not in {err.message!r}"
    objects.still_usable()


def test_objects_still_train_after_all_cases(objects):
    report = objects.session.step()
    assert report.iteration == 1 and np.isfinite(report.objective)


def test_case_count():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))
    print(f"{len(CASES)} distinct bad-input cases")
