"""A Python-defined objective: linear least squares trained to its known
solution through hf_session_new_host."""

from __future__ import annotations

import numpy as np
import pytest

import hessfree as hf


class LeastSquares:
    """f(θ) = 1/(2N) |Aθ - b|², per-example losses ½(a_i·θ - b_i)²; the
    Gauss-Newton matrix of a chunk is A_cᵀA_c / |c| (here also the Hessian)."""

    curvature_kinds = ["gauss_newton", "hessian"]

    def __init__(self, n=200, p=5, seed=0, precond=False):
        rng = np.random.default_rng(seed)
        self.a = rng.standard_normal((n, p))
        self.theta_true = rng.standard_normal(p)
        self.b = self.a @ self.theta_true + 0.1 * rng.standard_normal(n)
        self.num_examples = n
        self.provides_precond_stat = precond
        self.chunks = []
        self.rows = slice(0, n)

    def loss_grad(self, theta):
        r = self.a @ theta.astype(np.float64) - self.b
        n = len(self.b)
        grad = self.a.T @ r / n
        if self.provides_precond_stat:
            stat = np.mean((self.a * r[:, None]) ** 2, axis=0)
            return 0.5 * (r @ r) / n, grad, stat
        return 0.5 * (r @ r) / n, grad

    def set_chunk(self, theta, start, length, kind):
        assert kind in self.curvature_kinds
        self.chunks.append((start, length))
        self.rows = slice(start, start + length)

    def curvature_product(self, v):
        a = self.a[self.rows]
        return a.T @ (a @ v.astype(np.float64)) / a.shape[0]

    def chunk_loss(self, theta):
        a, b = self.a[self.rows], self.b[self.rows]
        r = a @ theta.astype(np.float64) - b
        return 0.5 * (r @ r) / len(b)

    def solution(self):
        return np.linalg.lstsq(self.a, self.b, rcond=None)[0]


@pytest.mark.parametrize("precond", [False, True])
def test_least_squares_reaches_its_solution(precond):
    obj = LeastSquares(precond=precond)
    theta0 = np.zeros(5, np.float32)
    options = {"initial_lambda": 1e-3, "max_iters": 8}
    with hf.Session.from_objective(obj, theta0, options) as s:
        assert s.backend.startswith("host")
        summary = s.run()
        theta = s.params.astype(np.float64)
    best = obj.solution()
    np.testing.assert_allclose(theta, best, atol=2e-4)
    assert summary.final_objective == pytest.approx(obj.chunk_loss(best), rel=1e-4)
    assert np.isnan(summary.final_train_error)  # no "error" for a host objective
    with pytest.raises(hf.Unsupported):
        s2 = hf.Session.from_objective(obj, theta0)
        try:
            s2.net()
        finally:
            s2.close()


def test_chunks_are_passed_to_the_objective():
    obj = LeastSquares(n=200)
    with hf.Session.from_objective(
        obj, np.zeros(5, np.float32), initial_lambda=1e-3, chunk_size=50, max_iters=6
    ) as s:
        s.run()
        assert s.iteration == 6
    assert len(obj.chunks) == 6
    for start, length in obj.chunks:
        assert length == 50 and 0 <= start and start + length <= 200
    assert len(set(obj.chunks)) > 1  # the chunks move through the data


def test_host_session_save_and_resume(tmp_path):
    obj = LeastSquares()
    theta0 = np.zeros(5, np.float32)
    with hf.Session.from_objective(obj, theta0, initial_lambda=1e-3, max_iters=4) as whole:
        whole.run()
        want = whole.params
    path = tmp_path / "host.hfs"
    with hf.Session.from_objective(obj, theta0, initial_lambda=1e-3, max_iters=2) as s:
        s.run()
        s.save(path)
    with hf.Session.resume_objective(
        path, obj, 5, hf.Config(initial_lambda=1e-3, max_iters=4)
    ) as r:
        r.run()
        np.testing.assert_array_equal(r.params, want)


def test_hessian_kind_is_passed_when_asked():
    obj = LeastSquares()
    seen = []
    orig = obj.set_chunk

    def spy(theta, start, length, kind):
        seen.append(kind)
        orig(theta, start, length, kind)

    obj.set_chunk = spy
    with hf.Session.from_objective(
        obj, np.zeros(5, np.float32), curvature="hessian", initial_lambda=1e-3, max_iters=1
    ) as s:
        s.run()
    assert seen == ["hessian"]
