"""Bad input through the Python binding: every call raises the exception of
its documented status with the library's message, and the objects involved
stay usable."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from conftest import FAST

import hessfree as hf


def _raises(cls, status, *fragments):
    """A pytest.raises context that also checks status name and message."""

    class Check:
        def __enter__(self):
            self.ctx = pytest.raises(cls)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            handled = self.ctx.__exit__(*exc)
            err = self.info.value
            assert err.name == status, f"{err.name} != {status}: {err}"
            assert err.status == int(hf.Status[status])
            for f in fragments:
                assert f in err.message, f"{f!r} not in {err.message!r}"
            return handled

    return Check()


# -- shapes ------------------------------------------------------------------


def test_targets_with_other_row_count_is_a_shape_mismatch():
    x = np.zeros((10, 3), np.float32)
    with _raises(hf.ShapeMismatch, "HF_ERR_SHAPE_MISMATCH", "targets"):
        hf.Data(x, np.zeros((9, 2), np.float32))


def test_one_dimensional_data_is_a_shape_mismatch():
    with _raises(hf.ShapeMismatch, "HF_ERR_SHAPE_MISMATCH", "N x D"):
        hf.Data(np.zeros(12))


def test_ragged_lists_are_a_shape_mismatch():
    with _raises(hf.ShapeMismatch, "HF_ERR_SHAPE_MISMATCH", "row 1"):
        hf.Data([[0.0, 1.0], [1.0]])


def test_empty_data_is_invalid():
    with _raises(hf.InvalidArgument, "HF_ERR_INVALID_ARGUMENT"):
        hf.Data(np.zeros((0, 4), np.float32))


def test_predict_with_wrong_width(small_problem):
    net, _, _ = small_problem
    with _raises(hf.ShapeMismatch, "HF_ERR_SHAPE_MISMATCH", "inputs"):
        net.predict(np.zeros((2, 783), np.float32))
    assert net.predict(np.zeros((2, 784), np.float32)).shape == (2, 784)


def test_params_of_wrong_length_leave_theta_unchanged(small_problem):
    net, _, _ = small_problem
    before = net.params
    with _raises(hf.ShapeMismatch, "HF_ERR_SHAPE_MISMATCH", "params"):
        net.params = before[:-1]
    np.testing.assert_array_equal(net.params, before)


def test_session_with_data_of_wrong_width(small_problem):
    net, _, _ = small_problem
    with hf.Data(np.zeros((5, 10), np.float32)) as narrow:
        with _raises(hf.ShapeMismatch, "HF_ERR_SHAPE_MISMATCH"):
            hf.Session(net, narrow)


def test_curvature_product_with_wrong_length(small_problem):
    net, train, _ = small_problem
    with _raises(hf.ShapeMismatch, "HF_ERR_SHAPE_MISMATCH", "v"):
        net.curvature_product(train, np.ones(3, np.float32))


def test_wrong_layer_specs():
    with _raises(hf.InvalidArgument, "HF_ERR_INVALID_ARGUMENT", "zero units"):
        hf.Net([4, 0, 2], ["tanh", "linear"])
    with _raises(hf.ShapeMismatch, "HF_ERR_SHAPE_MISMATCH"):
        hf.Net([4, 3, 2], ["tanh"])
    with _raises(hf.ResourceLimit, "HF_ERR_RESOURCE_LIMIT"):
        hf.Net([1 << 40, 4], ["linear"])
    with _raises(hf.InvalidArgument, "HF_ERR_INVALID_ARGUMENT", "relu_ish"):
        hf.Net([4, 3], ["relu_ish"])
    with _raises(hf.InvalidArgument, "HF_ERR_INVALID_ARGUMENT", "activations[0] = 9"):
        hf.Net([4, 3], [9])


# -- non-finite values ----------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_data_names_example_and_component(bad):
    x = np.zeros((4, 3))
    x[2, 1] = bad
    with _raises(hf.NonFinite, "HF_ERR_NON_FINITE", "example 2", "component 1"):
        hf.Data(x)
    with _raises(hf.NonFinite, "HF_ERR_NON_FINITE"):
        hf.Data(x.astype(np.float32))


def test_float64_beyond_float_range_is_out_of_range():
    x = np.zeros((2, 2))
    x[1, 0] = 1e300
    with _raises(hf.OutOfRange, "HF_ERR_OUT_OF_RANGE"):
        hf.Data(x)


def test_nan_params_leave_theta_unchanged(small_problem):
    net, train, _ = small_problem
    before = net.params
    bad = before.copy()
    bad[5] = np.nan
    with _raises(hf.NonFinite, "HF_ERR_NON_FINITE", "params[5]"):
        net.params = bad
    np.testing.assert_array_equal(net.params, before)
    assert np.isfinite(net.evaluate(train).loss)


def test_nan_predict_input(small_problem):
    net, _, _ = small_problem
    x = np.zeros((3, 784), np.float32)
    x[1, 7] = np.nan
    with _raises(hf.NonFinite, "HF_ERR_NON_FINITE", "example 1"):
        net.predict(x)


# -- options -------------------------------------------------------------------


def test_unknown_option_suggests_the_nearest_key():
    with hf.Config() as cfg:
        with _raises(hf.UnknownKey, "HF_ERR_UNKNOWN_KEY", "initial_lambda"):
            cfg["inital_lambda"] = 1.0
        with pytest.raises(KeyError):  # also an ordinary KeyError
            cfg["chunk_sise"] = 10
        with _raises(hf.UnknownKey, "HF_ERR_UNKNOWN_KEY", "chunk_size"):
            hf.Config(chunk_sise=10)
        with _raises(hf.UnknownKey, "HF_ERR_UNKNOWN_KEY"):
            cfg["no_such_key"]


def test_out_of_range_option_names_the_range():
    with hf.Config() as cfg:
        with _raises(hf.OutOfRange, "HF_ERR_OUT_OF_RANGE", "(0, 1)"):
            cfg["ls_shrink"] = 2.0
        assert cfg["ls_shrink"] == 0.8  # unchanged
        with _raises(hf.OutOfRange, "HF_ERR_OUT_OF_RANGE"):
            cfg["chunk_size"] = -1
        with _raises(hf.OutOfRange, "HF_ERR_OUT_OF_RANGE", "cpu"):
            cfg["backend"] = "abacus"


def test_wrong_option_type():
    with hf.Config() as cfg:
        with _raises(hf.WrongType, "HF_ERR_WRONG_TYPE"):
            cfg["chunk_size"] = 1.5
        with _raises(hf.WrongType, "HF_ERR_WRONG_TYPE"):
            cfg["backtrack"] = 0.5
        with pytest.raises(TypeError):
            cfg["chunk_size"] = object()


def test_inconsistent_options_fail_validation():
    with hf.Config(cg_min_iters=50, cg_max_iters=10) as cfg:
        with _raises(hf.OutOfRange, "HF_ERR_OUT_OF_RANGE", "cg_min_iters"):
            cfg.validate()


# -- freed and wrong-kind objects -------------------------------------------


def test_use_after_close_raises_invalid_handle(curves_inputs):
    data = hf.Data(curves_inputs[:10])
    net = hf.Net.autoencoder([784, 8], seed=1)
    cfg = hf.Config()
    session = hf.Session(net, data, config=FAST)
    for obj in (data, net, cfg, session):
        obj.close()
        assert obj.closed
        obj.close()  # a second close is harmless
    with _raises(hf.InvalidHandle, "HF_ERR_INVALID_HANDLE", "freed"):
        data.shape
    with _raises(hf.InvalidHandle, "HF_ERR_INVALID_HANDLE"):
        net.params
    with _raises(hf.InvalidHandle, "HF_ERR_INVALID_HANDLE"):
        cfg["chunk_size"]
    with _raises(hf.InvalidHandle, "HF_ERR_INVALID_HANDLE"):
        session.step()
    with _raises(hf.InvalidHandle, "HF_ERR_INVALID_HANDLE"):
        session.request_stop()
    with hf.Net.autoencoder([784, 8], seed=1) as live:
        with _raises(hf.InvalidHandle, "HF_ERR_INVALID_HANDLE", "train"):
            hf.Session(live, data)  # a closed data set as an argument


def test_context_manager_closes():
    with hf.Net([3, 2], ["linear"], seed=1) as net:
        assert net.num_params == 8
    assert net.closed
    with pytest.raises(hf.InvalidHandle):
        net.num_params


def test_wrong_kind_handle_is_rejected_by_the_library(small_problem):
    net, train, _ = small_problem
    forged = hf.Data._wrap(net.handle.value)  # a net's handle posing as data
    try:
        with _raises(hf.InvalidHandle, "HF_ERR_INVALID_HANDLE", "hf_net"):
            forged.shape
    finally:
        forged._closed = True  # never free the net through it
    assert net.num_params > 0 and train.shape[0] == 120


def test_python_type_errors_before_the_library(small_problem):
    net, train, _ = small_problem
    with pytest.raises(TypeError):
        net.evaluate(net)
    with pytest.raises(TypeError):
        hf.Session(train, train)


# -- files --------------------------------------------------------------------


def test_missing_and_corrupt_files(tmp_path, small_problem):
    net, _, _ = small_problem
    with _raises(hf.FileError, "HF_ERR_IO", "nope.hfnet"):
        hf.Net.load(tmp_path / "nope.hfnet")
    with pytest.raises(OSError):
        hf.Net.load(tmp_path / "nope.hfnet")
    path = tmp_path / "net.hfnet"
    net.save(path)
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0x40
    path.write_bytes(bytes(blob))
    with pytest.raises(hf.FileFormatError):
        hf.Net.load(path)
    with _raises(hf.FileError, "HF_ERR_IO"):
        net.save(tmp_path / "no" / "such" / "dir" / "net.hfnet")
    with _raises(hf.FileError, "HF_ERR_IO"):
        hf.Data.mnist(tmp_path)


# -- callbacks ------------------------------------------------------------------


class Boom(Exception):
    pass


def test_exception_in_progress_callback_stops_the_run_and_is_reraised(small_problem):
    net, train, test = small_problem
    seen = []

    def progress(report):
        seen.append(report.iteration)
        if report.iteration == 2:
            raise Boom("from the callback")

    with hf.Session(net, train, test, config=FAST, max_iters=10) as s:
        with pytest.raises(Boom, match="from the callback"):
            s.run(progress)
        assert seen == [1, 2]
        assert s.iteration == 2  # stopped right after the failing call
        # The session is still usable and the pending exception was consumed.
        s.config = dict(FAST, max_iters=3)
        summary = s.run()
        assert summary.termination == "max_iterations"
        assert s.iteration == 3


def test_keyboard_interrupt_in_callback_is_reraised(small_problem):
    net, train, _ = small_problem
    with hf.Session(net, train, config=FAST, max_iters=10) as s:

        def progress(report):
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            s.run(progress)
        assert s.iteration == 1


class Quadratic:
    """f(θ) = ½|θ - 1|², G = I; ``fail_in`` names a method that raises."""

    num_examples = 1

    def __init__(self, fail_in=None, fail_at=1):
        self.fail_in, self.fail_at, self.calls = fail_in, fail_at, {}

    def _tick(self, name):
        self.calls[name] = self.calls.get(name, 0) + 1
        if name == self.fail_in and self.calls[name] >= self.fail_at:
            raise Boom(f"{name} failed")

    def loss_grad(self, theta):
        self._tick("loss_grad")
        r = theta - 1.0
        return 0.5 * float(r @ r), r

    def set_chunk(self, theta, start, length):
        self._tick("set_chunk")

    def curvature_product(self, v):
        self._tick("curvature_product")
        return v


@pytest.mark.parametrize("method", ["loss_grad", "set_chunk", "curvature_product"])
def test_exception_in_host_objective_is_reraised(method):
    obj = Quadratic(fail_in=method)
    with hf.Session.from_objective(obj, np.zeros(3, np.float32), max_iters=5) as s:
        with pytest.raises(Boom, match=f"{method} failed") as info:
            s.run()
        cause = info.value.__cause__
        assert isinstance(cause, hf.CallbackError)
        assert cause.name == "HF_ERR_CALLBACK" and method in cause.message
        assert s.iteration == 0
        np.testing.assert_array_equal(s.params, np.zeros(3, np.float32))  # θ unchanged
        obj.fail_in = None  # the session carries on once the host recovers
        s.step()
        assert s.iteration == 1


def test_bad_return_from_host_objective_is_a_python_error():
    class BadGrad(Quadratic):
        def loss_grad(self, theta):
            return 0.0, np.zeros(2)  # wrong length

    with hf.Session.from_objective(BadGrad(), np.zeros(3, np.float32)) as s:
        with pytest.raises(ValueError, match="gradient has 2 values, expected 3"):
            s.step()


def test_host_objective_must_have_the_methods():
    with pytest.raises(TypeError, match="curvature_product"):
        hf.Session.from_objective(object(), [0.0])


def test_nan_theta0_is_rejected():
    with _raises(hf.NonFinite, "HF_ERR_NON_FINITE", "theta0"):
        hf.Session.from_objective(Quadratic(), np.array([0.0, np.nan], np.float32))


# -- threads and loading ----------------------------------------------------------


def test_errors_are_per_thread(small_problem):
    net, _, _ = small_problem
    messages = {}

    def worker(name, width):
        try:
            net.predict(np.zeros((1, width), np.float32))
        except hf.HessfreeError as e:
            messages[name] = e.name

    threads = [threading.Thread(target=worker, args=(i, 784 if i % 2 else 5)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert messages == {
        0: "HF_ERR_SHAPE_MISMATCH",
        2: "HF_ERR_SHAPE_MISMATCH",
        4: "HF_ERR_SHAPE_MISMATCH",
    }


def test_missing_library_lists_where_it_looked(tmp_path):
    env = dict(os.environ, HESSFREE_LIB=str(tmp_path / "libnothing.so"))
    code = "import hessfree"
    pkg = os.path.dirname(os.path.dirname(hf.__file__))
    r = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=pkg, capture_output=True, text=True, timeout=60
    )
    assert r.returncode != 0
    assert "LibraryNotFound" in r.stderr and "libnothing.so" in r.stderr
    assert "HESSFREE_LIB" in r.stderr
