"""What a student must implement: the list for `assignment show`, the stubs for `init`.

Signatures come from the reference or the staff solution (the API is the course's);
descriptions come from the spec. No reference code ever reaches a starter file; a
course folder's own starter/ is handed out as it is.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import dataclass

from grader.grading.cases import reference_fn
from grader.grading.specs import Assignment, GraphFunction, Kind, Problem, SpecError

GRAPH_SIGNATURES = {
    GraphFunction.topological_order: "graph",
    GraphFunction.forward_pass: "graph, values",
    GraphFunction.backward_pass: "graph, values, dout",
    GraphFunction.forward_mode: "graph, values, tangents",
}
UNARY_GATES = {"sigmoid", "relu", "exp", "log", "sin", "tanh"}


@dataclass(frozen=True)
class StudentFunction:
    name: str
    signature: str  # "affine_forward(x, w, b)" or "class MaxGate"
    doc: str
    points: float
    cases: int
    hidden_cases: int


def _signature(assignment: Assignment, path: str | None, name: str) -> str:
    if path:
        params = list(inspect.signature(reference_fn(path)).parameters)
        return f"{name}({', '.join(params)})"
    return f"{name}({', '.join(_solution_parameters(assignment, name))})"


def _solution_parameters(assignment: Assignment, name: str) -> list[str]:
    """The parameters of `name` as the staff solution defines it, read from its source
    (never imported here)."""
    files = assignment.files
    for module in (assignment.module, *assignment.other_modules):
        path = files.solution_dir / f"{module}.py" if files else None
        if path is None or not path.is_file():
            continue
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name == name:
                a = node.args
                return [x.arg for x in [*a.posonlyargs, *a.args]] + (
                    [f"*{a.vararg.arg}"] if a.vararg else []
                )
    raise SpecError(f"{assignment.name}: the staff solution defines no {name}")


def student_functions(assignment: Assignment) -> list[StudentFunction]:
    """One entry per function or class the student writes, first description wins."""
    found: dict[str, StudentFunction] = {}

    def add(name: str, signature: str, doc: str, points: float, p: Problem) -> None:
        if name in found:
            old = found[name]
            found[name] = StudentFunction(
                name,
                old.signature,
                old.doc or doc,
                old.points + points,
                old.cases + p.cases,
                old.hidden_cases + p.hidden_cases,
            )
        else:
            found[name] = StudentFunction(name, signature, doc, points, p.cases, p.hidden_cases)

    for p in assignment.problems:
        if p.kind == Kind.gate:
            args = "x" if p.reference in UNARY_GATES else "x, y"
            add(
                p.forward,
                f"class {p.forward}: forward(self, {args}), backward(self, dz)",
                p.doc,
                p.points_forward + p.points_backward,
                p,
            )
        elif p.kind == Kind.torch_module:
            args = ", ".join(p.params[0]) if p.params else ""
            add(
                p.forward,
                f"class {p.forward}(nn.Module): __init__(self, {args}), forward(self, x)",
                p.doc,
                p.points_forward + p.points_backward,
                p,
            )
        elif p.kind == Kind.graph:
            assert p.graph_function is not None
            add(
                p.forward,
                f"{p.forward}({GRAPH_SIGNATURES[p.graph_function]})",
                p.doc,
                p.points_forward,
                p,
            )
        else:
            add(
                p.forward,
                _signature(assignment, p.reference, p.forward),
                p.doc,
                p.points_forward,
                p,
            )
            if p.backward and p.points_backward:
                add(
                    p.backward,
                    _signature(assignment, p.reference_backward, p.backward),
                    p.backward_doc,
                    p.points_backward,
                    p,
                )
    return list(found.values())


def _docstring(doc: str, indent: str) -> str:
    body = textwrap.fill(doc or "TODO: see the assignment.", width=88 - len(indent))
    lines = body.splitlines()
    return (
        f'{indent}"""'
        + f"\n{indent}".join(lines)
        + ("\n" + indent if len(lines) > 1 else "")
        + '"""\n'
    )


def starter_file(assignment: Assignment) -> str:
    out = [
        f'"""{assignment.title} — your {assignment.module}.py for dlgrader."""\n\n',
        "import numpy as np\n",
    ]
    if "torch" in assignment.packages:
        out.append("import torch\nfrom torch import nn\n")
    for fn in student_functions(assignment):
        if "(nn.Module)" in fn.signature:
            init = fn.signature.split("__init__(self, ")[1].split(")")[0]
            out.append(
                f"\n\nclass {fn.name}(nn.Module):\n{_docstring(fn.doc, '    ')}\n"
                f"    def __init__(self, {init}):\n"
                "        super().__init__()\n"
                "        raise NotImplementedError\n\n"
                "    def forward(self, x):\n"
                "        raise NotImplementedError\n"
            )
        elif fn.signature.startswith("class "):
            args = fn.signature.split("forward(self, ")[1].split(")")[0]
            out.append(
                f"\n\nclass {fn.name}:\n{_docstring(fn.doc, '    ')}\n"
                f"    def forward(self, {args}):\n"
                "        raise NotImplementedError\n\n"
                "    def backward(self, dz):\n"
                "        raise NotImplementedError\n"
            )
        else:
            out.append(
                f"\n\ndef {fn.signature}:\n{_docstring(fn.doc, '    ')}"
                "    raise NotImplementedError\n"
            )
    return "".join(out)


def starter_files(assignment: Assignment) -> dict[str, str]:
    """What `dlgrader init` hands out, by path: a course's own starter/ as it is (else a
    starter drawn from the spec), and its support/ files, which students import."""
    files = assignment.files
    handed: dict[str, str] = {}
    for folder in (files.support_dir, files.starter_dir) if files else ():
        if folder.is_dir():
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                if "__pycache__" not in path.parts:
                    handed[str(path.relative_to(folder))] = path.read_text()
    if not files or not files.starter_dir.is_dir():
        handed[f"{assignment.module}.py"] = starter_file(assignment)
    return handed
