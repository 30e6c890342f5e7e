"""Each gate against torch float64, micrograd-style, plus the lecture's rules."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the torch extra is not installed")

from reference_impl.gates import GATES, MaxGate, MultiplyGate, ReLUGate, SigmoidGate  # noqa: E402

TORCH = {
    "add": torch.add,
    "mul": torch.mul,
    "max": torch.maximum,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "exp": torch.exp,
    "log": torch.log,
    "sin": torch.sin,
    "tanh": torch.tanh,
}


@pytest.mark.parametrize("op", sorted(GATES))
def test_gate_matches_torch(op: str, rng: np.random.Generator) -> None:
    gate = GATES[op]()
    n = gate.rule.arity
    xs = [
        np.abs(rng.standard_normal(7)) + 0.1 if op == "log" else rng.standard_normal(7)
        for _ in range(n)
    ]
    dout = rng.standard_normal(7)
    out = gate.forward(*xs)
    grads = gate.backward(dout)
    grads = grads if n > 1 else (grads,)
    ts = [torch.tensor(x, requires_grad=True) for x in xs]
    t_out = TORCH[op](*ts)
    t_out.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-12, atol=0)
    for g, t in zip(grads, ts, strict=True):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-12, atol=1e-300)


def test_scalar_gates_give_floats() -> None:
    gate = MultiplyGate()
    assert gate.forward(-2.0, 3.0) == -6.0
    dx, dy = gate.backward(2.0)
    assert (dx, dy) == (6.0, -4.0)  # mul switches
    assert isinstance(dx, float)


def test_max_routes_and_splits_ties_like_torch() -> None:
    gate = MaxGate()
    gate.forward(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 4.0]))
    dx, dy = gate.backward(np.ones(3))
    np.testing.assert_array_equal(dx, [0.5, 1.0, 0.0])
    np.testing.assert_array_equal(dy, [0.5, 0.0, 1.0])


def test_sigmoid_derivative_taken_at_output() -> None:
    gate = SigmoidGate()
    s = gate.forward(0.0)
    assert s == 0.5
    assert gate.backward(1.0) == pytest.approx(0.25)


def test_relu_subgradient_at_zero_is_zero() -> None:
    gate = ReLUGate()
    gate.forward(np.array([-1.0, 0.0, 2.0]))
    np.testing.assert_array_equal(gate.backward(np.ones(3)), [0.0, 0.0, 1.0])


def test_broadcast_input_gets_summed_gradient() -> None:
    gate = MultiplyGate()
    gate.forward(np.array([1.0, 2.0, 3.0]), 2.0)
    dx, dy = gate.backward(np.ones(3))
    np.testing.assert_array_equal(dx, [2.0, 2.0, 2.0])
    assert dy == 6.0


def test_forward_keeps_a_copy_of_its_inputs() -> None:
    x = np.array([1.0, -1.0])
    gate = ReLUGate()
    gate.forward(x)
    x[:] = [-1.0, 1.0]
    np.testing.assert_array_equal(gate.backward(np.ones(2)), [1.0, 0.0])


def test_wrong_arity_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="takes 2 inputs"):
        MultiplyGate().forward(1.0)
