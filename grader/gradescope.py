"""Gradescope's results.json from a GradingResult."""

from __future__ import annotations

from typing import Any

from submissions_schema import GradingResult, TestStatus


def to_gradescope(result: GradingResult) -> dict[str, Any]:
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
    return out
