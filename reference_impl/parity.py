"""The parity suite: every reference op, NumPy against torch, and every backward
against its own forward (centred differences and the directional check).

`dlgrader reference check` prints `run_parity_suite()` as a table; the tests
run the same cases. Inputs are seeded and kink-free, so results are exact
repeats from run to run.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reference_impl import fast_layers as FL
from reference_impl import layer_utils as LU
from reference_impl import layers as L
from reference_impl.gates import GATES, Array, as_array
from reference_impl.gradcheck import (
    directional_check,
    eval_numerical_gradient_array,
    kink_free_randn,
    rel_error,
    tie_free_pool_input,
)
from reference_impl.graph import Graph, lecture_max_example, random_graph, sin_plus_product
from reference_impl.jacobians import (
    FCInputJacobian,
    FCWeightJacobian,
    ReluJacobian,
    fc_input_jacobian,
    fc_weight_jacobian,
    relu_jacobian,
)
from reference_impl.models import FullyConnectedNet, ThreeLayerConvNet
from reference_impl.optim import OPTIMIZERS
from reference_impl.torch_ref import TorchReference

VJP = Callable[[Array], Sequence[Array]]
Differentiable = Callable[[Sequence[Array]], tuple[Array, VJP]]
"""f(inputs) → (output, vjp): the uniform form every API style is adapted to."""

TORCH_TOLERANCE = 1e-10
NUMERIC_TOLERANCE = 1e-6
DIRECTIONAL_TOLERANCE = 1e-6


@dataclass(frozen=True)
class ParityResult:
    """One row of the table; NaN means the check does not apply to the op."""

    op: str
    forward_error: float
    gradient_error: float
    numeric_error: float
    directional_error: float
    tolerance: float = TORCH_TOLERANCE
    note: str = ""

    @property
    def failures(self) -> list[str]:
        out = []
        if self.forward_error > self.tolerance:
            out.append("forward differs from torch")
        if self.gradient_error > self.tolerance:
            out.append("gradient differs from torch")
        if self.numeric_error > NUMERIC_TOLERANCE:
            out.append("backward differs from centred differences")
        if self.directional_error > DIRECTIONAL_TOLERANCE:
            out.append("backward differs from its forward (directional check)")
        return out

    @property
    def passed(self) -> bool:
        # NaN compares False, so a check that does not apply never fails.
        return not self.failures


def _max(errors: Sequence[float]) -> float:
    return max(errors) if errors else math.nan


@dataclass(frozen=True)
class DifferentiableCase:
    """An op with a forward and a backward in both implementations."""

    op: str
    make_inputs: Callable[[np.random.Generator], list[Array]]
    numpy_fn: Differentiable
    torch_fn: Callable[[TorchReference], Differentiable]
    tolerance: float = TORCH_TOLERANCE
    numeric: bool = True  # small enough to check every element by centred differences
    note: str = ""

    def run(self, ref: TorchReference, seed: int) -> ParityResult:
        rng = np.random.default_rng(seed)
        xs = self.make_inputs(rng)
        out, vjp = self.numpy_fn([x.copy() for x in xs])
        t_out, t_vjp = self.torch_fn(ref)([x.copy() for x in xs])
        dout = rng.standard_normal(np.shape(out))
        grads, t_grads = vjp(dout), t_vjp(dout)
        gradient_error = _max([rel_error(g, t) for g, t in zip(grads, t_grads, strict=True)])

        def forward_only(inputs: Sequence[Array]) -> Array:
            return self.numpy_fn(list(inputs))[0]

        def numeric_grad(i: int) -> Array:
            def f_i(xi: Array) -> Array:
                return forward_only([*xs[:i], xi, *xs[i + 1 :]])

            return eval_numerical_gradient_array(f_i, xs[i], dout)

        numeric_error = math.nan
        if self.numeric:
            numeric_error = _max([rel_error(numeric_grad(i), g) for i, g in enumerate(grads)])
        directional = directional_check(forward_only, lambda v: self.numpy_fn(xs)[1](v), xs, seed)
        return ParityResult(
            self.op,
            rel_error(out, t_out),
            gradient_error,
            numeric_error,
            directional.rel_error,
            self.tolerance,
            self.note,
        )


@dataclass(frozen=True)
class CustomCase:
    """A check that is not one op's forward and backward (optimizers, forward mode, Jacobians)."""

    op: str
    check: Callable[[TorchReference, int], ParityResult]

    def run(self, ref: TorchReference, seed: int) -> ParityResult:
        return dataclasses.replace(self.check(ref, seed), op=self.op)


Case = DifferentiableCase | CustomCase


# --- adapters from each API style to the uniform form ------------------------------------


def _tuple(grads: Any) -> list[Array]:
    return [as_array(g) for g in (grads if isinstance(grads, tuple) else (grads,))]


def numpy_layer(
    forward: Callable[..., Any], backward: Callable[..., Any], *params: Any
) -> Differentiable:
    """A course-style (out, cache) / backward(dout, cache) pair; params are copied per call."""

    def f(xs: Sequence[Array]) -> tuple[Array, VJP]:
        out, cache = forward(*xs, *copy.deepcopy(params))
        return as_array(out), lambda dout: _tuple(backward(dout, cache))

    return f


def torch_layer(method: str, *params: Any) -> Callable[[TorchReference], Differentiable]:
    def bind(ref: TorchReference) -> Differentiable:
        def f(xs: Sequence[Array]) -> tuple[Array, VJP]:
            out, tape = getattr(ref, method)(*xs, *copy.deepcopy(params))
            return out, lambda dout: ref.grads(dout, tape)

        return f

    return bind


def numpy_loss(loss: Callable[[Array, Array], tuple[float, Array]], y: Array) -> Differentiable:
    def f(xs: Sequence[Array]) -> tuple[Array, VJP]:
        value, dx = loss(xs[0], y)
        return as_array(value), lambda dout: [float(dout) * dx]

    return f


def torch_loss(method: str, y: Array) -> Callable[[TorchReference], Differentiable]:
    def bind(ref: TorchReference) -> Differentiable:
        return numpy_loss(getattr(ref, method), y)

    return bind


def numpy_gate(op: str) -> Differentiable:
    def f(xs: Sequence[Array]) -> tuple[Array, VJP]:
        gate = GATES[op]()
        return as_array(gate.forward(*xs)), lambda dout: _tuple(gate.backward(dout))

    return f


def torch_gate(op: str) -> Callable[[TorchReference], Differentiable]:
    def bind(ref: TorchReference) -> Differentiable:
        def f(xs: Sequence[Array]) -> tuple[Array, VJP]:
            out, tape = ref.gate(op, *xs)
            return out, lambda dout: ref.grads(dout, tape)

        return f

    return bind


def numpy_graph(make: Callable[[], Graph]) -> Differentiable:
    def f(xs: Sequence[Array]) -> tuple[Array, VJP]:
        graph = make()
        out = graph.forward(dict(zip(graph.inputs, xs, strict=True)))

        def vjp(dout: Array) -> list[Array]:
            grads = graph.backward(dout)
            return [as_array(grads[n]) for n in graph.inputs]

        return as_array(out), vjp

    return f


def torch_graph(make: Callable[[], Graph]) -> Callable[[TorchReference], Differentiable]:
    def bind(ref: TorchReference) -> Differentiable:
        def f(xs: Sequence[Array]) -> tuple[Array, VJP]:
            out, tape = ref.run(ref.graph_fn(make()), *xs)
            return out, lambda dout: ref.grads(dout, tape)

        return f

    return bind


def numpy_model(model: Any, X: Array, y: Array) -> Differentiable:
    names = list(model.params)

    def f(xs: Sequence[Array]) -> tuple[Array, VJP]:
        m = copy.deepcopy(model)
        m.params = dict(zip(names, xs, strict=True))
        loss, grads = m.loss(X, y)
        return as_array(loss), lambda dout: [float(dout) * grads[n] for n in names]

    return f


def torch_model(
    method: str, model: Any, X: Array, y: Array
) -> Callable[[TorchReference], Differentiable]:
    names = list(model.params)

    def bind(ref: TorchReference) -> Differentiable:
        def f(xs: Sequence[Array]) -> tuple[Array, VJP]:
            m = copy.deepcopy(model)
            m.params = dict(zip(names, xs, strict=True))
            loss, grads = getattr(ref, method)(m, X, y)
            return as_array(loss), lambda dout: [float(dout) * grads[n] for n in names]

        return f

    return bind


# --- the cases ---------------------------------------------------------------------------


def _randn(*shapes: tuple[int, ...]) -> Callable[[np.random.Generator], list[Array]]:
    return lambda rng: [rng.standard_normal(s) for s in shapes]


def _kink_free(shape: tuple[int, ...]) -> Callable[[np.random.Generator], list[Array]]:
    return lambda rng: [kink_free_randn(rng, shape)]


def layer_case(
    op: str,
    make_inputs: Callable[[np.random.Generator], list[Array]],
    forward: Callable[..., Any],
    backward: Callable[..., Any],
    torch_method: str,
    *params: Any,
    **options: Any,
) -> DifferentiableCase:
    return DifferentiableCase(
        op,
        make_inputs,
        numpy_layer(forward, backward, *params),
        torch_layer(torch_method, *params),
        **options,
    )


CONV = {"stride": 1, "pad": 1}
CONV_STRIDED = {"stride": 2, "pad": 1}
POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}
POOL_OVERLAP = {"pool_height": 3, "pool_width": 3, "stride": 2}


def _conv_inputs(
    x: tuple[int, ...], w: tuple[int, ...]
) -> Callable[[np.random.Generator], list[Array]]:
    return _randn(x, w, (w[0],))


def _pool_input(shape: tuple[int, ...]) -> Callable[[np.random.Generator], list[Array]]:
    return lambda rng: [tie_free_pool_input(rng, shape)]


def _labels(seed: int, n: int, classes: int) -> Array:
    return np.random.default_rng(seed).integers(0, classes, size=n)


def _layer_cases() -> list[Case]:
    bn = {"mode": "train", "running_mean": np.zeros(5), "running_var": np.ones(5)}
    bn_test = {
        "mode": "test",
        "running_mean": np.linspace(-1, 1, 5),
        "running_var": np.linspace(0.5, 2, 5),
    }
    sbn = {"mode": "train"}
    drop = {"mode": "train", "p": 0.6, "seed": 231}
    y = _labels(7, 6, 5)
    return [
        layer_case(
            "affine",
            _randn((4, 2, 3), (6, 5), (5,)),
            L.affine_forward,
            L.affine_backward,
            "affine_forward",
        ),
        layer_case("relu", _kink_free((4, 5)), L.relu_forward, L.relu_backward, "relu_forward"),
        layer_case(
            "sigmoid", _randn((4, 5)), L.sigmoid_forward, L.sigmoid_backward, "sigmoid_forward"
        ),
        layer_case("tanh", _randn((4, 5)), L.tanh_forward, L.tanh_backward, "tanh_forward"),
        layer_case(
            "conv_naive",
            _conv_inputs((2, 3, 6, 6), (4, 3, 3, 3)),
            L.conv_forward_naive,
            L.conv_backward_naive,
            "conv_forward",
            CONV,
        ),
        layer_case(
            "conv_naive stride 2",
            _conv_inputs((2, 3, 7, 7), (4, 3, 3, 3)),
            L.conv_forward_naive,
            L.conv_backward_naive,
            "conv_forward",
            CONV_STRIDED,
        ),
        layer_case(
            "conv_fast",
            _conv_inputs((2, 3, 6, 6), (4, 3, 3, 3)),
            FL.conv_forward_fast,
            FL.conv_backward_fast,
            "conv_forward",
            CONV,
        ),
        layer_case(
            "conv_fast stride 2",
            _conv_inputs((2, 3, 7, 7), (4, 3, 3, 3)),
            FL.conv_forward_fast,
            FL.conv_backward_fast,
            "conv_forward",
            CONV_STRIDED,
        ),
        layer_case(
            "max_pool_naive",
            _pool_input((2, 3, 6, 6)),
            L.max_pool_forward_naive,
            L.max_pool_backward_naive,
            "max_pool_forward",
            POOL,
        ),
        layer_case(
            "max_pool_naive 3x3/2",
            _pool_input((2, 3, 7, 7)),
            L.max_pool_forward_naive,
            L.max_pool_backward_naive,
            "max_pool_forward",
            POOL_OVERLAP,
        ),
        layer_case(
            "max_pool_fast",
            _pool_input((2, 3, 6, 6)),
            FL.max_pool_forward_fast,
            FL.max_pool_backward_fast,
            "max_pool_forward",
            POOL,
        ),
        layer_case(
            "max_pool_fast 3x3/2",
            _pool_input((2, 3, 7, 7)),
            FL.max_pool_forward_fast,
            FL.max_pool_backward_fast,
            "max_pool_forward",
            POOL_OVERLAP,
        ),
        layer_case(
            "batchnorm train",
            _randn((6, 5), (5,), (5,)),
            L.batchnorm_forward,
            L.batchnorm_backward,
            "batchnorm_forward",
            bn,
        ),
        layer_case(
            "batchnorm_alt train",
            _randn((6, 5), (5,), (5,)),
            L.batchnorm_forward,
            L.batchnorm_backward_alt,
            "batchnorm_forward",
            bn,
        ),
        layer_case(
            "batchnorm test",
            _randn((6, 5), (5,), (5,)),
            L.batchnorm_forward,
            L.batchnorm_backward,
            "batchnorm_forward",
            bn_test,
        ),
        layer_case(
            "spatial_batchnorm",
            _randn((2, 3, 4, 4), (3,), (3,)),
            L.spatial_batchnorm_forward,
            L.spatial_batchnorm_backward,
            "spatial_batchnorm_forward",
            sbn,
        ),
        layer_case(
            "layernorm",
            _randn((4, 6), (6,), (6,)),
            L.layernorm_forward,
            L.layernorm_backward,
            "layernorm_forward",
            {"eps": 1e-5},
        ),
        layer_case(
            "dropout",
            _randn((6, 5)),
            L.dropout_forward,
            L.dropout_backward,
            "dropout_forward",
            drop,
        ),
        DifferentiableCase(
            "softmax_loss",
            _randn((6, 5)),
            numpy_loss(L.softmax_loss, y),
            torch_loss("softmax_loss", y),
        ),
        DifferentiableCase(
            "svm_loss", _randn((6, 5)), numpy_loss(L.svm_loss, y), torch_loss("svm_loss", y)
        ),
    ]


def _sandwich_cases() -> list[Case]:
    def torch_chain(ref: TorchReference, xs: Sequence[Array], pool: bool) -> tuple[Array, VJP]:
        def f(x: Any, w: Any, b: Any) -> Any:
            h = ref.torch.relu(ref.F.conv2d(x, w, b, stride=1, padding=1))
            return ref.F.max_pool2d(h, 2, 2) if pool else h

        out, tape = ref.run(f, *xs)
        return out, lambda d: ref.grads(d, tape)

    def torch_affine_relu(ref: TorchReference) -> Differentiable:
        def f(xs: Sequence[Array]) -> tuple[Array, VJP]:
            out, tape = ref.run(lambda x, w, b: ref.torch.relu(ref._affine(x, w, b)), *xs)
            return out, lambda d: ref.grads(d, tape)

        return f

    return [
        DifferentiableCase(
            "affine_relu",
            _randn((4, 6), (6, 5), (5,)),
            numpy_layer(LU.affine_relu_forward, LU.affine_relu_backward),
            torch_affine_relu,
        ),
        DifferentiableCase(
            "conv_relu",
            _conv_inputs((2, 3, 6, 6), (4, 3, 3, 3)),
            numpy_layer(LU.conv_relu_forward, LU.conv_relu_backward, CONV),
            lambda ref: lambda xs: torch_chain(ref, xs, pool=False),
        ),
        DifferentiableCase(
            "conv_relu_pool",
            _conv_inputs((2, 3, 8, 8), (4, 3, 3, 3)),
            numpy_layer(LU.conv_relu_pool_forward, LU.conv_relu_pool_backward, CONV, POOL),
            lambda ref: lambda xs: torch_chain(ref, xs, pool=True),
        ),
    ]


def _gate_cases() -> list[Case]:
    binary = _randn((5,), (5,))
    unary = {
        "sigmoid": _randn((5,)),
        "relu": _kink_free((5,)),
        "exp": _randn((5,)),
        "log": lambda rng: [np.abs(rng.standard_normal(5)) + 0.5],
        "sin": _randn((5,)),
        "tanh": _randn((5,)),
    }
    cases: list[Case] = [
        DifferentiableCase(f"gate {op}", binary, numpy_gate(op), torch_gate(op))
        for op in ("add", "mul", "max")
    ]
    cases += [
        DifferentiableCase(f"gate {op}", make, numpy_gate(op), torch_gate(op))
        for op, make in unary.items()
    ]
    cases.append(
        DifferentiableCase(
            "gate max, ties",
            lambda rng: [np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 4.0])],
            numpy_gate("max"),
            torch_gate("max"),
            numeric=False,
            note="ties split evenly, as torch.maximum",
        )
    )
    return cases


def _graph_cases() -> list[Case]:
    examples: list[tuple[str, Callable[[], Graph], int]] = [
        ("graph sin(x1)+x1·x2", sin_plus_product, 2),
        ("graph 2(xy+max(z,w))", lecture_max_example, 4),
        *[(f"graph random #{s}", lambda s=s: random_graph(s), 3) for s in range(3)],
    ]
    cases: list[Case] = []
    for name, make, n in examples:
        cases.append(
            DifferentiableCase(name, _randn(*[(4,)] * n), numpy_graph(make), torch_graph(make))
        )
        cases.append(
            CustomCase(
                f"{name} forward mode",
                functools.partial(_forward_mode, make=make),
            )
        )
    return cases


def _forward_mode(ref: TorchReference, seed: int, make: Callable[[], Graph]) -> ParityResult:
    """J·u by dual numbers against torch.func.jvp; ⟨J·u, v⟩ against reverse mode's ⟨u, Jᵀ·v⟩."""
    rng = np.random.default_rng(seed)
    graph = make()
    values = {name: rng.standard_normal(4) for name in graph.inputs}
    tangents = {name: rng.standard_normal(4) for name in graph.inputs}
    out, jvp = graph.jvp(values, tangents)
    t_out, t_jvp = ref.graph_jvp(graph, values, tangents)
    v = rng.standard_normal(out.shape)
    graph.forward(values)
    vjp = graph.backward(v)
    reverse = sum(float(np.sum(tangents[k] * vjp[k])) for k in graph.inputs)
    h = 1e-6
    plus = graph.forward({k: values[k] + h * tangents[k] for k in graph.inputs})
    minus = graph.forward({k: values[k] - h * tangents[k] for k in graph.inputs})
    numeric = (as_array(plus) - as_array(minus)) / (2 * h)
    return ParityResult(
        "",
        rel_error(out, t_out),
        rel_error(jvp, t_jvp),
        rel_error(numeric, jvp),
        rel_error(float(np.sum(v * jvp)), reverse),
        note="forward vs reverse mode in the directional column",
    )


def _jacobian_case(ref: TorchReference, seed: int) -> ParityResult:
    """Explicit and structured Jacobians of ReLU and FC against torch's autograd jacobian."""
    rng = np.random.default_rng(seed)
    N, D, M = 3, 5, 4
    x, w = kink_free_randn(rng, (N, D)), rng.standard_normal((D, M))
    jac = ref.torch.autograd.functional.jacobian
    torch_relu = ref.numpy(jac(ref.torch.relu, ref.tensor(x))).reshape(N * D, N * D)
    torch_fc_x = ref.numpy(jac(lambda t: t @ ref.tensor(w), ref.tensor(x))).reshape(N * M, N * D)
    torch_fc_w = ref.numpy(jac(lambda t: ref.tensor(x) @ t, ref.tensor(w))).reshape(N * M, D * M)
    explicit = max(
        rel_error(relu_jacobian(x), torch_relu),
        rel_error(fc_input_jacobian(w, N), torch_fc_x),
        rel_error(fc_weight_jacobian(x, M), torch_fc_w),
        rel_error(fc_input_jacobian(w), torch_fc_x[:M, :D]),
    )
    v, u_x, u_w = (
        rng.standard_normal((N, M)),
        rng.standard_normal((N, D)),
        rng.standard_normal((D, M)),
    )
    structured = max(
        rel_error(ReluJacobian.at(x).vjp(u_x).ravel(), torch_relu.T @ u_x.ravel()),
        rel_error(FCInputJacobian(w, N).vjp(v).ravel(), torch_fc_x.T @ v.ravel()),
        rel_error(FCInputJacobian(w, N).jvp(u_x).ravel(), torch_fc_x @ u_x.ravel()),
        rel_error(FCWeightJacobian(x, M).vjp(v).ravel(), torch_fc_w.T @ v.ravel()),
        rel_error(FCWeightJacobian(x, M).jvp(u_w).ravel(), torch_fc_w @ u_w.ravel()),
    )
    return ParityResult(
        "",
        explicit,
        structured,
        math.nan,
        math.nan,
        note="explicit in the forward column, structured in the gradient column",
    )


def _optimizer_case(name: str) -> CustomCase:
    def check(ref: TorchReference, seed: int) -> ParityResult:
        rng = np.random.default_rng(seed)
        w = rng.standard_normal((4, 5))
        config: dict[str, Any] | None = None
        t_w, t_config = w.copy(), None
        errors = []
        for _ in range(3):  # three steps, so the carried state is compared too
            dw = rng.standard_normal(w.shape)
            w, config = OPTIMIZERS[name](w, dw, config)
            t_w, t_config = ref.optimizer_step(name, t_w, dw, t_config)
            errors.append(rel_error(w, t_w))
        return ParityResult(
            "", _max(errors), math.nan, math.nan, math.nan, note="three steps of torch.optim"
        )

    return CustomCase(f"optim {name}", check)


def _fast_vs_naive(ref: TorchReference, seed: int) -> ParityResult:
    rng = np.random.default_rng(seed)
    x, w, b = (
        rng.standard_normal((3, 4, 9, 9)),
        rng.standard_normal((5, 4, 3, 3)),
        rng.standard_normal(5),
    )
    dout = rng.standard_normal((3, 5, 5, 5))
    out_n, cache_n = L.conv_forward_naive(x, w, b, CONV_STRIDED)
    out_f, cache_f = FL.conv_forward_fast(x, w, b, CONV_STRIDED)
    grads = [
        rel_error(a, c)
        for a, c in zip(
            L.conv_backward_naive(dout, cache_n), FL.conv_backward_fast(dout, cache_f), strict=True
        )
    ]
    xp = tie_free_pool_input(rng, (3, 4, 9, 9))
    p_n, pc_n = L.max_pool_forward_naive(xp, POOL_OVERLAP)
    p_f, pc_f = FL.max_pool_forward_fast(xp, POOL_OVERLAP)
    dp = rng.standard_normal(p_n.shape)
    grads.append(
        rel_error(L.max_pool_backward_naive(dp, pc_n), FL.max_pool_backward_fast(dp, pc_f))
    )
    return ParityResult(
        "",
        max(rel_error(out_n, out_f), rel_error(p_n, p_f)),
        max(grads),
        math.nan,
        math.nan,
        note="fast against naive, NumPy only",
    )


def _model_cases() -> list[Case]:
    rng_state = np.random.get_state()
    np.random.seed(0)
    X, y = np.random.randn(4, 6), _labels(3, 4, 3)
    fc = FullyConnectedNet(
        [5, 4], input_dim=6, num_classes=3, reg=0.1, weight_scale=0.5, dtype=np.float64
    )
    fc_bn = FullyConnectedNet(
        [5],
        input_dim=6,
        num_classes=3,
        normalization="batchnorm",
        weight_scale=0.5,
        dtype=np.float64,
    )
    fc_ln = FullyConnectedNet(
        [5],
        input_dim=6,
        num_classes=3,
        normalization="layernorm",
        weight_scale=0.5,
        dtype=np.float64,
    )
    fc_drop = FullyConnectedNet(
        [5],
        input_dim=6,
        num_classes=3,
        dropout_keep_ratio=0.7,
        weight_scale=0.5,
        dtype=np.float64,
        seed=123,
    )
    Xc, yc = np.random.randn(2, 3, 6, 6), _labels(4, 2, 4)
    cnn = ThreeLayerConvNet(
        input_dim=(3, 6, 6),
        num_filters=3,
        filter_size=3,
        hidden_dim=5,
        num_classes=4,
        weight_scale=0.3,
        reg=0.05,
        dtype=np.float64,
    )
    np.random.set_state(rng_state)

    def model_case(
        op: str, model: Any, method: str, X: Array, y: Array, **options: Any
    ) -> DifferentiableCase:
        names = list(model.params)
        return DifferentiableCase(
            op,
            lambda rng: [model.params[n].copy() for n in names],
            numpy_model(model, X, y),
            torch_model(method, model, X, y),
            **options,
        )

    return [
        model_case("FullyConnectedNet", fc, "fully_connected_net_loss", X, y),
        model_case(
            "FullyConnectedNet batchnorm",
            fc_bn,
            "fully_connected_net_loss",
            X,
            y,
            tolerance=1e-8,
            note="b1 feeds batchnorm: its exact gradient is 0, and round-off of 1e-18 "
            "reads as 1e-10 over rel_error's 1e-8 floor",
        ),
        model_case("FullyConnectedNet layernorm", fc_ln, "fully_connected_net_loss", X, y),
        model_case("FullyConnectedNet dropout", fc_drop, "fully_connected_net_loss", X, y),
        model_case("ThreeLayerConvNet", cnn, "three_layer_convnet_loss", Xc, yc),
    ]


def all_cases() -> list[Case]:
    return [
        *_gate_cases(),
        *_graph_cases(),
        CustomCase("jacobians relu, fc", _jacobian_case),
        *_layer_cases(),
        CustomCase("fast vs naive", _fast_vs_naive),
        *_sandwich_cases(),
        *[_optimizer_case(name) for name in OPTIMIZERS],
        *_model_cases(),
    ]


@dataclass
class ParityReport:
    device: str
    results: list[ParityResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)


def iter_parity_suite(device: str = "cpu", seed: int = 0) -> Iterator[ParityResult]:
    ref = TorchReference(device)
    for case in all_cases():
        yield case.run(ref, seed)


def run_parity_suite(device: str = "cpu", seed: int = 0) -> ParityReport:
    return ParityReport(device, list(iter_parity_suite(device, seed)))
