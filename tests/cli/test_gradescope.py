"""results.json as Gradescope's spec documents it, and never a zero we did not give."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.cli.gradescope import results_json, to_gradescope
from submissions_schema import GradingResult, TestResult, TestStatus, Verdict, Visibility
from tests.grading.helpers import EXAMPLES, ROOT, needs_bwrap


def result(verdict: Verdict = Verdict.graded) -> GradingResult:
    tests = [
        TestResult(
            name="affine_forward #1",
            function="affine_forward",
            status=TestStatus.passed,
            score=2.0,
            max_score=2.0,
        ),
        TestResult(
            name="affine_backward (hidden) #1",
            function="affine_backward",
            status=TestStatus.failed,
            score=0.0,
            max_score=3.0,
            visibility=Visibility.hidden,
            message="dx wrong",
            hint="transpose",
        ),
    ]
    return GradingResult(
        assignment="cnn-layers",
        assignment_version="1",
        verdict=verdict,
        score=2.0,
        max_score=5.0,
        tests=tests if verdict == Verdict.graded else [],
        execution_time_s=1.23456,
    )


def test_numbers_are_numbers_and_hidden_tests_wait_for_the_due_date() -> None:
    doc = to_gradescope(result(), reveals_later=True)
    assert doc["execution_time"] == 1.235
    assert doc["score"] == 2.0
    assert [t["visibility"] for t in doc["tests"]] == ["visible", "after_due_date"]
    assert doc["tests"][1]["output"] == "dx wrong\nHint: transpose"
    assert all(isinstance(t["score"], float) for t in doc["tests"])
    assert [t["status"] for t in doc["tests"]] == ["passed", "failed"]


def test_without_a_due_date_hidden_tests_stay_hidden() -> None:
    doc = to_gradescope(result(), reveals_later=False)
    assert [t["visibility"] for t in doc["tests"]] == ["visible", "hidden"]


@pytest.mark.parametrize("verdict", [Verdict.could_not_grade, Verdict.rejected])
def test_no_grade_never_becomes_a_results_json(verdict: Verdict) -> None:
    with pytest.raises(ValueError, match="only a graded result"):
        to_gradescope(result(verdict))


# Every field the spec documents (specs.md, "Output format"); we write no other.
TOP_LEVEL = {
    "score", "execution_time", "output", "output_format", "test_output_format",
    "test_name_format", "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard",
}  # fmt: skip
PER_TEST = {
    "score", "max_score", "status", "name", "name_format", "number", "output",
    "output_format", "tags", "visibility", "extra_data",
}  # fmt: skip


def strict_load(text: str) -> dict:  # type: ignore[type-arg]
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)  # type: ignore[no-any-return]


def case(fn: str, passed: bool, max_score: float, **kw: object) -> TestResult:
    return TestResult(
        name=f"{fn} #{kw.pop('n', 1)}",
        function=fn,
        status=TestStatus.passed if passed else kw.pop("status", TestStatus.failed),  # type: ignore[arg-type]
        score=max_score if passed else 0.0,
        max_score=max_score,
        **kw,  # type: ignore[arg-type]
    )


def graded(tests: list[TestResult], message: str = "graded layers.py") -> GradingResult:
    return GradingResult(
        assignment="cnn-layers",
        assignment_version="1",
        verdict=Verdict.graded,
        score=round(sum(t.score for t in tests), 6),
        max_score=round(sum(t.max_score for t in tests), 6),
        tests=tests,
        execution_time_s=0.5,
        message=message,
    )


def test_only_documented_fields_and_text_formats_where_defaults_would_render_html() -> None:
    doc = to_gradescope(result(), leaderboard=True)
    assert set(doc) <= TOP_LEVEL
    assert all(set(t) <= PER_TEST for t in doc["tests"])
    # The top-level output defaults to simple_format (HTML): `x <= 0` would be eaten.
    assert doc["output_format"] == doc["test_output_format"] == doc["test_name_format"] == "text"
    # stdout carries every test's details: instructors only, whatever the course default.
    assert doc["stdout_visibility"] == "hidden"
    assert doc["tests"][0]["visibility"] == "visible"


def test_full_marks_split_points_add_up_exactly() -> None:
    # 2 points over 3 cases and 1 over 6: 0.6666666666666666 each on the wire before.
    tests = [case("affine_forward", True, 2 / 3, n=i) for i in range(3)]
    tests += [case("relu_backward", True, 1 / 6, n=i) for i in range(6)]
    doc = to_gradescope(graded(tests))
    assert doc["score"] == 3.0
    shown = [t["max_score"] for t in doc["tests"]]
    assert sorted(shown[:3]) == [0.6666, 0.6667, 0.6667]
    assert all(len(repr(x)) <= 6 for x in shown)
    # in units of 1e-4, the tests add up to each function's points and to the total
    assert sum(round(x * 1e4) for x in shown[:3]) == 2e4
    assert sum(round(x * 1e4) for x in shown) == 3e4
    assert [t["score"] for t in doc["tests"]] == shown
    assert {t["status"] for t in doc["tests"]} == {"passed"}
    assert doc["output"] == "graded layers.py\nVisible tests: 9 of 9 passed, 3 of 3 points."


def test_partial_marks_fail_the_failed_tests_and_keep_the_grade() -> None:
    tests = [case("affine_forward", i < 2, 2 / 3, n=i) for i in range(3)]
    tests.append(case("dropout_forward", False, 0.0, message="mask not scaled"))
    doc = to_gradescope(graded(tests))
    assert doc["score"] == round(4 / 3, 6)  # the grade, as the service records it
    assert abs(sum(t["score"] for t in doc["tests"]) - doc["score"]) < 1e-4
    assert [t["status"] for t in doc["tests"]] == ["passed", "passed", "failed", "failed"]
    # a 0-point test that failed: Gradescope's default (score == max_score) says passed
    assert doc["tests"][3]["max_score"] == doc["tests"][3]["score"] == 0.0
    assert "2 of 4 passed, 1.3333 of 2 points" in doc["output"]


def test_hidden_results_stay_out_of_the_summary() -> None:
    tests = [
        case("affine_forward", True, 1.0),
        case(
            "conv_backward_naive",
            False,
            3.0,
            visibility=Visibility.hidden,
            message="dx is off: rel_error 3.1e-01 > 1e-06",
            hint="kernel flipped in dx",
        ),
    ]
    for reveals_later, when in ((True, "after the due date"), (False, "to the course staff only")):
        doc = to_gradescope(graded(tests), reveals_later=reveals_later)
        assert "Visible tests: 1 of 1 passed, 1 of 1 points." in doc["output"]
        assert f"Hidden tests: 1, worth 3 points; their results are shown {when}" in doc["output"]
        assert "conv" not in doc["output"]
        assert "flipped" not in doc["output"]
        assert (
            doc["tests"][1]["output"]
            == "dx is off: rel_error 3.1e-01 > 1e-06\nHint: kernel flipped in dx"
        )


def test_a_student_s_text_cannot_break_the_json() -> None:
    nasty = "caf\u00e9 \U0001f600 \ud800 nul\x00 bell\x07\r\nnext <module> x <= 0"
    tests = [case("affine_forward", False, 1.0, message=nasty, status=TestStatus.error)]
    text = results_json(to_gradescope(graded(tests, message=nasty)))
    assert text.isascii()
    assert text.endswith("}\n")
    doc = strict_load(text)
    out = doc["tests"][0]["output"]
    assert out.encode("utf-8")  # no lone surrogate left: it encodes
    assert out == "caf\u00e9 \U0001f600 ? nul\ufffd bell\ufffd\nnext <module> x <= 0"
    assert "\r" not in doc["output"]
    assert "\x00" not in doc["output"]


def test_no_nan_or_infinity_reaches_the_file() -> None:
    tests = [
        case("affine_forward", False, 1.0, worst_error=math.inf),
        case("affine_backward", False, 1.0, worst_error=math.nan),
        case("relu_forward", True, 1.0, worst_error=1e-9),
    ]
    doc = to_gradescope(graded(tests), leaderboard=True)
    board = strict_load(results_json(doc))["leaderboard"]
    assert board[1] == {"name": "Worst relative error", "value": 1.0, "order": "asc"}
    with pytest.raises(ValueError, match="not JSON compliant"):
        results_json({"score": math.nan})


def test_a_crash_is_the_worst_error_on_the_leaderboard_not_the_best() -> None:
    # Failed without comparable numbers (a crash, NaN, a wrong shape): no worst_error.
    crashed = [case("affine_forward", False, 1.0, status=TestStatus.error)]
    board = to_gradescope(graded(crashed), leaderboard=True)["leaderboard"]
    assert board[1]["value"] == 1.0  # rel_error's worst; 0.0 would rank it first
    right = [case("affine_forward", True, 1.0, worst_error=2.5e-12)]
    assert to_gradescope(graded(right), leaderboard=True)["leaderboard"][1]["value"] == 2.5e-12


# deploy/gradescope/run_autograder, run as Gradescope would, on a temp /autograder.
RUN_AUTOGRADER = ROOT / "deploy" / "gradescope" / "run_autograder"


def autograder_dir(tmp_path: Path, submission: str | None) -> Path:
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    (root / "submission").mkdir()
    if submission is not None:
        (root / "submission" / "layers.py").write_text(submission)
    (root / "results").mkdir()
    (root / "results" / "results.json").write_text('{"score": 52}')  # stale
    return root


def fake_dlgrader(tmp_path: Path, status_exit: int) -> Path:
    """The real `dlgrader grade`, behind a `sandbox status` that answers status_exit."""
    script = tmp_path / "dlgrader"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {tmp_path / "calls"}\n'
        f'if [ "$1" = sandbox ]; then exit {status_exit}; fi\n'
        f'exec {sys.executable} -m grader.cli "$@"\n'
    )
    script.chmod(0o755)
    return script


def run_autograder(root: Path, dlgrader: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AUTOGRADER": str(root), "DLGRADER": dlgrader}
    return subprocess.run(
        [str(RUN_AUTOGRADER)], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.integration
@needs_bwrap
def test_run_autograder_grades_with_bubblewrap_and_writes_results(tmp_path: Path) -> None:
    root = autograder_dir(tmp_path, (EXAMPLES / "cnn-layers" / "layers.py").read_text())
    (root / "source" / "hidden_seed").write_text("1234\n")
    wrapper = tmp_path / "real"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -m grader.cli "$@"\n')
    wrapper.chmod(0o755)
    proc = run_autograder(root, str(wrapper))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "bwrap: ready" in proc.stdout  # the instructor's stdout says which sandbox
    doc = strict_load((root / "results" / "results.json").read_text())
    assert doc["score"] == 52.0
    assert {t["status"] for t in doc["tests"]} == {"passed"}


def test_run_autograder_without_bubblewrap_writes_no_results(tmp_path: Path) -> None:
    root = autograder_dir(tmp_path, "def affine_forward(x, w, b): pass\n")
    proc = run_autograder(root, str(fake_dlgrader(tmp_path, status_exit=3)))
    assert proc.returncode == 3
    assert not (root / "results" / "results.json").exists()  # stale one gone, no zero
    assert (tmp_path / "calls").read_text() == "sandbox status --require bwrap\n"


@needs_bwrap
def test_run_autograder_on_an_upload_without_the_module_writes_no_results(
    tmp_path: Path,
) -> None:
    root = autograder_dir(tmp_path, None)
    (root / "submission" / "notes.txt").write_text("hello")
    proc = run_autograder(root, str(fake_dlgrader(tmp_path, status_exit=0)))
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert not (root / "results" / "results.json").exists()
    grade_call = (tmp_path / "calls").read_text().splitlines()[1]
    assert grade_call == (
        f"grade {root}/submission -a cnn-layers --sandbox bwrap "
        f"--gradescope {root}/results/results.json"
    )
