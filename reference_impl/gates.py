"""Gates: the course's smallest building blocks.

Every gate is one row of `RULES`: a forward and its *local derivatives*
∂out/∂inputᵢ, elementwise. Reverse mode multiplies the upstream gradient by
them (`Gate.backward`), forward mode multiplies the tangents by them
(`forward_mode.Dual`), so both modes share one table, read like the lecture:
add distributes, mul switches, max routes.

Max on ties: the gradient is split evenly between the tied inputs, the
subgradient convention of `torch.maximum` (and of tinygrad's MAX rule).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

# Arrays are float64 in the reference; student code may hand us others, checked at the boundary.
Array = NDArray[Any]
Value = float | Array  # a scalar gate returns a float, an elementwise gate an array


def stable_sigmoid(x: Array) -> Array:
    """1 / (1 + e^-x) without overflow for large |x|."""
    ex = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + ex), ex / (1.0 + ex))


def _max_routes(x: Array, y: Array, out: Array) -> tuple[Array, Array]:
    tie = 0.5 * (x == y)
    return (x > y) + tie, (y > x) + tie


@dataclass(frozen=True)
class GateRule:
    """A gate's math: `forward(*inputs)` and `local(*inputs, out)` = (∂out/∂input₀, ...)."""

    name: str
    arity: int
    forward: Callable[..., Array]
    local: Callable[..., tuple[Array, ...]]


RULES: dict[str, GateRule] = {
    rule.name: rule
    for rule in [
        GateRule("add", 2, np.add, lambda x, y, out: (np.ones_like(out), np.ones_like(out))),
        GateRule(
            "mul", 2, np.multiply, lambda x, y, out: (y * np.ones_like(out), x * np.ones_like(out))
        ),
        GateRule("max", 2, np.maximum, _max_routes),
        GateRule("sigmoid", 1, stable_sigmoid, lambda x, out: (out * (1.0 - out),)),
        GateRule("relu", 1, lambda x: np.maximum(x, 0.0), lambda x, out: ((x > 0) * 1.0,)),
        GateRule("exp", 1, np.exp, lambda x, out: (out,)),
        GateRule("log", 1, np.log, lambda x, out: (1.0 / x,)),
        GateRule("sin", 1, np.sin, lambda x, out: (np.cos(x),)),
        GateRule("tanh", 1, np.tanh, lambda x, out: (1.0 - out**2,)),
    ]
}


def as_array(value: ArrayLike) -> Array:
    return np.asarray(value, dtype=np.float64)


def unbroadcast(grad: Array, shape: tuple[int, ...]) -> Array:
    """Sum `grad` down to `shape`: an input that was broadcast fanned out, so its gradients add."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


def _as_value(result: Array, scalar: bool) -> Value:
    return float(result) if scalar else result


class Gate:
    """The course's gate API: `forward(...)` remembers what `backward(dout)` needs.

    Scalar inputs give scalar outputs and gradients; arrays work elementwise,
    with NumPy broadcasting (a broadcast input's gradient is summed back).
    A unary gate's `backward` returns the gradient itself, an n-ary gate a tuple.
    """

    rule: ClassVar[GateRule]

    def __init__(self) -> None:
        self._inputs: tuple[Array, ...] = ()
        self._out: Array = np.zeros(())
        self._scalar = True

    def forward(self, *inputs: ArrayLike) -> Value:
        if len(inputs) != self.rule.arity:
            raise TypeError(
                f"{self.rule.name} gate takes {self.rule.arity} inputs, got {len(inputs)}"
            )
        self._inputs = tuple(as_array(x).copy() for x in inputs)
        self._scalar = all(x.ndim == 0 for x in self._inputs)
        self._out = as_array(self.rule.forward(*self._inputs))
        return _as_value(self._out, self._scalar)

    def backward(self, dout: ArrayLike) -> Any:
        local = self.rule.local(*self._inputs, self._out)
        grads = tuple(
            _as_value(unbroadcast(as_array(dout) * d, x.shape), self._scalar)
            for d, x in zip(local, self._inputs, strict=True)
        )
        return grads[0] if self.rule.arity == 1 else grads


class AddGate(Gate):
    """z = x + y: add distributes dz to both inputs."""

    rule = RULES["add"]


class MultiplyGate(Gate):
    """z = x · y: mul switches, dx = y·dz and dy = x·dz."""

    rule = RULES["mul"]


class MaxGate(Gate):
    """z = max(x, y): max routes dz to the larger input (ties split evenly, as torch.maximum)."""

    rule = RULES["max"]


class SigmoidGate(Gate):
    """z = σ(x): dx = σ(x)(1 − σ(x))·dz, taken at the output."""

    rule = RULES["sigmoid"]


class ReLUGate(Gate):
    """z = max(x, 0): dx = [x > 0]·dz (the subgradient at 0 is 0)."""

    rule = RULES["relu"]


class ExpGate(Gate):
    """z = eˣ: dx = z·dz."""

    rule = RULES["exp"]


class LogGate(Gate):
    """z = ln x: dx = dz / x."""

    rule = RULES["log"]


class SinGate(Gate):
    """z = sin x: dx = cos(x)·dz."""

    rule = RULES["sin"]


class TanhGate(Gate):
    """z = tanh x: dx = (1 − z²)·dz."""

    rule = RULES["tanh"]


GATES: dict[str, type[Gate]] = {
    cls.rule.name: cls
    for cls in [
        AddGate,
        MultiplyGate,
        MaxGate,
        SigmoidGate,
        ReLUGate,
        ExpGate,
        LogGate,
        SinGate,
        TanhGate,
    ]
}
