"""Our leaderboard entry, field by field, against EvalAI's.

EvalAI's entry is written down here as data, with the JSON type its API gives each key.
Source: Cloud-CV/EvalAI, apps/jobs/utils.py, calculate_distinct_sorted_leaderboard_data
(the `.values(...)` key list; `filtering_score` and `filtering_error` are annotated
as FloatField, and `filtering_error` is set to 0 when the entry has no error; `result`
and `error` become lists in label order, "#" for a label the result lacks;
`submission__execution_time` is added only when the phase-split has
show_execution_time, a DurationField that DRF's encoder writes as a string of seconds),
and tests/unit/jobs/test_views.py, test_get_leaderboard (the same key set).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema

from grader.challenges.leaderboard import ScoredSubmission, compute_leaderboard, without_scores
from submissions_schema.challenges import (
    LeaderboardPage,
    LeaderboardSchema,
    Phase,
    PhaseSplit,
)

JSONType = type | None
EVALAI_ENTRY: dict[str, tuple[JSONType, ...]] = {
    "id": (int,),
    "submission__participant_team": (int,),
    "submission__participant_team__team_name": (str,),
    "submission__participant_team__team_url": (str,),
    "challenge_phase_split": (int,),
    "result": (list,),
    "error": (list, None),
    "filtering_score": (float,),
    "filtering_error": (float, int),
    "leaderboard__schema": (dict,),
    "submission__submitted_at": (str,),
    "submission__is_baseline": (bool,),
    "submission__method_name": (str,),
    "submission__is_public": (bool,),
    "submission__id": (int,),
    "submission__submission_metadata": (dict, None),
    "submission__is_verified_by_host": (bool,),
}
EVALAI_TIMED: dict[str, tuple[JSONType, ...]] = {"submission__execution_time": (str,)}

# Where we differ, and why (docs/challenges.md says the same):
OURS_ADDED = {"rank": (int, None)}  # 1, 2, 2, 4 on ties; EvalAI's page counts rows
DIFFERENT: dict[str, tuple[JSONType, ...]] = {
    "submission__id": (str,),  # our submission ids are strings
    "submission__participant_team": (int, None),  # a student alone has no team row
    "submission__execution_time": (float, None),  # a number of seconds, not a string
}

T0 = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
SCHEMA = LeaderboardSchema.model_validate(
    {
        "labels": ["accuracy", "params", "loss"],
        "default_order_by": "accuracy",
        "metadata": {
            "accuracy": {"sort_ascending": False, "description": "share of digits right"},
            "params": {"sort_ascending": True, "description": "trainable parameters"},
        },
    }
)
PHASE = Phase(id=1, name="Development", codename="dev")


def split(**kw: Any) -> PhaseSplit:
    return PhaseSplit(id=7, challenge_phase_id=1, leaderboard_id=1, dataset_split_id=1, **kw)


def submissions() -> list[ScoredSubmission]:
    return [
        ScoredSubmission(
            "sub-a",
            "ants",
            T0,
            "finished",
            {"accuracy": 0.9867, "params": 15914, "loss": 0.05},
            method_name="ConvNet",
            row_id=11,
            team_id=3,
            error={"error_accuracy": 0.004, "error_params": 0, "error_loss": 0.01},
            execution_time_s=21.5,
            metadata={"framework": "torch"},
        ),
        ScoredSubmission(
            "sub-b",
            "bob",
            T0 + timedelta(hours=1),
            "finished",
            {"accuracy": 0.9, "params": 8042},  # no loss: "#"
            row_id=12,
        ),
        ScoredSubmission(
            "sub-base",
            "staff",
            T0 - timedelta(days=1),
            "finished",
            {"accuracy": 0.96, "params": 5770, "loss": 0.1},
            method_name="course baseline",
            is_baseline=True,
            row_id=13,
            team_id=1,
        ),
    ]


def page(ps: PhaseSplit) -> dict[str, Any]:
    entries = compute_leaderboard(submissions(), SCHEMA, PHASE, ps)
    board = LeaderboardPage(count=len(entries), results=entries)
    loaded: dict[str, Any] = json.loads(board.model_dump_json())
    return loaded


def json_type(value: object) -> JSONType:
    return None if value is None else type(value)


def test_the_key_set_and_each_type_match_evalais() -> None:
    rows = page(split(show_execution_time=True))["results"]
    expected = {**EVALAI_ENTRY, **EVALAI_TIMED, **DIFFERENT, **OURS_ADDED}
    for row in rows:
        assert set(row) == set(EVALAI_ENTRY) | set(EVALAI_TIMED) | set(OURS_ADDED)
        for key, value in row.items():
            assert json_type(value) in expected[key], (key, value)
        datetime.fromisoformat(row["submission__submitted_at"])
    assert set(DIFFERENT) - set(EVALAI_TIMED) <= set(EVALAI_ENTRY)  # differences name real keys


def test_execution_time_only_where_the_split_shows_it() -> None:
    rows = page(split())["results"]
    assert all("submission__execution_time" not in row for row in rows)
    timed = page(split(show_execution_time=True))["results"]
    assert [r["submission__execution_time"] for r in timed] == [21.5, None, None]


def test_ints_stay_ints_and_missing_is_hash() -> None:
    first, baseline, second = page(split())["results"]
    assert [first["submission__id"], baseline["submission__id"], second["submission__id"]] == [
        "sub-a",
        "sub-base",
        "sub-b",
    ]
    assert first["result"] == [0.9867, 15914, 0.05]
    assert isinstance(first["result"][1], int)
    assert second["result"] == [0.9, 8042, "#"]
    assert first["filtering_score"] == 0.9867  # never rounded to the display precision
    # EvalAI casts the order-by value to a float (FloatField); so do we: 5770.0.
    by_params = compute_leaderboard(submissions(), SCHEMA, PHASE, split(), order_by="params")
    row = json.loads(by_params[0].model_dump_json())
    assert row["filtering_score"] == 5770.0
    assert isinstance(row["filtering_score"], float)
    assert row["result"][1] == 5770
    assert isinstance(row["result"][1], int)


def test_error_bars_in_label_order() -> None:
    first, baseline, second = page(split())["results"]
    assert first["error"] == [0.004, 0, 0.01]
    assert first["filtering_error"] == 0.004
    assert second["error"] is None  # no error reported: null, and filtering_error 0
    assert second["filtering_error"] == 0
    assert baseline["error"] is None


def test_the_schema_as_stored_with_its_metadata() -> None:
    first = page(split())["results"][0]
    assert first["leaderboard__schema"] == {
        "labels": ["accuracy", "params", "loss"],
        "default_order_by": "accuracy",
        "metadata": {
            "accuracy": {"sort_ascending": False, "description": "share of digits right"},
            "params": {"sort_ascending": True, "description": "trainable parameters"},
        },
    }
    bare = LeaderboardSchema(labels=["score"], default_order_by="score")
    entry = ScoredSubmission("s", "t", T0, "finished", {"score": 3}, row_id=1)
    [row] = compute_leaderboard([entry], bare, PHASE, split())
    assert json.loads(row.model_dump_json())["leaderboard__schema"] == {
        "labels": ["score"],
        "default_order_by": "score",
    }


def test_ids_teams_and_ranks() -> None:
    first, baseline, second = page(split())["results"]
    assert (first["id"], first["submission__participant_team"], first["rank"]) == (11, 3, 1)
    assert (second["id"], second["submission__participant_team"], second["rank"]) == (12, None, 2)
    assert baseline["rank"] is None
    assert baseline["submission__is_baseline"] is True
    assert first["submission__submission_metadata"] == {"framework": "torch"}
    assert second["submission__submission_metadata"] is None
    assert first["submission__participant_team__team_url"] == ""
    assert first["submission__is_verified_by_host"] is False


def test_hidden_scores_keep_the_ranking() -> None:
    entries = compute_leaderboard(submissions(), SCHEMA, PHASE, split())
    hidden = without_scores(entries)
    assert [e.rank for e in hidden] == [e.rank for e in entries]
    assert all(e.result == ["#", "#", "#"] and e.error is None for e in hidden)


def test_the_page_round_trips_and_matches_its_json_schema() -> None:
    data = page(split(show_execution_time=True))
    jsonschema.validate(data, LeaderboardPage.model_json_schema())
    again = LeaderboardPage.model_validate(data)
    assert json.loads(again.model_dump_json()) == data
    untimed = page(split())
    jsonschema.validate(untimed, LeaderboardPage.model_json_schema())
    assert json.loads(LeaderboardPage.model_validate(untimed).model_dump_json()) == untimed


def test_equal_values_the_smaller_error_bar_first() -> None:
    def scored(sid: str, error: float | None, minutes: int) -> ScoredSubmission:
        return ScoredSubmission(
            sid,
            sid,
            T0 + timedelta(minutes=minutes),
            "finished",
            {"accuracy": 0.9},
            error=None if error is None else {"accuracy": error},
        )

    rows = compute_leaderboard(
        [scored("wide", 0.05, 0), scored("narrow", 0.01, 5), scored("none", None, 9)],
        SCHEMA,
        PHASE,
        split(),
    )
    assert [r.submission__id for r in rows] == ["none", "narrow", "wide"]  # no error bar: 0
    assert [r.rank for r in rows] == [1, 1, 1]
