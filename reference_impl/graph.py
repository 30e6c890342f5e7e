"""Computational graphs: a DAG of gates, run forward in topological order and
backward in reverse order, gradients accumulating where a value fans out.

    x1, x2 = variable("x1"), variable("x2")
    f = Graph(sin(x1) + x1 * x2)
    f.forward({"x1": 1.0, "x2": 2.0})
    f.backward()            # {"x1": cos(1) + 2, "x2": 1}
    f.jvp(values, tangents)  # forward mode, the same graph
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from reference_impl import forward_mode
from reference_impl.forward_mode import Dual
from reference_impl.gates import GATES, RULES, Array, Gate, Value, as_array


@dataclass(eq=False)
class Node:
    """One vertex: an input variable, a constant, or a gate applied to parent nodes."""

    op: str  # "input", "const" or a gate name from gates.RULES
    parents: tuple[Node, ...] = ()
    name: str = ""
    const: float = 0.0

    def __add__(self, other: Node | float) -> Node:
        return apply("add", self, other)

    def __radd__(self, other: float) -> Node:
        return apply("add", other, self)

    def __mul__(self, other: Node | float) -> Node:
        return apply("mul", self, other)

    def __rmul__(self, other: float) -> Node:
        return apply("mul", other, self)


def variable(name: str) -> Node:
    return Node("input", name=name)


def constant(value: float) -> Node:
    return Node("const", const=float(value))


def apply(op: str, *parents: Node | float) -> Node:
    if op not in RULES:
        raise ValueError(f"unknown gate {op!r}; known: {', '.join(RULES)}")
    if len(parents) != RULES[op].arity:
        raise ValueError(f"{op} takes {RULES[op].arity} inputs, got {len(parents)}")
    return Node(op, tuple(p if isinstance(p, Node) else constant(p) for p in parents))


def maximum(x: Node | float, y: Node | float) -> Node:
    return apply("max", x, y)


def sin(x: Node) -> Node:
    return apply("sin", x)


def exp(x: Node) -> Node:
    return apply("exp", x)


def log(x: Node) -> Node:
    return apply("log", x)


def tanh(x: Node) -> Node:
    return apply("tanh", x)


def sigmoid(x: Node) -> Node:
    return apply("sigmoid", x)


def relu(x: Node) -> Node:
    return apply("relu", x)


def topological_order(output: Node) -> list[Node]:
    """Every node after all of its parents (Kahn's algorithm, no recursion limit)."""
    nodes: list[Node] = []
    seen: set[int] = set()
    stack = [output]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        nodes.append(node)
        stack.extend(node.parents)
    children_left = {id(n): 0 for n in nodes}
    for n in nodes:
        for p in n.parents:
            children_left[id(p)] += 1
    # Peel from the output: a node is placed once all its consumers are placed.
    ready = [output]
    reverse: list[Node] = []
    while ready:
        node = ready.pop()
        reverse.append(node)
        for p in node.parents:
            children_left[id(p)] -= 1
            if children_left[id(p)] == 0:
                ready.append(p)
    return reverse[::-1]


@dataclass
class Graph:
    """A function given by its output node; `inputs` are its variables' names, sorted."""

    output: Node
    order: list[Node] = field(init=False)
    inputs: list[str] = field(init=False)
    _gates: dict[int, Gate] = field(init=False, default_factory=dict)
    _scalar: bool = field(init=False, default=True)

    def __post_init__(self) -> None:
        self.order = topological_order(self.output)
        self.inputs = sorted({n.name for n in self.order if n.op == "input"})

    def _check(self, values: Mapping[str, Any]) -> None:
        missing = set(self.inputs) - set(values)
        if missing:
            raise KeyError(f"missing inputs: {', '.join(sorted(missing))}")

    def forward(self, values: Mapping[str, ArrayLike]) -> Value:
        """Run every gate in topological order; the gates remember what backward needs."""
        self._check(values)
        self._scalar = all(np.ndim(values[name]) == 0 for name in self.inputs)
        result: dict[int, Value] = {}
        self._gates = {}
        for node in self.order:
            if node.op == "input":
                result[id(node)] = as_array(values[node.name])
            elif node.op == "const":
                result[id(node)] = node.const
            else:
                gate = self._gates[id(node)] = GATES[node.op]()
                result[id(node)] = gate.forward(*(result[id(p)] for p in node.parents))
        return result[id(self.output)]

    def backward(self, dout: ArrayLike = 1.0) -> dict[str, Value]:
        """Reverse mode (a vector-Jacobian product): walk the order backwards, summing fan-outs."""
        if not self._gates and self.output.op not in ("input", "const"):
            raise RuntimeError("call forward() before backward()")
        grads: dict[int, Array] = {id(self.output): as_array(dout)}
        for node in reversed(self.order):
            g = grads.get(id(node))
            if g is None or node.op in ("input", "const"):
                continue
            local = self._gates[id(node)].backward(g)
            for parent, dp in zip(
                node.parents, local if len(node.parents) > 1 else (local,), strict=True
            ):
                grads[id(parent)] = grads[id(parent)] + dp if id(parent) in grads else as_array(dp)
        by_name: dict[str, Value] = {}
        for node in self.order:
            if node.op == "input":
                g = grads.get(id(node), np.zeros(np.shape(dout)))
                by_name[node.name] = float(g) if self._scalar and g.ndim == 0 else g
        return by_name

    def jvp(
        self, values: Mapping[str, ArrayLike], tangents: Mapping[str, ArrayLike]
    ) -> tuple[Array, Array]:
        """Forward mode: f(x) and J·u in one pass of dual numbers."""
        self._check(values)
        duals: dict[int, Dual] = {}
        for node in self.order:
            if node.op == "input":
                t = tangents.get(node.name, np.zeros_like(as_array(values[node.name])))
                duals[id(node)] = Dual.variable(values[node.name], t)
            elif node.op == "const":
                duals[id(node)] = Dual.constant(node.const)
            else:
                duals[id(node)] = forward_mode.apply(node.op, *(duals[id(p)] for p in node.parents))
        out = duals[id(self.output)]
        return out.value, out.tangent


def graph_to_json(graph: Graph, seed: int = 0) -> dict[str, Any]:
    """The graph as plain JSON, its gate nodes listed in a shuffled order.

    {"inputs": ["x", ...], "constants": {"c0": 2.0}, "output": "n4",
     "nodes": [{"name": "n2", "op": "mul", "args": ["x", "n1"]}, ...]}
    Shuffled so that running it needs a topological order of one's own.
    """
    names: dict[int, str] = {}
    constants: dict[str, float] = {}
    nodes: list[dict[str, Any]] = []
    for node in graph.order:
        if node.op == "input":
            names[id(node)] = node.name
        elif node.op == "const":
            names[id(node)] = f"c{len(constants)}"
            constants[names[id(node)]] = node.const
        else:
            names[id(node)] = f"n{len(nodes)}"
            nodes.append(
                {
                    "name": names[id(node)],
                    "op": node.op,
                    "args": [names[id(p)] for p in node.parents],
                }
            )
    order = np.random.default_rng(seed).permutation(len(nodes))
    return {
        "inputs": list(graph.inputs),
        "constants": constants,
        "nodes": [nodes[int(i)] for i in order],
        "output": names[id(graph.output)],
    }


def is_topological_order(graph_json: dict[str, Any], order: list[str]) -> str | None:
    """None when `order` lists every gate node once, each after its arguments; else why not."""
    gates = {n["name"]: n["args"] for n in graph_json["nodes"]}
    if sorted(order) != sorted(gates):
        missing, extra = set(gates) - set(order), set(order) - set(gates)
        if len(order) != len(set(order)):
            return "some nodes appear more than once"
        return f"missing nodes {sorted(missing)[:5]}, unknown nodes {sorted(extra)[:5]}"
    seen: set[str] = set(graph_json["inputs"]) | set(graph_json["constants"])
    for name in order:
        late = [a for a in gates[name] if a not in seen]
        if late:
            return f"{name} comes before its argument {late[0]}"
        seen.add(name)
    return None


def sin_plus_product() -> Graph:
    """The lecture's f(x1, x2) = sin(x1) + x1·x2 (x1 fans out to two gates)."""
    x1, x2 = variable("x1"), variable("x2")
    return Graph(sin(x1) + x1 * x2)


def lecture_max_example() -> Graph:
    """The lecture's f(x, y, z, w) = 2(xy + max(z, w))."""
    x, y, z, w = (variable(n) for n in "xyzw")
    return Graph(2.0 * (x * y + maximum(z, w)))


_BINARY = ("add", "mul", "max")
_UNARY = ("sin", "tanh", "sigmoid", "exp", "log", "relu")


def random_graph(seed: int, n_inputs: int = 3, n_gates: int = 12) -> Graph:
    """A random DAG with fan-out; log only sees a sigmoid (positive), exp a tanh (bounded)."""
    rng = np.random.default_rng(seed)
    nodes: list[Node] = [variable(f"x{i}") for i in range(n_inputs)]
    for _ in range(n_gates):
        if rng.random() < 0.5:
            a, b = (nodes[int(i)] for i in rng.integers(0, len(nodes), size=2))
            nodes.append(apply(str(rng.choice(_BINARY)), a, b))
        else:
            op = str(rng.choice(_UNARY))
            parent = nodes[int(rng.integers(0, len(nodes)))]
            if op == "log":
                parent = sigmoid(parent)
            elif op == "exp":
                parent = tanh(parent)
            nodes.append(apply(op, parent))
    # Sum the unused nodes into the output so every gate matters.
    used = {id(p) for n in nodes for p in n.parents}
    out = nodes[-1]
    for n in nodes[:-1]:
        if id(n) not in used:
            out = out + n
    return Graph(out)
