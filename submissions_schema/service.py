"""What the service's API, workers and CLI exchange: users, assignments, submissions,
status events, regrades and errors."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field

from submissions_schema.base import SchemaModel
from submissions_schema.challenges import ChallengeResult
from submissions_schema.reproduce import ReproduceReport
from submissions_schema.results import GradingResult


class Role(StrEnum):
    student = "student"
    ta = "ta"
    admin = "admin"


class User(SchemaModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    role: Role
    created_at: datetime


class TokenCreated(SchemaModel):
    """Shown once: the service keeps only a hash of `token`."""

    user: str
    role: Role
    token: str


class TokenInfo(SchemaModel):
    """A token as staff list it: never the token itself."""

    id: int
    user: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None = None


class StuckSubmission(SchemaModel):
    """A submission that waited or ran longer than its limits (the reaper acts on these)."""

    id: str
    why: str
    attempts: int


# Bounds on what a policy or an extension may say, so every date computed from them
# (a due date plus its late days) stays a date and every count fits the database's integer.
MAX_LATE_DAYS = 366
MAX_CAP = 10**6
DUE_YEARS = (2000, 2100)


def _due_in_range(value: datetime | None) -> datetime | None:
    if value is not None and not DUE_YEARS[0] <= value.year <= DUE_YEARS[1]:
        raise ValueError(f"a due date must fall between {DUE_YEARS[0]} and {DUE_YEARS[1]}")
    return value


DueDate = Annotated[datetime | None, AfterValidator(_due_in_range)]


class Counts(StrEnum):
    """Which graded submission is a student's grade: a course's choice."""

    best = "best"  # the highest score (after late penalties)
    latest = "latest"  # the most recent graded submission, whatever its score


class SubmissionPolicy(SchemaModel):
    """When and how much a student may submit to one assignment."""

    due_at: DueDate = Field(None, description="after this, submissions are late")
    late_days: int = Field(
        0, ge=0, le=MAX_LATE_DAYS, description="days after due_at that still accept, late"
    )
    late_penalty_per_day: float = Field(
        0.0, ge=0, le=1, description="score fraction lost per late day"
    )
    max_per_day: int | None = Field(20, ge=1, description="counted submissions per UTC day")
    max_total: int | None = Field(None, ge=1, description="counted submissions in all")
    file_types: list[str] = Field(default_factory=lambda: [".py", ".zip"])
    max_upload_bytes: int = Field(1 << 20, ge=1)
    queue: str = Field("cpu", description="cpu or gpu: which workers run it")
    counts: Counts = Field(
        Counts.best, description="which graded submission the gradebook takes: best or latest"
    )
    lms_assignment_id: str | None = Field(
        None,
        pattern=r"^[0-9]{1,20}$",
        description="the LMS's id of this assignment (Canvas: the number in its URL); the "
        "CSV export then names its column 'name (id)', which Canvas matches by id",
    )


class AssignmentInfo(SchemaModel):
    name: str
    version: str
    title: str
    module: str
    max_score: float
    policy: SubmissionPolicy


class JobKind(StrEnum):
    """What a submission row asks the workers to do with its upload."""

    homework = "homework"  # graded against an assignment's cases
    challenge = "challenge"  # scored on a challenge's splits (predictions or a model)
    reproduce = "reproduce"  # a reproducibility project: its runs, judged against claims


class SubmissionStatus(StrEnum):
    """The database row is the state machine: received → queued → running → graded,
    or failed (ours: never counted) or rejected (unreadable: never counted)."""

    received = "received"
    queued = "queued"
    running = "running"
    graded = "graded"
    failed = "failed"
    rejected = "rejected"


FINAL_STATUSES = {SubmissionStatus.graded, SubmissionStatus.failed, SubmissionStatus.rejected}
ACTIVE_STATUSES = (SubmissionStatus.received, SubmissionStatus.queued, SubmissionStatus.running)


class Submission(SchemaModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    owner: str
    assignment: str
    assignment_version: str
    file_name: str
    sha256: str
    size: int
    status: SubmissionStatus
    attempts: int
    reason: str = Field("", description="why it failed or was rejected")
    late: bool = False
    penalty: float = Field(0.0, description="fraction of the score taken for lateness")
    score: float | None = None
    max_score: float | None = None
    created_at: datetime
    updated_at: datetime


class StatusEvent(SchemaModel):
    model_config = ConfigDict(from_attributes=True)

    submission_id: str
    at: datetime
    status: SubmissionStatus
    message: str = ""


class SubmissionDetail(Submission):
    events: list[StatusEvent] = Field(default_factory=list)
    result: GradingResult | None = None
    challenge_result: ChallengeResult | None = None
    reproduce_report: ReproduceReport | None = None


class ScoreChange(SchemaModel):
    submission_id: str
    owner: str
    before: float | None
    after: float | None


class RegradeSummary(SchemaModel):
    assignment: str
    requested: int
    changed: list[ScoreChange] = Field(default_factory=list)
    unchanged: int = 0
    pending: list[str] = Field(default_factory=list, description="queued, not graded yet")


class AssignmentPushed(SchemaModel):
    """What `POST /api/v1/admin/assignments` did with an assignment folder."""

    name: str
    version: str = Field(description="the spec's version string")
    sha256: str = Field(description="the folder's content hash: this version's identity")
    previous_version: str | None = None
    previous_sha256: str | None = None
    changed: list[str] = Field(
        default_factory=list,
        description="what differs from the previous version: 'cases' (the spec), "
        "'solution' (solution/ and support/), 'environment'; empty: the same grading",
    )
    submissions: int = Field(0, description="submissions graded against earlier versions")
    regrade: str | None = Field(
        None, description="the request that regrades them (POST), offered when grading changed"
    )


class ExtensionGrant(SchemaModel):
    """What a TA grants one student on one assignment; a field left out keeps the
    assignment's own value."""

    due_at: DueDate = Field(None, description="the student's own due date")
    late_days: int | None = Field(
        None, ge=0, le=MAX_LATE_DAYS, description="late days after their due date"
    )
    max_total: int | None = Field(
        None, ge=1, le=MAX_CAP, description="their cap on counted submissions"
    )
    max_per_day: int | None = Field(None, ge=1, le=MAX_CAP, description="their cap per UTC day")
    reason: str = Field("", max_length=500)


class Extension(ExtensionGrant):
    """A per-student extension as stored: the policy honours it for this student only.
    The grant's bounds are checked when it is granted, not again on reading, so a row
    stored before they existed still shows (and can be revoked)."""

    due_at: datetime | None = None
    late_days: int | None = None
    max_total: int | None = None
    max_per_day: int | None = None

    user: str
    assignment: str
    granted_by: str
    created_at: datetime


class GradebookRow(SchemaModel):
    """One student on one assignment. Only graded submissions have a score: our failures
    and unreadable uploads never count, in-flight ones not yet."""

    user: str
    score: float | None = Field(
        None, description="the grade: the best or latest graded score, late penalty applied"
    )
    best: float | None = None
    latest: float | None = None
    max_score: float
    counted_submission: str | None = Field(None, description="the id of the one that counts")
    late: bool = Field(False, description="the counted submission was late")
    penalty: float = Field(0.0, description="the fraction its lateness took")
    missing: bool = Field(
        False, description="nothing graded and the student's own deadline has passed"
    )
    due_at: datetime | None = Field(None, description="the student's effective due date")
    extension: Extension | None = None
    attempts: int = Field(0, description="submissions counted against the limits")
    pending: int = Field(0, description="submissions not graded yet")
    last_submitted: datetime | None = None


class Gradebook(SchemaModel):
    assignment: str
    title: str
    max_score: float
    counts: Counts
    due_at: datetime | None = None
    lms_assignment_id: str | None = None
    generated_at: datetime
    rows: list[GradebookRow] = Field(default_factory=list)


class ApiError(SchemaModel):
    """Every error the API returns: a stable code and a message for a person."""

    code: str = Field(description="stable, e.g. 'not_found', 'limit_reached', 'upload_rejected'")
    message: str
