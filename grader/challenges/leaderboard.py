"""Leaderboards, computed from stored results and never edited by hand.

The rules, in order:
1. Only finished entries with a value for the order-by metric are ranked; failed,
   cancelled, unscored and "n/a" entries never are.
2. Flagged entries are dropped, and so are private ones (`is_public` false).
3. One entry per team: the one the team selected when the phase asks teams to
   choose, else the latest when the phase-split says so, else the best.
4. Baselines are always shown, marked, never merged per team, and not ranked.
5. Rows are sorted by the order-by metric in its direction (earlier submission
   first on equal values); ranks are 1, 2, 2, 4 on ties at the displayed precision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from submissions_schema.challenges import (
    LeaderboardEntry,
    LeaderboardSchema,
    LeaderboardSchemaOut,
    Phase,
    PhaseSplit,
)

MISSING = "#"  # EvalAI's mark for a metric an entry lacks


@dataclass(frozen=True)
class ScoredSubmission:
    """What the leaderboard needs of one submission's result on one split."""

    id: str
    team: str
    submitted_at: datetime
    status: str  # "finished" counts; anything else is not ranked
    metrics: dict[str, float | None]
    method_name: str = ""
    is_baseline: bool = False
    is_public: bool = True
    is_flagged: bool = False
    selected: bool = False  # the team chose this one to count


class LeaderboardError(ValueError):
    """A request the schema does not allow (an order_by that is not a label)."""


def _value(entry: ScoredSubmission, label: str) -> float | None:
    v = entry.metrics.get(label)
    if v is None or isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return float(v)


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
    ascending = schema.ascending(order_by) or (
        order_by == schema.default_order_by and not phase_split.is_leaderboard_order_descending
    )
    precision = phase_split.leaderboard_decimal_precision

    eligible = [
        e
        for e in entries
        if e.status == "finished"
        and _value(e, order_by) is not None
        and not e.is_flagged
        and e.is_public
    ]

    def better(a: ScoredSubmission, b: ScoredSubmission) -> bool:
        va, vb = _value(a, order_by), _value(b, order_by)
        assert va is not None
        assert vb is not None
        if va != vb:
            return va < vb if ascending else va > vb
        return a.submitted_at < b.submitted_at

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
        elif better(e, current):
            chosen[e.team] = e

    def key(e: ScoredSubmission) -> tuple[float, datetime]:
        v = _value(e, order_by)
        assert v is not None
        return (v if ascending else -v, e.submitted_at)

    rows = sorted([*chosen.values(), *baselines], key=key)
    out: list[LeaderboardEntry] = []
    rank = 0
    previous: float | None = None
    ranked = 0
    for e in rows:
        shown = round(_value(e, order_by) or 0.0, precision)
        entry_rank = None
        if not e.is_baseline:
            ranked += 1
            if shown != previous:
                rank = ranked
                previous = shown
            entry_rank = rank
        out.append(
            LeaderboardEntry(
                id=e.id,
                submission__participant_team__team_name=e.team,
                challenge_phase_split=phase_split.id,
                result=[
                    MISSING if (v := _value(e, label)) is None else round(v, precision)
                    for label in schema.labels
                ],
                filtering_score=shown,
                leaderboard__schema=LeaderboardSchemaOut(
                    labels=schema.labels, default_order_by=schema.default_order_by
                ),
                submission__submitted_at=e.submitted_at,
                submission__is_baseline=e.is_baseline,
                submission__method_name=e.method_name,
                submission__is_public=e.is_public,
                rank=entry_rank,
            )
        )
    return out
