"""results.json as Gradescope's spec documents it, and never a zero we did not give."""

from __future__ import annotations

import pytest

from grader.cli.gradescope import to_gradescope
from submissions_schema import GradingResult, TestResult, TestStatus, Verdict, Visibility


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


def test_without_a_due_date_hidden_tests_stay_hidden() -> None:
    doc = to_gradescope(result(), reveals_later=False)
    assert [t["visibility"] for t in doc["tests"]] == ["visible", "hidden"]


@pytest.mark.parametrize("verdict", [Verdict.could_not_grade, Verdict.rejected])
def test_no_grade_never_becomes_a_results_json(verdict: Verdict) -> None:
    with pytest.raises(ValueError, match="only a graded result"):
        to_gradescope(result(verdict))
