"""The homework's two models, with its constructors and `loss(X, y=None)`.

`loss(X)` returns class scores; `loss(X, y)` returns `(loss, grads)` with one
gradient per entry of `params`, L2 regularisation 0.5·reg·Σ‖W‖² on weights only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reference_impl import layers as L
from reference_impl.gates import Array
from reference_impl.layer_utils import conv_relu_pool_backward, conv_relu_pool_forward

Grads = dict[str, Array]


class FullyConnectedNet:
    """{affine − [batch/layer norm] − ReLU − [dropout]} × (L − 1) − affine − softmax."""

    def __init__(
        self,
        hidden_dims: list[int],
        input_dim: int = 3 * 32 * 32,
        num_classes: int = 10,
        dropout_keep_ratio: float = 1,
        normalization: str | None = None,
        reg: float = 0.0,
        weight_scale: float = 1e-2,
        dtype: type = np.float32,
        seed: int | None = None,
    ) -> None:
        if normalization not in (None, "batchnorm", "layernorm"):
            raise ValueError(
                f"normalization must be None, 'batchnorm' or 'layernorm', not {normalization!r}"
            )
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params: dict[str, Array] = {}
        dims = [input_dim, *hidden_dims, num_classes]
        for i in range(self.num_layers):
            self.params[f"W{i + 1}"] = weight_scale * np.random.randn(dims[i], dims[i + 1])
            self.params[f"b{i + 1}"] = np.zeros(dims[i + 1])
            if normalization and i < self.num_layers - 1:
                self.params[f"gamma{i + 1}"] = np.ones(dims[i + 1])
                self.params[f"beta{i + 1}"] = np.zeros(dims[i + 1])
        self.dropout_param: dict[str, Any] = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
            if seed is not None:
                self.dropout_param["seed"] = seed
        self.bn_params: list[dict[str, Any]] = (
            [{"mode": "train"} for _ in range(self.num_layers - 1)] if normalization else []
        )
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X: Array, y: Array | None = None) -> Any:
        X = X.astype(self.dtype)
        mode = "test" if y is None else "train"
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        for bn_param in self.bn_params:
            bn_param["mode"] = mode

        caches = []
        h = X
        for i in range(1, self.num_layers):
            h, fc = L.affine_forward(h, self.params[f"W{i}"], self.params[f"b{i}"])
            norm = None
            if self.normalization == "batchnorm":
                h, norm = L.batchnorm_forward(
                    h, self.params[f"gamma{i}"], self.params[f"beta{i}"], self.bn_params[i - 1]
                )
            elif self.normalization == "layernorm":
                h, norm = L.layernorm_forward(
                    h, self.params[f"gamma{i}"], self.params[f"beta{i}"], self.bn_params[i - 1]
                )
            h, relu = L.relu_forward(h)
            drop = None
            if self.use_dropout:
                h, drop = L.dropout_forward(h, self.dropout_param)
            caches.append((fc, norm, relu, drop))
        n = self.num_layers
        scores, last = L.affine_forward(h, self.params[f"W{n}"], self.params[f"b{n}"])
        if y is None:
            return scores

        loss, dscores = L.softmax_loss(scores, y)
        grads: Grads = {}
        dh, grads[f"W{n}"], grads[f"b{n}"] = L.affine_backward(dscores, last)
        for i in range(n - 1, 0, -1):
            fc, norm, relu, drop = caches[i - 1]
            if drop is not None:
                dh = L.dropout_backward(dh, drop)
            dh = L.relu_backward(dh, relu)
            if self.normalization == "batchnorm":
                dh, grads[f"gamma{i}"], grads[f"beta{i}"] = L.batchnorm_backward_alt(dh, norm)
            elif self.normalization == "layernorm":
                dh, grads[f"gamma{i}"], grads[f"beta{i}"] = L.layernorm_backward(dh, norm)
            dh, grads[f"W{i}"], grads[f"b{i}"] = L.affine_backward(dh, fc)
        for i in range(1, n + 1):
            W = self.params[f"W{i}"]
            loss += 0.5 * self.reg * float(np.sum(W * W))
            grads[f"W{i}"] = grads[f"W{i}"] + self.reg * W
        return loss, grads


class ThreeLayerConvNet:
    """conv − ReLU − 2×2 max pool − affine − ReLU − affine − softmax ('same' conv, stride 1)."""

    def __init__(
        self,
        input_dim: tuple[int, int, int] = (3, 32, 32),
        num_filters: int = 32,
        filter_size: int = 7,
        hidden_dim: int = 100,
        num_classes: int = 10,
        weight_scale: float = 1e-3,
        reg: float = 0.0,
        dtype: type = np.float32,
    ) -> None:
        C, H, W = input_dim
        self.reg = reg
        self.dtype = dtype
        self.params: dict[str, Array] = {
            "W1": weight_scale * np.random.randn(num_filters, C, filter_size, filter_size),
            "b1": np.zeros(num_filters),
            "W2": weight_scale * np.random.randn(num_filters * (H // 2) * (W // 2), hidden_dim),
            "b2": np.zeros(hidden_dim),
            "W3": weight_scale * np.random.randn(hidden_dim, num_classes),
            "b3": np.zeros(num_classes),
        }
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X: Array, y: Array | None = None) -> Any:
        p = self.params
        filter_size = p["W1"].shape[2]
        conv_param = {"stride": 1, "pad": (filter_size - 1) // 2}
        pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}

        h1, c1 = conv_relu_pool_forward(
            X.astype(self.dtype), p["W1"], p["b1"], conv_param, pool_param
        )
        h2, c2 = L.affine_forward(h1, p["W2"], p["b2"])
        h2, r2 = L.relu_forward(h2)
        scores, c3 = L.affine_forward(h2, p["W3"], p["b3"])
        if y is None:
            return scores

        loss, dscores = L.softmax_loss(scores, y)
        grads: Grads = {}
        dh2, grads["W3"], grads["b3"] = L.affine_backward(dscores, c3)
        dh1, grads["W2"], grads["b2"] = L.affine_backward(L.relu_backward(dh2, r2), c2)
        _, grads["W1"], grads["b1"] = conv_relu_pool_backward(dh1, c1)
        for name in ("W1", "W2", "W3"):
            loss += 0.5 * self.reg * float(np.sum(p[name] ** 2))
            grads[name] = grads[name] + self.reg * p[name]
        return loss, grads
