"""`dlgrader grade` on autodiff through the real bubblewrap."""

from __future__ import annotations

from pathlib import Path

import pytest

from submissions_schema import TestStatus, Verdict
from tests.grading.helpers import (
    EXAMPLES,
    broken_functions,
    grade_file,
    hints_for,
    needs_bwrap,
    plant,
)

pytestmark = [pytest.mark.integration, needs_bwrap]

EXAMPLE = EXAMPLES / "autodiff" / "autodiff.py"


@pytest.mark.parametrize(
    "solution",
    [EXAMPLE, EXAMPLES / "autodiff" / "correct" / "gate_table.py"],
    ids=["recursive", "kahn-and-duals"],
)
def test_correct_solutions_score_full_marks(solution: Path) -> None:
    result = grade_file(solution, "autodiff")
    assert result.verdict == Verdict.graded
    assert result.score == pytest.approx(result.max_score)
    assert all(t.status == TestStatus.passed for t in result.tests)


BUGS: list[tuple[str, list[tuple[str, str]], set[str], str | None]] = [
    (
        "max distributes",
        [
            (
                "return [dz * ((self.x > self.y) + tie), dz * ((self.y > self.x) + tie)]",
                "return [dz, dz]",
            )
        ],
        {"MaxGate.backward"},
        "route",
    ),
    (
        "sigmoid' at the input",
        [
            ("return dz * self.out * (1.0 - self.out)", "return dz * self.x * (1.0 - self.x)"),
            (
                "self.out = 1.0 / (1.0 + np.exp(-x))",
                "self.x = x\n        self.out = 1.0 / (1.0 + np.exp(-x))",
            ),
        ],
        {"SigmoidGate.backward"},
        "output",
    ),
    (
        "mul does not switch",
        [("return [self.y * dz, self.x * dz]", "return [self.x * dz, self.y * dz]")],
        {"MultiplyGate.backward"},
        "switches",
    ),
    (
        "relu gate without mask",
        [("return dz * (self.x > 0)", "return dz")],
        {"ReLUGate.backward"},
        "mask",
    ),
    ("add returns one gradient", [("return [dz, dz]", "return dz")], {"AddGate.backward"}, None),
    (
        "order reversed",
        [("    return order\n", "    return order[::-1]\n")],
        {"topological_order", "forward_pass", "backward_pass", "forward_mode"},
        None,
    ),
    (
        "fan-out not accumulated",
        [("grad[arg] = grad.get(arg, 0.0) + grad[name] * local", "grad[arg] = grad[name] * local")],
        {"backward_pass"},
        None,
    ),
    (
        "forward mode without the chain rule",
        [
            (
                'dot[name] = sum(d * dot[a] for a, d in zip(node["args"], locals_))',
                'dot[name] = sum(d for a, d in zip(node["args"], locals_))',
            )
        ],
        {"forward_mode"},
        None,
    ),
    (
        "relu jacobian as a vector",
        [("return np.diag((x.ravel() > 0).astype(float))", "return (x.ravel() > 0).astype(float)")],
        {"relu_jacobian"},
        None,
    ),
    (
        "fc input jacobian not transposed",
        [("return np.kron(np.eye(batch), w.T)", "return np.kron(np.eye(batch), w)")],
        {"fc_input_jacobian"},
        None,
    ),
    (
        "fc weight jacobian indices swapped",
        [
            (
                "J[n * num_outputs + j, i * num_outputs + j] = x[n, i]",
                "J[n * num_outputs + j, j * D + i] = x[n, i]",
            )
        ],
        {"fc_weight_jacobian"},
        None,
    ),
]


@pytest.mark.parametrize(("name", "edits", "broken", "hint"), BUGS, ids=[b[0] for b in BUGS])
def test_buggy_solution_loses_points_where_it_breaks(
    tmp_path: Path, name: str, edits: list[tuple[str, str]], broken: set[str], hint: str | None
) -> None:
    result = grade_file(plant(tmp_path, EXAMPLE, edits), "autodiff")
    assert result.verdict == Verdict.graded
    assert broken_functions(result) == broken
    if hint is not None:
        hints = hints_for(result, broken)
        assert any(hint in h for h in hints), hints


def test_graph_arrives_in_a_shuffled_order() -> None:
    from grader.grading.cases import build_cases
    from grader.grading.course import get_assignment

    cases = [c for c in build_cases(get_assignment("autodiff"), 0, 1) if c.graph]
    shuffled = 0
    for case in cases:
        assert case.graph is not None
        names = [n["name"] for n in case.graph["nodes"]]
        shuffled += names != sorted(names, key=lambda s: int(s[1:]))
    assert shuffled > 0
