"""Gradescope's results.json from a GradingResult
(https://gradescope-autograders.readthedocs.io/en/latest/specs/).

Only a graded result becomes a results.json. When we could not grade, or the upload was
not gradable, writing `score: 0` would record a real zero; Gradescope's documented path
for a run that produced no grade is a missing results.json ("The autograder failed to
execute correctly"), which records nothing and leaves the student free to resubmit.

Only fields the spec documents are written. What the spec leaves to defaults is set where
the default would be wrong for us: the top-level `output` defaults to `simple_format`
(HTML, sanitised), which would eat `<module>` in a traceback or `x <= 0` in a message, so
it is `text`; stdout, where `dlgrader grade` prints every test with its details, stays
instructor-only (`stdout_visibility: hidden`) even on a course whose default differs.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from typing import Any

from submissions_schema import GradingResult, TestResult, TestStatus, Verdict, Visibility

PLACES = 4  # a test's points as Gradescope shows them: 0.6667, not 0.6666666666666666
# The course's rel_error is at most 1 for finite numbers; a failed test that gave no
# comparable numbers (a crash, NaN, a wrong shape) is as wrong as can be, not 0.
WORST_POSSIBLE_ERROR = 1.0
# NUL and the other C0 controls but tab and newline: Gradescope stores this text.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


def gradescope_visibility(visibility: Visibility, reveals_later: bool) -> str:
    """Hidden tests show their details after the due date where the service would reveal
    them (the assignment has a due date); otherwise they stay hidden."""
    if visibility == Visibility.hidden and reveals_later:
        return Visibility.after_due_date.value
    return visibility.value


def clean_text(text: str) -> str:
    """Text any strict JSON reader and database takes: Unix line endings (the spec asks
    for them), no NUL or other control characters, no lone surrogates (a student's
    exception message can hold one; UTF-8 has no encoding for it)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.encode("utf-8", "replace").decode("utf-8")  # a lone surrogate becomes "?"
    return _CONTROL.sub("\N{REPLACEMENT CHARACTER}", text)


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError(f"a score must be a finite number, not {value}")
    return value


def shown_points(tests: list[TestResult]) -> list[float]:
    """Each test's max_score at PLACES decimals, apportioned (largest remainder) within
    its function so that the function's tests still add up to its points exactly:
    2 points over 3 cases are 0.6667, 0.6667, 0.6666, not 3 × 0.6667 = 2.0001."""
    unit = 10**PLACES
    shown = [0.0] * len(tests)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, t in enumerate(tests):
        groups[t.function].append(i)
    for members in groups.values():
        exact = [_finite(tests[i].max_score) * unit for i in members]
        units = [math.floor(x) for x in exact]
        short = round(sum(exact)) - sum(units)
        by_remainder = sorted(range(len(members)), key=lambda k: (units[k] - exact[k], k))
        for k in by_remainder[: max(short, 0)]:
            units[k] += 1
        for k, i in enumerate(members):
            shown[i] = units[k] / unit
    return shown


def _test_output(t: TestResult) -> str:
    return clean_text("\n".join(x for x in (t.message, f"Hint: {t.hint}" if t.hint else "") if x))


def _summary(result: GradingResult, reveals_later: bool) -> str:
    """The top-level output: the submission's own message and what the student may see
    of the tally now. Hidden tests' results are not counted in it (Gradescope hides the
    total itself while tests are hidden); their number and points are said."""
    seen = [t for t in result.tests if t.visibility == Visibility.visible]
    unseen = [t for t in result.tests if t.visibility != Visibility.visible]
    passed = sum(t.status == TestStatus.passed for t in seen)
    lines = [result.message] if result.message else []
    lines.append(
        f"Visible tests: {passed} of {len(seen)} passed, "
        f"{_points(sum(t.score for t in seen))} of {_points(sum(t.max_score for t in seen))} "
        "points."
    )
    if unseen:
        when = "after the due date" if reveals_later else "to the course staff only"
        lines.append(
            f"Hidden tests: {len(unseen)}, worth {_points(sum(t.max_score for t in unseen))} "
            f"points; their results are shown {when}."
        )
    if any(t.hint for t in seen):
        lines.append("Open a failed test for its message and hint.")
    return clean_text("\n".join(lines))


def _points(value: float) -> str:
    return f"{round(value, PLACES):g}"


def _worst_error(result: GradingResult) -> float:
    errors = [
        t.worst_error
        if t.worst_error is not None and math.isfinite(t.worst_error)
        else (WORST_POSSIBLE_ERROR if t.status != TestStatus.passed else 0.0)
        for t in result.tests
    ]
    return float(f"{min(max(errors, default=0.0), WORST_POSSIBLE_ERROR):.3g}")


def to_gradescope(
    result: GradingResult, leaderboard: bool = False, reveals_later: bool = False
) -> dict[str, Any]:
    if result.verdict != Verdict.graded:
        raise ValueError(f"only a graded result becomes a results.json, not {result.verdict}")
    points = shown_points(result.tests)
    tests = [
        {
            "name": clean_text(t.name),
            "score": points[i] if t.score >= t.max_score else round(_finite(t.score), PLACES),
            "max_score": points[i],
            # Said, not left to Gradescope's default (passed when score == max_score):
            # a test worth 0 points that failed would otherwise show as passed.
            "status": "passed" if t.status == TestStatus.passed else "failed",
            "output": _test_output(t),
            "visibility": gradescope_visibility(t.visibility, reveals_later),
        }
        for i, t in enumerate(result.tests)
    ]
    out: dict[str, Any] = {
        # The grade itself, as the service records it; it overrides the tests' total,
        # which PLACES-decimal rounding leaves within 0.0001 per function of it.
        "score": round(_finite(result.score), 6),
        "execution_time": round(_finite(result.execution_time_s), 3),  # seconds, a number
        "output": _summary(result, reveals_later),
        "output_format": "text",
        "test_output_format": "text",
        "test_name_format": "text",
        "stdout_visibility": "hidden",
        "tests": tests,
    }
    if leaderboard:  # Gradescope ranks students by these columns
        out["leaderboard"] = [
            {"name": "Score", "value": round(result.score, 4)},
            {"name": "Worst relative error", "value": _worst_error(result), "order": "asc"},
        ]
    return out


def results_json(document: dict[str, Any]) -> str:
    """The file's text: strict JSON (NaN and Infinity are not JSON, and Gradescope's
    parser refuses them), ASCII-escaped so no encoding can garble it."""
    return json.dumps(document, indent=2, allow_nan=False, ensure_ascii=True) + "\n"
