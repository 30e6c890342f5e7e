"""Write one JSON Schema file per public model."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from submissions_schema import (
    ApiError,
    AssignmentInfo,
    Extension,
    Gradebook,
    GradingResult,
    RegradeSummary,
    StatusEvent,
    StuckSubmission,
    Submission,
    SubmissionDetail,
    SubmissionPolicy,
    TestResult,
    TokenCreated,
    TokenInfo,
    User,
)
from submissions_schema.challenges import Challenge, LeaderboardPage
from submissions_schema.reproduce import ClaimsFile, ReproduceReport

PUBLIC_MODELS: list[type[BaseModel]] = [
    Challenge,
    ClaimsFile,
    LeaderboardPage,
    ReproduceReport,
    ApiError,
    AssignmentInfo,
    Extension,
    Gradebook,
    GradingResult,
    RegradeSummary,
    StatusEvent,
    StuckSubmission,
    Submission,
    SubmissionDetail,
    SubmissionPolicy,
    TestResult,
    TokenCreated,
    TokenInfo,
    User,
]


def export_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for model in PUBLIC_MODELS:
        path = directory / f"{model.__name__}.schema.json"
        path.write_text(json.dumps(model.model_json_schema(), indent=2) + "\n")
        written.append(path)
    return written
