"""A grading result as the rows of its table: what the terminal (grader/cli/render.py)
and the result page (grader/service/templates/submission.html.j2) both show."""

from __future__ import annotations

from dataclasses import dataclass

from submissions_schema import GradingResult

COLUMNS = ("test", "status", "score", "worst error", "hint / message")


@dataclass(frozen=True)
class ResultRow:
    test: str
    status: str  # a TestStatus value: passed, failed, error, timeout, missing, not_run
    score: str
    worst_error: str
    note: str  # the hint (prefixed "hint: ") or the message's first line
    is_hint: bool
    hidden: bool


def result_rows(result: GradingResult) -> list[ResultRow]:
    rows = []
    for t in result.tests:
        note = t.hint or t.message.split("\n")[0]
        rows.append(
            ResultRow(
                test=t.name,
                status=t.status.value,
                score=f"{t.score:.2f}/{t.max_score:.2f}",
                worst_error="" if t.worst_error is None else f"{t.worst_error:.1e}",
                note=("hint: " if t.hint else "") + note[:200],
                is_hint=t.hint is not None,
                hidden=t.visibility.value != "visible",
            )
        )
    return rows


def total_line(result: GradingResult) -> str:
    return f"total: {result.score:g} / {result.max_score:g}"
