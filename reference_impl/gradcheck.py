"""Gradient-checking tools with the course's semantics, plus the O(1) directional check.

Nothing here mutates the caller's arrays: numeric differences perturb a copy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from reference_impl.fast_layers import pool_windows
from reference_impl.gates import Array, as_array


def rel_error(x: ArrayLike, y: ArrayLike) -> float:
    """The course's relative error: max |x − y| / max(1e-8, |x| + |y|), elementwise."""
    a, b = as_array(x), as_array(y)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def worst_index(x: ArrayLike, y: ArrayLike) -> tuple[int, ...]:
    """Where `rel_error` found its maximum."""
    a, b = as_array(x), as_array(y)
    err = np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(err)), err.shape))


def eval_numerical_gradient(
    f: Callable[[Array], float], x: ArrayLike, verbose: bool = False, h: float = 1e-5
) -> Array:
    """Centred differences of a scalar function, one element at a time: 2·numel(x) calls."""
    x = as_array(x).copy()
    grad = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        old = x[ix]
        x[ix] = old + h
        fxph = float(f(x.copy()))
        x[ix] = old - h
        fxmh = float(f(x.copy()))
        x[ix] = old
        grad[ix] = (fxph - fxmh) / (2 * h)
        if verbose:
            print(ix, grad[ix])
    return grad


def eval_numerical_gradient_array(
    f: Callable[[Array], ArrayLike], x: ArrayLike, df: ArrayLike, h: float = 1e-5
) -> Array:
    """Numeric vector-Jacobian product dfᵀ·∂f/∂x of an array function, element by element."""
    x = as_array(x).copy()
    df = as_array(df)
    grad = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        old = x[ix]
        x[ix] = old + h
        pos = as_array(f(x.copy()))
        x[ix] = old - h
        neg = as_array(f(x.copy()))
        x[ix] = old
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
    return grad


def grad_check_sparse(
    f: Callable[[Array], float],
    x: ArrayLike,
    analytic_grad: ArrayLike,
    num_checks: int = 10,
    h: float = 1e-5,
    seed: int = 0,
) -> list[float]:
    """Check `num_checks` random elements; returns each element's |n − a| / (|n| + |a|)."""
    x = as_array(x).copy()
    analytic = as_array(analytic_grad)
    rng = np.random.default_rng(seed)
    errors = []
    for _ in range(num_checks):
        ix = tuple(int(rng.integers(0, n)) for n in x.shape)
        old = x[ix]
        x[ix] = old + h
        fxph = float(f(x.copy()))
        x[ix] = old - h
        fxmh = float(f(x.copy()))
        x[ix] = old
        numeric = (fxph - fxmh) / (2 * h)
        denom = abs(numeric) + abs(analytic[ix])
        errors.append(0.0 if denom == 0 else abs(numeric - analytic[ix]) / denom)
    return errors


@dataclass(frozen=True)
class DirectionalCheck:
    """vᵀ·(f(x+εu) − f(x−εu))/2ε and uᵀ·backward(v): equal when backward matches forward."""

    numeric: float
    analytic: float

    @property
    def rel_error(self) -> float:
        return rel_error(self.numeric, self.analytic)


def random_directions(shapes: Sequence[tuple[int, ...]], seed: int) -> list[Array]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


def directional_check(
    forward: Callable[[Sequence[Array]], ArrayLike],
    backward: Callable[[Array], Sequence[ArrayLike]],
    inputs: Sequence[ArrayLike],
    seed: int = 0,
    eps: float = 1e-6,
) -> DirectionalCheck:
    """Two forwards and one backward, whatever the size.

    `forward(inputs)` returns the output; `backward(v)` returns the gradient with
    respect to every input for upstream gradient v. For seeded Gaussian u (one per
    input) and v, a backward that matches the forward gives the same number on both
    sides up to O(ε²); a wrong one differs except on a set of (u, v) of measure zero.
    """
    xs = [as_array(x) for x in inputs]
    us = random_directions([x.shape for x in xs], seed)
    plus = as_array(forward([x + eps * u for x, u in zip(xs, us, strict=True)]))
    minus = as_array(forward([x - eps * u for x, u in zip(xs, us, strict=True)]))
    v = np.random.default_rng(seed + 1).standard_normal(plus.shape)
    numeric = float(np.sum(v * (plus - minus)) / (2 * eps))
    grads = backward(v)
    analytic = float(sum(np.sum(u * as_array(g)) for u, g in zip(us, grads, strict=True)))
    return DirectionalCheck(numeric, analytic)


# --- kinks: where finite differences lie --------------------------------------------------


def crosses_relu_kink(x: ArrayLike, delta: ArrayLike) -> bool:
    """Whether x ± delta puts some element on the other side of 0 than x."""
    a, d = as_array(x), np.abs(as_array(delta))
    return bool(np.any(np.abs(a) <= d))


def changes_pool_winner(x: ArrayLike, delta: ArrayLike, pool_param: dict[str, int]) -> bool:
    """Whether x ± delta changes which element wins some max-pool window."""
    a, d = as_array(x), as_array(delta)
    winner = pool_windows(a, pool_param).argmax(-1)
    return bool(
        np.any(pool_windows(a + d, pool_param).argmax(-1) != winner)
        or np.any(pool_windows(a - d, pool_param).argmax(-1) != winner)
    )


def kink_free_randn(
    rng: np.random.Generator, shape: tuple[int, ...], margin: float = 1e-3
) -> Array:
    """Gaussian values at least `margin` away from 0, so no ±h step crosses a ReLU kink."""
    x = rng.standard_normal(shape)
    return np.where(x >= 0, x + margin, x - margin)


def tie_free_pool_input(
    rng: np.random.Generator, shape: tuple[int, ...], spread: float = 6.0
) -> Array:
    """All-distinct values evenly spaced over about [-spread/2, spread/2] in random order.

    No window has a tie, and no step smaller than a quarter of the spacing
    (spread / numel) changes a window's winner or crosses 0.
    """
    n = int(np.prod(shape))
    gap = spread / max(n, 1)
    return ((rng.permutation(n) - n / 2 + 0.25) * gap).reshape(shape)
