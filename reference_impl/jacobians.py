"""Jacobians of ReLU and of an FC layer y = x·W + b, explicit and structured.

The explicit forms are for teaching and for checking on small sizes. The
structured forms never build them: ReLU's Jacobian is diagonal, so a
4096-wide layer keeps 4096 numbers rather than 4096²; for a minibatch of 100
the explicit matrix would be 409,600 × 409,600 (1.3 TB), the structured one
is a (100, 4096) mask. Rows index outputs and columns inputs, both flattened
row-major; W's entries are flattened row-major as (D, M).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reference_impl.gates import Array


def relu_jacobian(x: Array) -> Array:
    """Explicit ∂relu(x)/∂x for x of shape (D,) or (N, D): diag([x > 0]), (numel, numel)."""
    return np.diag((x.ravel() > 0).astype(np.float64))


def fc_input_jacobian(w: Array, batch: int | None = None) -> Array:
    """Explicit ∂y/∂x: Wᵀ (M, D) for one example; block-diagonal kron(I_N, Wᵀ) for N of them."""
    return w.T.copy() if batch is None else np.kron(np.eye(batch), w.T)


def fc_weight_jacobian(x: Array, num_outputs: int) -> Array:
    """Explicit ∂y/∂W: ∂y_j/∂W_ik = x_i·[j = k], i.e. kron(x, I_M); (M, D·M) or (N·M, D·M)."""
    return np.kron(np.atleast_2d(x), np.eye(num_outputs))


@dataclass(frozen=True)
class ReluJacobian:
    """diag([x > 0]) kept as its diagonal, shaped like x."""

    mask: Array

    @staticmethod
    def at(x: Array) -> ReluJacobian:
        return ReluJacobian((x > 0).astype(np.float64))

    def vjp(self, v: Array) -> Array:
        return v * self.mask

    def jvp(self, u: Array) -> Array:
        return u * self.mask

    def dense(self) -> Array:
        return np.diag(self.mask.ravel())


@dataclass(frozen=True)
class FCInputJacobian:
    """∂y/∂x of y = x·W + b for a batch of `batch` examples, kept as W."""

    w: Array
    batch: int

    def vjp(self, v: Array) -> Array:  # (N, M) → (N, D)
        return v @ self.w.T

    def jvp(self, u: Array) -> Array:  # (N, D) → (N, M)
        return u @ self.w

    def dense(self) -> Array:
        return fc_input_jacobian(self.w, self.batch)


@dataclass(frozen=True)
class FCWeightJacobian:
    """∂y/∂W of y = x·W + b, kept as x (N, D)."""

    x: Array
    num_outputs: int

    def vjp(self, v: Array) -> Array:  # (N, M) → (D, M)
        return self.x.T @ v

    def jvp(self, u: Array) -> Array:  # (D, M) → (N, M)
        return self.x @ u

    def dense(self) -> Array:
        return fc_weight_jacobian(self.x, self.num_outputs)
