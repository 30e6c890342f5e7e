"""Backprop-pattern hints: classic mistakes recognised from the numbers themselves.

Each row names the student function, the output it concerns, and what that
output looks like with the mistake, computed from the case's inputs, params and
the reference answer. When the student's array matches the mistake instead of
the truth, the row's message is the hint. Every row is proved by a buggy fixture
in tests/grading.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from reference_impl import layers as L
from reference_impl.gradcheck import rel_error


@dataclass(frozen=True)
class Context:
    inputs: dict[str, np.ndarray]  # the case's arrays by name ("x", "w", "dout", ...)
    params: list[Any]  # the literal arguments (conv_param, dropout_param, ...)
    reference: np.ndarray  # the right answer for this output


@dataclass(frozen=True)
class Hint:
    function: str
    output: str  # "f.0" is the forward's first output, "b.1" the backward's second
    message: str
    mistake: Callable[[Context], np.ndarray]


def _batch(c: Context) -> int:
    return int(c.inputs["x"].shape[0])


def _bn_without_mean_terms(c: Context) -> np.ndarray:
    return c.inputs["dout"] * c.inputs["gamma"] / np.sqrt(c.inputs["x"].var(axis=0) + 1e-5)


def _pool_spreads(c: Context) -> np.ndarray:
    ph, pw, s = (c.params[0][k] for k in ("pool_height", "pool_width", "stride"))
    dx = np.zeros_like(c.reference)
    dout = c.inputs["dout"]
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dx[:, :, i * s : i * s + ph, j * s : j * s + pw] += dout[:, :, i, j, None, None]
    return dx


def _pool_assigns(c: Context) -> np.ndarray:
    """dx[winner] = dout instead of +=: wrong wherever windows overlap."""
    ph, pw, s = (c.params[0][k] for k in ("pool_height", "pool_width", "stride"))
    x, dout = c.inputs["x"], c.inputs["dout"]
    dx = np.zeros_like(c.reference)
    for n, ch, i, j in np.ndindex(*dout.shape):
        window = x[n, ch, i * s : i * s + ph, j * s : j * s + pw]
        a, b = np.unravel_index(np.argmax(window), window.shape)
        dx[n, ch, i * s + a, j * s + b] = dout[n, ch, i, j]
    return dx


def _conv_dx_cropped_negative_pad(c: Context) -> np.ndarray:
    """dxp[:, :, pad:-pad, pad:-pad]: right for pad > 0, empty at pad 0."""
    pad = c.params[0]["pad"]
    if pad:
        return np.full_like(c.reference, np.nan)  # the same as the truth: nothing to tell
    n, ch = c.reference.shape[:2]
    return np.zeros((n, ch, 0, 0))


def _adam_without_bias_correction(step: int) -> Callable[[Context], np.ndarray]:
    def next_w(c: Context) -> np.ndarray:
        config = c.params[0] if c.params else {}
        b1, b2 = config.get("beta1", 0.9), config.get("beta2", 0.999)
        lr, eps = config.get("learning_rate", 1e-3), config.get("epsilon", 1e-8)
        m = v = 0.0
        for k in range(step + 1):
            dw = c.inputs[f"dw{k}"]
            m, v = b1 * m + (1 - b1) * dw, b2 * v + (1 - b2) * dw**2
        return np.asarray(c.inputs[f"w{step}"] - lr * m / (np.sqrt(v) + eps))

    return next_w


def _conv_dx_flipped_kernel(c: Context) -> np.ndarray:
    i = c.inputs
    _, cache = L.conv_forward_naive(i["x"], i["w"][:, :, ::-1, ::-1], i["b"], c.params[0])
    return L.conv_backward_naive(i["dout"], cache)[0]


def _conv_forward_flipped_kernel(c: Context) -> np.ndarray:
    i = c.inputs
    return L.conv_forward_naive(i["x"], i["w"][:, :, ::-1, ::-1], i["b"], c.params[0])[0]


def _conv_pad_off_by(delta: int) -> Callable[[Context], np.ndarray]:
    def forward(c: Context) -> np.ndarray:
        param = dict(c.params[0], pad=c.params[0]["pad"] + delta)
        return L.conv_forward_naive(c.inputs["x"], c.inputs["w"], c.inputs["b"], param)[0]

    return forward


def _conv_dx_cropped_off_by(delta: int) -> Callable[[Context], np.ndarray]:
    """dx cropped from the padded gradient one pixel off: dxp[pad+δ : pad+δ+H]."""

    def dx(c: Context) -> np.ndarray:
        i, pad = c.inputs, c.params[0]["pad"]
        H, W = i["x"].shape[2:]
        # The gradient of the padded input, cropped at the wrong offset.
        xp = np.pad(i["x"], ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        _, pcache = L.conv_forward_naive(xp, i["w"], i["b"], dict(c.params[0], pad=0))
        full = L.conv_backward_naive(i["dout"], pcache)[0]
        start = pad + delta
        if start < 0 or start + H > full.shape[2]:
            return np.full_like(c.reference, np.nan)
        return full[:, :, start : start + H, start : start + W]

    return dx


def _dropout_not_inverted(c: Context) -> np.ndarray:
    if c.params[0].get("mode") != "train":
        return np.full_like(c.reference, np.nan)
    return c.reference * c.params[0]["p"]


def _dropout_scaled_at_test(c: Context) -> np.ndarray:
    if c.params[0].get("mode") != "test":
        return np.full_like(c.reference, np.nan)
    return c.reference * c.params[0]["p"]


def _onehot(c: Context) -> np.ndarray:
    y = c.inputs["y"].astype(int)
    onehot = np.zeros(c.inputs["x"].shape)
    onehot[np.arange(len(y)), y] = 1.0
    return onehot


def _softmax_dx_without_minus_one(c: Context) -> np.ndarray:
    return c.reference + _onehot(c) / _batch(c)


def _conv_without_bias(c: Context) -> np.ndarray:
    return c.reference - c.inputs["b"][None, :, None, None]


def _bn_test_with_batch_statistics(c: Context) -> np.ndarray:
    param, x = c.params[0], c.inputs["x"]
    if param.get("mode") != "test":
        return np.full_like(c.reference, np.nan)
    xhat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + param.get("eps", 1e-5))
    return np.asarray(c.inputs["gamma"] * xhat + c.inputs["beta"])


NOT_DIVIDED = "dx is not divided by N: the loss is a mean over the batch, and so is its gradient."
LOSS_SUMMED = "the loss is summed over the batch: the course's loss is the mean (divide by N)."
PAD = "the padding looks off by one: pad every side by conv_param['pad'] pixels, no more, no less."

HINTS: list[Hint] = [
    Hint(
        "relu_backward",
        "b.0",
        "ReLU's backward must mask dout with (x > 0); yours passes it all through.",
        lambda c: c.inputs["dout"],
    ),
    Hint(
        "ReLUGate.backward",
        "b.0",
        "ReLU's backward must mask dout with (x > 0); yours passes it all through.",
        lambda c: c.inputs["dout"],
    ),
    Hint(
        "MaxGate.backward",
        "b.0",
        "max distributes dout to both inputs; it should route it to the larger one only.",
        lambda c: c.inputs["dout"],
    ),
    Hint(
        "MaxGate.backward",
        "b.1",
        "max distributes dout to both inputs; it should route it to the larger one only.",
        lambda c: c.inputs["dout"],
    ),
    Hint(
        "SigmoidGate.backward",
        "b.0",
        "σ' is taken at the input; use the output: σ(x)(1 − σ(x)).",
        lambda c: c.inputs["dout"] * c.inputs["x"] * (1 - c.inputs["x"]),
    ),
    Hint(
        "MultiplyGate.backward",
        "b.0",
        "mul switches: dx = y·dout, not x·dout.",
        lambda c: c.inputs["dout"] * c.inputs["x"],
    ),
    Hint(
        "affine_backward",
        "b.1",
        "dw is transposed: it has w's shape (D, M), dw = x_flatᵀ · dout.",
        lambda c: c.reference.T,
    ),
    Hint(
        "affine_backward",
        "b.2",
        "db averages dout over the batch; it should sum it (db = dout.sum(axis=0)).",
        lambda c: c.reference / _batch(c),
    ),
    Hint("softmax_loss", "f.1", NOT_DIVIDED, lambda c: c.reference * _batch(c)),
    Hint("svm_loss", "f.1", NOT_DIVIDED, lambda c: c.reference * _batch(c)),
    Hint("softmax_loss", "f.0", LOSS_SUMMED, lambda c: c.reference * _batch(c)),
    Hint("svm_loss", "f.0", LOSS_SUMMED, lambda c: c.reference * _batch(c)),
    Hint(
        "softmax_loss",
        "f.1",
        "dx lacks the -1 at each correct class: dx = (softmax(x) - onehot(y)) / N.",
        _softmax_dx_without_minus_one,
    ),
    Hint(
        "svm_loss",
        "f.0",
        "the correct class's own margin (always 1) is counted: leave j = y[i] out of the sum.",
        lambda c: c.reference + 1.0,
    ),
    Hint(
        "conv_forward_naive",
        "f.0",
        "the bias is not added: out[n, f] gets + b[f].",
        _conv_without_bias,
    ),
    Hint(
        "batchnorm_forward",
        "f.0",
        "test mode normalises with the batch's statistics; it must use running_mean and"
        " running_var.",
        _bn_test_with_batch_statistics,
    ),
    Hint(
        "dropout_forward",
        "f.0",
        "dropout is not inverted: scale the kept units by 1/p at train time.",
        _dropout_not_inverted,
    ),
    Hint(
        "dropout_forward",
        "f.0",
        "in test mode inverted dropout returns x unchanged: the 1/p at train time already"
        " keeps the expected activation; scaling by p at test time is the non-inverted rule.",
        _dropout_scaled_at_test,
    ),
    Hint(
        "dropout_backward",
        "b.0",
        "dropout's backward must apply the forward's mask, scaled by 1/p.",
        _dropout_not_inverted,
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
        _pool_spreads,
    ),
    Hint(
        "conv_forward_naive",
        "f.0",
        "the kernel is flipped: the layer is a cross-correlation, w is not rotated.",
        _conv_forward_flipped_kernel,
    ),
    Hint(
        "conv_backward_naive",
        "b.0",
        "dx uses the kernel flipped the wrong way: add dout · w (unflipped) over each window.",
        _conv_dx_flipped_kernel,
    ),
    Hint("conv_forward_naive", "f.0", PAD, _conv_pad_off_by(1)),
    Hint("conv_forward_naive", "f.0", PAD, _conv_pad_off_by(-1)),
    Hint(
        "conv_backward_naive",
        "b.0",
        "dx is cropped from the padded gradient one pixel off: take [pad : pad + H].",
        _conv_dx_cropped_off_by(1),
    ),
    Hint(
        "conv_backward_naive",
        "b.0",
        "dx is cropped from the padded gradient one pixel off: take [pad : pad + H].",
        _conv_dx_cropped_off_by(-1),
    ),
    Hint(
        "conv_backward_naive",
        "b.0",
        "dx_pad[:, :, pad:-pad, pad:-pad] is empty when pad is 0 (-0 is 0): crop with "
        "[pad : pad + H, pad : pad + W].",
        _conv_dx_cropped_negative_pad,
    ),
    Hint(
        "max_pool_backward_naive",
        "b.0",
        "dx[winner] is assigned, not added to: where windows overlap (stride < pool size) "
        "one input wins several windows, and its gradient is their sum (+=).",
        _pool_assigns,
    ),
    *(
        Hint(
            "adam",
            f"step{step}.0",
            "Adam's moments are not bias-corrected: divide m by (1 - beta1**t) and v by "
            "(1 - beta2**t) before the update.",
            _adam_without_bias_correction(step),
        )
        for step in range(3)
    ),
]


def find_hint(
    function: str, output: str, context: Context, student: np.ndarray, tolerance: float
) -> str | None:
    for hint in HINTS:
        if hint.function != function or hint.output != output:
            continue
        try:
            with np.errstate(all="ignore"):
                mistake = np.asarray(hint.mistake(context))
        except (KeyError, ValueError, IndexError, TypeError):
            continue
        if mistake.shape != student.shape or not np.all(np.isfinite(mistake)):
            continue
        if mistake.size == 0 or rel_error(mistake, student.astype(np.float64)) <= tolerance:
            return hint.message
    return None


# --- hints from what a crash says ----------------------------------------------------------

# NumPy names gone in 1.24 and 2.0 that course code from earlier years still uses.
REMOVED_NUMPY = {
    "float": "float or np.float64",
    "int": "int or np.int64",
    "bool": "bool or np.bool_",
    "object": "object",
    "float_": "np.float64",
    "complex_": "np.complex128",
    "NaN": "np.nan",
    "NAN": "np.nan",
    "Inf": "np.inf",
    "Infinity": "np.inf",
    "PINF": "np.inf",
    "NINF": "-np.inf",
    "int0": "np.intp",
    "bool8": "np.bool_",
    "product": "np.prod",
    "cumproduct": "np.cumprod",
    "alltrue": "np.all",
    "sometrue": "np.any",
    "asfarray": "np.asarray(x, dtype=float)",
    "round_": "np.round",
    "msort": "np.sort(x, axis=0)",
    "pad": "np.pad",  # np.lib.pad
}
_MISSING_NUMPY_NAME = re.compile(r"module '(numpy(?:\.lib)?)' has no attribute '(\w+)'")
_MISSING_MODULE = re.compile(r"No module named '([\w.]+)'")

_sanitised = re.compile(r"[^0-9A-Za-z.+-]")


def runtime_versions(start: dict[str, Any] | None) -> str:
    """ "NumPy 2.4.6, Python 3.11.7" from the harness's first status line (untrusted: only
    version characters kept, capped)."""
    if not start:
        return ""
    numpy = _sanitised.sub("", str(start.get("numpy", "")))[:20]
    python = _sanitised.sub("", str(start.get("python", "")))[:20]
    return ", ".join(x for x in (numpy and f"NumPy {numpy}", python and f"Python {python}") if x)


def crash_hint(kind: str, message: str, runtime: str) -> str | None:
    """What a familiar crash usually means, for code written for Python 2 or another
    NumPy; None when the crash is not one of them."""
    runs = f" (the sandbox runs {runtime})" if runtime else ""
    python2_division = "cannot be interpreted as an integer" in message or (
        "Cannot cast" in message and "float64" in message and "int" in message
    )
    if kind == "TypeError" and python2_division:
        return (
            "a size or an index is a float: in Python 3, / always divides to a float; use // "
            "for output sizes such as 1 + (H + 2 * pad - HH) // stride"
        )
    if kind == "AttributeError" and (found := _MISSING_NUMPY_NAME.search(message)):
        module, name = found.group(1).replace("numpy", "np"), found.group(2)
        if name in REMOVED_NUMPY:
            return f"{module}.{name} no longer exists{runs}: use {REMOVED_NUMPY[name]}"
    if kind == "TypeError" and "newshape" in message:
        return f"reshape's newshape= keyword is gone{runs}: pass the shape positionally"
    if kind == "TypeError" and "can be converted to Python scalars" in message:
        return (
            f"float() or int() of an array needs a 0-d array{runs}: use a.item(), or index "
            "the element you mean"
        )
    if kind == "NameError" and any(f"'{n}'" in message for n in ("xrange", "unicode", "long")):
        return "that name is Python 2's: Python 3 has range, str and int"
    if kind in ("SyntaxError", "IndentationError") and "print" in message:
        return "print is a function in Python 3: print(...)"
    if kind in ("ModuleNotFoundError", "ImportError") and (
        found := _MISSING_MODULE.search(message)
    ):
        module = found.group(1)
        return (
            f"your code imports {module}, which the sandbox does not have{runs}: graded code "
            "may import NumPy and Python's standard library; drop imports your functions "
            "do not use"
        )
    return None
