"""Leaderboards, computed from stored results and never edited by hand.

The rules, in order:
1. Only finished entries with a value for the order-by metric are ranked; failed,
   cancelled, unscored and "n/a" entries never are.
2. Flagged entries are dropped, and so are private ones (`is_public` false) on a public
   phase-split; a host-only or owner-and-host split keeps them, as EvalAI's
   calculate_distinct_sorted_leaderboard_data does (its viewers may see them).
3. One entry per team: the one the team selected when the phase asks teams to
   choose, else the latest when the phase-split says so, else the best.
4. Baselines are always shown, marked, never merged per team, and not ranked.
5. Rows are sorted by the order-by metric in its direction (the label's
   `sort_ascending` when the schema's metadata names it, else the phase-split's
   `is_leaderboard_order_descending`, as EvalAI does); on equal values the smaller
   error bar, then the earlier submission, first; ranks are 1, 2, 2, 4 on ties at the
   displayed precision.

Values are written as reported, never rounded: as in EvalAI, the phase-split's
`leaderboard_decimal_precision` is for display (the page), not for the JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from submissions_schema.challenges import (
    LeaderboardEntry,
    LeaderboardSchema,
    LeaderboardSchemaOut,
    Phase,
    PhaseSplit,
    SplitVisibility,
    Value,
)

MISSING = "#"  # EvalAI's mark for a metric an entry lacks

Number = int | float


@dataclass(frozen=True)
class ScoredSubmission:
    """What the leaderboard needs of one submission's result on one split."""

    id: str
    team: str
    submitted_at: datetime
    status: str  # "finished" counts; anything else is not ranked
    metrics: dict[str, Number | None]
    method_name: str = ""
    is_baseline: bool = False
    is_public: bool = True
    is_flagged: bool = False
    selected: bool = False  # the team chose this one to count
    row_id: int = 0  # the leaderboard-data row: EvalAI's entry `id`
    team_id: int | None = None  # None: a student competing alone
    error: dict[str, Number | None] | None = None  # error bars by label (or "error_<label>")
    execution_time_s: float | None = None
    metadata: dict[str, Any] | None = None  # what the team said about the submission


class LeaderboardError(ValueError):
    """A request the schema does not allow (an order_by that is not a label)."""


def _number(v: object) -> Number | None:
    """A finite int or float as it is (bools and NaN are not numbers here)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return v if math.isfinite(v) else None


def _value(entry: ScoredSubmission, label: str) -> float | None:
    v = _number(entry.metrics.get(label))
    return None if v is None else float(v)


def _error(entry: ScoredSubmission, label: str) -> Number | None:
    if entry.error is None:
        return None
    # EvalAI stores error bars as "error_<label>"; an evaluate() may name them by label.
    return _number(entry.error.get(label, entry.error.get(f"error_{label}")))


def is_ascending(schema: LeaderboardSchema, phase_split: PhaseSplit, label: str) -> bool:
    if label in schema.metadata:
        return schema.metadata[label].sort_ascending
    return not phase_split.is_leaderboard_order_descending


def schema_out(schema: LeaderboardSchema) -> LeaderboardSchemaOut:
    """The schema as stored: `metadata` only when the host gave some."""
    if schema.metadata:
        return LeaderboardSchemaOut(
            labels=schema.labels, default_order_by=schema.default_order_by, metadata=schema.metadata
        )
    return LeaderboardSchemaOut(labels=schema.labels, default_order_by=schema.default_order_by)


def compute_leaderboard(
    entries: list[ScoredSubmission],
    schema: LeaderboardSchema,
    phase: Phase,
    phase_split: PhaseSplit,
    order_by: str | None = None,
) -> list[LeaderboardEntry]:
    order_by = order_by or schema.default_order_by
    if order_by not in schema.labels:
        raise LeaderboardError(f"order_by must be one of {', '.join(schema.labels)}")
    ascending = is_ascending(schema, phase_split, order_by)
    precision = phase_split.leaderboard_decimal_precision

    eligible = [
        e
        for e in entries
        if e.status == "finished"
        and _value(e, order_by) is not None
        and not e.is_flagged
        and (e.is_public or phase_split.visibility != SplitVisibility.public)
    ]

    def key(e: ScoredSubmission) -> tuple[float, float, datetime]:
        v = _value(e, order_by)
        assert v is not None
        # Equal values: the smaller error bar first (EvalAI's tie-break), then the earlier.
        return (v if ascending else -v, float(_error(e, order_by) or 0), e.submitted_at)

    chosen: dict[str, ScoredSubmission] = {}
    baselines: list[ScoredSubmission] = []
    for e in eligible:
        if e.is_baseline:
            baselines.append(e)
            continue
        current = chosen.get(e.team)
        if phase.is_restricted_to_select_one_submission:
            if e.selected:
                chosen[e.team] = e
        elif current is None:
            chosen[e.team] = e
        elif phase_split.show_leaderboard_by_latest_submission:
            if e.submitted_at > current.submitted_at:
                chosen[e.team] = e
        elif key(e) < key(current):
            chosen[e.team] = e

    rows = sorted([*chosen.values(), *baselines], key=key)
    out: list[LeaderboardEntry] = []
    rank = 0
    previous: float | None = None
    ranked = 0
    stored_schema = schema_out(schema)
    for e in rows:
        score = _value(e, order_by)
        assert score is not None
        entry_rank = None
        if not e.is_baseline:
            ranked += 1
            shown = round(score, precision)
            if shown != previous:
                rank = ranked
                previous = shown
            entry_rank = rank
        result: list[Value] = [
            MISSING if (v := _number(e.metrics.get(label))) is None else v
            for label in schema.labels
        ]
        error: list[Value] | None = None
        if e.error is not None:
            error = [MISSING if (v := _error(e, label)) is None else v for label in schema.labels]
        timed = (
            {"submission__execution_time": e.execution_time_s}
            if phase_split.show_execution_time
            else {}
        )
        out.append(
            LeaderboardEntry(
                id=e.row_id,
                submission__participant_team=e.team_id,
                submission__participant_team__team_name=e.team,
                challenge_phase_split=phase_split.id,
                result=result,
                error=error,
                filtering_score=score,
                filtering_error=float(_error(e, order_by) or 0),
                leaderboard__schema=stored_schema,
                submission__submitted_at=e.submitted_at,
                submission__is_baseline=e.is_baseline,
                submission__method_name=e.method_name,
                submission__is_public=e.is_public,
                submission__id=e.id,
                submission__submission_metadata=e.metadata,
                rank=entry_rank,
                **timed,
            )
        )
    return out


def without_scores(entries: list[LeaderboardEntry]) -> list[LeaderboardEntry]:
    """The board as a reader sees it where the phase-split hides scores
    (`show_scores_on_leaderboard: false`): the ranking stays, the values do not."""
    return [
        e.model_copy(
            update={
                "result": [MISSING] * len(e.result),
                "error": None,
                "filtering_score": 0.0,
                "filtering_error": 0.0,
            }
        )
        for e in entries
    ]
