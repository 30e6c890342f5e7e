"""Assignment specs: declarative, versioned, validated.

An assignment is an `assignment.yaml` in a course folder (grader/grading/course.py);
each problem names the student functions, the reference that defines truth (a
reference_impl function, or else the course's staff solution), how cases are
generated, what is compared, tolerances, points and visibility.
"""

from __future__ import annotations

import difflib
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from submissions_schema import SubmissionPolicy, Visibility
from submissions_schema.environment import Environment


class Init(StrEnum):
    randn = "randn"  # standard normal
    kink_free = "kink_free"  # normal, kept 1e-3 away from 0 (ReLU kinks)
    tie_free = "tie_free"  # distinct values, no pooling ties
    positive = "positive"  # |normal| + 0.5
    labels = "labels"  # integers in [0, classes)


class ArraySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shape: list[int] = Field(description="[] for a scalar")
    init: Init = Init.randn
    scale: float = 1.0
    offset: float = Field(0.0, description="added after drawing: scores 1000 up overflow exp")
    classes: int | None = None  # for labels
    differentiable: bool = True
    parameter: bool = False  # torch_module problems: copied into the student's module


class CaseVariant(BaseModel):
    """One row of a problem's case matrix: other shapes and/or other parameters, so the
    cases reach what one shape never does (pad 0, overlapping or non-square windows,
    height and width told apart, a batch of one). Case i takes row i mod the rows, and
    its label names the case in place of the problem's variant."""

    model_config = ConfigDict(extra="forbid")

    label: str = Field(description="told apart in test names: 'pad 0, 5x7'")
    shapes: dict[str, list[int]] = Field(default_factory=dict, description="input -> shape")
    offsets: dict[str, float] = Field(
        default_factory=dict, description="input -> offset (a softmax's shift invariance)"
    )
    params: list[Any] | None = Field(None, description="replaces the problem's params")


class Kind(StrEnum):
    layer = "layer"  # forward(*arrays, *params) -> (out, cache); backward(dout, cache) -> grads
    loss = "loss"  # f(x, y) -> (loss, dx)
    update = "update"  # (w, dw, config) -> (next_w, config), several steps
    gate = "gate"  # a class: forward(*inputs) keeps state, backward(dout) -> grad(s)
    graph = "graph"  # f(graph, values, ...) on a computational graph given as JSON
    function = "function"  # f(*arrays, *params) -> array(s)
    torch_module = "torch_module"  # a student's nn.Module against torch's own layer


class GraphFunction(StrEnum):
    """What a graph problem's student function computes."""

    topological_order = "topological_order"  # (graph) -> node names, parents first
    forward_pass = "forward_pass"  # (graph, values) -> output value
    backward_pass = "backward_pass"  # (graph, values, dout) -> {input name: gradient}
    forward_mode = "forward_mode"  # (graph, values, tangents) -> (value, J·tangents)


class Problem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    kind: Kind
    forward: str = Field(description="the student function or class (forward, loss, update rule)")
    backward: str | None = None
    reference: str | None = Field(
        None,
        description="reference_impl function (module.name) or gate name; none: the course's "
        "staff solution (solution/) is the truth, run in the sandbox as students are",
    )
    reference_backward: str | None = None
    inputs: dict[str, ArraySpec] = Field(default_factory=dict)
    params: list[Any] = Field(
        default_factory=list, description="literal arguments after the arrays"
    )
    record_params: dict[str, list[Any]] = Field(
        default_factory=dict,
        description="dict entries to compare after the forward: name -> [arg, key]",
    )
    variant: str | None = Field(None, description="told apart in test names: 'stride 2'")
    matrix: list[CaseVariant] = Field(
        default_factory=list, description="the case matrix: case i uses row i mod len"
    )
    module: str | None = Field(
        None,
        description="the student module that defines it (optim for optim.py), looked up "
        "there first, then in the assignment's module; default: the assignment's",
    )
    accept: list[str] = Field(
        default_factory=list,
        description="other conventions (grader/grading/conventions.py) that earn the points "
        "too; a match with one not listed is named in the message and fails",
    )
    preserve: list[str] = Field(
        default_factory=list,
        description="inputs the student's function must leave unmodified (the course's "
        "contract); any other may be changed in place: every call gets its own copies",
    )
    doc: str = Field("", description="what the student implements (the forward, loss, ...)")
    backward_doc: str = Field("", description="what the student's backward returns")
    graph: Literal["sin_plus_product", "lecture_max_example", "random"] | None = None
    graph_function: GraphFunction | None = None
    graph_input: ArraySpec | None = Field(None, description="how each graph input is drawn")
    outputs: int = Field(
        1,
        ge=1,
        description="how many arrays a function returns, or a layer's forward before its "
        "cache (an LSTM step: next_h, next_c); a layer's backward then takes one dout each",
    )
    points_forward: float = 1.0
    points_backward: float = 0.0
    cases: int = Field(2, ge=1)
    hidden_cases: int = Field(0, ge=0)
    hidden_visibility: Visibility = Visibility.hidden
    steps: int = 3  # update rules
    tolerance: float = 1e-7
    directional_tolerance: float = 1e-6
    time_limit_s: float = 10.0

    @model_validator(mode="after")
    def _consistent(self) -> Problem:
        if self.kind == Kind.layer and not self.backward:
            raise ValueError(f"layer problem {self.name!r} needs a backward")
        if self.kind not in (Kind.layer, Kind.gate, Kind.torch_module) and self.points_backward:
            raise ValueError(f"only layer and gate problems have backward points ({self.name!r})")
        if self.kind == Kind.graph and not (
            self.graph and self.graph_function and self.graph_input
        ):
            raise ValueError(
                f"graph problem {self.name!r} needs graph, graph_function, graph_input"
            )
        if self.reference is None and self.kind in (Kind.graph, Kind.torch_module):
            raise ValueError(f"{self.kind.value} problem {self.name!r} needs a reference")
        if self.reference and self.kind == Kind.layer and not self.reference_backward:
            raise ValueError(f"layer problem {self.name!r} names a reference but no backward's")
        if self.kind != Kind.graph and not self.inputs:
            raise ValueError(f"problem {self.name!r} needs inputs")
        from grader.grading.conventions import NAMES

        strange = set(self.accept) - set(NAMES)
        if strange:
            raise ValueError(f"problem {self.name!r}: no convention {', '.join(sorted(strange))}")
        unknown = {n for row in self.matrix for n in (*row.shapes, *row.offsets)}
        unknown |= set(self.preserve)
        unknown -= set(self.inputs)
        if unknown:
            raise ValueError(f"problem {self.name!r} names no input {', '.join(sorted(unknown))}")
        return self

    def for_case(self, index: int) -> Problem:
        """The problem as case `index` poses it: its matrix row's shapes and params."""
        if not self.matrix:
            return self
        row = self.matrix[index % len(self.matrix)]
        inputs = {
            name: spec.model_copy(
                update={
                    "shape": row.shapes.get(name, spec.shape),
                    "offset": row.offsets.get(name, spec.offset),
                }
            )
            for name, spec in self.inputs.items()
        }
        params = self.params if row.params is None else row.params
        return self.model_copy(update={"inputs": inputs, "params": params, "variant": row.label})

    @property
    def backward_name(self) -> str | None:
        if self.kind in (Kind.gate, Kind.torch_module):
            return f"{self.forward}.backward"
        return self.backward

    @property
    def forward_name(self) -> str:
        if self.kind in (Kind.gate, Kind.torch_module):
            return f"{self.forward}.forward"
        return self.forward


class AssignmentFiles(BaseModel):
    """Where a course folder keeps an assignment's files (not part of the spec)."""

    folder: Path

    @property
    def solution_dir(self) -> Path:
        return self.folder / "solution"

    @property
    def starter_dir(self) -> Path:
        return self.folder / "starter"

    @property
    def support_dir(self) -> Path:
        return self.folder / "support"


class Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    version: str
    title: str
    module: str = Field(description="the student's module, e.g. 'layers' for layers.py")
    description: str = ""
    time_limit_s: float = 120.0
    memory_mb: int = 2048
    limit_address_space: bool = Field(True, description="false for assignments that use CUDA")
    packages: list[str] = Field(
        default_factory=lambda: ["numpy"], description="what the harness imports in the sandbox"
    )
    policy: SubmissionPolicy = Field(default_factory=SubmissionPolicy)
    gradescope_leaderboard: bool = Field(
        False,
        description="add Gradescope's `leaderboard` array (score, worst error) to results.json",
    )
    problems: list[Problem]
    solution_sha256: str | None = Field(
        None, description="the staff solution's and support files' content hash (set on load)"
    )
    environment: Environment | None = Field(
        None, description="the course's runtime (environment.yaml); none: the host's NumPy"
    )
    files: AssignmentFiles | None = Field(None, exclude=True)

    @property
    def max_score(self) -> float:
        return sum(p.points_forward + p.points_backward for p in self.problems)

    @property
    def other_modules(self) -> tuple[str, ...]:
        """The student modules besides `module` that problems name (optim, ...)."""
        return tuple(sorted({p.module for p in self.problems if p.module} - {self.module}))

    @property
    def function_names(self) -> tuple[str, ...]:
        """What the student defines: told the right module apart from look-alikes."""
        names = {p.forward.split(".")[0] for p in self.problems}
        names |= {p.backward for p in self.problems if p.backward}
        return tuple(sorted(names))


class SpecError(ValueError):
    """A spec file that does not validate; the message names the file and the field."""


def describe_errors(exc: ValidationError, data: Any) -> str:
    """pydantic's errors in one line, problems named rather than numbered:
    "problems[loss] (3): points: an unknown key; ..."."""
    parts = []
    for error in exc.errors():
        loc = list(error["loc"])
        where: list[str] = []
        node = data
        for key in loc:
            if isinstance(key, int) and isinstance(node, list) and key < len(node):
                named = node[key].get("name") if isinstance(node[key], dict) else None
                where[-1] = f"{where[-1]}[{named or key}]" if where else str(key)
                node = node[key]
                continue
            node = node.get(key) if isinstance(node, dict) else None
            where.append(str(key))
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            keys = {
                k for m in (Assignment, Problem, ArraySpec, CaseVariant) for k in m.model_fields
            }
            close = difflib.get_close_matches(str(loc[-1]), sorted(keys), n=1, cutoff=0.6)
            message = f"not a key here; did you mean {close[0]}?" if close else "not a key here"
        parts.append(f"{'.'.join(where) or 'the file'}: {message}")
    return "; ".join(parts)


def load_assignment_file(path: Path) -> Assignment:
    try:
        # libyaml's safe loader when present: the shipped specs load 7x faster.
        data = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        return Assignment.model_validate(data)
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    except ValidationError as exc:
        raise SpecError(f"{path}: {describe_errors(exc, data)}") from None
