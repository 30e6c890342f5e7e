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

from grader.challenges.evaluate import SubmissionUnreadable, host_splits, score_predictions
from grader.challenges.specs import get_challenge
from grader.grading.course import get_assignment
from grader.grading.grade import grade
from grader.sandbox import Sandbox
from grader.service import lifecycle
from grader.service.db import session_scope
from grader.settings import Settings, scratch_dir
from submissions_schema import JobKind, SubmissionStatus, Verdict
from submissions_schema.challenges import SplitScore


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


def evaluate_challenge(claimed: Claim, upload: Path, box: Sandbox, settings: Settings) -> Outcome:
    challenge = get_challenge(claimed.assignment, settings.data_dir)
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
