"""The grading task, shared by the Celery workers and the embedded pool.

The submission row is the state machine. A task is idempotent:
- it claims the row with a conditional update that bumps `attempts`; a duplicate
  delivery finds the row final, or running within its time limit, and stops;
- it records its result only while the row still carries its attempt number, so
  the first result wins and a late duplicate is discarded;
- our own failures retry up to `max_attempts`, then end as "could not grade",
  which never counts against the student.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import update
from sqlalchemy.exc import OperationalError

from grader.challenges.evaluate import SubmissionUnreadable, host_splits, score_predictions
from grader.challenges.specs import get_challenge
from grader.grade import grade
from grader.logs import submission_context
from grader.sandbox import Sandbox, SandboxFailed, SandboxUnavailable, select_sandbox
from grader.service.db import (
    LeaderboardDataRow,
    ResultRow,
    SubmissionRow,
    changed_rows,
    session_scope,
    utcnow,
)
from grader.service.jobs import job_spec
from grader.service.storage import BlobStore
from grader.service.submissions import add_event, as_utc
from grader.settings import Settings, get_settings, scratch_dir
from grader.specs import get_assignment
from submissions_schema import SubmissionStatus, Verdict
from submissions_schema.challenges import SplitScore
from workers.gpu import assigned_gpu

if TYPE_CHECKING:
    from grader.service.queue import Dispatcher

log = logging.getLogger(__name__)
T = TypeVar("T")

ACTIVE = (
    SubmissionStatus.received.value,
    SubmissionStatus.queued.value,
    SubmissionStatus.running.value,
)


@dataclass(frozen=True)
class Claim:
    submission_id: str
    attempt: int
    assignment: str  # or the challenge's name
    file_name: str
    sha256: str
    kind: str = "homework"
    phase: str | None = None
    queue: str = "cpu"

    @staticmethod
    def of(row: SubmissionRow, attempt: int) -> Claim:
        return Claim(
            row.id,
            attempt,
            row.assignment,
            row.file_name,
            row.sha256,
            row.kind,
            row.phase,
            row.queue,
        )


def running_deadline_s(time_limit_s: float, settings: Settings) -> float:
    """How long a running row is trusted to its worker before it counts as abandoned."""
    return time_limit_s + settings.stuck_margin_s


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


def claim(submission_id: str, settings: Settings, worker: str) -> Claim | str:
    """Take the row for one attempt, or say why not (a duplicate, a final row, ...)."""
    url = settings.resolved_database_url()
    with session_scope(url) as session:
        row = session.get(SubmissionRow, submission_id)
        if row is None:
            return "no such submission"
        if row.status not in ACTIVE:
            return f"already {row.status}"
        job = job_spec(row.kind, row.assignment, row.file_name, row.queue)
        if row.status == SubmissionStatus.running.value and row.started_at is not None:
            alive_until = as_utc(row.started_at) + timedelta(
                seconds=running_deadline_s(job.time_limit_s, settings)
            )
            if utcnow() < alive_until and not worker_is_dead(row.worker):
                return "running elsewhere (duplicate delivery discarded)"
        if row.attempts >= settings.max_attempts:
            row.status = SubmissionStatus.failed.value
            row.reason = (
                f"could not grade after {row.attempts} attempts; this does not count "
                "against you, and the course staff can see it"
            )
            row.finished_at = row.updated_at = utcnow()
            add_event(session, row.id, SubmissionStatus.failed, row.reason)
            return "attempts exhausted"
        attempt = row.attempts + 1
        taken = changed_rows(
            session,
            update(SubmissionRow)
            .where(
                SubmissionRow.id == submission_id,
                SubmissionRow.attempts == row.attempts,
                SubmissionRow.status.in_(ACTIVE),
            )
            .values(
                status=SubmissionStatus.running.value,
                attempts=attempt,
                started_at=utcnow(),
                updated_at=utcnow(),
                worker=worker,
            ),
        )
        if not taken:
            return "claimed by another worker"
        add_event(
            session, submission_id, SubmissionStatus.running, f"attempt {attempt} on {worker}"
        )
        return Claim.of(row, attempt)


@dataclass(frozen=True)
class Outcome:
    """What one attempt produced: graded (with its result), rejected (the student's file
    cannot be evaluated), or an error of ours (retried, never counted)."""

    status: str  # "graded", "rejected" or "error"
    score: float | None = None
    max_score: float | None = None
    result_json: str | None = None
    reason: str = ""
    split_scores: tuple[SplitScore, ...] = ()


def finish(
    claimed: Claim, outcome: Outcome, settings: Settings, dispatcher: Dispatcher | None
) -> str:
    """Record the outcome if this attempt still owns the row."""
    url = settings.resolved_database_url()
    retry = False
    with session_scope(url) as session:
        mine = (
            SubmissionRow.id == claimed.submission_id,
            SubmissionRow.attempts == claimed.attempt,
            SubmissionRow.status == SubmissionStatus.running.value,
        )
        now = utcnow()
        values: dict[str, object]
        if outcome.status == "graded":
            row = session.get(SubmissionRow, claimed.submission_id)
            penalty = row.penalty if row is not None else 0.0
            score = None if outcome.score is None else round(outcome.score * (1 - penalty), 6)
            values = dict(
                status=SubmissionStatus.graded.value,
                score=score,
                max_score=outcome.max_score,
                result_json=outcome.result_json,
                reason="",
                finished_at=now,
                updated_at=now,
            )
            status = SubmissionStatus.graded
            message = (
                "graded"
                if score is None
                else f"score {score:g}"
                + (f" / {outcome.max_score:g}" if outcome.max_score is not None else "")
            )
        elif outcome.status == "rejected":
            values = dict(
                status=SubmissionStatus.rejected.value,
                reason=outcome.reason,
                finished_at=now,
                updated_at=now,
            )
            status, message = SubmissionStatus.rejected, outcome.reason
        else:
            retry = claimed.attempt < settings.max_attempts
            if retry:
                values = dict(
                    status=SubmissionStatus.queued.value,
                    reason=outcome.reason,
                    queued_at=now,
                    updated_at=now,
                )
                status, message = SubmissionStatus.queued, f"retrying after: {outcome.reason}"
            else:
                reason = f"could not grade: {outcome.reason}; this does not count against you"
                values = dict(
                    status=SubmissionStatus.failed.value,
                    finished_at=now,
                    updated_at=now,
                    reason=reason,
                )
                status, message = SubmissionStatus.failed, reason
        won = changed_rows(session, update(SubmissionRow).where(*mine).values(**values))
        if not won:
            return "superseded (a later attempt owns the row); result discarded"
        add_event(session, claimed.submission_id, status, message)
        if outcome.status == "graded":
            session.add(
                ResultRow(
                    submission_id=claimed.submission_id,
                    attempt=claimed.attempt,
                    score=values["score"],
                    result_json=outcome.result_json or "",
                )
            )
            if outcome.split_scores:  # a challenge: the leaderboard's rows, older ones disabled
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
    if retry and dispatcher is not None:
        job = job_spec(claimed.kind, claimed.assignment, claimed.file_name, claimed.queue)
        try:
            dispatcher.dispatch(claimed.submission_id, job.queue, job.time_limit_s)
        except Exception:
            log.warning("retry of %s not queued; the reaper will", claimed.submission_id)
    return status.value


def abandon_attempt(
    submission_id: str,
    worker: str,
    reason: str,
    settings: Settings,
    dispatcher: Dispatcher | None,
) -> str:
    """End the attempt `worker` holds on this row, if it still holds it (its process was
    killed from outside): its sandbox container removed, the outcome recorded as ours."""
    with submission_context(submission_id):
        with session_scope(settings.resolved_database_url()) as session:
            row = session.get(SubmissionRow, submission_id)
            if row is None or row.status != SubmissionStatus.running.value or row.worker != worker:
                return "not held by that worker any more"
            claimed = Claim.of(row, row.attempts)
        from grader.sandbox.docker_sandbox import remove_job_containers

        # The outcome first: whatever the dying attempt still records is then discarded.
        done = finish(claimed, Outcome("error", reason=reason), settings, dispatcher)
        removed = remove_job_containers(f"{submission_id}-{claimed.attempt}")
        log.warning(
            "attempt %d ended from outside: %s (containers removed: %s); %s",
            claimed.attempt,
            reason,
            ", ".join(removed) or "none",
            done,
        )
        return done


def evaluate_homework(claimed: Claim, upload: Path, box: Sandbox, settings: Settings) -> Outcome:
    result = grade(
        upload,
        get_assignment(claimed.assignment),
        box,
        secret_seed=settings.service_hidden_seed(),
        job_label=f"{claimed.submission_id}-{claimed.attempt}",
    )
    if result.verdict == Verdict.graded:
        return Outcome("graded", result.score, result.max_score, result.model_dump_json())
    if result.verdict == Verdict.rejected:
        return Outcome("rejected", reason=result.message)
    return Outcome("error", reason=result.message)


def evaluate_challenge(claimed: Claim, upload: Path, box: Sandbox, settings: Settings) -> Outcome:
    challenge = get_challenge(claimed.assignment)
    phase = claimed.phase or ""
    splits = host_splits(challenge, settings)
    try:
        if upload.suffix == ".py":
            from grader.challenges.training import train_and_score

            result = train_and_score(
                challenge,
                phase,
                upload,
                box,
                splits,
                job_label=f"{claimed.submission_id}-{claimed.attempt}",
            )
        else:
            result = score_predictions(
                challenge, phase, upload.read_bytes(), claimed.file_name, splits
            )
    except SubmissionUnreadable as exc:
        return Outcome("rejected", reason=str(exc))
    order_by = challenge.leaderboard_schema(
        challenge.phase_split_by_id(result.scores[0].phase_split_id)
    ).default_order_by
    value = result.scores[0].metrics.get(order_by) if result.scores else None
    return Outcome(
        "graded", value, None, result.model_dump_json(), split_scores=tuple(result.scores)
    )


def evaluate_reproduce(claimed: Claim, upload: Path, box: Sandbox, settings: Settings) -> Outcome:
    """A reproducibility project: unpacked (checked again), run, judged; progress as events."""
    from grader.reproduce.job import ClaimsError, ReproduceJob
    from grader.service.uploads import UploadRejected, extract_zip

    url = settings.resolved_database_url()

    def progress(line: str) -> None:
        with session_scope(url) as session:
            add_event(session, claimed.submission_id, SubmissionStatus.running, line)

    with tempfile.TemporaryDirectory(prefix="dlgrader-project-", dir=scratch_dir()) as tmp:
        try:
            project = extract_zip(upload.read_bytes(), Path(tmp))
            report = ReproduceJob(project, box, progress=progress).execute()
        except (ClaimsError, UploadRejected) as exc:
            return Outcome("rejected", reason=str(exc))
    if report.verdict == "input_mismatch":
        return Outcome("rejected", reason=report.message, result_json=report.model_dump_json())
    reproduced = sum(c.verdict.value == "reproduced" for c in report.claims)
    return Outcome("graded", float(reproduced), float(len(report.claims)), report.model_dump_json())


def sandbox_when_ready(settings: Settings) -> Sandbox | SandboxUnavailable:
    """The configured sandbox; Docker's is waited for up to settings.sandbox_wait_s while
    its daemon is down (a restart), so that an outage does not spend a job's attempts.
    Other sandboxes do not come and go: their absence is reported at once."""
    wait_s = settings.sandbox_wait_s if settings.sandbox == "docker" else 0.0
    deadline = time.monotonic() + wait_s
    pause = 0.5
    while True:
        try:
            return select_sandbox(settings.sandbox, gpu=assigned_gpu())
        except SandboxUnavailable as exc:
            if time.monotonic() + pause > deadline:
                return exc
            log.warning("sandbox unavailable, waiting %.1fs: %s", pause, exc)
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


def with_database_retry(step: Callable[[], T], settings: Settings) -> T:
    """Run a database step, retried while the database is unreachable (a restart, a
    failover) for up to settings.database_retry_s; the work already done is not lost."""
    deadline = time.monotonic() + settings.database_retry_s
    pause = 0.5
    while True:
        try:
            return step()
        except OperationalError as exc:
            if time.monotonic() + pause > deadline:
                raise
            log.warning("database unavailable, retrying in %.1fs: %s", pause, exc.orig)
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


def grade_submission(
    submission_id: str,
    dispatcher: Dispatcher | None = None,
    sandbox: Sandbox | None = None,
    settings: Settings | None = None,
) -> str:
    """Grade one submission end to end; returns what happened, for logs and tests."""
    with submission_context(submission_id):
        return _grade_submission(submission_id, dispatcher, sandbox, settings or get_settings())


def _grade_submission(
    submission_id: str, dispatcher: Dispatcher | None, sandbox: Sandbox | None, settings: Settings
) -> str:
    box = sandbox or sandbox_when_ready(settings)
    claimed = with_database_retry(lambda: claim(submission_id, settings, worker_id()), settings)
    if isinstance(claimed, str):
        log.info("not graded here: %s", claimed)
        return claimed
    log.info("attempt %d of %s on %s", claimed.attempt, claimed.assignment, claimed.queue)
    if claimed.attempt > 1 and isinstance(box, Sandbox) and box.name == "docker":
        # A killed worker's container outlives it; if it ran here, it goes now.
        from grader.sandbox.docker_sandbox import remove_job_containers

        for earlier in range(1, claimed.attempt):
            remove_job_containers(f"{submission_id}-{earlier}")
    try:
        if isinstance(box, SandboxUnavailable):
            raise box
        data = BlobStore(settings.blob_dir).get(claimed.sha256)
        suffix = Path(claimed.file_name).suffix.lower() or ".py"
        with tempfile.TemporaryDirectory(prefix="dlgrader-upload-", dir=scratch_dir()) as tmp:
            upload = Path(tmp) / f"submission{suffix}"
            upload.write_bytes(data)
            evaluate = {"challenge": evaluate_challenge, "reproduce": evaluate_reproduce}.get(
                claimed.kind, evaluate_homework
            )
            outcome = evaluate(claimed, upload, box, settings)
    except SandboxFailed as exc:
        log.warning("sandbox failed in attempt %d: %s", claimed.attempt, exc)
        outcome = Outcome("error", reason=f"the sandbox failed, not your code: {exc}")
    except Exception as exc:  # ours, not the student's: retried, never counted
        log.exception("grading %s attempt %d failed", submission_id, claimed.attempt)
        outcome = Outcome("error", reason=f"{type(exc).__name__}: {exc}")
    done = with_database_retry(lambda: finish(claimed, outcome, settings, dispatcher), settings)
    log.info("attempt %d: %s", claimed.attempt, done)
    return done
