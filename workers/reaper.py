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

from sqlalchemy import func, select

from grader.sandbox import remove_orphans
from grader.service import lifecycle
from grader.service.db import SubmissionRow, session_scope
from grader.service.jobs import job_spec
from grader.service.lifecycle import stuck_submissions
from grader.service.queue import Dispatcher
from grader.settings import Settings
from submissions_schema import ACTIVE_STATUSES, SubmissionStatus

S = SubmissionStatus

log = logging.getLogger(__name__)


@dataclass
class Reaped:
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)


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
            if row is None or S(row.status) not in ACTIVE_STATUSES:
                continue
            status = S(row.status)
            if status == S.queued and row.queue in intact:
                continue  # a backlog, not a loss: its message is still waiting
            job = job_spec(row.kind, row.assignment, row.file_name, row.queue, settings.data_dir)
            if status == S.running and attempts >= settings.max_attempts:
                reason = (
                    f"could not grade after {attempts} attempts (worker lost); "
                    "this does not count against you"
                )
                if lifecycle.move(
                    session,
                    submission_id,
                    S.failed,
                    f"reaper: {why}",
                    when=(S.running,),
                    attempt=attempts,
                    reason=reason,
                ):
                    reaped.failed.append(submission_id)
                continue
            moved = lifecycle.move(
                session, submission_id, S.queued, f"reaper: {why}", when=(status,), attempt=attempts
            )
            if not moved:
                continue
        try:
            dispatcher.dispatch(submission_id, job.queue, job.time_limit_s)
            reaped.requeued.append(submission_id)
        except Exception as exc:
            log.warning("reaper could not queue %s: %s", submission_id, exc)
    return reaped


def orphaned_jobs(settings: Settings, labels: set[str]) -> set[str]:
    """Which job labels ("<submission>-<attempt>") name an attempt of this database's
    submissions that is not running now. A label naming no submission here is not ours:
    a TA's `dlgrader grade` or `assignment check` on this host, or another service
    sharing the Docker daemon, whose containers must live."""
    attempts: dict[str, set[str]] = {}
    for label in labels:
        submission_id, _, attempt = label.rpartition("-")
        if submission_id and attempt.isdigit():
            attempts.setdefault(submission_id, set()).add(label)
    if not attempts:
        return set()
    with session_scope(settings.resolved_database_url()) as session:
        rows = session.execute(
            select(SubmissionRow.id, SubmissionRow.status, SubmissionRow.attempts).where(
                SubmissionRow.id.in_(attempts)
            )
        ).all()
    gone: set[str] = set()
    for submission_id, status, current in rows:
        live = f"{submission_id}-{current}" if status == SubmissionStatus.running.value else None
        gone |= {label for label in attempts[submission_id] if label != live}
    return gone


def kill_orphan_sandboxes(settings: Settings) -> list[str]:
    removed = remove_orphans(lambda labels: orphaned_jobs(settings, labels))
    if removed:
        log.warning("removed orphaned sandbox containers: %s", ", ".join(removed))
    return removed
