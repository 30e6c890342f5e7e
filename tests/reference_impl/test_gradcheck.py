"""The gradient-checking tools themselves."""

from __future__ import annotations

import numpy as np
import pytest

from reference_impl import layers as L
from reference_impl.gradcheck import (
    directional_check,
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    grad_check_sparse,
    rel_error,
)


def test_rel_error_is_the_course_formula() -> None:
    assert rel_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert rel_error([1.0], [3.0]) == pytest.approx(0.5)
    assert rel_error([0.0], [1e-16]) == pytest.approx(1e-8)  # the 1e-8 floor
    with pytest.raises(ValueError, match="shapes differ"):
        rel_error(np.ones(2), np.ones(3))


def test_numeric_gradients_never_mutate_the_callers_input(rng: np.random.Generator) -> None:
    x = rng.standard_normal((3, 4))
    before = x.copy()
    grad = eval_numerical_gradient(lambda v: float(np.sum(v**2)), x)
    np.testing.assert_allclose(grad, 2 * before, rtol=1e-8)
    np.testing.assert_array_equal(x, before)
    dout = rng.standard_normal((3, 4))
    garr = eval_numerical_gradient_array(np.sin, x, dout)
    np.testing.assert_allclose(garr, np.cos(before) * dout, rtol=1e-7)
    np.testing.assert_array_equal(x, before)


def test_function_that_mutates_its_argument_cannot_corrupt_the_check(
    rng: np.random.Generator,
) -> None:
    x = rng.standard_normal(5)

    def rude(v: np.ndarray) -> float:
        out = float(np.sum(v**2))
        v[:] = 0.0
        return out

    np.testing.assert_allclose(eval_numerical_gradient(rude, x), 2 * x, rtol=1e-8)


def test_grad_check_sparse_reports_small_errors_for_a_right_gradient(
    rng: np.random.Generator,
) -> None:
    x = rng.standard_normal((10, 10))
    errors = grad_check_sparse(
        lambda v: float(np.sum(np.tanh(v))), x, 1 - np.tanh(x) ** 2, num_checks=20
    )
    assert len(errors) == 20
    assert max(errors) < 1e-8


def _relu_pair(bug: bool):  # type: ignore[no-untyped-def]
    def forward(xs):  # type: ignore[no-untyped-def]
        return L.relu_forward(xs[0])[0]

    def backward(v):  # type: ignore[no-untyped-def]
        return [v if bug else v * (x > 0)]

    return forward, backward


x = np.random.default_rng(0).standard_normal((64, 4096))


@pytest.mark.parametrize("bug", [False, True])
def test_directional_check_costs_o1_and_finds_a_missing_mask(bug: bool) -> None:
    forward, backward = _relu_pair(bug)
    result = directional_check(forward, backward, [x], seed=3)
    if bug:
        assert result.rel_error > 1e-2
    else:
        assert result.rel_error < 1e-8


def test_directional_check_is_seeded() -> None:
    forward, backward = _relu_pair(False)
    a = directional_check(forward, backward, [x], seed=11)
    b = directional_check(forward, backward, [x], seed=11)
    assert a == b
