"""Computational graphs: topological order, fan-out, forward and reverse mode."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reference_impl import forward_mode as fm
from reference_impl.graph import (
    Graph,
    lecture_max_example,
    random_graph,
    sin,
    sin_plus_product,
    topological_order,
    variable,
)


def test_sin_plus_product_values_and_fan_out() -> None:
    f = sin_plus_product()
    assert f.forward({"x1": 1.0, "x2": 2.0}) == pytest.approx(math.sin(1) + 2)
    grads = f.backward()
    assert grads["x1"] == pytest.approx(math.cos(1) + 2)  # two paths from x1 add up
    assert grads["x2"] == pytest.approx(1.0)


def test_lecture_max_example_routes_to_the_larger() -> None:
    f = lecture_max_example()
    assert f.forward({"x": 3.0, "y": -4.0, "z": 2.0, "w": -1.0}) == -20.0
    assert f.backward() == {"x": -8.0, "y": 6.0, "z": 2.0, "w": 0.0}


def test_topological_order_puts_parents_first() -> None:
    f = random_graph(5, n_inputs=4, n_gates=40)
    position = {id(n): i for i, n in enumerate(f.order)}
    for node in f.order:
        for p in node.parents:
            assert position[id(p)] < position[id(node)]
    assert f.order[-1] is f.output


def test_deep_chain_needs_no_recursion() -> None:
    x = variable("x")
    node = x
    for _ in range(5000):
        node = sin(node)
    assert len(topological_order(node)) == 5001
    g = Graph(node)
    g.forward({"x": 0.5})
    assert np.isfinite(g.backward()["x"])


def test_backward_before_forward_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="forward"):
        sin_plus_product().backward()


def test_missing_input_is_named() -> None:
    with pytest.raises(KeyError, match="x2"):
        sin_plus_product().forward({"x1": 1.0})


@given(seed=st.integers(0, 10_000), n_gates=st.integers(1, 25))
def test_random_graph_forward_and_reverse_mode_agree_with_torch(seed: int, n_gates: int) -> None:
    g = random_graph(seed, n_inputs=3, n_gates=n_gates)
    rng = np.random.default_rng(seed)
    values = {k: rng.standard_normal(3) for k in g.inputs}
    u = {k: rng.standard_normal(3) for k in g.inputs}
    out = g.forward(values)
    v = rng.standard_normal(np.shape(out))
    grads = g.backward(v)
    value, jvp = g.jvp(values, u)
    # ⟨J·u, v⟩ = ⟨u, Jᵀ·v⟩
    assert float(np.sum(jvp * v)) == pytest.approx(
        sum(float(np.sum(u[k] * grads[k])) for k in g.inputs), rel=1e-9, abs=1e-12
    )
    # torch autograd on the same graph
    torch = pytest.importorskip("torch", reason="the torch extra is not installed")
    ts = {k: torch.tensor(values[k], requires_grad=True) for k in g.inputs}
    from reference_impl.torch_ref import TorchReference

    t_out = TorchReference().graph_fn(g)(*(ts[k] for k in g.inputs))
    t_out.backward(torch.tensor(v))
    np.testing.assert_allclose(value, t_out.detach().numpy(), rtol=1e-12)
    for k in g.inputs:
        np.testing.assert_allclose(grads[k], ts[k].grad.numpy(), rtol=1e-10, atol=1e-12)


def test_dual_numbers_differentiate_in_one_pass() -> None:
    x = fm.Dual.variable(1.0, 1.0)  # seed dx = 1
    y = fm.Dual.constant(2.0)
    out = fm.sin(x) + x * y
    assert float(out.value) == pytest.approx(math.sin(1) + 2)
    assert float(out.tangent) == pytest.approx(math.cos(1) + 2)


def test_forward_mode_matches_finite_differences() -> None:
    g = lecture_max_example()
    values = {"x": 1.5, "y": -0.5, "z": 0.3, "w": 0.7}
    tangents = {"x": 0.2, "y": 1.0, "z": -0.4, "w": 0.9}
    _, jvp = g.jvp(values, tangents)
    h = 1e-6
    plus = g.forward({k: values[k] + h * tangents[k] for k in values})
    minus = g.forward({k: values[k] - h * tangents[k] for k in values})
    assert float(jvp) == pytest.approx((plus - minus) / (2 * h), rel=1e-8)
