"""Submissions: accept (checked, stored, committed, then queued), read, regrade.

The row is committed before its task is queued, so a lost message, a dead worker
or an emptied Redis loses nothing: the reaper finds the row and queues it again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from grader.grading.specs import Assignment
from grader.service import lifecycle
from grader.service.accounts import has_role
from grader.service.db import (
    ExtensionRow,
    ResultRow,
    SubmissionRow,
    UserRow,
    session_scope,
    utcnow,
)
from grader.service.jobs import job_spec
from grader.service.lifecycle import as_utc
from grader.service.queue import Dispatcher
from grader.service.storage import BlobStore
from grader.service.uploads import UploadRejected, check_project_zip, check_upload
from grader.settings import Settings
from submissions_schema import (
    GradingResult,
    JobKind,
    Role,
    StatusEvent,
    Submission,
    SubmissionDetail,
    SubmissionPolicy,
    SubmissionStatus,
    Visibility,
)
from submissions_schema.challenges import ChallengeResult
from submissions_schema.reproduce import ReproduceReport

S = SubmissionStatus
# Ours to fix or the student's unreadable upload: neither costs an attempt.
UNCOUNTED = (SubmissionStatus.failed.value, SubmissionStatus.rejected.value)
MAX_PROJECTS_PER_DAY = 10


class ServiceError(Exception):
    """An error the API returns as {code, message} with this HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def to_model(row: SubmissionRow) -> Submission:
    return Submission(
        id=row.id,
        owner=row.user.name,
        assignment=row.assignment,
        assignment_version=row.assignment_version,
        file_name=row.file_name,
        sha256=row.sha256,
        size=row.size,
        status=SubmissionStatus(row.status),
        attempts=row.attempts,
        reason=row.reason,
        late=row.late,
        penalty=row.penalty,
        score=row.score,
        max_score=row.max_score,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


@dataclass(frozen=True)
class Lateness:
    late: bool
    penalty: float


def by_idempotency_key(session: Session, user_id: int, key: str) -> SubmissionRow | None:
    """The submission this user already made with this Idempotency-Key, if any."""
    return session.scalar(
        select(SubmissionRow).where(
            SubmissionRow.user_id == user_id, SubmissionRow.idempotency_key == key
        )
    )


# What an extension may set for its student; a null keeps the assignment's value.
EXTENDED = ("due_at", "late_days", "max_total", "max_per_day")


def extension_for(session: Session, user_id: int, assignment: str) -> ExtensionRow | None:
    return session.scalar(
        select(ExtensionRow).where(
            ExtensionRow.user_id == user_id, ExtensionRow.assignment == assignment
        )
    )


def effective_policy(policy: SubmissionPolicy, extension: ExtensionRow | None) -> SubmissionPolicy:
    """The assignment's policy as it applies to one student: their extension's due date
    and caps in place of the assignment's."""
    if extension is None:
        return policy
    update: dict[str, object] = {
        k: getattr(extension, k) for k in EXTENDED if getattr(extension, k) is not None
    }
    if extension.due_at is not None:
        update["due_at"] = as_utc(extension.due_at)
    return policy.model_copy(update=update)


def closes_at(policy: SubmissionPolicy) -> datetime | None:
    """The last moment a submission is accepted (late, after the due date). A date past
    the calendar's end (a row stored before the schema's bounds) is never: the end."""
    if policy.due_at is None:
        return None
    try:
        return as_utc(policy.due_at) + timedelta(days=policy.late_days)
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)


def late_penalty(policy: SubmissionPolicy, at: datetime) -> Lateness:
    """How late a submission made at `at` is under `policy`: a started day counts whole,
    the penalty is at most the whole score."""
    if policy.due_at is None or at <= as_utc(policy.due_at):
        return Lateness(False, 0.0)
    days = math.ceil((at - as_utc(policy.due_at)).total_seconds() / 86400)
    return Lateness(True, min(1.0, days * policy.late_penalty_per_day))


def penalized(score: float, penalty: float) -> float:
    return round(score * (1 - penalty), 6)


def lateness(
    assignment: Assignment, now: datetime, extension: ExtensionRow | None = None
) -> Lateness:
    """A new submission's lateness, by the student's own due date; refused once closed."""
    policy = effective_policy(assignment.policy, extension)
    closes = closes_at(policy)
    if closes is not None and now > closes:
        raise ServiceError(
            403, "deadline_passed", f"{assignment.name} closed at {closes.isoformat()}"
        )
    return late_penalty(policy, now)


def reveals_at(session: Session, assignment: Assignment) -> datetime | None:
    """When hidden tests show their details to students: the due date, or the latest
    extended due date if later. Everyone waits for the last extension, so no classmate
    can pass the hidden cases' details to a student still working (docs/gradebook.md)."""
    due = assignment.policy.due_at
    if due is None:
        return None
    extended = session.scalar(
        select(func.max(ExtensionRow.due_at)).where(ExtensionRow.assignment == assignment.name)
    )
    return max(as_utc(due), as_utc(extended)) if extended is not None else as_utc(due)


def check_limits(
    session: Session,
    user: UserRow,
    assignment: Assignment,
    now: datetime,
    extension: ExtensionRow | None = None,
) -> None:
    """Per-day and total limits count only submissions that were or will be graded; a
    student's extension may set their own caps."""
    counted = (
        select(func.count())
        .select_from(SubmissionRow)
        .where(
            SubmissionRow.user_id == user.id,
            SubmissionRow.assignment == assignment.name,
            SubmissionRow.status.not_in(UNCOUNTED),
        )
    )
    policy = effective_policy(assignment.policy, extension)
    if policy.max_total is not None and (session.scalar(counted) or 0) >= policy.max_total:
        raise ServiceError(
            429, "limit_reached", f"{assignment.name} allows {policy.max_total} submissions in all"
        )
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    today = counted.where(SubmissionRow.created_at >= day_start)
    if policy.max_per_day is not None and (session.scalar(today) or 0) >= policy.max_per_day:
        raise ServiceError(
            429,
            "limit_reached",
            f"{assignment.name} allows {policy.max_per_day} submissions a day (UTC)",
        )


class SubmissionService:
    def __init__(self, settings: Settings, blobs: BlobStore, dispatcher: Dispatcher) -> None:
        self.settings = settings
        self.url = settings.resolved_database_url()
        self.blobs = blobs
        self.dispatcher = dispatcher

    def submit(
        self,
        user_id: int,
        assignment: Assignment,
        file_name: str,
        data: bytes,
        idempotency_key: str | None,
    ) -> tuple[Submission, bool]:
        """Check, store, commit, then queue. Returns (submission, created)."""
        with session_scope(self.url) as session:
            user = session.get(UserRow, user_id)
            assert user is not None
            if idempotency_key:
                existing = by_idempotency_key(session, user_id, idempotency_key)
                if existing is not None:
                    return to_model(existing), False
            now = utcnow()
            extension = extension_for(session, user_id, assignment.name)
            late = lateness(assignment, now, extension)
            check_limits(session, user, assignment, now, extension)
            try:
                check_upload(file_name, data, assignment.policy, assignment.module)
            except UploadRejected as exc:
                raise ServiceError(422, exc.code, str(exc)) from None
            submission_id, created = self.record_received(
                session,
                user_id,
                file_name,
                data,
                idempotency_key,
                assignment=assignment.name,
                assignment_version=assignment.version,
                queue=assignment.policy.queue,
                late=late.late,
                penalty=late.penalty,
            )
        if created:
            self.enqueue(submission_id)
        return self.get_model(submission_id), created

    def record_received(
        self,
        session: Session,
        user_id: int,
        file_name: str,
        data: bytes,
        idempotency_key: str | None,
        **fields: object,
    ) -> tuple[str, bool]:
        """Store an upload and its row as received, in the caller's transaction: (id, True).
        A concurrent retry with the same Idempotency-Key that committed first wins: (its
        id, False)."""
        row = SubmissionRow(
            user_id=user_id,
            file_name=file_name[-255:],
            sha256=self.blobs.put(data),
            size=len(data),
            idempotency_key=idempotency_key,
            status=SubmissionStatus.received.value,
            **fields,
        )
        session.add(row)
        try:
            session.flush()
        except IntegrityError:  # the only unique column a retry can hit
            session.rollback()
            existing = (
                by_idempotency_key(session, user_id, idempotency_key) if idempotency_key else None
            )
            if existing is None:
                raise
            return existing.id, False
        lifecycle.received(session, row)
        return row.id, True

    def submit_project(
        self, user_id: int, file_name: str, data: bytes, idempotency_key: str | None
    ) -> tuple[Submission, bool]:
        """A reproducibility project (a zip with claims.yaml): checked, stored, queued to a
        GPU worker when its claims ask for a GPU."""
        from pydantic import ValidationError

        from grader.reproduce.job import ClaimsError, check_packages
        from grader.untrusted_yaml import UntrustedYAMLError, load_yaml
        from submissions_schema.reproduce import ClaimsFile

        if not file_name.lower().endswith(".zip"):
            raise ServiceError(422, "wrong_file_type", "send the project as a .zip")
        try:
            text = check_project_zip(data, self.settings.max_project_bytes).decode("utf-8")
            claims = ClaimsFile.model_validate(load_yaml(text))
        except UploadRejected as exc:
            raise ServiceError(422, exc.code, str(exc)) from None
        except UnicodeDecodeError:
            raise ServiceError(422, "bad_claims", "claims.yaml is not UTF-8 text") from None
        except (UntrustedYAMLError, ValidationError) as exc:
            message = " ".join(f"claims.yaml: {exc}".split())
            raise ServiceError(422, "bad_claims", message) from None
        try:
            check_packages(claims, self.settings.allowed_packages)
        except ClaimsError as exc:
            raise ServiceError(422, "package_not_allowed", str(exc)) from None
        with session_scope(self.url) as session:
            if idempotency_key:
                existing = by_idempotency_key(session, user_id, idempotency_key)
                if existing is not None:
                    return to_model(existing), False
            today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
            runs_today = (
                session.scalar(
                    select(func.count())
                    .select_from(SubmissionRow)
                    .where(
                        SubmissionRow.user_id == user_id,
                        SubmissionRow.kind == JobKind.reproduce,
                        SubmissionRow.created_at >= today,
                        SubmissionRow.status.not_in(UNCOUNTED),
                    )
                )
                or 0
            )
            if runs_today >= MAX_PROJECTS_PER_DAY:
                raise ServiceError(
                    429, "limit_reached", f"at most {MAX_PROJECTS_PER_DAY} reproductions a day"
                )
            submission_id, created = self.record_received(
                session,
                user_id,
                file_name,
                data,
                idempotency_key,
                assignment="reproduce",
                assignment_version="",
                kind=JobKind.reproduce,
                queue="gpu" if claims.run.gpu else "cpu",
                method_name=(claims.title or "")[:200],
            )
        if created:
            self.enqueue(submission_id)
        return self.get_model(submission_id), created

    def enqueue(self, submission_id: str) -> bool:
        """Mark queued, then hand to the queue. If the queue is down the row goes back to
        'received'; either way the reaper finds it later, so nothing is lost."""
        with session_scope(self.url) as session:
            row = session.get(SubmissionRow, submission_id)
            assert row is not None
            job = job_spec(
                row.kind, row.assignment, row.file_name, row.queue, self.settings.data_dir
            )
            lifecycle.move(session, submission_id, S.queued, when=(S.received,))
        try:
            self.dispatcher.dispatch(submission_id, job.queue, job.time_limit_s)
        except Exception as exc:  # a broker outage must not lose the submission
            with session_scope(self.url) as session:
                why = f"queue unavailable, will retry: {type(exc).__name__}"
                lifecycle.move(session, submission_id, S.received, why, when=(S.queued,))
            return False
        return True

    def get_model(self, submission_id: str) -> Submission:
        with session_scope(self.url) as session:
            row = session.get(SubmissionRow, submission_id)
            assert row is not None
            return to_model(row)

    def visible_row(self, session: Session, viewer: UserRow, submission_id: str) -> SubmissionRow:
        row = session.get(SubmissionRow, submission_id)
        # Someone else's submission reads as missing: its existence is not the student's to know.
        if row is None or (row.user_id != viewer.id and not has_role(viewer, Role.ta)):
            raise ServiceError(404, "not_found", f"no submission {submission_id}")
        return row

    def detail(
        self, viewer: UserRow, submission_id: str, assignment: Assignment | None
    ) -> SubmissionDetail:
        with session_scope(self.url) as session:
            row = self.visible_row(session, viewer, submission_id)
            result = challenge_result = reproduce_report = None
            if row.result_json and row.kind == JobKind.challenge:
                challenge_result = ChallengeResult.model_validate_json(row.result_json)
            elif row.result_json and row.kind == JobKind.reproduce:
                reproduce_report = ReproduceReport.model_validate_json(row.result_json)
            elif row.result_json:
                graded = GradingResult.model_validate_json(row.result_json)
                reveal = reveals_at(session, assignment) if assignment else None
                result = redact(graded, viewer, reveal)
            return SubmissionDetail(
                **to_model(row).model_dump(),
                events=[
                    StatusEvent(
                        submission_id=row.id,
                        at=as_utc(e.at),
                        status=SubmissionStatus(e.status),
                        message=e.message,
                    )
                    for e in row.events
                ],
                result=result,
                challenge_result=challenge_result,
                reproduce_report=reproduce_report,
            )

    def list_for(
        self,
        viewer: UserRow,
        assignment: str | None = None,
        owner: str | None = None,
        limit: int = 100,
    ) -> list[Submission]:
        with session_scope(self.url) as session:
            query = select(SubmissionRow).order_by(SubmissionRow.created_at.desc()).limit(limit)
            if not has_role(viewer, Role.ta):
                query = query.where(SubmissionRow.user_id == viewer.id)
            elif owner:
                query = query.join(UserRow).where(UserRow.name == owner)
            if assignment:
                query = query.where(SubmissionRow.assignment == assignment)
            return [to_model(r) for r in session.scalars(query)]

    def regrade(self, submission_ids: list[str]) -> list[str]:
        """Queue these again from the start: attempts reset, the old result kept in history."""
        queued = []
        for submission_id in submission_ids:
            with session_scope(self.url) as session:
                again = lifecycle.move(
                    session,
                    submission_id,
                    S.received,
                    "regrade requested",
                    when=(S.graded, S.failed),
                    attempts=0,
                    reason="",
                )
            if not again:
                continue
            self.enqueue(submission_id)
            queued.append(submission_id)
        return queued

    def previous_scores(self, submission_ids: list[str]) -> dict[str, float | None]:
        with session_scope(self.url) as session:
            rows = session.scalars(
                select(SubmissionRow).where(SubmissionRow.id.in_(submission_ids))
            )
            return {r.id: r.score for r in rows}

    def result_history(self, submission_id: str) -> list[ResultRow]:
        with session_scope(self.url) as session:
            return list(
                session.scalars(
                    select(ResultRow)
                    .where(ResultRow.submission_id == submission_id)
                    .order_by(ResultRow.id)
                )
            )


def redact(result: GradingResult, viewer: UserRow, reveal_at: datetime | None) -> GradingResult:
    """Hidden tests keep their name, status and score; their details wait for `reveal_at`
    (`reveals_at`: the due date, later for everyone while an extension runs)."""
    if has_role(viewer, Role.ta):
        return result
    if reveal_at is not None and utcnow() >= as_utc(reveal_at):
        return result
    # The date itself: past the due date, an extension still running keeps them back.
    when = (
        f"details from {as_utc(reveal_at):%Y-%m-%d %H:%M} UTC"
        if reveal_at is not None
        else "details for course staff (no due date)"
    )
    tests = [
        t
        if t.visibility == Visibility.visible
        else t.model_copy(
            update={
                "message": when,
                "hint": None,
                "worst_error": None,
                "worst_at": None,
            }
        )
        for t in result.tests
    ]
    return result.model_copy(update={"tests": tests})
