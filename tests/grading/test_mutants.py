"""`dlgrader assignment check`: mutants of a solution, each one student-like change,
run in batches and judged like submissions; a weak case set lets them survive."""

from __future__ import annotations

import subprocess
import sys

import pytest

from grader.grading.mutants import check_mutants, generate
from grader.grading.specs import get_assignment
from grader.sandbox import select_sandbox
from tests.grading.helpers import EXAMPLES, ROOT, needs_bwrap

SOURCE = """import numpy as np


def relu_backward(dout, cache):
    dx = dout.copy()
    dx[cache <= 0] = 0
    return dx


def pool(x, s):
    total = 0
    for i in range(0, x.shape[0], s):
        total += x[i : i + s].sum(axis=0)
    return total.T
"""


def test_each_mutant_is_one_student_like_change_inside_a_function() -> None:
    mutants = generate(SOURCE)
    kinds = {m.description for m in mutants}
    for expected in (
        "LtE -> Lt",
        "+= made =",
        "slice end + 1",
        "transpose dropped",
        "axis changed",
        "sum -> mean",
        "0 -> 1",
    ):
        assert expected in kinds, kinds
    assert {m.function for m in mutants} == {"relu_backward", "pool"}
    for m in mutants:
        assert m.source.startswith("import numpy as np\n")  # the module stays as written
        compile(m.source, "mutant", "exec")
        changed = [line for line in m.diff.splitlines() if line.startswith("+")]
        assert len(changed) == 1, m.diff


@pytest.mark.integration
@needs_bwrap
def test_the_shipped_cases_kill_the_mutants_a_weak_set_lets_survive() -> None:
    spec = get_assignment("autodiff")
    solution = (EXAMPLES / "autodiff" / "autodiff.py").read_text()
    box = select_sandbox("bwrap")
    report = check_mutants(spec, solution, box)
    assert report.rate(report.verdicts) == 1.0
    # One visible case of the MaxGate only, inputs always apart: ">" made ">=" survives
    # there, and the wide set (ten times the cases, still no ties) calls it equivalent.
    maxgate = report.by_function()["MaxGate"]
    assert any(v.equivalent for v in maxgate)


@pytest.mark.integration
@needs_bwrap
def test_a_mutant_that_ends_the_run_is_killed_and_the_rest_run_again() -> None:
    """The mutants after one that kills its process get their own verdicts, not its."""
    from grader.grading.cases import build_cases
    from grader.grading.mutants import Mutant, _fresh, _run_all

    spec = get_assignment("autodiff")
    solution = (EXAMPLES / "autodiff" / "autodiff.py").read_text()
    crash = solution + "\nimport os\nos._exit(3)\n"
    mutants = [
        Mutant(i, "MultiplyGate", 1, "as written", text, "", "")
        for i, text in enumerate([solution, crash, solution, solution])
    ]
    cases = _fresh(build_cases(spec, 0, 1))
    verdicts = _run_all(mutants, cases, spec, select_sandbox("bwrap"))
    assert verdicts == {0: False, 1: True, 2: False, 3: False}


def dlgrader(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "grader.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)


@pytest.mark.integration
@needs_bwrap
def test_assignment_check_exits_by_the_table() -> None:
    proc = dlgrader("assignment", "check", "autodiff", "--sandbox", "bwrap")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "solution examples/autodiff/autodiff.py: 40 / 40" in proc.stdout
    assert "starter: 0 / 40" in proc.stdout
    assert "kill rate 100.0%" in proc.stdout
    missing = dlgrader("assignment", "check", "autodiff", "--solution", "nope.py")
    assert missing.returncode == 2
    assert "no solution at nope.py" in missing.stderr
