"""Update rules with the homework's signature `(w, dw, config) -> (next_w, config)`.

`config` carries hyperparameters and state between steps; missing keys take
the defaults below (set in the returned config, as the homework's `setdefault` does).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reference_impl.gates import Array

Config = dict[str, Any]


def sgd(w: Array, dw: Array, config: Config | None = None) -> tuple[Array, Config]:
    """w ← w − lr·dw.  Defaults: learning_rate 1e-2."""
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    return w - config["learning_rate"] * dw, config


def sgd_momentum(w: Array, dw: Array, config: Config | None = None) -> tuple[Array, Config]:
    """v ← μ·v − lr·dw; w ← w + v.  Defaults: learning_rate 1e-2, momentum 0.9, velocity 0."""
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    config["velocity"] = v
    return w + v, config


def rmsprop(w: Array, dw: Array, config: Config | None = None) -> tuple[Array, Config]:
    """c ← ρ·c + (1 − ρ)·dw²; w ← w − lr·dw / (√c + ε).

    Defaults: learning_rate 1e-2, decay_rate 0.99, epsilon 1e-8, cache 0.
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    c = config.get("cache", np.zeros_like(w))
    c = config["decay_rate"] * c + (1 - config["decay_rate"]) * dw**2
    config["cache"] = c
    return w - config["learning_rate"] * dw / (np.sqrt(c) + config["epsilon"]), config


def adam(w: Array, dw: Array, config: Config | None = None) -> tuple[Array, Config]:
    """Adam with bias correction; t counts steps and is incremented before use.

    Defaults: learning_rate 1e-3, beta1 0.9, beta2 0.999, epsilon 1e-8, m = v = 0, t = 0.
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 0)
    b1, b2 = config["beta1"], config["beta2"]
    config["t"] += 1
    config["m"] = b1 * config["m"] + (1 - b1) * dw
    config["v"] = b2 * config["v"] + (1 - b2) * dw**2
    m_hat = config["m"] / (1 - b1 ** config["t"])
    v_hat = config["v"] / (1 - b2 ** config["t"])
    return w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"]), config


OPTIMIZERS = {"sgd": sgd, "sgd_momentum": sgd_momentum, "rmsprop": rmsprop, "adam": adam}
