"""The pydantic models every part of dlgrader exchanges, exported as JSON Schema."""

from submissions_schema.results import GradingResult, TestResult, TestStatus, Verdict, Visibility
from submissions_schema.service import (
    FINAL_STATUSES,
    ApiError,
    AssignmentInfo,
    RegradeSummary,
    Role,
    ScoreChange,
    StatusEvent,
    StuckSubmission,
    Submission,
    SubmissionDetail,
    SubmissionPolicy,
    SubmissionStatus,
    TokenCreated,
    TokenInfo,
    User,
)

__all__ = [
    "FINAL_STATUSES",
    "ApiError",
    "AssignmentInfo",
    "GradingResult",
    "RegradeSummary",
    "Role",
    "ScoreChange",
    "StatusEvent",
    "StuckSubmission",
    "Submission",
    "SubmissionDetail",
    "SubmissionPolicy",
    "SubmissionStatus",
    "TestResult",
    "TestStatus",
    "TokenCreated",
    "TokenInfo",
    "User",
    "Verdict",
    "Visibility",
]
