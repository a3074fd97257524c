"""Training through the binding: the error falls, reports and summaries are
complete, stop requests work from other threads, save/resume is exact, and
the pure-Python (list) path gives the same numbers as numpy."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from conftest import FAST

import hessfree as hf
from hessfree import _arrays


def test_small_autoencoder_error_falls(small_problem):
    net, train, test = small_problem
    start = net.evaluate(train)
    with hf.Session(net, train, test, config=FAST, max_iters=6) as s:
        assert s.backend.startswith("cpu")
        reports = []
        summary = s.run(reports.append)
        assert [r.iteration for r in reports] == list(range(1, 7))
        assert summary.iterations == 6 and summary.termination == "max_iterations"
        assert summary.termination_text
        assert summary.final_train_error < 0.8 * start.error, (start, summary)
        assert math.isfinite(summary.final_test_error)
        assert reports[-1].train_error == summary.final_train_error
        assert all(r.cg_iterations > 0 for r in reports)
        assert all(r.chunk_len == 60 for r in reports)
        trained = s.net()
    with trained:
        after = trained.evaluate(train)
        assert after.error == pytest.approx(summary.final_train_error, rel=1e-9)
        assert trained.sizes == [784, 16, 4, 16, 784]
        assert trained.activations == ["logistic", "linear", "logistic", "logistic"]
    # The session trained a copy: the original net is untouched.
    assert net.evaluate(train) == start


def test_step_reports_one_iteration(small_problem):
    net, train, _ = small_problem
    with hf.Session(net, train, config=FAST) as s:
        r = s.step()
        assert r.iteration == 1 and s.iteration == 1
        assert math.isnan(r.test_error)  # no test set
        assert r.lambda_ == pytest.approx(s.damping)
        assert r.cg_stop in hf._lib.CG_STOPS and r.reject_reason == "none"
        assert str(r.iteration) in s.report_text()


def test_callback_returning_true_stops(small_problem):
    net, train, _ = small_problem
    with hf.Session(net, train, config=FAST, max_iters=20) as s:
        summary = s.run(lambda r: r.iteration >= 3)
        assert summary.termination == "callback_stop" and s.iteration == 3
        assert "3" in s.summary_text()


def test_request_stop_from_another_thread(small_problem):
    net, train, _ = small_problem
    with hf.Session(net, train, config=FAST, max_iters=50) as s:
        first = threading.Event()
        stopped = threading.Event()

        def stopper():
            first.wait(30)
            s.request_stop()
            stopped.set()

        t = threading.Thread(target=stopper)
        t.start()

        def progress(report):
            first.set()
            stopped.wait(30)  # the stop request never waits for the run

        summary = s.run(progress)
        t.join()
        assert summary.termination == "stop_requested"
        assert s.iteration == 1


def test_save_and_resume_continue_bit_identically(tmp_path, small_problem):
    net, train, test = small_problem
    with hf.Session(net, train, test, config=FAST, max_iters=4) as whole:
        whole.run()
        want = whole.params
    path = tmp_path / "run.hfs"
    with hf.Session(net, train, test, config=FAST, max_iters=2) as first:
        first.run()
        first.save(path)
    with hf.Session.resume(path, net, train, test, config=dict(FAST, max_iters=4)) as rest:
        assert rest.iteration == 2
        rest.run()
        np.testing.assert_array_equal(rest.params, want)


def test_net_save_load_roundtrip(tmp_path, small_problem):
    net, train, _ = small_problem
    path = tmp_path / "n.hfnet"
    net.save(path)
    with hf.Net.load(path) as back:
        np.testing.assert_array_equal(back.params, net.params)
        assert back.describe() == net.describe()
        assert back.evaluate(train) == net.evaluate(train)


def test_config_can_be_changed_to_continue(small_problem):
    net, train, _ = small_problem
    with hf.Session(net, train, config=FAST, max_iters=1) as s:
        s.run()
        cfg = s.config
        assert cfg["max_iters"] == 1 and cfg["chunk_size"] == 60
        cfg["max_iters"] = 3
        s.config = cfg
        s.run()
        assert s.iteration == 3


def test_list_path_without_numpy(monkeypatch, curves_inputs, small_problem):
    """Lists in, lists out, and the same numbers as the numpy path."""
    net, _, _ = small_problem
    rows = curves_inputs[:30].astype(np.float64).tolist()
    with hf.Data(np.asarray(rows)) as d_np, hf.Session(net, d_np, config=FAST, max_iters=2) as s:
        want = s.run()
        want_pred = net.predict(np.asarray(rows[:2]))
    monkeypatch.setattr(_arrays, "np", None)
    assert not hf.numpy_enabled()
    with hf.Data(rows) as d:
        back = d.inputs()
        assert isinstance(back, list) and isinstance(back[0], list) and len(back) == 30
        assert back[3] == pytest.approx(rows[3], abs=0)
        params = net.params
        assert isinstance(params, list) and len(params) == net.num_params
        pred = net.predict(rows[:2])
        assert isinstance(pred, list) and len(pred[0]) == 784
        assert pred == want_pred.tolist()
        single = net.predict(rows[0])
        assert single == want_pred[0].tolist()
        with hf.Session(net, d, config=FAST, max_iters=2) as s:
            got = s.run()
            assert isinstance(s.params, list)
        assert got.final_objective == want.final_objective
        net.params = params  # set from a list


def test_data_accessors_and_dtypes(curves_inputs):
    x = curves_inputs[:5]
    for dtype in (np.float16, np.float32, np.float64, np.int32):
        with hf.Data(x.astype(dtype)) as d:
            assert d.shape == (5, 784, 784) and len(d) == 5
            np.testing.assert_array_equal(d.inputs(), x.astype(dtype).astype(np.float32))
    y = np.arange(10, dtype=np.float32).reshape(5, 2)
    with hf.Data(x, y) as d:
        assert d.shape == (5, 784, 2)
        np.testing.assert_array_equal(d.targets(), y)
        assert d.inputs().flags.c_contiguous and d.inputs().dtype == np.float32
    fortran = np.asfortranarray(x)
    with hf.Data(fortran) as d:
        np.testing.assert_array_equal(d.inputs(), x)


def test_gradient_and_curvature_products(small_problem):
    net, train, _ = small_problem
    loss, g = net.loss_and_gradient(train)
    assert loss == pytest.approx(net.evaluate(train).loss)
    assert g.shape == (net.num_params,) and np.all(np.isfinite(g))
    # A small step against the gradient lowers the loss.
    theta = net.params
    with net.copy() as moved:
        moved.params = theta - 1e-3 * g / np.linalg.norm(g)
        assert moved.evaluate(train).loss < loss
    # Gauss-Newton is symmetric positive semi-definite: u'Gv = v'Gu, v'Gv >= 0.
    rng = np.random.default_rng(0)
    u, v = rng.standard_normal((2, net.num_params)).astype(np.float32)
    gu = net.curvature_product(train, u).astype(np.float64)
    gv = net.curvature_product(train, v, kind="gauss_newton").astype(np.float64)
    assert u @ gv == pytest.approx(v @ gu, rel=1e-3)
    assert v @ gv >= 0
    hv = net.curvature_product(train, v, kind="hessian")
    hv_fd = net.hessian_product_fd(train, v, h=1e-3)
    assert np.linalg.norm(hv - hv_fd) <= 0.05 * np.linalg.norm(hv_fd)


def test_config_is_dict_like():
    with hf.Config(chunk_size=150, threads=1) as cfg:
        assert cfg["chunk_size"] == 150 and isinstance(cfg["chunk_size"], int)
        assert isinstance(cfg["initial_lambda"], float)
        assert cfg["curvature"] == "gauss_newton"
        assert isinstance(cfg["backtrack"], bool)
        cfg["initial_lambda"] = 10
        assert cfg["initial_lambda"] == 10.0
        cfg["max_iters"] = 7.0  # an integral float for an integer key
        assert cfg["max_iters"] == 7
        cfg["ls_shrink"] = "0.5"  # text is parsed by the key's type
        assert cfg["ls_shrink"] == 0.5
        del cfg["ls_shrink"]
        assert cfg["ls_shrink"] == 0.8
        assert "chunk_size" in cfg and "nope" not in cfg
        assert len(cfg) == len(hf.KEYS) == len(list(cfg))
        d = cfg.to_dict()
        assert d["chunk_size"] == 150
        assert "chunk_size=150" in cfg.to_text()
        info = hf.Config.info("chunk_size")
        assert info.type == "i64" and info.doc and info.range
        with cfg.copy() as other:
            other["chunk_size"] = 10
            assert cfg["chunk_size"] == 150
    with hf.Config.preset("curves") as p, hf.Config() as plain:
        assert p.to_dict() != plain.to_dict()
    with pytest.raises(hf.InvalidArgument):
        hf.Config.preset("cifar")


def test_net_constructors():
    with hf.Net([4, 3, 2], ["tanh", "linear"], seed=1) as a, hf.Net([4, 3, 2], [1, 2], seed=1) as b:
        assert a.num_params == 4 * 3 + 3 + 3 * 2 + 2
        np.testing.assert_array_equal(a.params, b.params)
        assert a.activations == ["tanh", "linear"] and a.input_dim == 4 and a.output_dim == 2
        assert "tanh" in repr(a)
        theta = np.linspace(-1, 1, a.num_params)
        a.params = theta
        np.testing.assert_allclose(a.params, theta, rtol=1e-7)
        y = a.predict([0.1, 0.2, 0.3, 0.4])
        assert y.shape == (2,)
    with hf.Net.preset("curves", seed=2) as p:
        assert p.sizes[0] == 784
    with hf.Net([4, 3, 2], ["tanh", "linear"], seed=-1) as c:  # seeds wrap modulo 2^64
        assert c.num_params == 23
