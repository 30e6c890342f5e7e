"""A correct cnn-layers solution in the 2017 starters' style: explicit loops, updates
in place where the course allows them (dout, the scores, w), a staged batchnorm
backward through the computational graph, and Adam's t starting at 1 as that year's
starter set it."""

import numpy as np


def affine_forward(x, w, b):
    N = x.shape[0]
    out = np.dot(x.reshape(N, np.prod(x.shape[1:])), w) + b
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    x, w, b = cache
    N = x.shape[0]
    dx = np.dot(dout, w.T).reshape(*x.shape)
    dw = np.dot(x.reshape(N, -1).T, dout)
    db = np.dot(np.ones(N), dout)
    return dx, dw, db


def relu_forward(x):
    out = x * (x > 0)
    return out, x


def relu_backward(dout, cache):
    dout[cache <= 0] = 0  # the upstream gradient is ours to overwrite
    return dout


def conv_forward_naive(x, w, b, conv_param):
    N, C, H, W = x.shape
    F, C, HH, WW = w.shape
    S, P = conv_param["stride"], conv_param["pad"]
    H_out = int(1 + (H + 2 * P - HH) / S)
    W_out = int(1 + (W + 2 * P - WW) / S)
    x_pad = np.pad(x, ((0,), (0,), (P,), (P,)), "constant", constant_values=0)
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for hi in range(H_out):
                for wi in range(W_out):
                    h0, w0 = hi * S, wi * S
                    out[n, f, hi, wi] = (x_pad[n, :, h0 : h0 + HH, w0 : w0 + WW] * w[f]).sum()
            out[n, f] += b[f]
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    S, P = conv_param["stride"], conv_param["pad"]
    x_pad = np.pad(x, ((0,), (0,), (P,), (P,)), "constant")
    dx_pad = np.zeros(x_pad.shape)
    dw = np.zeros(w.shape)
    db = np.zeros(b.shape)
    for n in range(N):
        for f in range(F):
            db[f] += dout[n, f].sum()
            for hi in range(H_out):
                for wi in range(W_out):
                    h0, w0 = hi * S, wi * S
                    dw[f] += x_pad[n, :, h0 : h0 + HH, w0 : w0 + WW] * dout[n, f, hi, wi]
                    dx_pad[n, :, h0 : h0 + HH, w0 : w0 + WW] += w[f] * dout[n, f, hi, wi]
    dx = dx_pad[:, :, P : P + H, P : P + W]
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    N, C, H, W = x.shape
    PH, PW, S = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    H_out = (H - PH) // S + 1
    W_out = (W - PW) // S + 1
    out = np.zeros((N, C, H_out, W_out))
    for n in range(N):
        for c in range(C):
            for hi in range(H_out):
                for wi in range(W_out):
                    out[n, c, hi, wi] = np.max(x[n, c, hi * S : hi * S + PH, wi * S : wi * S + PW])
    return out, (x, pool_param)


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    N, C, H, W = x.shape
    PH, PW, S = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    _, _, H_out, W_out = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for hi in range(H_out):
                for wi in range(W_out):
                    window = x[n, c, hi * S : hi * S + PH, wi * S : wi * S + PW]
                    mask = window == np.max(window)
                    dx[n, c, hi * S : hi * S + PH, wi * S : wi * S + PW] += mask * dout[n, c, hi, wi]
    return dx


def softmax_loss(x, y):
    x -= np.max(x, axis=1, keepdims=True)  # the scores are ours to overwrite
    exp = np.exp(x)
    probs = exp / np.sum(exp, axis=1, keepdims=True)
    N = x.shape[0]
    loss = -np.sum(np.log(probs[np.arange(N), y] + 1e-12)) / N
    probs[np.arange(N), y] -= 1
    probs /= N
    return loss, probs


def svm_loss(x, y):
    N = x.shape[0]
    correct_class_scores = x[np.arange(N), y]
    margins = np.maximum(0, x - correct_class_scores[:, np.newaxis] + 1.0)
    margins[np.arange(N), y] = 0
    loss = np.sum(margins) / N
    num_pos = np.sum(margins > 0, axis=1)
    dx = np.zeros_like(x)
    dx[margins > 0] = 1
    dx[np.arange(N), y] -= num_pos
    dx /= N
    return loss, dx


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    out, cache = None, None
    if mode == "train":
        # The computational graph, one node at a time.
        mu = 1.0 / N * np.sum(x, axis=0)
        xmu = x - mu
        sq = xmu**2
        var = 1.0 / N * np.sum(sq, axis=0)
        sqrtvar = np.sqrt(var + eps)
        ivar = 1.0 / sqrtvar
        xhat = xmu * ivar
        out = gamma * xhat + beta
        cache = (xhat, gamma, xmu, ivar, sqrtvar, var, eps)
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    elif mode == "test":
        xhat = (x - running_mean) / np.sqrt(running_var + eps)
        out = gamma * xhat + beta
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    xhat, gamma, xmu, ivar, sqrtvar, var, eps = cache
    N, D = dout.shape
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat = dout * gamma
    divar = np.sum(dxhat * xmu, axis=0)
    dxmu1 = dxhat * ivar
    dsqrtvar = -1.0 / (sqrtvar**2) * divar
    dvar = 0.5 * 1.0 / np.sqrt(var + eps) * dsqrtvar
    dsq = 1.0 / N * np.ones((N, D)) * dvar
    dxmu2 = 2 * xmu * dsq
    dx1 = dxmu1 + dxmu2
    dmu = -1 * np.sum(dxmu1 + dxmu2, axis=0)
    dx2 = 1.0 / N * np.ones((N, D)) * dmu
    dx = dx1 + dx2
    return dx, dgamma, dbeta


def dropout_forward(x, dropout_param):
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    mask = None
    out = None
    if mode == "train":
        mask = (np.random.rand(*x.shape) < p) / p
        out = x * mask
    elif mode == "test":
        out = x
    cache = (dropout_param, mask)
    out = out.astype(x.dtype, copy=False)
    return out, cache


def dropout_backward(dout, cache):
    dropout_param, mask = cache
    mode = dropout_param["mode"]
    dx = None
    if mode == "train":
        dx = dout * mask
    elif mode == "test":
        dx = dout
    return dx


def sgd_momentum(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    w += v  # the update rules may change w in place
    config["velocity"] = v
    return w, config


def adam(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 1)  # as the 2017 starter had it
    beta1, beta2, eps = config["beta1"], config["beta2"], config["epsilon"]
    t = config["t"] + 1
    m = beta1 * config["m"] + (1 - beta1) * dw
    v = beta2 * config["v"] + (1 - beta2) * (dw**2)
    mb = m / (1 - beta1**t)
    vb = v / (1 - beta2**t)
    w -= config["learning_rate"] * mb / (np.sqrt(vb) + eps)
    config["t"], config["m"], config["v"] = t, m, v
    return w, config
