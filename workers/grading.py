"""The grading task, shared by the Celery workers and the embedded pool.

A task is idempotent, through the row's lifecycle (`grader/service/lifecycle.py`):
- it claims the row by moving it to running and bumping `attempts`; a duplicate
  delivery finds the row final, or running within its time limit, and stops;
- it records its outcome only while the row still carries its attempt number, so the
  first outcome wins and a late duplicate is discarded;
- our own failures retry up to `max_attempts`, then end as "could not grade", which
  never counts against the student.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import tenacity
from sqlalchemy import update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from grader.logs import submission_context
from grader.sandbox import Sandbox, SandboxFailed, SandboxUnavailable, discard_job, select_sandbox
from grader.service import lifecycle
from grader.service.db import LeaderboardDataRow, ResultRow, SubmissionRow, session_scope, utcnow
from grader.service.jobs import job_spec
from grader.service.lifecycle import as_utc, running_deadline_s
from grader.service.queue import Dispatcher
from grader.service.storage import BlobStore
from grader.service.submissions import penalized
from grader.settings import Settings, scratch_dir
from submissions_schema import ACTIVE_STATUSES, JobKind, SubmissionStatus
from workers.evaluate import EVALUATORS, Claim, Outcome
from workers.gpu import assigned_gpu

log = logging.getLogger(__name__)
T = TypeVar("T")
S = SubmissionStatus
EXHAUSTED = "attempts exhausted"


def worker_id(pid: int | None = None) -> str:
    """How a row names the process grading it: host and pid (this process by default)."""
    return f"{socket.gethostname()}:{pid if pid is not None else os.getpid()}"


def worker_is_dead(worker: str) -> bool:
    """True only when the recorded worker process is on this host and gone (a killed child);
    a worker elsewhere is trusted until its deadline passes."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def claim_of(row: SubmissionRow, attempt: int) -> Claim:
    return Claim(
        row.id,
        attempt,
        row.assignment,
        row.file_name,
        row.sha256,
        JobKind(row.kind),
        row.phase,
        row.queue,
    )


def claim(submission_id: str, settings: Settings, worker: str) -> Claim | str:
    """Take the row for one attempt, or say why not (a duplicate, a final row, ...)."""
    with session_scope(settings.resolved_database_url()) as session:
        row = session.get(SubmissionRow, submission_id)
        if row is None:
            return "no such submission"
        if S(row.status) not in ACTIVE_STATUSES:
            return f"already {row.status}"
        if row.kind not in JobKind.__members__:  # a row no evaluator knows: ours, not counted
            reason = f"could not grade: no evaluator for {row.kind!r}; this does not count"
            lifecycle.move(session, row.id, S.failed, reason, when=ACTIVE_STATUSES, reason=reason)
            return "unknown job kind"
        job = job_spec(row.kind, row.assignment, row.file_name, row.queue, settings.data_dir)
        if row.status == S.running.value and row.started_at is not None:
            alive_until = as_utc(row.started_at) + timedelta(
                seconds=running_deadline_s(job.time_limit_s, settings)
            )
            if utcnow() < alive_until and not worker_is_dead(row.worker):
                return "running elsewhere (duplicate delivery discarded)"
        if row.attempts >= settings.max_attempts:
            reason = (
                f"could not grade after {row.attempts} attempts; this does not count "
                "against you, and the course staff can see it"
            )
            lifecycle.move(
                session,
                row.id,
                S.failed,
                reason,
                when=ACTIVE_STATUSES,
                attempt=row.attempts,
                reason=reason,
            )
            return EXHAUSTED
        attempt = row.attempts + 1
        taken = lifecycle.move(
            session,
            submission_id,
            S.running,
            f"attempt {attempt} on {worker}",
            when=ACTIVE_STATUSES,
            attempt=row.attempts,
            attempts=attempt,
            worker=worker,
        )
        if not taken:
            return "claimed by another worker"
        return claim_of(row, attempt)


def _final(outcome: Outcome, attempt: int, settings: Settings) -> tuple[S, str, dict[str, object]]:
    """The status an outcome moves the row to, its event's message and the row's values."""
    if outcome.status == "graded":
        return S.graded, "graded", dict(max_score=outcome.max_score, reason="")
    if outcome.status == "rejected":
        return S.rejected, outcome.reason, dict(reason=outcome.reason)
    if attempt < settings.max_attempts:
        return S.queued, f"retrying after: {outcome.reason}", dict(reason=outcome.reason)
    reason = f"could not grade: {outcome.reason}; this does not count against you"
    return S.failed, reason, dict(reason=reason)


def finish(
    claimed: Claim, outcome: Outcome, settings: Settings, dispatcher: Dispatcher | None
) -> str:
    """Record the outcome if this attempt still owns the row."""
    status, message, values = _final(outcome, claimed.attempt, settings)
    with session_scope(settings.resolved_database_url()) as session:
        score = None
        if status == S.graded:
            row = session.get(SubmissionRow, claimed.submission_id)
            penalty = row.penalty if row is not None else 0.0
            score = None if outcome.score is None else penalized(outcome.score, penalty)
            values.update(score=score, result_json=outcome.result_json)
            if score is not None:
                message = f"score {score:g}" + (
                    f" / {outcome.max_score:g}" if outcome.max_score is not None else ""
                )
        won = lifecycle.move(
            session,
            claimed.submission_id,
            status,
            message,
            when=(S.running,),
            attempt=claimed.attempt,
            **values,
        )
        if not won:
            return "superseded (a later attempt owns the row); result discarded"
        if status == S.graded:
            _record_result(session, claimed, score, outcome)
    if status == S.queued and dispatcher is not None:
        job = job_spec(
            claimed.kind, claimed.assignment, claimed.file_name, claimed.queue, settings.data_dir
        )
        try:
            dispatcher.dispatch(claimed.submission_id, job.queue, job.time_limit_s)
        except Exception:
            log.warning("retry of %s not queued; the reaper will", claimed.submission_id)
    return status.value


def _record_result(session: Session, claimed: Claim, score: float | None, outcome: Outcome) -> None:
    """The attempt's result in the history and, for a challenge, the leaderboard's rows
    (older ones disabled)."""
    session.add(
        ResultRow(
            submission_id=claimed.submission_id,
            attempt=claimed.attempt,
            score=score,
            result_json=outcome.result_json or "",
        )
    )
    if claimed.kind != JobKind.challenge:
        return
    # Re-evaluated: the older rows go, also when the new result has none (it failed).
    session.execute(
        update(LeaderboardDataRow)
        .where(LeaderboardDataRow.submission_id == claimed.submission_id)
        .values(disabled=True)
    )
    for split in outcome.split_scores:
        session.add(
            LeaderboardDataRow(
                submission_id=claimed.submission_id,
                challenge=claimed.assignment,
                phase_split_id=split.phase_split_id,
                metrics_json=json.dumps(split.metrics),
            )
        )


def abandon_attempt(
    submission_id: str,
    worker: str,
    reason: str,
    settings: Settings,
    dispatcher: Dispatcher | None,
) -> str:
    """End the attempt `worker` holds on this row, if it still holds it (its process was
    killed from outside): what its sandbox left removed, the outcome recorded as ours."""
    with submission_context(submission_id):
        with session_scope(settings.resolved_database_url()) as session:
            row = session.get(SubmissionRow, submission_id)
            if row is None or row.status != S.running.value or row.worker != worker:
                return "not held by that worker any more"
            claimed = claim_of(row, row.attempts)
        # The outcome first: whatever the dying attempt still records is then discarded.
        done = finish(claimed, Outcome("error", reason=reason), settings, dispatcher)
        removed = discard_job(claimed.job_label)
        log.warning(
            "attempt %d ended from outside: %s (removed: %s); %s",
            claimed.attempt,
            reason,
            ", ".join(removed) or "nothing",
            done,
        )
        return done


def _warn(what: str) -> Callable[[tenacity.RetryCallState], None]:
    def warn(state: tenacity.RetryCallState) -> None:
        problem = state.outcome.exception() if state.outcome else None
        # A database error's own message, not the SQL and parameters that carry it.
        log.warning(
            "%s, retrying in %.1fs: %s",
            what,
            state.upcoming_sleep,
            getattr(problem, "orig", problem),
        )

    return warn


def _pause(seconds: float) -> None:
    time.sleep(seconds)  # looked up at each pause, so tests can skip the waiting


def sandbox_when_ready(settings: Settings) -> Sandbox | SandboxUnavailable:
    """The configured sandbox; Docker's is waited for up to settings.sandbox_wait_s while
    its daemon is down (a restart), so that an outage does not spend a job's attempts.
    Other sandboxes do not come and go: their absence is reported at once."""
    wait_s = settings.sandbox_wait_s if settings.sandbox == "docker" else 0.0
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(SandboxUnavailable),
        stop=tenacity.stop_before_delay(wait_s),
        wait=tenacity.wait_exponential(multiplier=0.5, max=5.0),
        before_sleep=_warn("sandbox unavailable"),
        sleep=_pause,
        reraise=True,
    )
    try:
        # The service grades untrusted code: a job without a cgroup of its own only where
        # the host accepted that (DLGRADER_JOB_CGROUPS=if_available).
        require = settings.job_cgroups != "if_available"
        return retrying(
            select_sandbox, settings.sandbox, gpu=assigned_gpu(), require_cgroup=require
        )
    except SandboxUnavailable as exc:
        return exc


def with_database_retry(step: Callable[[], T], settings: Settings) -> T:
    """Run a database step, retried while the database is unreachable (a restart, a
    failover) for up to settings.database_retry_s; the work already done is not lost."""
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(OperationalError),
        stop=tenacity.stop_before_delay(settings.database_retry_s),
        wait=tenacity.wait_exponential(multiplier=0.5, max=5.0),
        before_sleep=_warn("database unavailable"),
        sleep=_pause,
        reraise=True,
    )
    return retrying(step)


def grade_submission(
    submission_id: str,
    settings: Settings,
    dispatcher: Dispatcher | None = None,
    sandbox: Sandbox | None = None,
) -> str:
    """Grade one submission end to end; returns what happened, for logs and tests."""
    with submission_context(submission_id):
        return _grade_submission(submission_id, settings, dispatcher, sandbox)


def _grade_submission(
    submission_id: str, settings: Settings, dispatcher: Dispatcher | None, sandbox: Sandbox | None
) -> str:
    box = sandbox or sandbox_when_ready(settings)
    claimed = with_database_retry(lambda: claim(submission_id, settings, worker_id()), settings)
    if isinstance(claimed, str):
        log.info("not graded here: %s", claimed)
        if claimed == EXHAUSTED:  # the last attempt's worker was killed: its container lives
            for attempt in range(1, settings.max_attempts + 1):
                discard_job(f"{submission_id}-{attempt}")
        return claimed
    log.info("attempt %d of %s on %s", claimed.attempt, claimed.assignment, claimed.queue)
    if claimed.attempt > 1 and isinstance(box, Sandbox):
        for earlier in range(1, claimed.attempt):  # a killed worker's container outlives it
            box.discard(f"{submission_id}-{earlier}")
    try:
        if isinstance(box, SandboxUnavailable):
            raise box
        data = BlobStore(settings.blob_dir).get(claimed.sha256)
        suffix = Path(claimed.file_name).suffix.lower() or ".py"
        with tempfile.TemporaryDirectory(prefix="dlgrader-upload-", dir=scratch_dir()) as tmp:
            upload = Path(tmp) / f"submission{suffix}"
            upload.write_bytes(data)
            outcome = EVALUATORS[claimed.kind](claimed, upload, box, settings)
    except SandboxFailed as exc:
        log.warning("sandbox failed in attempt %d: %s", claimed.attempt, exc)
        outcome = Outcome("error", reason=f"the sandbox failed, not your code: {exc}")
    except Exception as exc:  # ours, not the student's: retried, never counted
        log.exception("grading %s attempt %d failed", submission_id, claimed.attempt)
        outcome = Outcome("error", reason=f"{type(exc).__name__}: {exc}")
    done = with_database_retry(lambda: finish(claimed, outcome, settings, dispatcher), settings)
    log.info("attempt %d: %s", claimed.attempt, done)
    return done
