"""Mutation testing: do an assignment's cases catch wrong solutions?

Each mutant is the staff solution with one small change of the kind students make: an
operator or comparison swapped, `+=` made `=`, a slice bound or constant off by one, an
axis changed, a transpose or a term dropped, a reduction swapped. Mutants run in
batches in one sandbox process each (`variants.py`: a module per mutant, no sandbox
start per mutant) on the calls of the problems the mutated function serves,
and the trusted side judges them as it judges students. A mutant the cases pass is a
survivor, unless it also passes a case set ten times larger: then it is reported as
probably equivalent and left out of the kill rate.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import difflib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from grader.grading.cases import Case, build_cases
from grader.grading.specs import Assignment
from grader.grading.variants import Variant, grade_variants
from grader.sandbox import Sandbox
from submissions_schema import TestStatus

CALL_TIMEOUT_S = 2.0  # a mutant that loops forever is killed by its first call's alarm


@dataclass(frozen=True)
class Mutant:
    index: int
    function: str  # the top-level function (or class) the change is in
    line: int
    description: str
    source: str  # the whole module, mutated
    before: str  # the function as it was, and as the mutant has it (for the diff)
    after: str

    @property
    def module(self) -> str:
        return f"mutant_{self.index:05d}"

    @property
    def diff(self) -> str:
        lines = difflib.unified_diff(
            self.before.splitlines(), self.after.splitlines(), lineterm="", n=0
        )
        return "\n".join(x for x in lines if x[:1] in "+-" and x[:3] not in ("+++", "---"))


# --- generating mutants ------------------------------------------------------------------

BINOP_SWAPS: dict[type[ast.operator], list[type[ast.operator]]] = {
    ast.Add: [ast.Sub],
    ast.Sub: [ast.Add],
    ast.Mult: [ast.Div, ast.Add],
    ast.Div: [ast.Mult, ast.FloorDiv],
    ast.FloorDiv: [ast.Mult],
    ast.Pow: [ast.Mult],
    ast.MatMult: [ast.Mult],
}
COMPARE_SWAPS: dict[type[ast.cmpop], list[type[ast.cmpop]]] = {
    ast.Lt: [ast.LtE, ast.Gt],
    ast.LtE: [ast.Lt],
    ast.Gt: [ast.GtE, ast.Lt],
    ast.GtE: [ast.Gt],
    ast.Eq: [ast.NotEq],
    ast.NotEq: [ast.Eq],
}
CALL_SWAPS = {
    "sum": "mean",
    "mean": "sum",
    "max": "min",
    "min": "max",
    "maximum": "minimum",
    "argmax": "argmin",
    "zeros_like": "ones_like",
    "sqrt": "square",
}

Edit = Callable[[Any], ast.AST]  # a copy of the node, changed


def _binop(op: type[ast.operator]) -> Edit:
    return lambda n: ast.BinOp(n.left, op(), n.right)


def _compare(op: type[ast.cmpop]) -> Edit:
    return lambda n: ast.Compare(n.left, [op()], n.comparators)


def _field(name: str) -> Edit:
    return lambda n: getattr(n, name)


def _constant(delta: int) -> Edit:
    return lambda n: ast.Constant(n.value + delta)


def _edits(node: ast.AST) -> Iterator[tuple[str, Edit]]:
    """The mutations of one node, each as (description, how to change a copy of it)."""
    if isinstance(node, ast.BinOp):
        for new in BINOP_SWAPS.get(type(node.op), []):
            yield f"{type(node.op).__name__} -> {new.__name__}", _binop(new)
        if isinstance(node.op, ast.Add | ast.Sub):
            yield "a term dropped (left only)", _field("left")
            yield "a term dropped (right only)", _field("right")
    elif isinstance(node, ast.Compare) and len(node.ops) == 1:
        for cmp in COMPARE_SWAPS.get(type(node.ops[0]), []):
            yield f"{type(node.ops[0]).__name__} -> {cmp.__name__}", _compare(cmp)
    elif isinstance(node, ast.AugAssign):
        yield "+= made =", lambda n: ast.Assign([n.target], n.value)
        if isinstance(node.op, ast.Add):
            yield "+= made -=", lambda n: ast.AugAssign(n.target, ast.Sub(), n.value)
    elif isinstance(node, ast.Constant) and type(node.value) is int:
        yield f"{node.value} -> {node.value + 1}", _constant(1)
        if node.value != 0:
            yield f"{node.value} -> {node.value - 1}", _constant(-1)
    elif isinstance(node, ast.Slice):
        if node.lower is not None:
            yield "slice start + 1", lambda n: ast.Slice(_plus1(n.lower), n.upper, n.step)
        if node.upper is not None:
            yield "slice end + 1", lambda n: ast.Slice(n.lower, _plus1(n.upper), n.step)
            yield "slice end - 1", lambda n: ast.Slice(n.lower, _minus1(n.upper), n.step)
    elif isinstance(node, ast.Attribute) and node.attr == "T":
        yield "transpose dropped", _field("value")
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        yield "minus dropped", _field("operand")
    elif isinstance(node, ast.Call):
        yield from _call_edits(node)


def _call_edits(node: ast.Call) -> Iterator[tuple[str, Edit]]:
    name = node.func.attr if isinstance(node.func, ast.Attribute) else None
    if name in CALL_SWAPS:
        swapped = CALL_SWAPS[name]
        yield f"{name} -> {swapped}", partial(_with_attr, attr=swapped)
    for i, kw in enumerate(node.keywords):
        if kw.arg == "axis":
            yield "axis changed", partial(_with_axis, i=i)
            yield "axis dropped", partial(_without_keyword, i=i)
        if kw.arg == "keepdims":
            yield "keepdims dropped", partial(_without_keyword, i=i)


def _plus1(e: ast.expr) -> ast.expr:
    return ast.BinOp(e, ast.Add(), ast.Constant(1))


def _minus1(e: ast.expr) -> ast.expr:
    return ast.BinOp(e, ast.Sub(), ast.Constant(1))


def _with_attr(n: ast.AST, attr: str) -> ast.AST:
    assert isinstance(n, ast.Call)
    assert isinstance(n.func, ast.Attribute)
    return ast.Call(ast.Attribute(n.func.value, attr, ast.Load()), n.args, n.keywords)


def _with_axis(n: ast.AST, i: int) -> ast.AST:
    assert isinstance(n, ast.Call)
    value = n.keywords[i].value
    if isinstance(value, ast.Constant) and isinstance(value.value, int):
        new: ast.expr = ast.Constant(1 if value.value == 0 else 0)
    elif isinstance(value, ast.Tuple) and value.elts:
        new = ast.Tuple(value.elts[1:] or [ast.Constant(0)], ast.Load())
    else:
        new = ast.Constant(0)
    keywords = [*n.keywords[:i], ast.keyword("axis", new), *n.keywords[i + 1 :]]
    return ast.Call(n.func, n.args, keywords)


def _without_keyword(n: ast.AST, i: int) -> ast.AST:
    assert isinstance(n, ast.Call)
    return ast.Call(n.func, n.args, [*n.keywords[:i], *n.keywords[i + 1 :]])


class _Replace(ast.NodeTransformer):
    def __init__(self, target: int, edit: Edit) -> None:
        self.target, self.edit, self.seen = target, edit, -1

    def visit(self, node: ast.AST) -> ast.AST | None:
        self.seen += 1
        if self.seen == self.target:
            return self.edit(node)
        return super().visit(node)


def generate(source: str) -> list[Mutant]:
    """Every mutant of `source` inside a top-level function or class. Only that
    definition is copied and rewritten; the rest of the module stays as written."""
    tree = ast.parse(source)
    lines = source.splitlines()
    mutants: list[Mutant] = []
    for top in tree.body:
        if not isinstance(top, ast.FunctionDef | ast.ClassDef) or top.end_lineno is None:
            continue
        first = min([top.lineno, *(d.lineno for d in top.decorator_list)])
        head, tail = lines[: first - 1], lines[top.end_lineno :]
        before = ast.unparse(top)
        for position, node in enumerate(_preorder(top)):
            if position == 0:
                continue
            for description, edit in _edits(node):
                mutated = _Replace(position, edit).visit(copy.deepcopy(top))
                try:
                    after = ast.unparse(ast.fix_missing_locations(mutated))  # type: ignore[type-var,arg-type]
                    compile(after, "<mutant>", "exec")
                except (SyntaxError, ValueError, TypeError, AttributeError):
                    continue
                if after == before:
                    continue
                text = "\n".join([*head, after, *tail]) + "\n"
                line = getattr(node, "lineno", top.lineno)
                mutants.append(
                    Mutant(len(mutants), top.name, line, description, text, before, after)
                )
    return mutants


def _preorder(node: ast.AST) -> Iterator[ast.AST]:
    yield node
    for child in ast.iter_child_nodes(node):
        yield from _preorder(child)


# --- running and judging them ------------------------------------------------------------


@dataclass
class MutantVerdict:
    mutant: Mutant
    killed: bool
    equivalent: bool = False


@dataclass
class MutationReport:
    verdicts: list[MutantVerdict] = field(default_factory=list)
    seconds: float = 0.0

    def by_function(self) -> dict[str, list[MutantVerdict]]:
        grouped: dict[str, list[MutantVerdict]] = {}
        for v in self.verdicts:
            grouped.setdefault(v.mutant.function, []).append(v)
        return grouped

    @staticmethod
    def rate(verdicts: list[MutantVerdict]) -> float | None:
        counted = [v for v in verdicts if not v.equivalent]
        return sum(v.killed for v in counted) / len(counted) if counted else None


def _problems_of(assignment: Assignment, function: str) -> frozenset[str]:
    """The problems whose calls a change in `function` can affect: those naming it, or
    every problem when it is a helper the others call."""
    named = {
        p.name
        for p in assignment.problems
        if function in (p.forward.split(".")[0], p.backward or "")
    }
    return frozenset(named or {p.name for p in assignment.problems})


def mutant_variants(assignment: Assignment, mutants: list[Mutant]) -> list[Variant]:
    """Each mutant graded on the problems its function serves."""
    return [Variant(m.module, m.source, _problems_of(assignment, m.function)) for m in mutants]


def _killed(
    mutants: list[Mutant], cases: list[Case], assignment: Assignment, box: Sandbox
) -> dict[int, bool]:
    """Whether the cases catch each mutant: a failed test, a crash or a failed import."""
    variants = mutant_variants(assignment, mutants)
    results = grade_variants(variants, cases, assignment, box, until_failure=True)
    return {m.index: any(t.status != TestStatus.passed for t in results[m.module]) for m in mutants}


def fast_cases(cases: list[Case]) -> list[Case]:
    """The cases with every call's time limit cut to CALL_TIMEOUT_S (the cache's own
    cases stay untouched)."""
    return [
        dataclasses.replace(
            c,
            calls=[
                {**call, "timeout_s": min(call.get("timeout_s", CALL_TIMEOUT_S), CALL_TIMEOUT_S)}
                for call in c.calls
            ],
        )
        for c in cases
    ]


def check_mutants(
    assignment: Assignment, solution: str, box: Sandbox, secret_seed: int = 1
) -> MutationReport:
    start = time.monotonic()
    mutants = generate(solution)
    cases = fast_cases(build_cases(assignment, 0, secret_seed, box, mistakes=False))
    killed = _killed(mutants, cases, assignment, box)
    survivors = [m for m in mutants if not killed[m.index]]
    # Survivors meet ten times the cases: still passing, they are probably equivalent.
    wide = assignment.model_copy(
        update={
            "problems": [
                p.model_copy(update={"cases": (p.cases + p.hidden_cases) * 10, "hidden_cases": 0})
                for p in assignment.problems
            ]
        }
    )
    wide_cases = fast_cases(build_cases(wide, 12345, secret_seed, box, mistakes=False))
    caught = _killed(survivors, wide_cases, assignment, box)
    equivalent = {k: not v for k, v in caught.items()}
    report = MutationReport(
        [MutantVerdict(m, killed[m.index], equivalent.get(m.index, False)) for m in mutants]
    )
    report.seconds = time.monotonic() - start
    return report
