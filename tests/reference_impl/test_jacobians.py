"""Explicit and structured Jacobians agree; the structured ones stay small."""

from __future__ import annotations

import tracemalloc

import numpy as np

from reference_impl.gradcheck import kink_free_randn
from reference_impl.jacobians import (
    FCInputJacobian,
    FCWeightJacobian,
    ReluJacobian,
    fc_input_jacobian,
    fc_weight_jacobian,
    relu_jacobian,
)


def test_relu_explicit_and_structured_agree(rng: np.random.Generator) -> None:
    x = kink_free_randn(rng, (3, 4))
    J = relu_jacobian(x)
    assert J.shape == (12, 12)
    np.testing.assert_array_equal(np.diag(J), (x.ravel() > 0))
    np.testing.assert_array_equal(J - np.diag(np.diag(J)), 0)
    s = ReluJacobian.at(x)
    v = rng.standard_normal((3, 4))
    np.testing.assert_allclose(s.vjp(v).ravel(), J.T @ v.ravel())
    np.testing.assert_allclose(s.jvp(v).ravel(), J @ v.ravel())
    np.testing.assert_array_equal(s.dense(), J)


def test_fc_jacobians_single_example_and_minibatch(rng: np.random.Generator) -> None:
    N, D, M = 3, 4, 2
    x, w, b = rng.standard_normal((N, D)), rng.standard_normal((D, M)), rng.standard_normal(M)
    f = lambda x_, w_: x_ @ w_ + b  # noqa: E731
    # Columns of the explicit Jacobian by finite differences on the real function.
    h = 1e-6
    Jx = np.stack(
        [
            ((f(x + h * e.reshape(N, D), w) - f(x - h * e.reshape(N, D), w)) / (2 * h)).ravel()
            for e in np.eye(N * D)
        ],
        axis=1,
    )
    Jw = np.stack(
        [
            ((f(x, w + h * e.reshape(D, M)) - f(x, w - h * e.reshape(D, M))) / (2 * h)).ravel()
            for e in np.eye(D * M)
        ],
        axis=1,
    )
    np.testing.assert_allclose(fc_input_jacobian(w, N), Jx, atol=1e-8)
    np.testing.assert_allclose(fc_input_jacobian(w), Jx[:M, :D], atol=1e-8)  # one example: Wᵀ
    np.testing.assert_allclose(fc_weight_jacobian(x, M), Jw, atol=1e-8)
    np.testing.assert_allclose(fc_weight_jacobian(x[0], M), Jw[:M], atol=1e-8)
    v, u, uw = rng.standard_normal((N, M)), rng.standard_normal((N, D)), rng.standard_normal((D, M))
    np.testing.assert_allclose(FCInputJacobian(w, N).vjp(v).ravel(), Jx.T @ v.ravel(), atol=1e-8)
    np.testing.assert_allclose(FCInputJacobian(w, N).jvp(u).ravel(), Jx @ u.ravel(), atol=1e-8)
    np.testing.assert_allclose(FCWeightJacobian(x, M).vjp(v).ravel(), Jw.T @ v.ravel(), atol=1e-8)
    np.testing.assert_allclose(FCWeightJacobian(x, M).jvp(uw).ravel(), Jw @ uw.ravel(), atol=1e-8)


def test_structured_relu_jacobian_of_a_wide_minibatch_stays_small(rng: np.random.Generator) -> None:
    """(100, 4096): explicit would be 409,600² doubles (1.3 TB); structured is the mask."""
    x = rng.standard_normal((100, 4096))
    v = rng.standard_normal((100, 4096))
    tracemalloc.start()
    J = ReluJacobian.at(x)
    out = J.vjp(v)
    J.jvp(v)
    J1 = ReluJacobian.at(x[0])
    J1.vjp(v[0])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert out.shape == (100, 4096)
    assert peak < 4 * x.nbytes  # a few (100, 4096) arrays, nothing quadratic
