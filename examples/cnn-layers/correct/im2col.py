"""A correct cnn-layers solution built on im2col: every window a column, conv and pool
as matrix products and reductions over columns, col2im with np.add.at."""

import numpy as np


def _im2col_indices(C, H, W, HH, WW, stride):
    """Row, column and channel indices that gather every window of a (C, H, W) image
    into the columns of a (C * HH * WW, Ho * Wo) matrix."""
    Ho, Wo = (H - HH) // stride + 1, (W - WW) // stride + 1
    i0 = np.tile(np.repeat(np.arange(HH), WW), C)
    j0 = np.tile(np.arange(WW), HH * C)
    i1 = stride * np.repeat(np.arange(Ho), Wo)
    j1 = stride * np.tile(np.arange(Wo), Ho)
    rows = i0.reshape(-1, 1) + i1.reshape(1, -1)
    cols = j0.reshape(-1, 1) + j1.reshape(1, -1)
    chans = np.repeat(np.arange(C), HH * WW).reshape(-1, 1)
    return chans, rows, cols, Ho, Wo


def im2col(x, HH, WW, stride):
    N, C, H, W = x.shape
    k, i, j, Ho, Wo = _im2col_indices(C, H, W, HH, WW, stride)
    cols = x[:, k, i, j]  # N, C*HH*WW, Ho*Wo
    return cols.transpose(1, 2, 0).reshape(C * HH * WW, -1), Ho, Wo


def col2im(cols, shape, HH, WW, stride):
    N, C, H, W = shape
    k, i, j, _, _ = _im2col_indices(C, H, W, HH, WW, stride)
    x = np.zeros(shape, dtype=cols.dtype)
    per_image = cols.reshape(C * HH * WW, -1, N).transpose(2, 0, 1)
    np.add.at(x, (slice(None), k, i, j), per_image)
    return x


def affine_forward(x, w, b):
    out = np.reshape(x, (x.shape[0], w.shape[0])) @ w + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    flat = np.reshape(x, (x.shape[0], -1))
    return np.reshape(dout @ w.T, x.shape), flat.T @ dout, dout.sum(axis=0)


def relu_forward(x):
    out = x.copy()
    out[out < 0] = 0
    return out, x


def relu_backward(dout, cache):
    dx = dout.copy()
    dx[cache <= 0] = 0
    return dx


def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    F, C, HH, WW = w.shape
    xp = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    cols, Ho, Wo = im2col(xp, HH, WW, stride)
    out = w.reshape(F, -1) @ cols + b.reshape(-1, 1)  # F, Ho*Wo*N
    out = out.reshape(F, Ho, Wo, x.shape[0]).transpose(3, 0, 1, 2)
    return out, (x, w, b, conv_param, cols)


def conv_backward_naive(dout, cache):
    x, w, b, conv_param, cols = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    F, C, HH, WW = w.shape
    dflat = dout.transpose(1, 2, 3, 0).reshape(F, -1)
    dw = (dflat @ cols.T).reshape(w.shape)
    db = dflat.sum(axis=1)
    N, _, H, W = x.shape
    dxp = col2im(w.reshape(F, -1).T @ dflat, (N, C, H + 2 * pad, W + 2 * pad), HH, WW, stride)
    return dxp[:, :, pad : pad + H, pad : pad + W], dw, db


def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    cols, Ho, Wo = im2col(x.reshape(N * C, 1, H, W), ph, pw, s)  # ph*pw, Ho*Wo*N*C
    arg = cols.argmax(axis=0)
    out = cols[arg, np.arange(cols.shape[1])].reshape(Ho, Wo, N, C).transpose(2, 3, 0, 1)
    return out, (x.shape, arg, pool_param)


def max_pool_backward_naive(dout, cache):
    shape, arg, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = shape
    dcols = np.zeros((ph * pw, arg.size))
    dcols[arg, np.arange(arg.size)] = dout.transpose(2, 3, 0, 1).ravel()
    return col2im(dcols, (N * C, 1, H, W), ph, pw, s).reshape(shape)


def softmax_loss(x, y):
    N = x.shape[0]
    logits = x - x.max(axis=1, keepdims=True)
    log_z = np.log(np.exp(logits).sum(axis=1, keepdims=True))
    log_probs = logits - log_z
    loss = -log_probs[np.arange(N), y].mean()
    dx = np.exp(log_probs)
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss, dx


def svm_loss(x, y):
    # The 2016 starter's loop over examples.
    N, C = x.shape
    loss = 0.0
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            if c == y[n]:
                continue
            margin = x[n, c] - x[n, y[n]] + 1
            if margin > 0:
                loss += margin
                dx[n, c] += 1
                dx[n, y[n]] -= 1
    return loss / N, dx / N


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    if mode == "train":
        mean = np.sum(x, axis=0) / N
        var = np.sum((x - mean) ** 2, axis=0) / N
        inv_std = 1.0 / np.sqrt(var + eps)
        xhat = (x - mean) * inv_std
        out = xhat * gamma + beta
        cache = (xhat, gamma, inv_std)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    elif mode == "test":
        out = (x - running_mean) / np.sqrt(running_var + eps) * gamma + beta
        cache = None
    else:
        raise ValueError(f'Invalid forward batchnorm mode "{mode}"')
    return out, cache


def batchnorm_backward(dout, cache):
    # The simplified form: dx = inv_std / N * (N dxhat - sum dxhat - xhat sum(dxhat xhat)).
    xhat, gamma, inv_std = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    dx = inv_std / N * (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
    return dx, dgamma, dbeta


def dropout_forward(x, dropout_param):
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    if mode == "train":
        mask = (np.random.rand(*x.shape) < p) / p
        return x * mask, (dropout_param, mask)
    return x, (dropout_param, None)


def dropout_backward(dout, cache):
    dropout_param, mask = cache
    if dropout_param["mode"] == "train":
        return dout * mask
    return dout


def sgd_momentum(w, dw, config=None):
    config = {} if config is None else config
    lr = config.setdefault("learning_rate", 1e-2)
    mu = config.setdefault("momentum", 0.9)
    v = mu * config.get("velocity", np.zeros_like(w)) - lr * dw
    config["velocity"] = v
    return w + v, config


def adam(w, dw, config=None):
    config = {} if config is None else config
    lr = config.setdefault("learning_rate", 1e-3)
    b1 = config.setdefault("beta1", 0.9)
    b2 = config.setdefault("beta2", 0.999)
    eps = config.setdefault("epsilon", 1e-8)
    t = config.get("t", 0) + 1
    m = b1 * config.get("m", np.zeros_like(w)) + (1 - b1) * dw
    v = b2 * config.get("v", np.zeros_like(w)) + (1 - b2) * np.square(dw)
    # Bias correction folded into the step size (Kingma & Ba, section 2).
    step = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
    config.update(t=t, m=m, v=v)
    return w - step * m / (np.sqrt(v) + eps * np.sqrt(1 - b2**t)), config
