"""A second correct rnn-layers solution: explicit loops, einsum, boolean masks, and its
own sigmoid instead of the given one."""

import numpy as np


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    a = np.dot(x, Wx) + np.dot(prev_h, Wh) + b
    next_h = np.tanh(a)
    return next_h, {"x": x, "h": prev_h, "Wx": Wx, "Wh": Wh, "out": next_h}


def rnn_step_backward(dnext_h, cache):
    da = dnext_h * (1.0 - np.square(cache["out"]))
    dx = np.dot(da, cache["Wx"].T)
    dprev_h = np.dot(da, cache["Wh"].T)
    dWx = np.dot(cache["x"].T, da)
    dWh = np.dot(cache["h"].T, da)
    db = np.sum(da, axis=0)
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    hs, caches = [], []
    h = h0
    for t in range(x.shape[1]):
        h, c = rnn_step_forward(x[:, t, :], h, Wx, Wh, b)
        hs.append(h)
        caches.append(c)
    return np.stack(hs, axis=1), caches


def rnn_backward(dh, cache):
    T = dh.shape[1]
    dxs = [None] * T
    dWx = dWh = db = 0
    carry = 0
    for t in range(T - 1, -1, -1):
        dx_t, carry, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t, :] + carry, cache[t])
        dxs[t] = dx_t
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return np.stack(dxs, axis=1), carry, dWx, dWh, db


def word_embedding_forward(x, W):
    N, T = x.shape
    out = np.zeros((N, T, W.shape[1]))
    for n in range(N):
        for t in range(T):
            out[n, t] = W[x[n, t]]
    return out, (x, W)


def word_embedding_backward(dout, cache):
    x, W = cache
    dW = np.zeros_like(W)
    for n in range(x.shape[0]):
        for t in range(x.shape[1]):
            dW[x[n, t]] += dout[n, t]
    return dW


def temporal_affine_forward(x, w, b):
    return np.einsum("ntd,dm->ntm", x, w) + b, (x, w, b)


def temporal_affine_backward(dout, cache):
    x, w, _ = cache
    return np.einsum("ntm,dm->ntd", dout, w), np.einsum("ntd,ntm->dm", x, dout), dout.sum((0, 1))


def temporal_softmax_loss(x, y, mask):
    N = x.shape[0]
    keep = mask.astype(bool)
    z = x - np.max(x, axis=2, keepdims=True)
    p = np.exp(z) / np.sum(np.exp(z), axis=2, keepdims=True)
    picked = np.take_along_axis(p, y[..., None], axis=2)[..., 0]
    loss = -np.sum(np.log(picked[keep])) / N
    dx = p.copy()
    np.put_along_axis(dx, y[..., None], np.take_along_axis(dx, y[..., None], axis=2) - 1, axis=2)
    dx[~keep] = 0
    return loss, dx / N


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    a = x @ Wx + prev_h @ Wh + b
    ai, af, ao, ag = np.split(a, 4, axis=1)
    i, f, o, g = _sigmoid(ai), _sigmoid(af), _sigmoid(ao), np.tanh(ag)
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)


def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    t = np.tanh(next_c)
    do = dnext_h * t
    dc = dnext_c + dnext_h * o * (1 - t * t)
    dprev_c = dc * f
    di, df, dg = dc * g, dc * prev_c, dc * i
    da = np.concatenate(
        [di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dg * (1 - g * g)], axis=1
    )
    return da @ Wx.T, da @ Wh.T, dprev_c, x.T @ da, prev_h.T @ da, da.sum(0)


def lstm_forward(x, h0, Wx, Wh, b):
    h, c = h0, np.zeros_like(h0)
    hs, caches = [], []
    for t in range(x.shape[1]):
        h, c, cache = lstm_step_forward(x[:, t], h, c, Wx, Wh, b)
        hs.append(h)
        caches.append(cache)
    return np.stack(hs, 1), caches


def lstm_backward(dh, cache):
    dxs = []
    dh_next = np.zeros_like(dh[:, 0])
    dc_next = np.zeros_like(dh[:, 0])
    grads = None
    for t in reversed(range(dh.shape[1])):
        dx, dh_next, dc_next, dWx, dWh, db = lstm_step_backward(
            dh[:, t] + dh_next, dc_next, cache[t]
        )
        dxs.insert(0, dx)
        grads = (
            (dWx, dWh, db)
            if grads is None
            else tuple(a + b for a, b in zip(grads, (dWx, dWh, db), strict=True))
        )
    return (np.stack(dxs, 1), dh_next, *grads)


def attention_forward(q, k, v):
    d = q.shape[-1]
    s = (
        np.einsum("nqd,nkd->nqk", q, k) / np.sqrt(d)
        if q.ndim == 3
        else (np.einsum("nhqd,nhkd->nhqk", q, k) / np.sqrt(d))
    )
    s = s - s.max(-1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(-1, keepdims=True)
    return p @ v, (q, k, v, p)


def attention_backward(dout, cache):
    q, k, v, p = cache
    d = q.shape[-1]
    dv = np.swapaxes(p, -1, -2) @ dout
    dp = dout @ np.swapaxes(v, -1, -2)
    ds = p * dp - p * np.sum(p * dp, axis=-1, keepdims=True)
    ds /= np.sqrt(d)
    return ds @ k, np.swapaxes(ds, -1, -2) @ q, dv


def multihead_attention_forward(x, Wq, Wk, Wv, Wo, num_heads):
    E = x.shape[-1]
    hd = E // num_heads
    heads, caches = [], []
    q, k, v = x @ Wq, x @ Wk, x @ Wv
    for h in range(num_heads):
        cols = slice(h * hd, (h + 1) * hd)
        out, c = attention_forward(q[..., cols], k[..., cols], v[..., cols])
        heads.append(out)
        caches.append(c)
    concat = np.concatenate(heads, axis=-1)
    return concat @ Wo, (x, Wq, Wk, Wv, Wo, num_heads, caches, concat)


def multihead_attention_backward(dout, cache):
    x, Wq, Wk, Wv, Wo, num_heads, caches, concat = cache
    E = x.shape[-1]
    hd = E // num_heads
    dWo = concat.reshape(-1, E).T @ dout.reshape(-1, E)
    dconcat = dout @ Wo.T
    dq, dk, dv = np.zeros_like(x), np.zeros_like(x), np.zeros_like(x)
    for h in range(num_heads):
        cols = slice(h * hd, (h + 1) * hd)
        dq[..., cols], dk[..., cols], dv[..., cols] = attention_backward(
            dconcat[..., cols], caches[h]
        )
    flat = x.reshape(-1, E)
    dWq, dWk, dWv = (flat.T @ g.reshape(-1, E) for g in (dq, dk, dv))
    return dq @ Wq.T + dk @ Wk.T + dv @ Wv.T, dWq, dWk, dWv, dWo
