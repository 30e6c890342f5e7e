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
    "test_annotation_file",
    "is_partial_submission_evaluation_enabled",
    "submission_meta_attributes",
    "is_submission_public",
    "execution_time_limit",
}
# What a bundle brings beside the config: read by grader/challenges/bundle.py.
BUNDLE_TOP_KEYS = {
    "evaluation_script",
    "short_description",
    "evaluation_details",
    "terms_and_conditions",
    "submission_guidelines",
}
BUNDLE_PHASE_KEYS = {"description"}
# EvalAI's own default for a phase that names no file types.
EVALAI_FILE_TYPES = ".json, .zip, .txt, .tsv, .gz, .csv, .h5, .npy, .npz"
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


def parse_config(text: str) -> dict[str, Any]:
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise EvalAIImportError(f"not valid YAML: {exc}") from None
    if not isinstance(config, dict):
        raise EvalAIImportError("the config is not a mapping")
    for key in ("challenge_phases", "dataset_splits", "challenge_phase_splits", "leaderboard"):
        value = config.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise EvalAIImportError(f"{key} must be a list of mappings")
    return config


def import_evalai_config(text: str, name: str, evaluation: str, bundle: bool = False) -> Challenge:
    """The challenge a config describes. With `bundle`, the keys a bundle's files
    answer (evaluation_script, templates) are taken as handled, not unsupported."""
    config = parse_config(text)
    top_keys = TOP_KEYS | (BUNDLE_TOP_KEYS if bundle else set())
    phase_keys = PHASE_KEYS | (BUNDLE_PHASE_KEYS if bundle else set())
    unsupported = [f"{k} (top level)" for k in config if k not in top_keys]
    phases = []
    for phase in config.get("challenge_phases") or []:
        unsupported += [
            f"challenge_phases[{phase.get('codename', phase.get('id'))}].{k}"
            for k in phase
            if k not in phase_keys
        ]
        kept = {k: v for k, v in phase.items() if k in PHASE_KEYS}
        kept["allowed_submission_file_types"] = _file_types(
            kept.get("allowed_submission_file_types") or EVALAI_FILE_TYPES
        )
        kept.setdefault("is_submission_public", False)  # EvalAI's default
        phases.append(kept)
    defined = {
        "challenge_phase_id": [p.get("id") for p in config.get("challenge_phases") or []],
        "leaderboard_id": [b.get("id") for b in config.get("leaderboard") or []],
        "dataset_split_id": [d.get("id") for d in config.get("dataset_splits") or []],
    }
    phase_splits = []
    for i, ps in enumerate(config.get("challenge_phase_splits") or [], start=1):
        for key, ids in defined.items():  # EvalAI's is_challenge_phase_split_mapping_valid
            if ps.get(key) not in ids:
                raise EvalAIImportError(
                    f"challenge_phase_splits[{i}].{key} is {ps.get(key)!r}, which names no "
                    f"{key.removesuffix('_id').replace('_', ' ')} of the config "
                    f"(ids: {', '.join(map(str, ids)) or 'none'})"
                )
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
        labels, order_by = schema.get("labels"), schema.get("default_order_by")
        if isinstance(labels, list) and order_by is not None and order_by not in labels:
            # EvalAI takes it and ranks by a metric its leaderboard never shows.
            raise EvalAIImportError(
                f"leaderboard[{board.get('id')}].schema.default_order_by {order_by!r} is not "
                f"one of its labels ({', '.join(map(str, labels))}): a leaderboard ranked by a "
                "metric it does not show; add it to labels or order by one of them"
            )
        leaderboards.append({"id": board.get("id"), "schema": schema})
    try:
        return Challenge(
            name=name,
            title=str(config.get("title") or name),
            description=str(
                (config.get("short_description") if bundle else config.get("description")) or ""
            ),
            evaluation=evaluation,
            leaderboards=leaderboards,
            phases=phases,
            dataset_splits=config.get("dataset_splits") or [],
            phase_splits=phase_splits,
            unsupported=unsupported,
        )
    except ValidationError as exc:
        raise EvalAIImportError(str(exc)) from None
