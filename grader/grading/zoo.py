"""The staff's own evidence that an assignment's tests are right.

Next to its solution an assignment keeps a corpus of differently written correct
solutions (`correct/*.py`: each must get full marks) and a bug zoo (`bugs.yaml`: each
entry a realistic mistake planted in one of those solutions, with the functions it
breaks and, where the grader knows the mistake, words of the hint that names it). Both
are graded in one sandbox batch, exactly as students are judged. A staff solution that
is the truth must also agree with itself: its backward with numerical derivatives of
its own forward (`solution_gradients`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader.grading.cases import Case, dout_name
from grader.grading.compare import directional
from grader.grading.mistakes import Bug, plant
from grader.grading.solution_truth import run_solution
from grader.grading.specs import Assignment, Kind, SpecError
from grader.grading.variants import Variant, grade_variants
from grader.sandbox import Sandbox
from submissions_schema import TestResult, TestStatus


def corpus_sources(folder: Path, solution: Path) -> dict[str, str]:
    """The solution ('') and every correct/*.py of `folder`, by the name a bug's base uses."""
    sources = {"": solution.read_text()}
    for path in sorted((folder / "correct").glob("*.py")):
        sources[f"correct/{path.name}"] = path.read_text()
    return sources


def failed_functions(tests: list[TestResult]) -> set[str]:
    return {t.function for t in tests if t.status != TestStatus.passed}


@dataclass(frozen=True)
class CorpusVerdict:
    name: str
    tests: list[TestResult]

    @property
    def full_marks(self) -> bool:
        return not failed_functions(self.tests)


@dataclass(frozen=True)
class BugVerdict:
    bug: Bug
    tests: list[TestResult]

    @property
    def broken(self) -> set[str]:
        return failed_functions(self.tests)

    @property
    def exact(self) -> bool:
        """It loses points on exactly the functions it breaks."""
        return self.broken == self.bug.breaks

    @property
    def hints(self) -> list[str]:
        return sorted({t.hint for t in self.tests if t.function in self.bug.breaks and t.hint})

    @property
    def named(self) -> bool:
        """A hint names the mistake (the words the zoo expects are in one)."""
        words = self.bug.expected_hint
        return words is not None and any(words in h for h in self.hints)


def check_corpus(
    assignment: Assignment, sources: dict[str, str], cases: list[Case], box: Sandbox
) -> list[CorpusVerdict]:
    variants = [Variant(f"correct_{i:03d}", s) for i, s in enumerate(sources.values())]
    results = grade_variants(variants, cases, assignment, box)
    return [CorpusVerdict(n, results[v.module]) for n, v in zip(sources, variants, strict=True)]


def check_zoo(
    assignment: Assignment,
    bugs: list[Bug],
    sources: dict[str, str],
    cases: list[Case],
    box: Sandbox,
) -> list[BugVerdict]:
    """Each bug planted in its base (`sources`: '' the solution, else corpus names) and
    graded on every problem."""
    for bug in bugs:
        if bug.base not in sources:
            raise SpecError(f"bug {bug.name!r}: no solution {bug.base!r} to plant it in")
    variants = [Variant(f"bug_{i:03d}", plant(sources[b.base], b)) for i, b in enumerate(bugs)]
    results = grade_variants(variants, cases, assignment, box)
    graded = {t.function for tests in results.values() for t in tests}
    for bug in bugs:
        if unknown := bug.breaks - graded:
            raise SpecError(
                f"bug {bug.name!r} breaks {', '.join(sorted(unknown))}, which no test grades;"
                f" the graded functions are {', '.join(sorted(graded))}"
            )
    return [BugVerdict(b, results[v.module]) for b, v in zip(bugs, variants, strict=True)]


@dataclass(frozen=True)
class _Answers:
    """The solution's recorded outputs, read as a job's output folder is."""

    arrays: dict[str, np.ndarray]

    def load(self, key: str) -> np.ndarray | None:
        return self.arrays.get(key)


@dataclass(frozen=True)
class GradientVerdict:
    case: str  # "rnn_backward [T 1] #2"
    message: str | None  # None: the backward agrees with the forward's numerical derivative


def solution_gradients(
    assignment: Assignment, cases: list[Case], box: Sandbox
) -> list[GradientVerdict]:
    """Each backward of the staff solution against the directional derivative of its
    own forward (centred differences along a random direction of every differentiable
    input), for the problems whose truth the solution is."""
    checked = [
        c
        for c in cases
        if c.problem.reference is None
        and c.problem.kind in (Kind.layer, Kind.loss, Kind.gate)
        and c.directions
    ]
    if not checked:
        return []
    arrays = {k: v for c in checked for k, v in c.inputs.items()}
    answers = _Answers(run_solution(assignment, arrays, [x for c in checked for x in c.calls], box))
    verdicts = []
    for case in checked:
        p, t = case.problem, case.tag
        names = [n for n, spec in p.inputs.items() if spec.differentiable]
        if p.kind == Kind.loss:
            grads = {names[0]: answers.arrays[f"{t}.f.1"]}
            upstream: list[np.ndarray | float] = [1.0]
        else:
            grads = {n: answers.arrays[f"{t}.b.{i}"] for i, n in enumerate(names)}
            upstream = [case.inputs[f"{t}.{dout_name(i)}"] for i in range(p.outputs)]
        message = directional(case, answers, {}, grads, f"{t}.f", upstream)
        name = p.backward_name or p.forward_name
        verdicts.append(GradientVerdict(f"{name} {case.label}", message))
    return verdicts


def unvaried_parameters(assignment: Assignment) -> list[str]:
    """Parameters every case of a function passes with one neutral value (stride 1, pad
    0, ...): code that ignores them passes, and no mutant of the solution can show it,
    for a mutant still reads them. Warnings, for the author to add a matrix row."""
    seen: dict[str, dict[str, set[str]]] = {}
    for problem in assignment.problems:
        values = seen.setdefault(problem.forward, {})
        for i in range(problem.cases + problem.hidden_cases):
            for n, param in enumerate(problem.for_case(i).params):
                named = param if isinstance(param, dict) else {f"argument {n + 1}": param}
                for key, value in named.items():
                    values.setdefault(str(key), set()).add(repr(value))
    return [
        f"every case of {function} passes {key} = {next(iter(found))}: code that ignores "
        f"{key} passes; add a matrix row with another value"
        for function, values in seen.items()
        for key, found in values.items()
        if len(found) == 1 and next(iter(found)) in NEUTRAL
    ]


NEUTRAL = {repr(v) for v in (0, 1, 0.0, 1.0, None, False, True)}
