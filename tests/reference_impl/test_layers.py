"""Layers: property-based over shapes, strides and pads; NumPy against torch float64,
naive against fast, and every backward against centred differences."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reference_impl import fast_layers as FL
from reference_impl import layers as L
from reference_impl.gradcheck import (
    changes_pool_winner,
    crosses_relu_kink,
    eval_numerical_gradient_array,
    rel_error,
    tie_free_pool_input,
)
from reference_impl.torch_ref import TorchReference
from tests.markers import needs_torch


@st.composite
def conv_problems(draw: st.DrawFn) -> tuple[Any, ...]:
    stride = draw(st.integers(1, 3))
    pad = draw(st.integers(0, 2))
    k = draw(st.integers(1, 4))
    out_h, out_w = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    H, W = (out_h - 1) * stride + k - 2 * pad, (out_w - 1) * stride + k - 2 * pad
    if H < 1 or W < 1:
        H, W = H + 2 * pad, W + 2 * pad
        pad = 0
    N, C, F = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    x, w, b = (
        rng.standard_normal((N, C, H, W)),
        rng.standard_normal((F, C, k, k)),
        rng.standard_normal(F),
    )
    return x, w, b, {"stride": stride, "pad": pad}, rng


@needs_torch
@given(conv_problems())
def test_conv_naive_fast_and_torch_agree(problem: tuple[Any, ...]) -> None:
    x, w, b, conv_param, rng = problem
    ref = TorchReference()
    out_n, cache_n = L.conv_forward_naive(x, w, b, conv_param)
    out_f, cache_f = FL.conv_forward_fast(x, w, b, conv_param)
    out_t, tape = ref.conv_forward(x, w, b, conv_param)
    assert out_n.shape == out_t.shape
    assert rel_error(out_n, out_t) < 1e-10
    assert rel_error(out_f, out_t) < 1e-10
    dout = rng.standard_normal(out_n.shape)
    for g_n, g_f, g_t in zip(
        L.conv_backward_naive(dout, cache_n),
        FL.conv_backward_fast(dout, cache_f),
        ref.grads(dout, tape),
        strict=True,
    ):
        assert rel_error(g_n, g_t) < 1e-10
        assert rel_error(g_f, g_t) < 1e-10


@given(conv_problems())
def test_conv_backward_matches_centred_differences(problem: tuple[Any, ...]) -> None:
    x, w, b, conv_param, rng = problem
    out, cache = FL.conv_forward_fast(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = FL.conv_backward_fast(dout, cache)
    num_dx = eval_numerical_gradient_array(
        lambda v: L.conv_forward_naive(v, w, b, conv_param)[0], x, dout
    )
    num_dw = eval_numerical_gradient_array(
        lambda v: L.conv_forward_naive(x, v, b, conv_param)[0], w, dout
    )
    # Elementwise rel_error blows up on near-cancelling elements; centred differences
    # carry ~1e-10 absolute noise, so compare with an absolute floor.
    np.testing.assert_allclose(dx, num_dx, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dw, num_dw, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(db, dout.sum(axis=(0, 2, 3)))


@st.composite
def pool_problems(draw: st.DrawFn) -> tuple[Any, ...]:
    ph, pw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = draw(st.integers(1, 3))
    out_h, out_w = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    shape = (
        draw(st.integers(1, 3)),
        draw(st.integers(1, 3)),
        (out_h - 1) * stride + ph,
        (out_w - 1) * stride + pw,
    )
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    return (
        tie_free_pool_input(rng, shape),
        {"pool_height": ph, "pool_width": pw, "stride": stride},
        rng,
    )


@needs_torch
@given(pool_problems())
def test_max_pool_naive_fast_torch_and_numeric_agree(problem: tuple[Any, ...]) -> None:
    x, pool_param, rng = problem
    ref = TorchReference()
    out_n, cache_n = L.max_pool_forward_naive(x, pool_param)
    out_f, cache_f = FL.max_pool_forward_fast(x, pool_param)
    out_t, tape = ref.max_pool_forward(x, pool_param)
    np.testing.assert_array_equal(out_n, out_t)
    np.testing.assert_array_equal(out_f, out_t)
    dout = rng.standard_normal(out_n.shape)
    dx_t = ref.grads(dout, tape)[0]
    assert rel_error(L.max_pool_backward_naive(dout, cache_n), dx_t) < 1e-12
    assert rel_error(FL.max_pool_backward_fast(dout, cache_f), dx_t) < 1e-12
    h = 1e-5
    assert not changes_pool_winner(x, np.full_like(x, h), pool_param)
    num = eval_numerical_gradient_array(
        lambda v: L.max_pool_forward_naive(v, pool_param)[0], x, dout, h=h
    )
    assert rel_error(FL.max_pool_backward_fast(dout, cache_f), num) < 1e-8


@needs_torch
def test_max_pool_ties_go_to_the_first_winner_everywhere() -> None:
    x = np.zeros((1, 1, 4, 4))  # every window is a 4-way tie, as after a ReLU
    pool = {"pool_height": 2, "pool_width": 2, "stride": 2}
    dout = np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    expected = np.zeros((1, 1, 4, 4))
    expected[0, 0, ::2, ::2] = dout[0, 0]
    _, cache_n = L.max_pool_forward_naive(x, pool)
    _, cache_f = FL.max_pool_forward_fast(x, pool)
    np.testing.assert_array_equal(L.max_pool_backward_naive(dout, cache_n), expected)
    np.testing.assert_array_equal(FL.max_pool_backward_fast(dout, cache_f), expected)
    _, tape = TorchReference().max_pool_forward(x, pool)
    np.testing.assert_array_equal(TorchReference().grads(dout, tape)[0], expected)


def test_conv_caches_are_the_homeworks() -> None:
    x, w, b = np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), np.zeros(1)
    param = {"stride": 1, "pad": 1}
    _, cache = L.conv_forward_naive(x, w, b, param)
    assert len(cache) == 4
    assert cache[3] is param
    _, cache = FL.conv_forward_fast(x, w, b, param)
    assert len(cache) == 5
    assert cache[4].shape == (9, 9)
    _, cache = L.affine_forward(np.ones((2, 3)), np.ones((3, 2)), np.zeros(2))
    assert len(cache) == 3


def test_conv_rejects_a_stride_that_does_not_tile() -> None:
    with pytest.raises(ValueError, match="do not tile"):
        L.conv_forward_naive(
            np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), np.zeros(1), {"stride": 2, "pad": 0}
        )


def test_inputs_are_not_modified(rng: np.random.Generator) -> None:
    x, w, b = (
        rng.standard_normal((2, 3, 5, 5)),
        rng.standard_normal((4, 3, 3, 3)),
        rng.standard_normal(4),
    )
    copies = [a.copy() for a in (x, w, b)]
    out, cache = FL.conv_forward_fast(x, w, b, {"stride": 1, "pad": 1})
    FL.conv_backward_fast(np.ones_like(out), cache)
    out, cache = L.conv_forward_naive(x, w, b, {"stride": 1, "pad": 1})
    L.conv_backward_naive(np.ones_like(out), cache)
    for a, c in zip((x, w, b), copies, strict=True):
        np.testing.assert_array_equal(a, c)


def test_batchnorm_staged_and_closed_form_backward_agree(rng: np.random.Generator) -> None:
    x, gamma, beta = (
        rng.standard_normal((8, 5)) * 3 + 1,
        rng.standard_normal(5),
        rng.standard_normal(5),
    )
    out, cache = L.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    dout = rng.standard_normal(out.shape)
    for a, b in zip(
        L.batchnorm_backward(dout, cache), L.batchnorm_backward_alt(dout, cache), strict=True
    ):
        assert rel_error(a, b) < 1e-10


def test_batchnorm_train_normalises_and_updates_running_stats(rng: np.random.Generator) -> None:
    x = rng.standard_normal((200, 3)) * [1.0, 2.0, 3.0] + [5.0, -1.0, 0.0]
    bn_param: dict[str, Any] = {"mode": "train", "momentum": 0.5}
    out, _ = L.batchnorm_forward(x, np.ones(3), np.zeros(3), bn_param)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-4)
    np.testing.assert_allclose(bn_param["running_mean"], 0.5 * x.mean(axis=0))
    np.testing.assert_allclose(bn_param["running_var"], 0.5 * x.var(axis=0))
    test_out, _ = L.batchnorm_forward(x, np.ones(3), np.zeros(3), dict(bn_param, mode="test"))
    assert not np.allclose(test_out, out)


def test_dropout_is_inverted_and_honours_the_homework_seed(rng: np.random.Generator) -> None:
    x = rng.standard_normal((500, 500)) + 10
    param = {"mode": "train", "p": 0.3, "seed": 123}
    out, cache = L.dropout_forward(x, param)
    np.random.seed(123)
    homework_mask = (np.random.rand(*x.shape) < 0.3) / 0.3
    np.testing.assert_array_equal(out, x * homework_mask)
    assert out.mean() == pytest.approx(x.mean(), rel=0.02)  # inverted: expectation kept
    assert (out == 0).mean() == pytest.approx(0.7, abs=0.01)
    np.testing.assert_array_equal(L.dropout_forward(x, {"mode": "test", "p": 0.3})[0], x)
    np.testing.assert_array_equal(L.dropout_backward(np.ones_like(x), cache), homework_mask)


def test_losses_at_chance(rng: np.random.Generator) -> None:
    N, C = 50, 10
    x, y = 0.001 * rng.standard_normal((N, C)), rng.integers(0, C, N)
    assert L.softmax_loss(x, y)[0] == pytest.approx(np.log(C), rel=1e-2)
    assert L.svm_loss(x, y)[0] == pytest.approx(C - 1, rel=1e-2)


def test_relu_kink_detection() -> None:
    assert crosses_relu_kink(np.array([1.0, 1e-7]), 1e-5)
    assert not crosses_relu_kink(np.array([1.0, -1e-3]), 1e-5)


def test_tie_free_pool_input_has_distinct_values_away_from_zero(rng: np.random.Generator) -> None:
    x = tie_free_pool_input(rng, (2, 3, 8, 8))
    assert len(np.unique(x)) == x.size
    assert np.abs(x).min() > 0
