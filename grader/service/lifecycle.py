"""A submission's life: every status change of its row, with its event, in one place.

The row is the state machine; the queue only carries ids. Each change is a conditional
UPDATE (compare-and-set on the status and, where an attempt owns the row, its number)
inside the caller's transaction, and writes its event only when it won. So the API,
duplicate deliveries, a late attempt, the reaper and a regrade never overwrite one
another: the loser learns it lost and does nothing.

    received ──▶ queued ──▶ running ──▶ graded | rejected | failed
       ▲           │  ▲        │
       └───────────┘  └────────┘  (queue down; a retry, or a worker lost)
    graded, failed ──▶ received   (a regrade)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from grader.service.db import EventRow, SubmissionRow, changed_rows, session_scope, utcnow
from grader.service.jobs import job_spec
from grader.settings import Settings
from submissions_schema import ACTIVE_STATUSES, SubmissionStatus

S = SubmissionStatus

# Where each status may go next: every transition below is checked against it.
NEXT: dict[SubmissionStatus, frozenset[SubmissionStatus]] = {
    S.received: frozenset({S.queued, S.running, S.failed}),
    S.queued: frozenset({S.queued, S.received, S.running, S.failed}),
    S.running: frozenset({S.running, S.queued, S.graded, S.rejected, S.failed}),
    S.graded: frozenset({S.received}),
    S.failed: frozenset({S.received}),
    S.rejected: frozenset(),
}

# The moment each status stamps when a row enters it.
STAMPS = {S.queued: "queued_at", S.running: "started_at"} | {
    s: "finished_at" for s in (S.graded, S.rejected, S.failed)
}


def as_utc(moment: datetime) -> datetime:
    """SQLite returns naive datetimes; everything here is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def add_event(
    session: Session, submission_id: str, status: SubmissionStatus, message: str = ""
) -> None:
    """An event with no change of status (progress of a running job)."""
    session.add(EventRow(submission_id=submission_id, status=status.value, message=message[:2000]))


def received(session: Session, row: SubmissionRow) -> None:
    """A new row, flushed by the caller: its first event."""
    add_event(session, row.id, S.received)


def move(
    session: Session,
    submission_id: str,
    to: SubmissionStatus,
    message: str = "",
    *,
    when: tuple[SubmissionStatus, ...],
    attempt: int | None = None,
    **values: object,
) -> bool:
    """Move the row to `to` if it is in one of the `when` statuses (and, given `attempt`,
    still carries that attempt number); its event is written only if it moved."""
    illegal = [s.value for s in when if to not in NEXT[s]]
    if illegal:
        raise ValueError(f"no transition from {', '.join(illegal)} to {to.value}")
    now = utcnow()
    stamp = {STAMPS[to]: now} if to in STAMPS else {}
    conditions = [
        SubmissionRow.id == submission_id,
        SubmissionRow.status.in_([s.value for s in when]),
    ]
    if attempt is not None:
        conditions.append(SubmissionRow.attempts == attempt)
    statement = (
        update(SubmissionRow)
        .where(*conditions)
        .values(status=to.value, updated_at=now, **stamp, **values)
    )
    if not changed_rows(session, statement):
        return False
    add_event(session, submission_id, to, message)
    return True


def running_deadline_s(time_limit_s: float, settings: Settings) -> float:
    """How long a running row is trusted to its worker before it counts as abandoned."""
    return time_limit_s + settings.stuck_margin_s


def stuck_submissions(settings: Settings) -> list[tuple[str, str, int]]:
    """(id, why, attempts) of every row that waited or ran longer than it should."""
    now = utcnow()
    margin = timedelta(seconds=settings.stuck_margin_s)
    found = []
    with session_scope(settings.resolved_database_url()) as session:
        active = [s.value for s in ACTIVE_STATUSES]
        for row in session.scalars(select(SubmissionRow).where(SubmissionRow.status.in_(active))):
            since = as_utc(row.updated_at)
            if row.status == S.running.value:
                job = job_spec(
                    row.kind, row.assignment, row.file_name, row.queue, settings.data_dir
                )
                limit = timedelta(seconds=running_deadline_s(job.time_limit_s, settings))
                started = as_utc(row.started_at or row.updated_at)
                if now - started > limit:
                    found.append(
                        (row.id, f"running since {started:%H:%M:%S}, past its limit", row.attempts)
                    )
            elif now - since > margin:
                found.append((row.id, f"{row.status} since {since:%H:%M:%S}", row.attempts))
    return found
