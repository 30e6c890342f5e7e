"""Gradescope's results.json from a GradingResult
(https://gradescope-autograders.readthedocs.io/en/latest/specs/).

Only a graded result becomes a results.json. When we could not grade, or the upload was
not gradable, writing `score: 0` would record a real zero; Gradescope's documented path
for a run that produced no grade is a missing results.json ("The autograder failed to
execute correctly"), which records nothing and leaves the student free to resubmit.
"""

from __future__ import annotations

from typing import Any

from submissions_schema import GradingResult, TestStatus, Verdict, Visibility


def gradescope_visibility(visibility: Visibility, reveals_later: bool) -> str:
    """Hidden tests show their details after the due date where the service would reveal
    them (the assignment has a due date); otherwise they stay hidden."""
    if visibility == Visibility.hidden and reveals_later:
        return Visibility.after_due_date.value
    return visibility.value


def to_gradescope(
    result: GradingResult, leaderboard: bool = False, reveals_later: bool = False
) -> dict[str, Any]:
    if result.verdict != Verdict.graded:
        raise ValueError(f"only a graded result becomes a results.json, not {result.verdict}")
    tests = [
        {
            "name": t.name,
            "score": t.score,
            "max_score": t.max_score,
            "status": "passed" if t.status == TestStatus.passed else "failed",
            "output": "\n".join(x for x in (t.message, f"Hint: {t.hint}" if t.hint else "") if x),
            "visibility": gradescope_visibility(t.visibility, reveals_later),
        }
        for t in result.tests
    ]
    out: dict[str, Any] = {
        "score": result.score,
        "execution_time": round(result.execution_time_s, 3),  # seconds, a number
        "tests": tests,
    }
    if result.message:
        out["output"] = result.message
    if leaderboard:  # Gradescope ranks students by these columns
        errors = [t.worst_error for t in result.tests if t.worst_error is not None]
        out["leaderboard"] = [
            {"name": "Score", "value": round(result.score, 4)},
            {
                "name": "Worst relative error",
                "value": float(f"{max(errors):.3g}") if errors else 0.0,
                "order": "asc",
            },
        ]
    return out
