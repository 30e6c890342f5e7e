"""Other contracts a correct solution may follow.

The course's starter code changed its contracts over the years: dropout's `p` was the
drop probability in the 2016-2017 starters and the keep probability from 2018; one
2017 starter's Adam counted `t` from 1; the Adam paper itself gives a second order of
computation, whose epsilon sits elsewhere. Code written to either contract is correct
under it. Each convention here computes, on the trusted side, what the reference gives
under the other contract; when a student's output matches it, the message says which
convention their code follows, and the problem's `accept:` decides whether it earns
the points.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from reference_impl import optim

# What a convention computes: (the case's arrays by name, the problem's params) -> the
# expected outputs under it, by the case's output keys ("f.0", "b.0", "step1.0", ...).
Alternative = Callable[[dict[str, np.ndarray], list[Any]], dict[str, np.ndarray]]


@dataclass(frozen=True)
class Convention:
    name: str
    reference: str  # the reference function whose contract it varies
    description: str  # what the student's code does, as the message says it
    outputs: Alternative


def _dropout_dropping(keep: Callable[[np.ndarray, float], np.ndarray]) -> Alternative:
    def outputs(arrays: dict[str, np.ndarray], params: list[Any]) -> dict[str, np.ndarray]:
        param = params[0]
        if param.get("mode") != "train" or "seed" not in param:
            return {}
        uniform = np.random.RandomState(param["seed"]).rand(*arrays["x"].shape)
        mask = keep(uniform, float(param["p"])) / (1 - float(param["p"]))
        found = {"f.0": arrays["x"] * mask}
        if "dout" in arrays:
            found["b.0"] = arrays["dout"] * mask
        return found

    return outputs


def _adam_from(t0: int) -> Alternative:
    def outputs(arrays: dict[str, np.ndarray], params: list[Any]) -> dict[str, np.ndarray]:
        config: dict[str, Any] = {**copy.deepcopy(params[0] if params else {}), "t": t0}
        found = {}
        step = 0
        while f"w{step}" in arrays:  # the reference's w each step, the student's own config
            w, config = optim.adam(arrays[f"w{step}"], arrays[f"dw{step}"], config)
            found[f"step{step}.0"] = w
            step += 1
        return found

    return outputs


def _adam_folded(arrays: dict[str, np.ndarray], params: list[Any]) -> dict[str, np.ndarray]:
    """Kingma & Ba's "more efficient" order (end of their section 2): both bias
    corrections folded into the step size, epsilon added to the uncorrected sqrt(v)."""
    config = {
        "learning_rate": 1e-3,
        "beta1": 0.9,
        "beta2": 0.999,
        "epsilon": 1e-8,
        "t": 0,
        **copy.deepcopy(params[0] if params else {}),
    }
    b1, b2, eps = float(config["beta1"]), float(config["beta2"]), float(config["epsilon"])
    m, v, t = config.get("m"), config.get("v"), int(config["t"])
    found = {}
    step = 0
    while f"w{step}" in arrays:
        w, dw = arrays[f"w{step}"], arrays[f"dw{step}"]
        t += 1
        m = b1 * (np.zeros_like(w) if m is None else m) + (1 - b1) * dw
        v = b2 * (np.zeros_like(w) if v is None else v) + (1 - b2) * dw**2
        rate = float(config["learning_rate"]) * np.sqrt(1 - b2**t) / (1 - b1**t)
        found[f"step{step}.0"] = w - rate * m / (np.sqrt(v) + eps)
        step += 1
    return found


CONVENTIONS: tuple[Convention, ...] = (
    Convention(
        "dropout-p-drops",
        "layers.dropout_forward",
        "p as the probability of dropping a unit (the 2016-2017 starters' contract: "
        "mask = rand >= p, scaled by 1 / (1 - p))",
        _dropout_dropping(lambda u, p: u >= p),
    ),
    Convention(
        "dropout-p-drops",
        "layers.dropout_forward",
        "p as the probability of dropping a unit (the 2016-2017 starters' contract: "
        "mask = rand < 1 - p, scaled by 1 / (1 - p))",
        _dropout_dropping(lambda u, p: u < 1 - p),
    ),
    Convention(
        "adam-t-from-1",
        "optim.adam",
        "Adam's step count t starting at 1 (a 2017 starter's config.setdefault('t', 1))",
        _adam_from(1),
    ),
    Convention(
        "adam-folded-bias-correction",
        "optim.adam",
        "Adam in the paper's efficient order: the bias corrections folded into the step "
        "size, learning_rate * sqrt(1 - beta2^t) / (1 - beta1^t), and epsilon added to "
        "sqrt(v) before correction (Kingma & Ba, section 2)",
        _adam_folded,
    ),
)


def alternatives(
    reference: str, arrays: dict[str, np.ndarray], params: list[Any]
) -> list[tuple[Convention, dict[str, np.ndarray]]]:
    """Every other convention of `reference`, with what it expects on these inputs."""
    found = []
    for convention in CONVENTIONS:
        if convention.reference == reference:
            with np.errstate(all="ignore"):
                outputs = convention.outputs(arrays, params)
            if outputs:
                found.append((convention, outputs))
    return found


NAMES = sorted({c.name for c in CONVENTIONS})
