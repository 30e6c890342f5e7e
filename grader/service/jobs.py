"""What kind of job a submission row is: which queue, which time limit. One place, so
the API, the workers and the reaper agree."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from grader.challenges.specs import get_challenge
from grader.grading.course import get_assignment
from submissions_schema import JobKind

PREDICTIONS_TIME_LIMIT_S = 60.0


@dataclass(frozen=True)
class JobSpec:
    queue: str
    time_limit_s: float


REPRODUCE_TIME_LIMIT_S = 3 * 3600.0  # every run of a project, with its determinism check


def job_spec(kind: str, name: str, file_name: str, queue: str, data_dir: Path) -> JobSpec:
    if kind == JobKind.reproduce:  # the queue was chosen from claims.yaml when it arrived
        return JobSpec(queue, REPRODUCE_TIME_LIMIT_S)
    if kind == JobKind.challenge:
        challenge = get_challenge(name, data_dir)
        if challenge.evaluation == "evalai-script":  # the bundle's evaluate(), its own limit
            from grader.settings import get_settings

            default = get_settings().challenge_eval_time_s
            longest = max(p.execution_time_limit or default for p in challenge.phases)
            return JobSpec("cpu", longest + 60.0)
        if PurePosixPath(file_name).suffix.lower() == ".py":  # code: trains in the sandbox
            return JobSpec(challenge.code_queue, challenge.code_budget_s + 120.0)
        return JobSpec("cpu", PREDICTIONS_TIME_LIMIT_S)
    assignment = get_assignment(name, data_dir=data_dir)
    return JobSpec(assignment.policy.queue, assignment.time_limit_s)
