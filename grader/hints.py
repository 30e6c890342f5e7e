"""Backprop-pattern hints: classic mistakes recognised from the numbers themselves.

Each row names the student function, the output it concerns, and how that
output looks with the mistake, computed from the case's inputs and the
reference answer. When the student's array matches the mistake instead of the
truth, the row's message is the hint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Inputs = dict[str, np.ndarray]


@dataclass(frozen=True)
class Hint:
    function: str
    output: str  # "f.0" is the forward's first output, "b.1" the backward's second
    message: str
    buggy: Callable[[Inputs, np.ndarray], np.ndarray]  # (inputs, reference) -> the mistake


def _batch(inputs: Inputs) -> int:
    return int(inputs["x"].shape[0])


def _bn_without_mean_terms(i: Inputs, ref: np.ndarray) -> np.ndarray:
    return i["dout"] * i["gamma"] / np.sqrt(i["x"].var(axis=0) + 1e-5)


def _pool_distributes(i: Inputs, ref: np.ndarray) -> np.ndarray:
    spread = np.repeat(np.repeat(i["dout"], 2, axis=2), 2, axis=3)
    return spread[..., : ref.shape[2], : ref.shape[3]]


NOT_DIVIDED = "dx is not divided by N: the loss is a mean over the batch, and so is its gradient."

HINTS: list[Hint] = [
    Hint(
        "relu_backward",
        "b.0",
        "ReLU's backward must mask dout with (x > 0); yours passes it all through.",
        lambda i, ref: i["dout"],
    ),
    Hint(
        "affine_backward",
        "b.1",
        "dw is transposed: it has w's shape (D, M), dw = x_flatᵀ · dout.",
        lambda i, ref: ref.T,
    ),
    Hint(
        "affine_backward",
        "b.2",
        "db averages dout over the batch; it should sum it (db = dout.sum(axis=0)).",
        lambda i, ref: ref / _batch(i),
    ),
    Hint("softmax_loss", "f.1", NOT_DIVIDED, lambda i, ref: ref * _batch(i)),
    Hint("svm_loss", "f.1", NOT_DIVIDED, lambda i, ref: ref * _batch(i)),
    Hint(
        "dropout_forward",
        "f.0",
        "dropout is not inverted: scale the kept units by 1/p at train time.",
        lambda i, ref: ref * 0.7,
    ),
    Hint(
        "batchnorm_backward",
        "b.0",
        "dx lacks the terms through the batch mean and variance: x̂ depends on the whole batch.",
        _bn_without_mean_terms,
    ),
    Hint(
        "max_pool_backward_naive",
        "b.0",
        "max-pool's backward spreads dout over the window; max routes it to the winner only.",
        _pool_distributes,
    ),
]


def find_hint(
    function: str,
    output: str,
    inputs: Inputs,
    reference: np.ndarray,
    student: np.ndarray,
    tolerance: float,
) -> str | None:
    from reference_impl.gradcheck import rel_error

    for hint in HINTS:
        if hint.function != function or hint.output != output:
            continue
        try:
            buggy = hint.buggy(inputs, reference)
        except (KeyError, ValueError, IndexError):
            continue
        if buggy.shape == student.shape and rel_error(buggy, student) <= tolerance:
            return hint.message
    return None
