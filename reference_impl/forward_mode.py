"""Forward-mode AD with dual numbers: a value and its tangent travel together.

One forward pass with tangent u gives the Jacobian-vector product J·u; the
local derivatives come from the same table as reverse mode (`gates.RULES`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from reference_impl.gates import RULES, Array, as_array, unbroadcast


@dataclass(frozen=True)
class Dual:
    """x + ε·ẋ with ε² = 0: `value` is x, `tangent` is ẋ."""

    value: Array
    tangent: Array

    @staticmethod
    def constant(value: ArrayLike) -> Dual:
        v = as_array(value)
        return Dual(v, np.zeros_like(v))

    @staticmethod
    def variable(value: ArrayLike, tangent: ArrayLike) -> Dual:
        v, t = as_array(value), as_array(tangent)
        if t.shape != v.shape:
            raise ValueError(f"tangent shape {t.shape} differs from value shape {v.shape}")
        return Dual(v, t)

    def __add__(self, other: Dual | ArrayLike) -> Dual:
        return apply("add", self, other)

    __radd__ = __add__

    def __mul__(self, other: Dual | ArrayLike) -> Dual:
        return apply("mul", self, other)

    __rmul__ = __mul__


def _lift(x: Dual | ArrayLike) -> Dual:
    return x if isinstance(x, Dual) else Dual.constant(x)


def apply(op: str, *args: Dual | ArrayLike) -> Dual:
    """Push duals through one gate: out = f(x), ȯut = Σᵢ ∂f/∂xᵢ · ẋᵢ."""
    rule = RULES[op]
    duals = [_lift(a) for a in args]
    out = as_array(rule.forward(*(d.value for d in duals)))
    local = rule.local(*(d.value for d in duals), out)
    tangent = np.zeros_like(out)
    for d, partial in zip(duals, local, strict=True):
        tangent = tangent + partial * d.tangent
    return Dual(out, unbroadcast(tangent, out.shape))


def maximum(x: Dual | ArrayLike, y: Dual | ArrayLike) -> Dual:
    return apply("max", x, y)


def sin(x: Dual | ArrayLike) -> Dual:
    return apply("sin", x)


def exp(x: Dual | ArrayLike) -> Dual:
    return apply("exp", x)


def log(x: Dual | ArrayLike) -> Dual:
    return apply("log", x)


def tanh(x: Dual | ArrayLike) -> Dual:
    return apply("tanh", x)


def sigmoid(x: Dual | ArrayLike) -> Dual:
    return apply("sigmoid", x)


def relu(x: Dual | ArrayLike) -> Dual:
    return apply("relu", x)
