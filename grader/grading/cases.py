"""Seeded test cases: the inputs the harness sees, the calls it makes, and the
reference answers it never sees.

Visible cases derive from a public seed, hidden ones from a secret the grading
side keeps (`DLGRADER_HIDDEN_SEED`), so a student's local run sees other inputs.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from grader.grading.conventions import alternatives
from grader.grading.harness_io import write_harness_files
from grader.grading.mistakes import ZOO_FILE, load_zoo, plant
from grader.grading.solution_truth import run_solution, run_variants
from grader.grading.specs import ArraySpec, Assignment, GraphFunction, Init, Problem
from grader.sandbox import Sandbox, select_sandbox
from reference_impl import graph as graph_module
from reference_impl.gates import GATES
from reference_impl.gradcheck import kink_free_randn, tie_free_pool_input
from reference_impl.graph import graph_to_json, random_graph
from submissions_schema import Visibility

REFERENCE_VERSION = "1"
EPS = 1e-6  # the directional check's step


def case_seed(assignment: Assignment, problem: Problem, index: int, base: int, hidden: bool) -> int:
    # Hidden and visible cases hash apart: a student's `--seed` equal to the hidden seed
    # must not reproduce the hidden cases' inputs as visible ones.
    kind = "hidden" if hidden else "visible"
    key = f"{kind}/{assignment.name}/{assignment.version}/{problem.name}/{index}/{base}"
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "little")


def make_array(spec: ArraySpec, rng: np.random.Generator) -> np.ndarray:
    """A fresh array (0-d for shape []) drawn as the spec says."""
    shape = tuple(spec.shape)
    if spec.init == Init.labels:
        return np.asarray(rng.integers(0, spec.classes or 2, size=shape))
    if spec.init == Init.kink_free:
        drawn = kink_free_randn(rng, shape) * spec.scale
    elif spec.init == Init.tie_free:
        drawn = tie_free_pool_input(rng, shape)
    elif spec.init == Init.positive:
        drawn = (np.abs(rng.standard_normal(shape)) + 0.5) * spec.scale
    else:
        drawn = rng.standard_normal(shape) * spec.scale
    return np.asarray(drawn + spec.offset, dtype=np.float64)


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
    # Other conventions' answers, trusted only: (name, description, output key -> array).
    alternatives: list[tuple[str, str, dict[str, np.ndarray]]] = field(default_factory=list)
    graph: dict[str, Any] | None = None  # graph problems: the JSON the student gets
    # The course's known mistakes, trusted only: (what to tell, output key -> its answer).
    mistakes: list[tuple[str, dict[str, np.ndarray]]] = field(default_factory=list)

    @property
    def tag(self) -> str:
        return f"{self.problem.name}.{self.index}"

    @property
    def label(self) -> str:
        variant = f"[{self.problem.variant}] " if self.problem.variant else ""
        hidden = " (hidden)" if self.visibility != Visibility.visible else ""
        return f"{variant}#{self.index + 1}{hidden}"


def dout_name(i: int) -> str:
    """The upstream gradient of a forward's output i: dout, dout1, dout2, ..."""
    return "dout" if i == 0 else f"dout{i}"


def _arg(name: str) -> dict[str, str]:
    return {"array": name}


class CaseBuilder:
    """Builds one case: draws its inputs, lists the harness's calls, computes the answers."""

    def __init__(
        self,
        problem: Problem,
        index: int,
        visibility: Visibility,
        seed: int,
        probe: dict[str, np.ndarray] | None = None,
    ) -> None:
        self.p = problem
        # No reference: the staff solution is the truth. A first pass (probe None) lists
        # only the calls whose answers later inputs depend on (the forward, whose shape
        # dout takes; an update rule's chained steps); the solution's answers to the
        # whole case are filled in afterwards (_with_solution_answers).
        self.by_solution = problem.reference is None
        self.probe = probe
        self.rng = np.random.default_rng(seed)
        self.case = Case(problem, index, visibility, seed)
        self.t = self.case.tag
        self.arrays = {n: make_array(s, self.rng) for n, s in problem.inputs.items()}
        self.diff = [n for n, s in problem.inputs.items() if s.differentiable]
        for name, a in self.arrays.items():
            self.case.inputs[f"{self.t}.{name}"] = a

    def call(self, suffix: str, **fields: Any) -> None:
        home = {"module": self.p.module} if self.p.module else {}
        self.case.calls.append(
            {"id": f"{self.t}.{suffix}", "timeout_s": self.p.time_limit_s, **home, **fields}
        )

    def expect(self, key: str, value: Any) -> None:
        self.case.expected[f"{self.t}.{key}"] = np.asarray(value)

    def perturbed(self) -> None:
        """x ± εu for the self-consistency check; u itself stays on the trusted side."""
        for name in self.diff:
            u = self.rng.standard_normal(self.arrays[name].shape)
            self.case.directions[name] = u
            self.case.inputs[f"{self.t}.{name}+"] = self.arrays[name] + EPS * u
            self.case.inputs[f"{self.t}.{name}-"] = self.arrays[name] - EPS * u

    def args(self, sign: str = "") -> list[dict[str, Any]]:
        return [_arg(f"{self.t}.{n}{sign if n in self.diff else ''}") for n in self.p.inputs]

    def params(self) -> list[dict[str, Any]]:
        """The literal arguments as the harness gets them; lists inside a param dict
        (running_mean, ...) travel as arrays, as the homework's code expects."""
        out: list[dict[str, Any]] = []
        for i, param in enumerate(self.p.params):
            if not isinstance(param, dict):
                out.append({"value": param})
                continue
            entries: dict[str, Any] = {}
            for key, value in param.items():
                if isinstance(value, list):
                    name = f"{self.t}.param{i}.{key}"
                    self.case.inputs[name] = np.asarray(value, dtype=np.float64)
                    entries[key] = _arg(name)
                else:
                    entries[key] = {"value": value}
            out.append({"dict": entries})
        return out

    def reference_params(self) -> list[Any]:
        """The same arguments for the reference, lists made arrays."""
        return [
            {k: np.asarray(v, dtype=np.float64) if isinstance(v, list) else v for k, v in p.items()}
            if isinstance(p, dict)
            else copy.deepcopy(p)
            for p in self.p.params
        ]

    def build(self) -> Case:
        getattr(self, f"_{self.p.kind.value}")()
        if self.by_solution:
            return self.case
        prefix = f"{self.t}."
        arrays = {k[len(prefix) :]: v for k, v in self.case.inputs.items() if k.startswith(prefix)}
        for convention, outputs in alternatives(
            self.p.reference or "", arrays, self.reference_params()
        ):
            keyed = {prefix + key: np.asarray(value) for key, value in outputs.items()}
            self.case.alternatives.append((convention.name, convention.description, keyed))
        return self.case

    def _layer(self) -> None:
        """forward(*arrays, *params) -> (out, [out2, ...,] cache) and
        backward(dout, [dout2, ...,] cache) -> a gradient per differentiable input."""
        p, k = self.p, self.p.outputs
        record_dict = {key: [arg, entry] for key, (arg, entry) in p.record_params.items()}
        self.call(
            "f",
            function=p.forward,
            args=[*self.args(), *self.params()],
            unpack=k + 1,
            keep=f"{self.t}.cache",
            keep_index=k,
            record=list(range(k)),
            record_dict=record_dict,
        )
        if self.by_solution:
            if self.probe is None:
                return
            shapes = [self.probe[f"{self.t}.f.{i}"].shape for i in range(k)]
            grads_count = len(self.diff)  # the course's contract: a gradient per input
        else:
            ref_params = self.reference_params()
            *outs, cache = reference_fn(p.reference or "")(
                *[a.copy() for a in self.arrays.values()], *ref_params
            )
            for i, out in enumerate(outs):
                self.expect(f"f.{i}", out)
            for key, (arg_index, entry) in p.record_params.items():
                self.expect(f"f.{key}", ref_params[arg_index - len(self.arrays)][entry])
            shapes = [np.shape(out) for out in outs]
        if not p.points_backward:  # a forward-only variant (batchnorm in test mode, say)
            return
        self.perturbed()
        douts = [self.rng.standard_normal(shape) for shape in shapes]
        names = [dout_name(i) for i in range(k)]
        for name, dout in zip(names, douts, strict=True):
            self.case.inputs[f"{self.t}.{name}"] = dout
        if not self.by_solution:
            grads = reference_fn(p.reference_backward or "")(*douts, cache)
            grads = grads if isinstance(grads, tuple) else (grads,)
            for i, g in enumerate(grads):
                self.expect(f"b.{i}", g)
            grads_count = len(grads)
        self.call(
            "b",
            function=p.backward,
            args=[*[_arg(f"{self.t}.{n}") for n in names], {"kept": f"{self.t}.cache"}],
            **({"unpack": grads_count} if grads_count > 1 else {}),
            record=list(range(grads_count)),
        )
        for sign in "+-":
            self.call(
                f"f{sign}",
                function=p.forward,
                args=[*self.args(sign), *self.params()],
                unpack=k + 1,
                record=list(range(k)),
            )

    def _loss(self) -> None:
        p = self.p
        self.perturbed()
        if not self.by_solution:
            loss, dx = reference_fn(p.reference or "")(*[a.copy() for a in self.arrays.values()])
            self.expect("f.0", loss)
            self.expect("f.1", dx)
        self.call("f", function=p.forward, args=self.args(), unpack=2, record=[0, 1])
        for sign in "+-":
            self.call(f"f{sign}", function=p.forward, args=self.args(sign), unpack=2, record=[0])

    def _update(self) -> None:
        p = self.p
        w = self.arrays["w"]
        config: dict[str, Any] | None = copy.deepcopy(p.params[0]) if p.params else None
        chained = self.by_solution and self.probe is None
        for step in range(p.steps):
            dw = self.rng.standard_normal(w.shape)
            self.case.inputs[f"{self.t}.w{step}"], self.case.inputs[f"{self.t}.dw{step}"] = w, dw
            # The reference's w each step, so one wrong step does not fail every later one;
            # the config is the student's own, carried in the harness.
            cfg = self.params()[0] if step == 0 and p.params else {"kept": f"{self.t}.cfg"}
            w_arg = {"kept": f"{self.t}.w"} if chained and step else _arg(f"{self.t}.w{step}")
            self.call(
                f"step{step}",
                function=p.forward,
                args=[w_arg, _arg(f"{self.t}.dw{step}"), cfg],
                unpack=2,
                keep=f"{self.t}.cfg",
                keep_index=1,
                record=[0],
                **({"keep_also": [[f"{self.t}.w", 0]]} if chained else {}),
            )
            if self.by_solution:
                if self.probe is not None:
                    w = self.probe[f"{self.t}.step{step}.0"]
                continue
            w, config = reference_fn(p.reference or "")(w, dw, config)
            self.expect(f"step{step}.0", w)

    def _gate(self) -> None:
        p = self.p
        self.perturbed()
        if self.by_solution:
            if self.probe is None:
                self.call("new", **{"class": p.forward}, args=[], keep=f"{self.t}.gate")
                self.call(
                    "f", object=f"{self.t}.gate", method="forward", args=self.args(), record=[0]
                )
                return
            dout = self.rng.standard_normal(self.probe[f"{self.t}.f.0"].shape)
            grads_count = len(self.diff)
        else:
            gate = GATES[p.reference or ""]()
            out = gate.forward(*[a.copy() for a in self.arrays.values()])
            self.expect("f.0", out)
            dout = self.rng.standard_normal(np.shape(out))
            grads = gate.backward(dout)
            grads = grads if isinstance(grads, tuple) else (grads,)
            for i, g in enumerate(grads):
                self.expect(f"b.{i}", g)
            grads_count = len(grads)
        self.case.inputs[f"{self.t}.dout"] = dout
        for sign in ("", "+", "-"):
            self.call(f"new{sign}", **{"class": p.forward}, args=[], keep=f"{self.t}.gate{sign}")
            self.call(
                f"f{sign}",
                object=f"{self.t}.gate{sign}",
                method="forward",
                args=self.args(sign),
                record=[0],
            )
            if sign == "":
                self.call(
                    "b",
                    object=f"{self.t}.gate",
                    method="backward",
                    args=[_arg(f"{self.t}.dout")],
                    record=list(range(grads_count)),
                    **({"unpack": grads_count} if grads_count > 1 else {}),
                )

    def _graph(self) -> None:
        p = self.p
        if p.graph == "random":
            graph = random_graph(self.case.seed % 10_000)
        else:  # one of the lecture's examples
            graph = getattr(graph_module, p.graph or "")()
        spec = p.graph_input
        assert spec is not None
        values = {n: make_array(spec, self.rng) for n in graph.inputs}
        tangents = {n: self.rng.standard_normal(values[n].shape) for n in graph.inputs}
        self.case.graph = graph_to_json(graph, self.case.seed)

        def as_args(named: dict[str, np.ndarray], kind: str) -> dict[str, Any]:
            for n, a in named.items():
                self.case.inputs[f"{self.t}.{kind}.{n}"] = a
            return {"dict": {n: _arg(f"{self.t}.{kind}.{n}") for n in named}}

        g = {"value": self.case.graph}
        out = graph.forward(values)
        fn = p.graph_function
        if fn == GraphFunction.topological_order:
            self.call("f", function=p.forward, args=[g], record=[0], lists=True)
        elif fn == GraphFunction.forward_pass:
            self.expect("f.0", out)
            self.call("f", function=p.forward, args=[g, as_args(values, "v")], record=[0])
        elif fn == GraphFunction.backward_pass:
            dout = self.rng.standard_normal(np.shape(out))
            self.case.inputs[f"{self.t}.dout"] = dout
            for n, grad in graph.backward(dout).items():
                self.expect(f"f.{n}", grad)
            self.call(
                "f",
                function=p.forward,
                args=[g, as_args(values, "v"), _arg(f"{self.t}.dout")],
                record_keys=list(graph.inputs),
            )
        else:
            value, tangent = graph.jvp(values, tangents)
            self.expect("f.0", value)
            self.expect("f.1", tangent)
            self.call(
                "f",
                function=p.forward,
                args=[g, as_args(values, "v"), as_args(tangents, "t")],
                unpack=2,
                record=[0, 1],
            )

    def _function(self) -> None:
        p = self.p
        if not self.by_solution:
            result = reference_fn(p.reference or "")(
                *[a.copy() for a in self.arrays.values()], *self.reference_params()
            )
            results = result if p.outputs > 1 else (result,)
            for i, r in enumerate(results):
                self.expect(f"f.{i}", r)
        self.call(
            "f",
            function=p.forward,
            args=[*self.args(), *self.params()],
            record=list(range(p.outputs)),
            **({"unpack": p.outputs} if p.outputs > 1 else {}),
        )

    def _torch_module(self) -> None:
        """The student's nn.Module, given torch's parameters, against torch's own layer."""
        from reference_impl.torch_ref import TorchReference

        p = self.p
        ref = TorchReference("cpu")
        init = dict(p.params[0]) if p.params else {}
        names = [n for n, spec in p.inputs.items() if spec.parameter]
        x = self.arrays["x"]
        forward = torch_layer(p.reference or "", init, ref)
        out, tape = ref.run(forward, x, *[self.arrays[n] for n in names])
        dout = self.rng.standard_normal(out.shape)
        self.case.inputs[f"{self.t}.dout"] = dout
        grads = ref.grads(dout, tape)
        self.expect("f.0", out)
        self.expect("f.dx", grads[0])
        for name, grad in zip(names, grads[1:], strict=True):
            self.expect(f"f.d{name}", grad)
        self.call(
            "f",
            torch_module=p.forward,
            init=init,
            parameters={n: f"{self.t}.{n}" for n in names},
            input=f"{self.t}.x",
            dout=f"{self.t}.dout",
            device="cuda",
        )


def torch_layer(name: str, init: dict[str, Any], ref: Any) -> Callable[..., Any]:
    """torch's functional form of the layer a torch_module problem names."""
    F = ref.F
    if name == "conv2d":
        return lambda x, w, b: F.conv2d(
            x, w, b, stride=init.get("stride", 1), padding=init.get("padding", 0)
        )
    if name == "max_pool2d":
        return lambda x: F.max_pool2d(x, init["kernel_size"], init.get("stride"))
    if name == "linear":
        return lambda x, w, b: F.linear(x, w, b)
    raise ValueError(f"no torch layer {name!r}")


def build_case(
    problem: Problem,
    index: int,
    visibility: Visibility,
    seed: int,
    probe: dict[str, np.ndarray] | None = None,
) -> Case:
    return CaseBuilder(problem, index, visibility, seed, probe).build()


def build_cases(
    assignment: Assignment,
    public_seed: int = 0,
    secret_seed: int | None = None,
    box: Sandbox | None = None,
    mistakes: bool = True,
) -> list[Case]:
    """The assignment's cases; `secret_seed` is the grading side's secret, and without one
    (a student's machine) the hidden cases are a fresh draw each run. `box` runs a staff
    solution that is the truth (default: the configured sandbox); `mistakes` False skips
    running the course's known mistakes (their hints), for checks that judge pass/fail."""
    secret = secrets.randbits(31) if secret_seed is None else secret_seed
    return CASE_CACHE.get(assignment, public_seed, secret, box, mistakes)


def _posed(assignment: Assignment, public_seed: int, secret: int) -> list[tuple[Any, ...]]:
    """(problem as the case poses it, index, visibility, seed) for every case."""
    posed = []
    for problem in assignment.problems:
        for i in range(problem.cases + problem.hidden_cases):
            hidden = i >= problem.cases
            base = secret if hidden else public_seed
            visibility = problem.hidden_visibility if hidden else Visibility.visible
            seed = case_seed(assignment, problem, i, base, hidden)
            posed.append((problem.for_case(i), i, visibility, seed))
    return posed


def _with_solution_answers(
    assignment: Assignment, posed: list[tuple[Any, ...]], box: Sandbox | None, mistakes: bool
) -> list[Case]:
    """Cases whose truth is the staff solution: a probe run for what later inputs depend
    on, then the solution's answers to every call (the perturbed ones aside)."""
    if box is None:
        from grader.settings import get_settings

        box = select_sandbox(get_settings().sandbox)
    probes = [build_case(p, i, v, seed) for p, i, v, seed in posed]
    arrays = {k: v for c in probes for k, v in c.inputs.items()}
    probe = run_solution(assignment, arrays, [call for c in probes for call in c.calls], box)
    cases = [build_case(p, i, v, seed, probe) for p, i, v, seed in posed]
    arrays = {k: v for c in cases for k, v in c.inputs.items()}
    answers = run_solution(assignment, arrays, [call for c in cases for call in c.calls], box)
    told = _told_mistakes(assignment) if mistakes else {}
    calls = [call for c in cases for call in c.calls]
    variants = run_variants(
        assignment, arrays, calls, {n: src for n, (src, _) in told.items()}, box
    )
    answered = _by_call(answers)
    theirs = {name: _by_call(recorded) for name, recorded in variants.items()}
    for case in cases:
        case.expected = _keyed(case, answered)
        for name, (_, tell) in told.items():
            wrong = {
                k: v
                for k, v in _keyed(case, theirs.get(name, {})).items()
                if k in case.expected
                and (v.shape != case.expected[k].shape or not np.allclose(v, case.expected[k]))
            }
            if wrong:
                case.mistakes.append((tell, wrong))
    return cases


def _by_call(recorded: dict[str, np.ndarray]) -> dict[str, list[tuple[str, np.ndarray]]]:
    """A run's recorded outputs ("relu.0.f.0") grouped by call id ("relu.0.f")."""
    grouped: dict[str, list[tuple[str, np.ndarray]]] = {}
    for key, value in recorded.items():
        call_id, _, name = key.rpartition(".")
        grouped.setdefault(call_id, []).append((name, value))
    return grouped


def _keyed(case: Case, grouped: dict[str, list[tuple[str, np.ndarray]]]) -> dict[str, np.ndarray]:
    """A run's outputs by the case's expected keys, the perturbed calls (the
    self-check's) left out."""
    keyed = {}
    for call in case.calls:
        if call["id"].endswith(("+", "-")):
            continue
        for name, value in grouped.get(call["id"], []):
            keyed[f"{call['id']}.{name}"] = value
    return keyed


def _told_mistakes(assignment: Assignment) -> dict[str, tuple[str, str]]:
    """The course's known mistakes that carry a hint for students, planted in their
    bases: module name -> (source, what to tell)."""
    files = assignment.files
    if files is None or not (files.folder / ZOO_FILE).is_file():
        return {}
    main = files.solution_dir / f"{assignment.module}.py"
    told = {}
    for i, bug in enumerate(load_zoo(files.folder / ZOO_FILE)):
        if bug.tell:
            base = files.folder / bug.base if bug.base else main
            told[f"mistake_{i:03d}"] = (plant(base.read_text(), bug), bug.tell)
    return told


def _build_all(
    assignment: Assignment,
    public_seed: int,
    secret: int,
    box: Sandbox | None = None,
    mistakes: bool = True,
) -> list[Case]:
    posed = _posed(assignment, public_seed, secret)
    by_solution = [args for args in posed if args[0].reference is None]
    cases = [build_case(*args) for args in posed if args[0].reference is not None]
    if by_solution:
        cases += _with_solution_answers(assignment, by_solution, box, mistakes)
    for case in cases:  # shared between gradings from now on: read-only, owned copies
        stores = [
            case.inputs,
            case.expected,
            *(outputs for _, _, outputs in case.alternatives),
            *(outputs for _, outputs in case.mistakes),
        ]
        for store in stores:
            for name, array in store.items():
                store[name] = frozen = np.array(array)
                frozen.flags.writeable = False
    return cases


class CaseCache:
    """Cases and their reference answers, built once per (spec, seeds, reference version).

    The key hashes the whole spec, so an edited spec never reuses stale answers even
    when its version string was not bumped.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.hits = self.misses = 0
        self._entries: OrderedDict[tuple[str, ...], list[Case]] = OrderedDict()

    def resize(self, size: int) -> None:
        """How many (spec, seeds) stay; a grading service sets it from its Settings."""
        self.size = size
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def get(
        self,
        assignment: Assignment,
        public_seed: int,
        secret: int,
        box: Sandbox | None = None,
        mistakes: bool = True,
    ) -> list[Case]:
        spec = hashlib.sha256(assignment.model_dump_json().encode()).hexdigest()
        key = (
            assignment.name,
            assignment.version,
            spec,
            str(public_seed),
            str(secret),
            REFERENCE_VERSION,
            str(mistakes),
        )
        if key in self._entries:
            self.hits += 1
            self._entries.move_to_end(key)
            return self._entries[key]
        self.misses += 1
        cases = self._entries[key] = _build_all(assignment, public_seed, secret, box, mistakes)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return cases


CASE_CACHE = CaseCache(32)  # entry points that grade many resize it (Settings.case_cache_size)


@dataclass(frozen=True)
class JobAliases:
    """Opaque names for one job's cases: inside the sandbox a hidden case's calls, inputs
    and outputs are named by a random token (and the cases come in a random order), so
    nothing there tells a hidden case from a visible one. The trusted side maps back."""

    token_of: dict[str, str]  # case tag ("relu.2") -> token

    @staticmethod
    def draw(cases: list[Case]) -> JobAliases:
        return JobAliases({case.tag: secrets.token_hex(6) for case in cases})

    def outward(self, name: str) -> str:
        """A trusted name ("relu.2.b.0") as the sandbox knows it ("3fa9c1e07b2d.b.0")."""
        for tag, token in self.token_of.items():
            if name.startswith(tag + "."):
                return token + name[len(tag) :]
        return name

    def inward(self, name: str) -> str:
        token, dot, rest = name.partition(".")
        tag = self._tag_of.get(token)
        return f"{tag}{dot}{rest}" if tag is not None else name

    @cached_property
    def _tag_of(self) -> dict[str, str]:
        return {token: tag for tag, token in self.token_of.items()}

    def call(self, value: Any) -> Any:
        """A manifest call with every name in it made outward (literal values untouched)."""
        if isinstance(value, str):
            return self.outward(value)
        if isinstance(value, list):
            return [self.call(v) for v in value]
        if isinstance(value, dict):
            return {k: v if k == "value" else self.call(v) for k, v in value.items()}
        return value


def write_job(
    cases: list[Case], assignment: Assignment, inputs_dir: Path, manifest: Path, aliases: JobAliases
) -> None:
    """The harness's inputs and manifest: the cases in a random order, each case's calls
    in its own order."""
    arrays = {aliases.outward(name): array for case in cases for name, array in case.inputs.items()}
    order = list(cases)
    secrets.SystemRandom().shuffle(order)
    calls = [aliases.call(c) for case in order for c in case.calls]
    write_harness_files(arrays, calls, assignment, inputs_dir, manifest)
