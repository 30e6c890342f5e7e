"""Gradescope's results.json from a GradingResult."""

from __future__ import annotations

from typing import Any

from submissions_schema import GradingResult, TestStatus


def to_gradescope(result: GradingResult, leaderboard: bool = False) -> dict[str, Any]:
    tests = [
        {
            "name": t.name,
            "score": t.score,
            "max_score": t.max_score,
            "status": "passed" if t.status == TestStatus.passed else "failed",
            "output": "\n".join(x for x in (t.message, f"Hint: {t.hint}" if t.hint else "") if x),
            "visibility": t.visibility.value,
        }
        for t in result.tests
    ]
    out: dict[str, Any] = {
        "score": result.score,
        "execution_time": f"{result.execution_time_s:.2f}",
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
