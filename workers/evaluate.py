"""What one attempt does with an upload, by job kind: the evaluation registry.

Each evaluator turns (claim, upload, sandbox) into an `Outcome`: graded with its result,
rejected (the student's file cannot be evaluated: their verdict, never counted), or an
error of ours (retried, never counted). Evaluators know nothing of the row's state.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.challenges.bundle import EVALAI_SCRIPT
from grader.challenges.evaluate import SubmissionUnreadable, host_splits, score_predictions
from grader.challenges.specs import get_challenge
from grader.grading.course import get_assignment
from grader.grading.grade import grade
from grader.sandbox import Sandbox
from grader.service import lifecycle
from grader.service.db import session_scope
from grader.settings import Settings, scratch_dir
from submissions_schema import JobKind, SubmissionStatus, Verdict
from submissions_schema.challenges import Challenge, ChallengeResult, SplitScore


@dataclass(frozen=True)
class Claim:
    """One attempt's hold on a row: what it grades, and the attempt number it owns."""

    submission_id: str
    attempt: int
    assignment: str  # or the challenge's name
    file_name: str
    sha256: str
    kind: JobKind = JobKind.homework
    phase: str | None = None
    queue: str = "cpu"

    @property
    def job_label(self) -> str:
        """Names the attempt's sandbox job (containers, cgroups, scratch folders)."""
        return f"{self.submission_id}-{self.attempt}"


@dataclass(frozen=True)
class Outcome:
    status: str  # "graded", "rejected" or "error"
    score: float | None = None
    max_score: float | None = None
    result_json: str | None = None
    reason: str = ""
    split_scores: tuple[SplitScore, ...] = ()


Evaluator = Callable[[Claim, Path, Sandbox, Settings], Outcome]


def evaluate_homework(claimed: Claim, upload: Path, box: Sandbox, settings: Settings) -> Outcome:
    result = grade(
        upload,
        get_assignment(claimed.assignment, settings.course_dir, settings.data_dir),
        box,
        secret_seed=settings.service_hidden_seed(),
        job_label=claimed.job_label,
    )
    if result.verdict == Verdict.graded:
        return Outcome("graded", result.score, result.max_score, result.model_dump_json())
    if result.verdict == Verdict.rejected:
        return Outcome("rejected", reason=result.message)
    return Outcome("error", reason=result.message)


def submission_metadata(
    claimed: Claim, challenge: Challenge, phase: str, settings: Settings
) -> dict[str, Any]:
    """What EvalAI passes evaluate() as kwargs["submission_metadata"], from the row; the
    answers to the phase's meta attributes were stored with it at submit time."""
    from grader.service.db import SubmissionRow
    from grader.service.lifecycle import as_utc

    with session_scope(settings.resolved_database_url()) as session:
        row = session.get(SubmissionRow, claimed.submission_id)
        if row is None:
            return {}
        stored = ChallengeResult.model_validate_json(row.result_json) if row.result_json else None
        return {
            "id": row.id,
            "status": "running",
            "participant_team": row.team or "",
            "participant_team_name": row.team or "",
            "created_by": row.user.name,
            "challenge_phase": challenge.phase(phase).id,
            "method_name": row.method_name,
            "method_description": "",
            "project_url": "",
            "publication_url": "",
            "is_public": row.is_public,
            "is_baseline": row.is_baseline,
            "input_file": row.file_name,
            "submitted_at": as_utc(row.created_at).isoformat(),
            "submission_metadata": stored.submission_metadata if stored else {},
        }


def evaluate_bundle(
    claimed: Claim, challenge: Challenge, upload: Path, box: Sandbox, settings: Settings
) -> Outcome:
    """A bundle's own evaluate(): a failed verdict is recorded as a result (it counts
    unless the host's script broke its own schema), never retried; see bundle_eval.py."""
    from grader.challenges.bundle_eval import evaluate_submission

    phase = claimed.phase or ""
    metadata = submission_metadata(claimed, challenge, phase, settings)
    result = evaluate_submission(
        challenge, phase, upload, claimed.file_name, box, settings, metadata, claimed.job_label
    )
    value = None
    if result.scores:
        first = result.scores[0]
        order_by = challenge.leaderboard_schema(
            challenge.phase_split_by_id(first.phase_split_id)
        ).default_order_by
        found = first.metrics.get(order_by)
        value = None if found is None else float(found)
    return Outcome(
        "graded", value, None, result.model_dump_json(), split_scores=tuple(result.scores)
    )


def evaluate_challenge(claimed: Claim, upload: Path, box: Sandbox, settings: Settings) -> Outcome:
    challenge = get_challenge(claimed.assignment, settings.data_dir)
    if challenge.evaluation == EVALAI_SCRIPT:
        return evaluate_bundle(claimed, challenge, upload, box, settings)
    phase = claimed.phase or ""
    splits = host_splits(challenge, settings)
    try:
        if upload.suffix == ".py":
            from grader.challenges.training import train_and_score

            result = train_and_score(challenge, phase, upload, box, splits, claimed.job_label)
        else:
            data = upload.read_bytes()
            result = score_predictions(challenge, phase, data, claimed.file_name, splits)
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
            lifecycle.add_event(session, claimed.submission_id, SubmissionStatus.running, line)

    with tempfile.TemporaryDirectory(prefix="dlgrader-project-", dir=scratch_dir()) as tmp:
        try:
            project = extract_zip(upload.read_bytes(), Path(tmp))
            job = ReproduceJob(
                project,
                box,
                progress=progress,
                allowed_packages=settings.allowed_packages,
                # A worker killed mid-job: its retry reuses the runs that finished.
                cache_dir=settings.data_dir / "reproduce-runs",
            )
            report = job.execute()
        except (ClaimsError, UploadRejected) as exc:
            return Outcome("rejected", reason=str(exc))
    if report.verdict != "completed":  # inputs that do not match, pins that do not install
        return Outcome("rejected", reason=report.message, result_json=report.model_dump_json())
    reproduced = sum(c.verdict.value == "reproduced" for c in report.claims)
    return Outcome("graded", float(reproduced), float(len(report.claims)), report.model_dump_json())


EVALUATORS: dict[JobKind, Evaluator] = {
    JobKind.homework: evaluate_homework,
    JobKind.challenge: evaluate_challenge,
    JobKind.reproduce: evaluate_reproduce,
}
