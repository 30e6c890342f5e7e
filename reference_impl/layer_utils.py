"""Sandwich layers: common stacks as one forward/backward pair, caches nested in order."""

from __future__ import annotations

from typing import Any

from reference_impl.fast_layers import (
    conv_backward_fast,
    conv_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
)
from reference_impl.gates import Array
from reference_impl.layers import (
    Cache,
    affine_backward,
    affine_forward,
    relu_backward,
    relu_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
)


def affine_relu_forward(x: Array, w: Array, b: Array) -> tuple[Array, Cache]:
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout: Array, cache: Cache) -> tuple[Array, Array, Array]:
    fc_cache, relu_cache = cache
    return affine_backward(relu_backward(dout, relu_cache), fc_cache)


def conv_relu_forward(
    x: Array, w: Array, b: Array, conv_param: dict[str, int]
) -> tuple[Array, Cache]:
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    out, relu_cache = relu_forward(a)
    return out, (conv_cache, relu_cache)


def conv_relu_backward(dout: Array, cache: Cache) -> tuple[Array, Array, Array]:
    conv_cache, relu_cache = cache
    return conv_backward_fast(relu_backward(dout, relu_cache), conv_cache)


def conv_relu_pool_forward(
    x: Array, w: Array, b: Array, conv_param: dict[str, int], pool_param: dict[str, int]
) -> tuple[Array, Cache]:
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    s, relu_cache = relu_forward(a)
    out, pool_cache = max_pool_forward_fast(s, pool_param)
    return out, (conv_cache, relu_cache, pool_cache)


def conv_relu_pool_backward(dout: Array, cache: Cache) -> tuple[Array, Array, Array]:
    conv_cache, relu_cache, pool_cache = cache
    ds = max_pool_backward_fast(dout, pool_cache)
    return conv_backward_fast(relu_backward(ds, relu_cache), conv_cache)


def conv_bn_relu_forward(
    x: Array,
    w: Array,
    b: Array,
    gamma: Array,
    beta: Array,
    conv_param: dict[str, int],
    bn_param: dict[str, Any],
) -> tuple[Array, Cache]:
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    an, bn_cache = spatial_batchnorm_forward(a, gamma, beta, bn_param)
    out, relu_cache = relu_forward(an)
    return out, (conv_cache, bn_cache, relu_cache)


def conv_bn_relu_backward(dout: Array, cache: Cache) -> tuple[Array, Array, Array, Array, Array]:
    conv_cache, bn_cache, relu_cache = cache
    dan, dgamma, dbeta = spatial_batchnorm_backward(relu_backward(dout, relu_cache), bn_cache)
    dx, dw, db = conv_backward_fast(dan, conv_cache)
    return dx, dw, db, dgamma, dbeta
