"""Course folders: the built-in course and examples/rnn-course load the same way; a
course assignment's truth is its staff solution, run in the sandbox; its known
mistakes become hints; a wrong staff solution or a broken folder is caught, said clearly."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.grading.course import BUILTIN_COURSE, get_assignment, load_course
from grader.grading.grade import grade
from grader.grading.specs import SpecError
from grader.sandbox import select_sandbox
from submissions_schema import TestStatus, Verdict
from tests.grading.helpers import EXAMPLES, ROOT, broken_functions, needs_bwrap, plant

COURSE = EXAMPLES / "rnn-course"
RNN = COURSE / "assignments" / "rnn-layers"
SOLUTION = RNN / "solution" / "rnn_layers.py"


def dlgrader(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "grader.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=600)


def copy_course(tmp_path: Path) -> Path:
    target = tmp_path / "course"
    shutil.copytree(COURSE, target)
    return target


def test_the_builtin_assignments_are_a_course_loaded_like_any_other() -> None:
    course = load_course(BUILTIN_COURSE)
    assert set(course.assignments) == {"autodiff", "cnn-layers", "torch-layers"}
    assert all(a.files is not None for a in course.assignments.values())
    rnn = load_course(COURSE).assignments["rnn-layers"]
    assert rnn.solution_sha256
    assert all(p.reference is None for p in rnn.problems)


def test_broken_course_folders_are_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"no course\.yaml"):
        load_course(tmp_path)
    course = copy_course(tmp_path)
    shutil.rmtree(course / "assignments" / "rnn-layers" / "solution")
    with pytest.raises(SpecError, match="no solution/ to be the truth"):
        load_course(course)
    clash = copy_course(tmp_path / "clash")
    (clash / "assignments" / "rnn-layers").rename(clash / "assignments" / "cnn-layers")
    spec = clash / "assignments" / "cnn-layers" / "assignment.yaml"
    spec.write_text(spec.read_text().replace("name: rnn-layers", "name: cnn-layers"))
    proc = dlgrader("--course", str(clash), "assignments")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "cnn-layers is a built-in assignment's name" in proc.stderr


@pytest.mark.integration
@needs_bwrap
def test_a_course_assignment_is_graded_against_its_staff_solution(tmp_path: Path) -> None:
    spec = get_assignment("rnn-layers", COURSE)
    box = select_sandbox("bwrap")
    right = grade(SOLUTION.parent, spec, box, secret_seed=3)
    assert right.score == right.max_score
    assert "the course's numerics.py beside it" in right.message
    # A student's mistake the course knows is told with the course's own words.
    bug = plant(tmp_path, SOLUTION, [("np.add.at(dW, x, dout)", "dW[x] = dout")])
    wrong = grade(bug, spec, box, secret_seed=3)
    assert broken_functions(wrong) == {"word_embedding_backward"}
    hints = {t.hint for t in wrong.tests if t.status != TestStatus.passed}
    assert any(h and "np.add.at(dW, x, dout)" in h for h in hints), hints


@pytest.mark.slow
@pytest.mark.integration
@needs_bwrap
def test_a_wrong_staff_solution_is_caught_before_students_see_it(tmp_path: Path) -> None:
    course = copy_course(tmp_path)
    solution = course / "assignments" / "rnn-layers" / "solution" / "rnn_layers.py"
    solution.write_text(
        solution.read_text().replace("da @ Wh.T, x.T @ da", "2 * da @ Wh.T, x.T @ da")
    )
    proc = dlgrader("--course", str(course), "assignment", "check", "rnn-layers", "--no-mutants")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "rnn_step_backward" in proc.stdout
    assert "does not match your own forward" in proc.stdout
    assert "the solution's backward disagrees with its forward" in proc.stderr
    # A solution that fails a call is the course's error, not a student's verdict.
    solution.write_text(solution.read_text().replace("def attention_forward", "def _gone"))
    proc = dlgrader("--course", str(course), "grade", str(SOLUTION), "-a", "rnn-layers")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "the staff solution failed calling attention_forward (problem attention" in proc.stderr


@pytest.mark.integration
@needs_bwrap
def test_init_hands_out_the_starter_and_the_given_files(tmp_path: Path) -> None:
    proc = dlgrader("--course", str(COURSE), "init", "rnn-layers", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "numerics.py").read_text() == (RNN / "support" / "numerics.py").read_text()
    result = grade(tmp_path, get_assignment("rnn-layers", COURSE), select_sandbox("bwrap"))
    assert result.verdict == Verdict.graded
    assert result.score == 0


@pytest.mark.slow
@pytest.mark.integration
@needs_bwrap
def test_the_rnn_homework_passes_its_assignment_check() -> None:
    proc = dlgrader("--course", str(COURSE), "assignment", "check", "rnn-layers")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "27 of 27 cases agree" in proc.stdout
    assert "correct solutions: 1 of 1 get full marks" in proc.stdout
    assert "bug zoo: 20 of 20 lose points on exactly their functions" in proc.stdout
    assert "kill rate 100.0%" in proc.stdout
