"""`dlgrader assignment check`: mutants of a solution, each one student-like change,
run in batches and judged like submissions; a weak case set lets them survive."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from grader.grading.course import get_assignment
from grader.grading.mutants import check_mutants, generate
from grader.sandbox import select_sandbox
from submissions_schema import TestStatus
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
def test_a_module_that_ends_the_batch_fails_and_the_rest_run_again() -> None:
    """The modules after one that kills its process get their own results, not its."""
    from grader.grading.cases import build_cases
    from grader.grading.mutants import fast_cases
    from grader.grading.variants import ENDED_HERE, Variant, grade_variants

    spec = get_assignment("autodiff")
    solution = (EXAMPLES / "autodiff" / "autodiff.py").read_text()
    crash = solution + "\nimport os\nos._exit(3)\n"
    variants = [Variant(f"v{i}", text) for i, text in enumerate([solution, crash, solution])]
    cases = fast_cases(build_cases(spec, 0, 1))
    results = grade_variants(variants, cases, spec, select_sandbox("bwrap"))
    passed = {m: all(t.status == TestStatus.passed for t in r) for m, r in results.items()}
    assert passed == {"v0": True, "v1": False, "v2": True}
    assert all(ENDED_HERE in t.message for t in results["v1"])


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


@pytest.mark.slow
@pytest.mark.integration
@needs_bwrap
def test_assignment_check_grades_the_corpus_and_the_zoo_beside_the_solution(tmp_path: Path) -> None:
    """A zoo entry declared wrongly, or a 'correct' solution that loses points, fails the
    check (4) and says which; a zoo whose edit is not in its base is bad input (2)."""
    import shutil

    folder = tmp_path / "autodiff"
    (folder / "correct").mkdir(parents=True)
    shutil.copy(EXAMPLES / "autodiff" / "autodiff.py", folder / "autodiff.py")
    shutil.copy(EXAMPLES / "autodiff" / "correct" / "gate_table.py", folder / "correct")
    (folder / "bugs.yaml").write_text(
        "bugs:\n"
        "  - name: add gate doubles\n"
        "    edits: [{find: 'return [dz, dz]', replace: 'return [2 * dz, dz]'}]\n"
        "    breaks: [AddGate.backward]\n"
        "  - name: declared on the wrong function\n"
        "    edits: [{find: 'return [self.y * dz, self.x * dz]', replace: 'return [dz, dz]'}]\n"
        "    breaks: [AddGate.backward]\n"
    )
    solution = str(folder / "autodiff.py")
    proc = dlgrader("assignment", "check", "autodiff", "--solution", solution, "--sandbox", "bwrap")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "correct solutions: 1 of 1 get full marks" in proc.stdout
    assert "bug zoo: 1 of 2 lose points on exactly their functions" in proc.stdout
    assert "1 zoo bugs not judged as declared" in proc.stderr
    (folder / "bugs.yaml").write_text(
        "bugs:\n  - {name: gone, edits: [{find: 'not there', replace: ''}], breaks: [AddGate]}\n"
    )
    proc = dlgrader("assignment", "check", "autodiff", "--solution", solution, "--sandbox", "bwrap")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "bug 'gone': 'not there' is not in the solution" in proc.stderr
    (folder / "bugs.yaml").write_text(
        "bugs:\n  - {name: typo, edits: [{find: '[dz, dz]', replace: '[dz, 0]'}], breaks: [Add]}\n"
    )
    proc = dlgrader("assignment", "check", "autodiff", "--solution", solution, "--sandbox", "bwrap")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "bug 'typo' breaks Add, which no test grades" in proc.stderr
