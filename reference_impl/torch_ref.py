"""The torch path: the reference functions backed by torch autograd on any device.

NumPy in, NumPy out, float64 by default and TF32 off, so it is the ground truth
on GPU nodes and an independent cross-check of the NumPy code: forwards are
written with torch's own operators (`F.conv2d`, `F.max_pool2d`, `F.layer_norm`,
`F.cross_entropy`, `torch.optim`, ...) and every backward is autograd's.

    ref = TorchReference("cuda")
    out, cache = ref.conv_forward_naive(x, w, b, {"stride": 1, "pad": 1})
    dx, dw, db = ref.conv_backward_naive(dout, cache)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from reference_impl.gates import Array
from reference_impl.layers import dropout_mask

if TYPE_CHECKING:
    import torch

    from reference_impl.graph import Graph
    from reference_impl.models import FullyConnectedNet, ThreeLayerConvNet


def load_torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # torch is an optional extra
        raise RuntimeError(
            "the torch path needs PyTorch: pip install 'dlgrader[torch]' "
            "(or a CUDA build of torch on a GPU server, see README)"
        ) from exc
    return torch


def cuda_available() -> bool:
    try:
        return bool(load_torch().cuda.is_available())
    except RuntimeError:
        return False


@dataclass
class Tape:
    """What a torch forward keeps for its backward: the leaf inputs and the output."""

    inputs: tuple[torch.Tensor, ...]
    output: torch.Tensor


class TorchReference:
    """Every reference op on `device` ('cpu', 'cuda', 'cuda:1', ...), forward and backward."""

    def __init__(self, device: str = "cpu", dtype: str = "float64") -> None:
        torch = self.torch = load_torch()
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise RuntimeError(f"device {device!r} asked for, but torch sees no CUDA device")
        # TF32 would round float32 matmuls and convs to 10-bit mantissas on Ampere and later.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.deterministic = True
        self.device = torch.device(device)
        self.dtype = getattr(torch, dtype)
        self.F = torch.nn.functional

    # --- plumbing ------------------------------------------------------------------------

    def tensor(self, a: Any, requires_grad: bool = False) -> torch.Tensor:
        t = self.torch.as_tensor(np.asarray(a, dtype=np.float64), device=self.device).to(self.dtype)
        return t.requires_grad_() if requires_grad else t

    def labels(self, y: Array) -> torch.Tensor:
        return self.torch.as_tensor(np.asarray(y, dtype=np.int64), device=self.device)

    @staticmethod
    def numpy(t: torch.Tensor) -> Array:
        return np.asarray(t.detach().cpu().double().numpy())

    def run(self, fn: Callable[..., torch.Tensor], *arrays: Any) -> tuple[Array, Tape]:
        """fn on leaf tensors made from `arrays`; returns the output and a tape for `grads`."""
        inputs = tuple(self.tensor(a, requires_grad=True) for a in arrays)
        out = fn(*inputs)
        return self.numpy(out), Tape(inputs, out)

    def grads(self, dout: Any, tape: Tape) -> tuple[Array, ...]:
        """The vector-Jacobian product doutᵀ·J for every input of the tape."""
        gs = self.torch.autograd.grad(
            tape.output, tape.inputs, self.tensor(dout), allow_unused=True
        )
        return tuple(
            self.numpy(g) if g is not None else np.zeros(tuple(x.shape))
            for g, x in zip(gs, tape.inputs, strict=True)
        )

    # --- gates and graphs ----------------------------------------------------------------

    def gate_fn(self, op: str) -> Callable[..., torch.Tensor]:
        torch = self.torch
        return {
            "add": torch.add,
            "mul": torch.mul,
            "max": torch.maximum,
            "sigmoid": torch.sigmoid,
            "relu": torch.relu,
            "exp": torch.exp,
            "log": torch.log,
            "sin": torch.sin,
            "tanh": torch.tanh,
        }[op]

    def gate(self, op: str, *inputs: Any) -> tuple[Array, Tape]:
        return self.run(self.gate_fn(op), *inputs)

    def graph_fn(self, graph: Graph) -> Callable[..., torch.Tensor]:
        """The graph as a torch function of its inputs, in `graph.inputs` order."""

        def f(*xs: torch.Tensor) -> torch.Tensor:
            given = dict(zip(graph.inputs, xs, strict=True))
            value: dict[int, torch.Tensor] = {}
            for node in graph.order:
                if node.op == "input":
                    value[id(node)] = given[node.name]
                elif node.op == "const":
                    value[id(node)] = self.tensor(node.const)
                else:
                    value[id(node)] = self.gate_fn(node.op)(*(value[id(p)] for p in node.parents))
            return value[id(graph.output)]

        return f

    def graph_jvp(
        self, graph: Graph, values: Mapping[str, Any], tangents: Mapping[str, Any]
    ) -> tuple[Array, Array]:
        """Forward mode through torch.func.jvp."""
        primals = tuple(self.tensor(values[n]) for n in graph.inputs)
        dirs = tuple(
            self.tensor(tangents.get(n, np.zeros(np.shape(values[n])))) for n in graph.inputs
        )
        out, tangent = self.torch.func.jvp(self.graph_fn(graph), primals, dirs)
        return self.numpy(out), self.numpy(tangent)

    # --- layers --------------------------------------------------------------------------

    def _affine(self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.F.linear(x.reshape(x.shape[0], -1), w.T, b)

    def affine_forward(self, x: Array, w: Array, b: Array) -> tuple[Array, Tape]:
        return self.run(self._affine, x, w, b)

    def relu_forward(self, x: Array) -> tuple[Array, Tape]:
        return self.run(self.torch.relu, x)

    def sigmoid_forward(self, x: Array) -> tuple[Array, Tape]:
        return self.run(self.torch.sigmoid, x)

    def tanh_forward(self, x: Array) -> tuple[Array, Tape]:
        return self.run(self.torch.tanh, x)

    def conv_forward(
        self, x: Array, w: Array, b: Array, conv_param: Mapping[str, int]
    ) -> tuple[Array, Tape]:
        return self.run(
            lambda x, w, b: self.F.conv2d(
                x, w, b, stride=conv_param["stride"], padding=conv_param["pad"]
            ),
            x,
            w,
            b,
        )

    def _pool(self, x: torch.Tensor, pool_param: Mapping[str, int]) -> torch.Tensor:
        return self.F.max_pool2d(
            x, (pool_param["pool_height"], pool_param["pool_width"]), pool_param["stride"]
        )

    def max_pool_forward(self, x: Array, pool_param: Mapping[str, int]) -> tuple[Array, Tape]:
        return self.run(lambda x: self._pool(x, pool_param), x)

    def _batchnorm(
        self, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, bn_param: dict[str, Any]
    ) -> torch.Tensor:
        """Batchnorm over dim 0; updates bn_param's running stats (biased var, as the homework)."""
        eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
        D = x.shape[1]
        running_mean = self.tensor(bn_param.get("running_mean", np.zeros(D)))
        running_var = self.tensor(bn_param.get("running_var", np.zeros(D)))
        if bn_param["mode"] == "train":
            mean, var = x.mean(dim=0), x.var(dim=0, unbiased=False)
            bn_param["running_mean"] = self.numpy(momentum * running_mean + (1 - momentum) * mean)
            bn_param["running_var"] = self.numpy(momentum * running_var + (1 - momentum) * var)
        else:
            mean, var = running_mean, running_var
        return gamma * (x - mean) / self.torch.sqrt(var + eps) + beta

    def batchnorm_forward(
        self, x: Array, gamma: Array, beta: Array, bn_param: dict[str, Any]
    ) -> tuple[Array, Tape]:
        return self.run(lambda x, g, b: self._batchnorm(x, g, b, bn_param), x, gamma, beta)

    def spatial_batchnorm_forward(
        self, x: Array, gamma: Array, beta: Array, bn_param: dict[str, Any]
    ) -> tuple[Array, Tape]:
        def f(x: torch.Tensor, g: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            N, C, H, W = x.shape
            flat = x.permute(0, 2, 3, 1).reshape(-1, C)
            return self._batchnorm(flat, g, b, bn_param).reshape(N, H, W, C).permute(0, 3, 1, 2)

        return self.run(f, x, gamma, beta)

    def _layernorm(
        self, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, ln_param: Mapping[str, Any]
    ) -> torch.Tensor:
        return self.F.layer_norm(x, (x.shape[1],), gamma, beta, ln_param.get("eps", 1e-5))

    def layernorm_forward(
        self, x: Array, gamma: Array, beta: Array, ln_param: Mapping[str, Any]
    ) -> tuple[Array, Tape]:
        return self.run(lambda x, g, b: self._layernorm(x, g, b, ln_param), x, gamma, beta)

    def _dropout(self, x: torch.Tensor, dropout_param: Mapping[str, Any]) -> torch.Tensor:
        if dropout_param["mode"] != "train":
            return x * 1.0
        # The same seeded draw as the NumPy reference: the mask is data, not math.
        mask = dropout_mask(tuple(x.shape), dropout_param["p"], dropout_param.get("seed"))
        return x * self.tensor(mask)

    def dropout_forward(self, x: Array, dropout_param: Mapping[str, Any]) -> tuple[Array, Tape]:
        return self.run(lambda x: self._dropout(x, dropout_param), x)

    def softmax_loss(self, x: Array, y: Array) -> tuple[float, Array]:
        out, tape = self.run(lambda s: self.F.cross_entropy(s, self.labels(y)), x)
        return float(out), self.grads(1.0, tape)[0]

    def svm_loss(self, x: Array, y: Array) -> tuple[float, Array]:
        # multi_margin_loss averages over classes as well as examples; the homework's does not.
        C = x.shape[1]
        out, tape = self.run(lambda s: C * self.F.multi_margin_loss(s, self.labels(y)), x)
        return float(out), self.grads(1.0, tape)[0]

    # --- optimizers ----------------------------------------------------------------------

    def optimizer_step(
        self, name: str, w: Array, dw: Array, config: dict[str, Any] | None = None
    ) -> tuple[Array, dict[str, Any]]:
        """One step of torch.optim from the homework's config; the state goes back into it."""
        optim = self.torch.optim
        config = dict(config or {})
        p = self.torch.nn.Parameter(self.tensor(w))
        p.grad = self.tensor(dw)
        if name == "sgd":
            config.setdefault("learning_rate", 1e-2)
            opt = optim.SGD([p], lr=config["learning_rate"])
        elif name == "sgd_momentum":
            config.setdefault("learning_rate", 1e-2)
            config.setdefault("momentum", 0.9)
            lr = config["learning_rate"]
            opt = optim.SGD([p], lr=lr, momentum=config["momentum"], foreach=False)
            if "velocity" in config:  # torch keeps b with v = −lr·b
                opt.state[p] = {"momentum_buffer": self.tensor(-config["velocity"] / lr)}
        elif name == "rmsprop":
            config.setdefault("learning_rate", 1e-2)
            config.setdefault("decay_rate", 0.99)
            config.setdefault("epsilon", 1e-8)
            opt = optim.RMSprop(
                [p],
                lr=config["learning_rate"],
                alpha=config["decay_rate"],
                eps=config["epsilon"],
                foreach=False,
            )
            if "cache" in config:
                opt.state[p] = {
                    "step": self.torch.tensor(1.0),
                    "square_avg": self.tensor(config["cache"]),
                }
        elif name == "adam":
            for key, default in (
                ("learning_rate", 1e-3),
                ("beta1", 0.9),
                ("beta2", 0.999),
                ("epsilon", 1e-8),
            ):
                config.setdefault(key, default)
            opt = optim.Adam(
                [p],
                lr=config["learning_rate"],
                betas=(config["beta1"], config["beta2"]),
                eps=config["epsilon"],
                foreach=False,
            )
            if config.get("t", 0) > 0:
                opt.state[p] = {
                    "step": self.torch.tensor(float(config["t"])),
                    "exp_avg": self.tensor(config["m"]),
                    "exp_avg_sq": self.tensor(config["v"]),
                }
        else:
            raise ValueError(f"unknown optimizer {name!r}")
        opt.step()
        state = opt.state[p]
        if name == "sgd_momentum":
            config["velocity"] = -config["learning_rate"] * self.numpy(state["momentum_buffer"])
        elif name == "rmsprop":
            config["cache"] = self.numpy(state["square_avg"])
        elif name == "adam":
            config["m"], config["v"] = self.numpy(state["exp_avg"]), self.numpy(state["exp_avg_sq"])
            config["t"] = int(state["step"])
        return self.numpy(p), config

    # --- the homework's models -----------------------------------------------------------

    def _model_grads(
        self,
        params: Mapping[str, Array],
        loss_fn: Callable[[dict[str, torch.Tensor]], torch.Tensor],
    ) -> tuple[float, dict[str, Array]]:
        leaves = {k: self.tensor(v, requires_grad=True) for k, v in params.items()}
        loss = loss_fn(leaves)
        gs = self.torch.autograd.grad(loss, list(leaves.values()))
        return float(loss.detach()), {k: self.numpy(g) for k, g in zip(leaves, gs, strict=True)}

    def fully_connected_net_loss(
        self, model: FullyConnectedNet, X: Array, y: Array
    ) -> tuple[float, dict[str, Array]]:
        """Train-mode loss and gradients of the NumPy model's parameters, recomputed in torch."""
        bn_params = [dict(p, mode="train") for p in model.bn_params]
        dropout_param = dict(model.dropout_param, mode="train")

        def loss_fn(p: dict[str, torch.Tensor]) -> torch.Tensor:
            h = self.tensor(X)
            for i in range(1, model.num_layers):
                h = self._affine(h, p[f"W{i}"], p[f"b{i}"])
                if model.normalization == "batchnorm":
                    h = self._batchnorm(h, p[f"gamma{i}"], p[f"beta{i}"], bn_params[i - 1])
                elif model.normalization == "layernorm":
                    h = self._layernorm(h, p[f"gamma{i}"], p[f"beta{i}"], bn_params[i - 1])
                h = self.torch.relu(h)
                if model.use_dropout:
                    h = self._dropout(h, dropout_param)
            n = model.num_layers
            scores = self._affine(h, p[f"W{n}"], p[f"b{n}"])
            reg = sum((p[f"W{i}"] ** 2).sum() for i in range(1, n + 1))
            return self.F.cross_entropy(scores, self.labels(y)) + 0.5 * model.reg * reg

        return self._model_grads(model.params, loss_fn)

    def three_layer_convnet_loss(
        self, model: ThreeLayerConvNet, X: Array, y: Array
    ) -> tuple[float, dict[str, Array]]:
        def loss_fn(p: dict[str, torch.Tensor]) -> torch.Tensor:
            pad = (p["W1"].shape[2] - 1) // 2
            h = self.torch.relu(self.F.conv2d(self.tensor(X), p["W1"], p["b1"], padding=pad))
            h = self.F.max_pool2d(h, 2, 2)
            h = self.torch.relu(self._affine(h, p["W2"], p["b2"]))
            scores = self._affine(h, p["W3"], p["b3"])
            reg = sum((p[k] ** 2).sum() for k in ("W1", "W2", "W3"))
            return self.F.cross_entropy(scores, self.labels(y)) + 0.5 * model.reg * reg

        return self._model_grads(model.params, loss_fn)
