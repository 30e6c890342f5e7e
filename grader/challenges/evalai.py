"""Import an EvalAI `challenge_config.yaml`: its leaderboard, challenge_phases,
dataset_splits and challenge_phase_splits become the same challenge here. Every
setting we do not honour is named in `Challenge.unsupported`, never dropped silently.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import ValidationError

from submissions_schema.challenges import Challenge, SplitVisibility

VISIBILITY = {1: SplitVisibility.host, 2: SplitVisibility.owner_and_host, 3: SplitVisibility.public}
PHASE_KEYS = {
    "id",
    "name",
    "codename",
    "start_date",
    "end_date",
    "is_public",
    "leaderboard_public",
    "max_submissions_per_day",
    "max_submissions_per_month",
    "max_submissions",
    "max_concurrent_submissions_allowed",
    "allowed_submission_file_types",
    "is_restricted_to_select_one_submission",
}
PHASE_SPLIT_KEYS = {
    "challenge_phase_id",
    "leaderboard_id",
    "dataset_split_id",
    "visibility",
    "leaderboard_decimal_precision",
    "is_leaderboard_order_descending",
    "show_leaderboard_by_latest_submission",
    "show_execution_time",
    "show_scores_on_leaderboard",
}
TOP_KEYS = {
    "title",
    "description",
    "leaderboard",
    "challenge_phases",
    "dataset_splits",
    "challenge_phase_splits",
}


class EvalAIImportError(ValueError):
    """The config cannot be imported; the message says which part and why."""


def _file_types(value: Any) -> list[str]:
    if isinstance(value, str):
        value = value.split(",")
    return [
        t.strip() if t.strip().startswith(".") else f".{t.strip()}"
        for t in value or []
        if t.strip()
    ]


def import_evalai_config(text: str, name: str, evaluation: str) -> Challenge:
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise EvalAIImportError(f"not valid YAML: {exc}") from None
    if not isinstance(config, dict):
        raise EvalAIImportError("the config is not a mapping")
    unsupported = [f"{k} (top level)" for k in config if k not in TOP_KEYS]
    phases = []
    for phase in config.get("challenge_phases") or []:
        unsupported += [
            f"challenge_phases[{phase.get('codename', phase.get('id'))}].{k}"
            for k in phase
            if k not in PHASE_KEYS
        ]
        kept = {k: v for k, v in phase.items() if k in PHASE_KEYS}
        if "allowed_submission_file_types" in kept:
            kept["allowed_submission_file_types"] = _file_types(
                kept["allowed_submission_file_types"]
            )
        phases.append(kept)
    phase_splits = []
    for i, ps in enumerate(config.get("challenge_phase_splits") or [], start=1):
        unsupported += [f"challenge_phase_splits[{i}].{k}" for k in ps if k not in PHASE_SPLIT_KEYS]
        kept = {k: v for k, v in ps.items() if k in PHASE_SPLIT_KEYS}
        if "visibility" in kept:
            if kept["visibility"] not in VISIBILITY:
                raise EvalAIImportError(f"challenge_phase_splits[{i}].visibility must be 1, 2 or 3")
            kept["visibility"] = VISIBILITY[kept["visibility"]]
        phase_splits.append({"id": i, **kept})
    leaderboards = []
    for board in config.get("leaderboard") or []:
        schema = dict(board.get("schema") or {})
        unsupported += [
            f"leaderboard[{board.get('id')}].schema.{k}"
            for k in schema
            if k not in ("labels", "default_order_by", "metadata")
        ]
        schema = {
            k: v for k, v in schema.items() if k in ("labels", "default_order_by", "metadata")
        }
        leaderboards.append({"id": board.get("id"), "schema": schema})
    try:
        return Challenge(
            name=name,
            title=str(config.get("title") or name),
            description=str(config.get("description") or ""),
            evaluation=evaluation,
            leaderboards=leaderboards,
            phases=phases,
            dataset_splits=config.get("dataset_splits") or [],
            phase_splits=phase_splits,
            unsupported=unsupported,
        )
    except ValidationError as exc:
        raise EvalAIImportError(str(exc)) from None
