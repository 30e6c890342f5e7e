"""A course pinned to NumPy 1.26 grades NumPy-1-only code in NumPy 1.26: under
bubblewrap (a packages folder built with uv) and Docker (a derived image), while the
same course on the host's NumPy 2 cannot even run its own solution."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.grading.course import get_assignment, load_course
from grader.grading.environments import EnvironmentFailed, build_site, environment_key
from grader.grading.grade import grade
from grader.grading.zoo import unvaried_parameters
from grader.sandbox import select_sandbox
from grader.sandbox.docker_sandbox import DockerSandbox
from submissions_schema import Verdict
from submissions_schema.environment import Environment
from tests.grading.helpers import FIXTURES, ROOT, needs_bwrap

COURSE = FIXTURES / "numpy1-course"
LEGACY = COURSE / "assignments" / "legacy-layers"
# Student code of 2019: np.product, np.float_ and np.int0 are gone in NumPy 2.
STUDENT = """import numpy as np


def affine_forward(x, w, b):
    flat = x.reshape(x.shape[0], np.product(x.shape[1:]))
    return flat.dot(w) + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    flat = x.reshape(x.shape[0], np.product(x.shape[1:]))
    return dout.dot(w.T).reshape(x.shape), flat.T.dot(dout), dout.sum(axis=np.int0(0))


def relu_forward(x):
    return (x * (x > 0)).astype(np.float_), x


def relu_backward(dout, cache):
    return dout * (cache > 0)
"""


def dlgrader(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "grader.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=900)


def test_an_environment_is_keyed_by_its_pins_and_refuses_another_python() -> None:
    pinned = Environment(requirements=["numpy==1.26.4"])
    assert environment_key(pinned, "3.11") != environment_key(
        Environment(requirements=["numpy==1.26.3"]), "3.11"
    )
    assert environment_key(pinned, "3.11") != environment_key(pinned, "3.12")
    with pytest.raises(EnvironmentFailed, match=r"asks for Python 3\.9"):
        build_site(Environment(requirements=["numpy==1.26.4"], python="3.9"))
    assignment = load_course(COURSE).assignments["legacy-layers"]
    assert assignment.environment == pinned.model_copy(update={"python": "3.11"})


def test_an_uninstallable_pin_is_a_clear_error_not_a_grade(tmp_path: Path) -> None:
    env = Environment(requirements=["numpy==0.0.1"], find_links=[str(tmp_path)], no_index=True)
    with pytest.raises(EnvironmentFailed, match=r"cannot install numpy==0\.0\.1"):
        build_site(env)


@pytest.mark.slow
@pytest.mark.integration
@needs_bwrap
def test_numpy_1_code_grades_in_the_course_pinned_numpy(tmp_path: Path) -> None:
    spec = get_assignment("legacy-layers", COURSE)
    student = tmp_path / "student" / "legacy_layers.py"
    student.parent.mkdir()
    student.write_text(STUDENT)
    result = grade(student, spec, select_sandbox("bwrap"), secret_seed=1)
    assert result.verdict == Verdict.graded
    assert result.score == result.max_score, [t.message for t in result.tests]
    assert "in the course's environment (numpy==1.26.4)" in result.message
    # On the host's NumPy 2 the course's own solution cannot run: said, never graded.
    bare = tmp_path / "bare"
    shutil.copytree(COURSE, bare)
    (bare / "assignments" / "legacy-layers" / "environment.yaml").unlink()
    proc = dlgrader("--course", str(bare), "grade", str(student), "-a", "legacy-layers")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "the staff solution failed calling affine_forward" in proc.stderr
    assert "product" in proc.stderr


@pytest.mark.slow
@pytest.mark.integration
def test_numpy_1_code_grades_in_the_derived_docker_image(tmp_path: Path) -> None:
    if DockerSandbox.available() is not None:
        pytest.skip(f"docker: {DockerSandbox.available()}")
    spec = get_assignment("legacy-layers", COURSE)
    (tmp_path / "legacy_layers.py").write_text(STUDENT)
    missing = grade(tmp_path, spec, select_sandbox("docker"), secret_seed=1)
    if missing.verdict == Verdict.could_not_grade:  # no image yet: the message says the fix
        assert "dlgrader env build legacy-layers --docker" in missing.message
    proc = dlgrader("--course", str(COURSE), "env", "build", "legacy-layers", "--docker")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = grade(tmp_path, spec, select_sandbox("docker"), secret_seed=1)
    assert result.score == result.max_score, result.message


def test_a_parameter_no_case_varies_is_warned_about() -> None:
    spec = get_assignment("rnn-layers", ROOT / "examples" / "rnn-course")
    assert unvaried_parameters(spec) == []
    conv = spec.problems[0].model_copy(
        update={"params": [{"stride": 1, "pad": 0}], "matrix": [], "forward": "conv1d"}
    )
    warned = unvaried_parameters(spec.model_copy(update={"problems": [conv]}))
    assert any("conv1d passes stride = 1" in w for w in warned)
    assert any("conv1d passes pad = 0" in w for w in warned)
