"""The leaderboard rules, one by one, on hand-made results."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from grader.challenges.leaderboard import LeaderboardError, ScoredSubmission, compute_leaderboard
from grader.challenges.specs import get_challenge
from submissions_schema.challenges import SplitVisibility

T0 = datetime(2026, 11, 1, tzinfo=UTC)
CHALLENGE = get_challenge("digits-convnet")
PHASE = CHALLENGE.phase("dev")
PS = CHALLENGE.phase_split("dev", "dev")
SCHEMA = CHALLENGE.leaderboard_schema(PS)


def entry(
    sid: str, team: str, acc: float | None, minutes: int = 0, **kw: object
) -> ScoredSubmission:
    return ScoredSubmission(
        id=sid,
        team=team,
        submitted_at=T0 + timedelta(minutes=minutes),
        status=str(kw.pop("status", "finished")),
        metrics={"accuracy": acc, "macro_f1": acc, "params": None, "train_time_s": None},
        **kw,
    )  # type: ignore[arg-type]


def board(entries: list[ScoredSubmission], **kw: object):  # type: ignore[no-untyped-def]
    return compute_leaderboard(entries, SCHEMA, kw.pop("phase", PHASE), kw.pop("ps", PS), **kw)  # type: ignore[arg-type]


def test_best_per_team_and_ties_rank_1_2_2_4() -> None:
    rows = board(
        [
            entry("a1", "ants", 0.90),
            entry("a2", "ants", 0.95, 5),
            entry("b1", "bees", 0.93),
            entry("c1", "cats", 0.93, 1),
            entry("d1", "dogs", 0.80),
        ]
    )
    assert [(r.submission__participant_team__team_name, r.rank) for r in rows] == [
        ("ants", 1),
        ("bees", 2),
        ("cats", 2),
        ("dogs", 4),
    ]
    assert rows[0].submission__id == "a2"  # the best of ants
    assert rows[0].result == [0.95, 0.95, "#", "#"]  # label order, "#" for missing
    assert rows[0].leaderboard__schema.default_order_by == "accuracy"


def test_latest_per_team_when_the_split_says_so() -> None:
    ps = PS.model_copy(update={"show_leaderboard_by_latest_submission": True})
    rows = board([entry("a1", "ants", 0.95), entry("a2", "ants", 0.90, 5)], ps=ps)
    assert [r.submission__id for r in rows] == ["a2"]


def test_selected_submission_counts_when_teams_choose() -> None:
    phase = PHASE.model_copy(update={"is_restricted_to_select_one_submission": True})
    rows = board(
        [
            entry("a1", "ants", 0.95),
            entry("a2", "ants", 0.90, 5, selected=True),
            entry("b1", "bees", 0.99),
        ],
        phase=phase,
    )
    assert [r.submission__id for r in rows] == ["a2"]  # bees chose nothing: not ranked


def test_baselines_shown_marked_and_unranked() -> None:
    rows = board(
        [
            entry("base", "staff", 0.92, is_baseline=True),
            entry("base2", "staff", 0.85, is_baseline=True),
            entry("a1", "ants", 0.95),
            entry("b1", "bees", 0.90),
        ]
    )
    assert [(r.submission__id, r.rank, r.submission__is_baseline) for r in rows] == [
        ("a1", 1, False),
        ("base", None, True),
        ("b1", 2, False),
        ("base2", None, True),
    ]


@pytest.mark.parametrize(
    "bad",
    [
        {"status": "failed"},
        {"status": "cancelled"},
        {"status": "running"},
        {"is_flagged": True},
        {"is_public": False},
    ],
)
def test_never_ranked(bad: dict) -> None:  # type: ignore[type-arg]
    rows = board([entry("x", "xs", 0.99, **bad), entry("a1", "ants", 0.5)])
    assert [r.submission__id for r in rows] == ["a1"]


def test_private_entries_count_where_only_hosts_or_owners_look() -> None:
    # EvalAI drops private submissions from public phase-splits only.
    rows = [entry("x", "xs", 0.99, is_public=False), entry("a1", "ants", 0.5)]
    for visibility in (SplitVisibility.host, SplitVisibility.owner_and_host):
        ps = PS.model_copy(update={"visibility": visibility})
        assert [r.submission__id for r in board(rows, ps=ps)] == ["x", "a1"]


def test_unscored_and_nan_are_not_ranked() -> None:
    rows = board([entry("x", "xs", None), entry("y", "ys", float("nan")), entry("a1", "ants", 0.5)])
    assert [r.submission__id for r in rows] == ["a1"]


def test_order_by_another_label_and_only_a_label() -> None:
    rows = [entry("a", "ants", 0.9), entry("b", "bees", 0.8)]
    rows[0].metrics["params"] = 5000.0
    rows[1].metrics["params"] = 100.0
    ordered = board(rows, order_by="params")  # ascending by its metadata
    assert [r.submission__id for r in ordered] == ["b", "a"]
    with pytest.raises(LeaderboardError, match="order_by must be one of"):
        board(rows, order_by="loss")


def test_ties_are_judged_at_the_displayed_precision() -> None:
    ps = PS.model_copy(update={"leaderboard_decimal_precision": 2})
    rows = board([entry("a", "ants", 0.9312), entry("b", "bees", 0.9298, 1)], ps=ps)
    assert [r.rank for r in rows] == [1, 1]
