"""Seeded test cases: the inputs the harness sees, the calls it makes, and the
reference answers it never sees.

Visible cases derive from a public seed, hidden ones from a secret the grading
side keeps (`DLGRADER_HIDDEN_SEED`), so a student's local run sees other inputs.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from grader.specs import ArraySpec, Assignment, Init, Kind, Problem
from reference_impl.gradcheck import kink_free_randn, tie_free_pool_input
from submissions_schema import Visibility

REFERENCE_VERSION = "1"
EPS = 1e-6  # the directional check's step


def hidden_seed() -> int:
    value = os.environ.get("DLGRADER_HIDDEN_SEED")
    return int(value) if value else secrets.randbits(31)


def case_seed(assignment: Assignment, problem: Problem, index: int, base: int) -> int:
    key = f"{assignment.name}/{assignment.version}/{problem.name}/{index}/{base}"
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "little")


def make_array(spec: ArraySpec, rng: np.random.Generator) -> np.ndarray:
    shape = tuple(spec.shape)
    if spec.init == Init.labels:
        return rng.integers(0, spec.classes or 2, size=shape)
    if spec.init == Init.kink_free:
        return kink_free_randn(rng, shape) * spec.scale
    if spec.init == Init.tie_free:
        return tie_free_pool_input(rng, shape)
    if spec.init == Init.positive:
        return (np.abs(rng.standard_normal(shape)) + 0.5) * spec.scale
    return rng.standard_normal(shape) * spec.scale


def reference_fn(path: str) -> Callable[..., Any]:
    module, name = path.rsplit(".", 1)
    fn: Callable[..., Any] = getattr(importlib.import_module(f"reference_impl.{module}"), name)
    return fn


@dataclass
class Case:
    """One case of one problem: its inputs, the calls, and the expected arrays."""

    problem: Problem
    index: int
    visibility: Visibility
    seed: int
    inputs: dict[str, np.ndarray] = field(
        default_factory=dict
    )  # name -> array (goes to the sandbox)
    calls: list[dict[str, Any]] = field(default_factory=list)
    expected: dict[str, np.ndarray] = field(default_factory=dict)  # call output key -> reference
    directions: dict[str, np.ndarray] = field(default_factory=dict)  # trusted only

    @property
    def tag(self) -> str:
        return f"{self.problem.name}.{self.index}"

    @property
    def label(self) -> str:
        return f"#{self.index + 1}" + (" (hidden)" if self.visibility != Visibility.visible else "")


def _arg(name: str) -> dict[str, str]:
    return {"array": name}


def build_case(problem: Problem, index: int, visibility: Visibility, seed: int) -> Case:
    rng = np.random.default_rng(seed)
    case = Case(problem, index, visibility, seed)
    t = case.tag
    arrays = {name: make_array(spec, rng) for name, spec in problem.inputs.items()}
    diff = [n for n, s in problem.inputs.items() if s.differentiable]
    for name, a in arrays.items():
        case.inputs[f"{t}.{name}"] = a
    params = [{"value": p} for p in problem.params]
    forward = reference_fn(problem.reference)
    timeout = problem.time_limit_s

    if problem.kind == Kind.update:
        w = arrays["w"]
        config: dict[str, Any] | None = copy.deepcopy(problem.params[0]) if problem.params else None
        for step in range(problem.steps):
            dw = rng.standard_normal(w.shape)
            case.inputs[f"{t}.w{step}"], case.inputs[f"{t}.dw{step}"] = w, dw
            cfg = params[0] if step == 0 and params else {"kept": f"{t}.cfg"}
            case.calls.append(
                {
                    "id": f"{t}.step{step}",
                    "function": problem.forward,
                    "args": [_arg(f"{t}.w{step}"), _arg(f"{t}.dw{step}"), cfg],
                    "unpack": 2,
                    "keep": f"{t}.cfg",
                    "keep_index": 1,
                    "record": [0],
                    "timeout_s": timeout,
                }
            )
            w, config = forward(w, dw, config)
            case.expected[f"{t}.step{step}.0"] = w
        return case

    # Directions for the self-consistency check, never sent: only x ± εu are.
    for name in diff:
        u = rng.standard_normal(arrays[name].shape)
        case.directions[name] = u
        case.inputs[f"{t}.{name}+"] = arrays[name] + EPS * u
        case.inputs[f"{t}.{name}-"] = arrays[name] - EPS * u

    def inputs_for(sign: str) -> list[dict[str, Any]]:
        return [_arg(f"{t}.{n}{sign if n in diff else ''}") for n in problem.inputs]

    ref_params = copy.deepcopy(problem.params)
    ref_out = forward(*[a.copy() for a in arrays.values()], *ref_params)
    if problem.kind == Kind.loss:
        loss, dx = ref_out
        case.expected[f"{t}.f.0"], case.expected[f"{t}.f.1"] = np.array(loss), dx
        case.calls.append(
            {
                "id": f"{t}.f",
                "function": problem.forward,
                "args": inputs_for(""),
                "unpack": 2,
                "record": [0, 1],
                "timeout_s": timeout,
            }
        )
    else:
        out, cache = ref_out
        case.expected[f"{t}.f.0"] = out
        record_dict = {}
        for key, (arg_index, entry) in problem.record_params.items():
            case.expected[f"{t}.f.{key}"] = np.asarray(ref_params[arg_index - len(arrays)][entry])
            record_dict[key] = [arg_index, entry]
        case.calls.append(
            {
                "id": f"{t}.f",
                "function": problem.forward,
                "args": [*inputs_for(""), *params],
                "unpack": 2,
                "keep": f"{t}.cache",
                "keep_index": 1,
                "record": [0],
                "record_dict": record_dict,
                "timeout_s": timeout,
            }
        )
        dout = rng.standard_normal(np.shape(out))
        case.inputs[f"{t}.dout"] = dout
        grads = reference_fn(problem.reference_backward or "")(dout, cache)
        grads = grads if isinstance(grads, tuple) else (grads,)
        for i, g in enumerate(grads):
            case.expected[f"{t}.b.{i}"] = g
        case.calls.append(
            {
                "id": f"{t}.b",
                "function": problem.backward,
                "args": [_arg(f"{t}.dout"), {"kept": f"{t}.cache"}],
                **({"unpack": len(grads)} if len(grads) > 1 else {}),
                "record": list(range(len(grads))),
                "timeout_s": timeout,
            }
        )
    for sign in "+-":
        case.calls.append(
            {
                "id": f"{t}.f{sign}",
                "function": problem.forward,
                "args": [*inputs_for(sign), *params],
                "unpack": 2,
                "record": [0],
                "timeout_s": timeout,
            }
        )
    return case


def build_cases(
    assignment: Assignment, public_seed: int = 0, secret_seed: int | None = None
) -> list[Case]:
    secret = hidden_seed() if secret_seed is None else secret_seed
    cases = []
    for problem in assignment.problems:
        for i in range(problem.cases + problem.hidden_cases):
            hidden = i >= problem.cases
            base = secret if hidden else public_seed
            visibility = problem.hidden_visibility if hidden else Visibility.visible
            cases.append(
                build_case(problem, i, visibility, case_seed(assignment, problem, i, base))
            )
    return cases


def write_job(cases: list[Case], module: str, inputs_dir: Path, manifest: Path) -> None:
    for case in cases:
        for name, array in case.inputs.items():
            np.save(inputs_dir / f"{name}.npy", array, allow_pickle=False)
    calls = [c for case in cases for c in case.calls]
    manifest.write_text(json.dumps({"module": module, "calls": calls}))
