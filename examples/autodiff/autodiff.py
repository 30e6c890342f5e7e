"""An example student solution to the autodiff assignment."""

import math

import numpy as np


class AddGate:
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]


class MultiplyGate:
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        return [self.y * dz, self.x * dz]


class MaxGate:
    def forward(self, x, y):
        self.x, self.y = x, y
        return np.maximum(x, y)

    def backward(self, dz):
        tie = 0.5 * (self.x == self.y)
        return [dz * ((self.x > self.y) + tie), dz * ((self.y > self.x) + tie)]


class SigmoidGate:
    def forward(self, x):
        self.out = 1.0 / (1.0 + np.exp(-x))
        return self.out

    def backward(self, dz):
        return dz * self.out * (1.0 - self.out)


class ReLUGate:
    def forward(self, x):
        self.x = x
        return np.maximum(x, 0.0)

    def backward(self, dz):
        return dz * (self.x > 0)


# Each op: value, and the local derivative with respect to each argument.
OPS = {
    "add": (lambda a, b: a + b, lambda a, b, z: (1.0, 1.0)),
    "mul": (lambda a, b: a * b, lambda a, b, z: (b, a)),
    "max": (np.maximum, lambda a, b, z: ((a > b) + 0.5 * (a == b), (b > a) + 0.5 * (a == b))),
    "sigmoid": (lambda a: 1.0 / (1.0 + np.exp(-a)), lambda a, z: (z * (1 - z),)),
    "relu": (lambda a: np.maximum(a, 0.0), lambda a, z: ((a > 0) * 1.0,)),
    "exp": (np.exp, lambda a, z: (z,)),
    "log": (np.log, lambda a, z: (1.0 / a,)),
    "sin": (np.sin, lambda a, z: (np.cos(a),)),
    "tanh": (np.tanh, lambda a, z: (1 - z**2,)),
}


def topological_order(graph):
    nodes = {n["name"]: n for n in graph["nodes"]}
    done = set(graph["inputs"]) | set(graph["constants"])
    order = []

    def visit(name):
        if name in done:
            return
        for arg in nodes[name]["args"]:
            visit(arg)
        done.add(name)
        order.append(name)

    for name in nodes:
        visit(name)
    return order


def _evaluate(graph, values):
    nodes = {n["name"]: n for n in graph["nodes"]}
    val = dict(values)
    val.update(graph["constants"])
    for name in topological_order(graph):
        node = nodes[name]
        val[name] = OPS[node["op"]][0](*[val[a] for a in node["args"]])
    return val, nodes


def forward_pass(graph, values):
    val, _ = _evaluate(graph, values)
    return val[graph["output"]]


def backward_pass(graph, values, dout):
    val, nodes = _evaluate(graph, values)
    grad = {graph["output"]: dout}
    for name in reversed(topological_order(graph)):
        if name not in grad:
            continue
        node = nodes[name]
        args = [val[a] for a in node["args"]]
        for arg, local in zip(node["args"], OPS[node["op"]][1](*args, val[name])):
            grad[arg] = grad.get(arg, 0.0) + grad[name] * local
    return {name: grad.get(name, 0.0 * np.asarray(values[name])) for name in graph["inputs"]}


def forward_mode(graph, values, tangents):
    val, nodes = _evaluate(graph, values)
    dot = {name: tangents[name] for name in graph["inputs"]}
    for name in graph["constants"]:
        dot[name] = 0.0
    for name in topological_order(graph):
        node = nodes[name]
        args = [val[a] for a in node["args"]]
        locals_ = OPS[node["op"]][1](*args, val[name])
        dot[name] = sum(d * dot[a] for a, d in zip(node["args"], locals_))
    return val[graph["output"]], dot[graph["output"]]


def relu_jacobian(x):
    return np.diag((x.ravel() > 0).astype(float))


def fc_input_jacobian(w, batch=None):
    if batch is None:
        return w.T.copy()
    return np.kron(np.eye(batch), w.T)


def fc_weight_jacobian(x, num_outputs):
    x = np.atleast_2d(x)
    N, D = x.shape
    J = np.zeros((N * num_outputs, D * num_outputs))
    for n in range(N):
        for j in range(num_outputs):
            for i in range(D):
                J[n * num_outputs + j, i * num_outputs + j] = x[n, i]
    return J


_ = math  # the lecture's scalar examples work with floats as well as arrays
