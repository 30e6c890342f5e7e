"""Layers with the CS231n-compatible API: every forward returns `(out, cache)`,
every backward takes `(dout, cache)` and returns the gradient of each input.

Names, argument order, parameter-dict keys and return tuples follow the
course's homework so students' code and ours are interchangeable; every line
here is our own. The caches of affine, conv and max-pool are exactly the
course's `(x, w, b)`, `(x, w, b, conv_param)` and `(x, pool_param)`; the others
are ours to define, and the grader treats every cache as opaque.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reference_impl.gates import Array, stable_sigmoid

Cache = Any


# --- affine, ReLU, sigmoid, tanh ---------------------------------------------------------


def affine_forward(x: Array, w: Array, b: Array) -> tuple[Array, Cache]:
    """out = x·w + b, with x of shape (N, d1, ..., dk) flattened to (N, D); w is (D, M)."""
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w, b)


def affine_backward(dout: Array, cache: Cache) -> tuple[Array, Array, Array]:
    x, w, _ = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x: Array) -> tuple[Array, Cache]:
    return np.maximum(x, 0.0), x


def relu_backward(dout: Array, cache: Cache) -> Array:
    x = cache
    return dout * (x > 0)


def sigmoid_forward(x: Array) -> tuple[Array, Cache]:
    out = stable_sigmoid(x)
    return out, out


def sigmoid_backward(dout: Array, cache: Cache) -> Array:
    out = cache  # σ' is taken at the output: σ(x)(1 − σ(x))
    return dout * out * (1.0 - out)


def tanh_forward(x: Array) -> tuple[Array, Cache]:
    out = np.tanh(x)
    return out, out


def tanh_backward(dout: Array, cache: Cache) -> Array:
    out = cache
    return dout * (1.0 - out**2)


# --- convolution and max-pooling, naive ----------------------------------------------------


def conv_output_size(size: int, kernel: int, stride: int, pad: int) -> int:
    span = size + 2 * pad - kernel
    if span < 0 or span % stride:
        raise ValueError(
            f"kernel {kernel}, stride {stride}, pad {pad} do not tile an input of size {size}"
        )
    return 1 + span // stride


def conv_forward_naive(
    x: Array, w: Array, b: Array, conv_param: dict[str, int]
) -> tuple[Array, Cache]:
    """x (N, C, H, W) ⊛ w (F, C, HH, WW) + b (F,), zero-padded by `pad`, every `stride` pixels.

    One loop per output position; each step is a window · filters contraction.
    """
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, _, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = conv_output_size(H, HH, stride, pad), conv_output_size(W, WW, stride, pad)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.empty((N, F, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            window = xp[:, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout: Array, cache: Cache) -> tuple[Array, Array, Array]:
    x, w, _, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    _, _, HH, WW = w.shape
    _, _, Ho, Wo = dout.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for i in range(Ho):
        for j in range(Wo):
            rows = slice(i * stride, i * stride + HH)
            cols = slice(j * stride, j * stride + WW)
            g = dout[:, :, i, j]  # (N, F)
            dxp[:, :, rows, cols] += np.tensordot(g, w, axes=(1, 0))
            dw += np.tensordot(g, xp[:, :, rows, cols], axes=(0, 0))
    H, W = x.shape[2:]
    dx = dxp[:, :, pad : pad + H, pad : pad + W]
    return dx, dw, dout.sum(axis=(0, 2, 3))


def _pool_args(pool_param: dict[str, int]) -> tuple[int, int, int]:
    return pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]


def max_pool_forward_naive(x: Array, pool_param: dict[str, int]) -> tuple[Array, Cache]:
    """Max over each pool_height × pool_width window, every `stride` pixels, no padding."""
    ph, pw, stride = _pool_args(pool_param)
    N, C, H, W = x.shape
    Ho, Wo = conv_output_size(H, ph, stride, 0), conv_output_size(W, pw, stride, 0)
    out = np.empty((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[
                :, :, i * stride : i * stride + ph, j * stride : j * stride + pw
            ].max(axis=(2, 3))
    return out, (x, pool_param)


def max_pool_backward_naive(dout: Array, cache: Cache) -> Array:
    """Max routes: each window's gradient goes to its winner (the first one, on a tie)."""
    x, pool_param = cache
    ph, pw, stride = _pool_args(pool_param)
    N, C, Ho, Wo = dout.shape
    dx = np.zeros_like(x)
    for i in range(Ho):
        for j in range(Wo):
            window = x[:, :, i * stride : i * stride + ph, j * stride : j * stride + pw]
            winner = window.reshape(N, C, -1).argmax(axis=2)
            route = np.zeros((N, C, ph * pw))
            np.put_along_axis(route, winner[..., None], dout[:, :, i, j][..., None], axis=2)
            dx[:, :, i * stride : i * stride + ph, j * stride : j * stride + pw] += route.reshape(
                N, C, ph, pw
            )
    return dx


# --- normalisation -----------------------------------------------------------------------


def _normalize_backward(dxhat: Array, xhat: Array, inv_std: Array, axis: int) -> Array:
    """Backward through xhat = (x − mean) / std along `axis`, mean and var terms included."""
    n = xhat.shape[axis]
    return (inv_std / n) * (
        n * dxhat
        - dxhat.sum(axis=axis, keepdims=True)
        - xhat * (dxhat * xhat).sum(axis=axis, keepdims=True)
    )


def batchnorm_forward(
    x: Array, gamma: Array, beta: Array, bn_param: dict[str, Any]
) -> tuple[Array, Cache]:
    """Batch normalisation of x (N, D) over the batch.

    bn_param: `mode` ('train' or 'test', required), `eps` (1e-5), `momentum` (0.9),
    `running_mean` and `running_var` (zeros(D)), updated in place in train mode as
    running = momentum·running + (1 − momentum)·batch, with the biased batch variance.
    """
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    D = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    if mode == "train":
        mean, var = x.mean(axis=0), x.var(axis=0)
        running_mean = momentum * running_mean + (1 - momentum) * mean
        running_var = momentum * running_var + (1 - momentum) * var
    elif mode == "test":
        mean, var = running_mean, running_var
    else:
        raise ValueError(f"invalid batchnorm mode {mode!r}: use 'train' or 'test'")
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = (x - mean) * inv_std
    bn_param["running_mean"], bn_param["running_var"] = running_mean, running_var
    return gamma * xhat + beta, (mode, x, xhat, gamma, inv_std)


def batchnorm_backward(dout: Array, cache: Cache) -> tuple[Array, Array, Array]:
    """Staged backward through the graph x → x − μ → (x − μ)² → σ² → 1/σ → x̂ → γx̂ + β."""
    mode, x, xhat, gamma, inv_std = cache
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    if mode == "test":  # mean and var are constants then
        return dxhat * inv_std, dgamma, dbeta
    N = x.shape[0]
    centred = x - x.mean(axis=0)
    dinv_std = (dxhat * centred).sum(axis=0)
    dvar = dinv_std * -0.5 * inv_std**3
    dcentred = dxhat * inv_std + dvar * 2.0 * centred / N
    dx = dcentred - dcentred.mean(axis=0)
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout: Array, cache: Cache) -> tuple[Array, Array, Array]:
    """The same gradient in closed form: dx = (1/N)·σ⁻¹·(N·dx̂ − Σdx̂ − x̂·Σ(dx̂·x̂))."""
    mode, _, xhat, gamma, inv_std = cache
    dxhat = dout * gamma
    if mode == "test":
        dx = dxhat * inv_std
    else:
        dx = _normalize_backward(dxhat, xhat, inv_std, axis=0)
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def _channels_last(x: Array) -> Array:
    return x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1])


def _channels_first(y: Array, shape: tuple[int, ...]) -> Array:
    N, C, H, W = shape
    return y.reshape(N, H, W, C).transpose(0, 3, 1, 2)


def spatial_batchnorm_forward(
    x: Array, gamma: Array, beta: Array, bn_param: dict[str, Any]
) -> tuple[Array, Cache]:
    """Batchnorm of x (N, C, H, W) per channel, over N, H and W; gamma and beta are (C,)."""
    out, cache = batchnorm_forward(_channels_last(x), gamma, beta, bn_param)
    return _channels_first(out, x.shape), (x.shape, cache)


def spatial_batchnorm_backward(dout: Array, cache: Cache) -> tuple[Array, Array, Array]:
    shape, bn_cache = cache
    dx, dgamma, dbeta = batchnorm_backward_alt(_channels_last(dout), bn_cache)
    return _channels_first(dx, shape), dgamma, dbeta


def layernorm_forward(
    x: Array, gamma: Array, beta: Array, ln_param: dict[str, Any]
) -> tuple[Array, Cache]:
    """Layer normalisation of x (N, D) over each example's features; `ln_param['eps']` (1e-5)."""
    eps = ln_param.get("eps", 1e-5)
    mean = x.mean(axis=1, keepdims=True)
    inv_std = 1.0 / np.sqrt(x.var(axis=1, keepdims=True) + eps)
    xhat = (x - mean) * inv_std
    return gamma * xhat + beta, (xhat, gamma, inv_std)


def layernorm_backward(dout: Array, cache: Cache) -> tuple[Array, Array, Array]:
    xhat, gamma, inv_std = cache
    dx = _normalize_backward(dout * gamma, xhat, inv_std, axis=1)
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


# --- dropout -----------------------------------------------------------------------------


def dropout_mask(shape: tuple[int, ...], p: float, seed: int | None) -> Array:
    """Inverted dropout's mask: keep with probability p, scaled by 1/p.

    With a seed, the draw equals `np.random.seed(seed); np.random.rand(*shape) < p`
    (the homework's), without touching NumPy's global state.
    """
    uniform = (
        np.random.RandomState(seed).rand(*shape) if seed is not None else np.random.rand(*shape)
    )
    return (uniform < p) / p


def dropout_forward(x: Array, dropout_param: dict[str, Any]) -> tuple[Array, Cache]:
    """dropout_param: `p` the keep probability, `mode` 'train' or 'test', optional `seed`."""
    p, mode = dropout_param["p"], dropout_param["mode"]
    if mode == "train":
        mask = dropout_mask(x.shape, p, dropout_param.get("seed"))
        return x * mask, (dropout_param, mask)
    if mode == "test":
        return x.copy(), (dropout_param, None)
    raise ValueError(f"invalid dropout mode {mode!r}: use 'train' or 'test'")


def dropout_backward(dout: Array, cache: Cache) -> Array:
    dropout_param, mask = cache
    return dout * mask if dropout_param["mode"] == "train" else dout.copy()


# --- losses ------------------------------------------------------------------------------


def softmax_loss(x: Array, y: Array) -> tuple[float, Array]:
    """Mean cross-entropy of scores x (N, C) for labels y (N,); returns (loss, dx)."""
    N = x.shape[0]
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(N), y].mean()
    dx = np.exp(log_probs)
    dx[np.arange(N), y] -= 1.0
    return float(loss), dx / N


def svm_loss(x: Array, y: Array) -> tuple[float, Array]:
    """Mean multiclass hinge loss Σ_{j≠y} max(0, x_j − x_y + 1); returns (loss, dx)."""
    N = x.shape[0]
    correct = x[np.arange(N), y][:, None]
    margins = np.maximum(0.0, x - correct + 1.0)
    margins[np.arange(N), y] = 0.0
    loss = margins.sum() / N
    dx = (margins > 0).astype(x.dtype)
    dx[np.arange(N), y] -= dx.sum(axis=1)
    return float(loss), dx / N
