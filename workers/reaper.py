"""The reaper: finds submissions the queue lost and puts them back.

- received, never queued (the broker was down at upload time);
- queued for longer than the margin (Redis restarted empty, a message lost):
  queued again, a harmless duplicate if the first message still exists, since the
  task discards deliveries of a row that is final or running;
- running past its time limit plus the margin (the worker died): queued again,
  or failed as "could not grade" once its attempts are spent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, or_, select, update

from grader.service.db import SubmissionRow, changed_rows, session_scope, utcnow
from grader.service.jobs import job_spec
from grader.service.queue import Dispatcher
from grader.service.submissions import add_event
from grader.settings import Settings
from submissions_schema import SubmissionStatus
from workers.grading import running_deadline_s

log = logging.getLogger(__name__)


@dataclass
class Reaped:
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)


def stuck_submissions(settings: Settings) -> list[tuple[str, str, int]]:
    """(id, why, attempts) of every row that waited or ran longer than it should."""
    url = settings.resolved_database_url()
    now = utcnow()
    margin = timedelta(seconds=settings.stuck_margin_s)
    found = []
    with session_scope(url) as session:
        rows = session.scalars(
            select(SubmissionRow).where(
                or_(
                    SubmissionRow.status == SubmissionStatus.received.value,
                    SubmissionRow.status == SubmissionStatus.queued.value,
                    SubmissionRow.status == SubmissionStatus.running.value,
                )
            )
        )
        for row in rows:
            since = (
                row.updated_at
                if row.updated_at.tzinfo
                else row.updated_at.replace(tzinfo=now.tzinfo)
            )
            if row.status == SubmissionStatus.running.value:
                limit = timedelta(
                    seconds=running_deadline_s(
                        job_spec(row.kind, row.assignment, row.file_name, row.queue).time_limit_s,
                        settings,
                    )
                )
                started = row.started_at or row.updated_at
                started = started if started.tzinfo else started.replace(tzinfo=now.tzinfo)
                if now - started > limit:
                    found.append(
                        (row.id, f"running since {started:%H:%M:%S}, past its limit", row.attempts)
                    )
            elif now - since > margin:
                found.append((row.id, f"{row.status} since {since:%H:%M:%S}", row.attempts))
    return found


def queues_holding_their_rows(settings: Settings, dispatcher: Dispatcher) -> set[str]:
    """Queues whose broker holds at least as many messages as the database has queued
    rows: nothing was lost there, so a long wait is a backlog and re-queuing would only
    add duplicates (on a deadline night, one per row per pass)."""
    with session_scope(settings.resolved_database_url()) as session:
        counts = session.execute(
            select(SubmissionRow.queue, func.count())
            .where(SubmissionRow.status == SubmissionStatus.queued.value)
            .group_by(SubmissionRow.queue)
        ).all()
    intact = set()
    for queue, queued in counts:
        waiting = dispatcher.waiting(queue)
        if waiting is not None and waiting >= queued:
            intact.add(queue)
    return intact


def reap(settings: Settings, dispatcher: Dispatcher) -> Reaped:
    reaped = Reaped()
    reaped.orphans = kill_orphan_sandboxes(settings)
    url = settings.resolved_database_url()
    intact = queues_holding_their_rows(settings, dispatcher)
    for submission_id, why, attempts in stuck_submissions(settings):
        with session_scope(url) as session:
            row = session.get(SubmissionRow, submission_id)
            if row is None:
                continue
            if row.status == SubmissionStatus.queued.value and row.queue in intact:
                continue  # a backlog, not a loss: its message is still waiting
            job = job_spec(row.kind, row.assignment, row.file_name, row.queue)
            if row.status == SubmissionStatus.running.value and attempts >= settings.max_attempts:
                failed = changed_rows(
                    session,
                    update(SubmissionRow)
                    .where(
                        SubmissionRow.id == submission_id,
                        SubmissionRow.attempts == attempts,
                        SubmissionRow.status == SubmissionStatus.running.value,
                    )
                    .values(
                        status=SubmissionStatus.failed.value,
                        finished_at=utcnow(),
                        updated_at=utcnow(),
                        reason=f"could not grade after {attempts} attempts (worker lost); "
                        "this does not count against you",
                    ),
                )
                if failed:
                    add_event(session, submission_id, SubmissionStatus.failed, f"reaper: {why}")
                    reaped.failed.append(submission_id)
                continue
            moved = changed_rows(
                session,
                update(SubmissionRow)
                .where(
                    SubmissionRow.id == submission_id,
                    SubmissionRow.attempts == attempts,
                    SubmissionRow.status == row.status,
                )
                .values(
                    status=SubmissionStatus.queued.value, queued_at=utcnow(), updated_at=utcnow()
                ),
            )
            if not moved:
                continue
            add_event(session, submission_id, SubmissionStatus.queued, f"reaper: {why}")
        try:
            dispatcher.dispatch(submission_id, job.queue, job.time_limit_s)
            reaped.requeued.append(submission_id)
        except Exception as exc:
            log.warning("reaper could not queue %s: %s", submission_id, exc)
    return reaped


def running_jobs(settings: Settings) -> set[str]:
    """The job labels ("<submission>-<attempt>") of every running submission."""
    with session_scope(settings.resolved_database_url()) as session:
        rows = session.execute(
            select(SubmissionRow.id, SubmissionRow.attempts).where(
                SubmissionRow.status == SubmissionStatus.running.value
            )
        )
        return {f"{submission_id}-{attempts}" for submission_id, attempts in rows}


def kill_orphan_sandboxes(settings: Settings) -> list[str]:
    from grader.sandbox.docker_sandbox import kill_orphans

    removed = kill_orphans(lambda: running_jobs(settings))
    if removed:
        log.warning("removed orphaned sandbox containers: %s", ", ".join(removed))
    return removed
