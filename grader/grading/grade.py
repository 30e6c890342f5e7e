"""Grade one submission: stage it, run the harness in a sandbox, judge outside."""

from __future__ import annotations

import dataclasses
import signal
import tempfile
import time
from pathlib import Path

from grader.grading.cases import REFERENCE_VERSION, JobAliases, build_cases, write_job
from grader.grading.compare import Outputs, judge_case
from grader.grading.environments import EnvironmentFailed, job_dirs
from grader.grading.harness_io import UnreadableOutput
from grader.grading.hints import crash_hint, runtime_versions
from grader.grading.specs import Assignment
from grader.grading.staging import Staged, SubmissionRejected, stage_submission, stage_support
from grader.sandbox import Sandbox, SandboxLimits, SandboxRun
from grader.settings import scratch_dir
from grader.untrusted_fs import remove_tree
from submissions_schema import GradingResult, TestResult, TestStatus, Verdict


def _crash_reason(run: SandboxRun) -> str:
    if run.oom_killed:
        return "the process exceeded the memory limit and was killed"
    if run.out_dir_exceeded:
        return "the process wrote too much into its output folder and was stopped"
    if run.timed_out:
        return "the whole run exceeded its time limit and was stopped"
    # bwrap's and Docker's init report a child killed by signal N as exit code 128 + N.
    code = run.exit_code or 0
    number = run.signal or (code - 128 if code > 128 else None)
    if number == signal.SIGSEGV:
        return "the process crashed with a segmentation fault (SIGSEGV), e.g. in ctypes or C code"
    if number:
        name = signal.Signals(number).name if number in signal.valid_signals() else str(number)
        return f"the process was killed by {name} (memory or CPU limit, or a crash)"
    return f"the process ended early (exit code {run.exit_code})"


def grade(
    submission: Path,
    assignment: Assignment,
    sandbox: Sandbox,
    public_seed: int = 0,
    secret_seed: int | None = None,
    job_label: str = "",
) -> GradingResult:
    start = time.monotonic()
    base = GradingResult(
        assignment=assignment.name,
        assignment_version=assignment.version,
        verdict=Verdict.graded,
        score=0.0,
        max_score=assignment.max_score,
        sandbox=sandbox.name,
        reference_version=REFERENCE_VERSION,
    )
    root = Path(tempfile.mkdtemp(prefix="dlgrader-job-", dir=scratch_dir()))
    try:
        try:
            job = job_dirs(root, job_label, assignment, sandbox)
        except EnvironmentFailed as exc:  # the course's runtime, not the student's code
            return base.model_copy(update={"verdict": Verdict.could_not_grade, "message": str(exc)})
        try:
            staged = stage_submission(
                submission,
                assignment.module,
                job.submission,
                others=assignment.other_modules,
                functions=assignment.function_names,
            )
        except SubmissionRejected as exc:
            return base.model_copy(update={"verdict": Verdict.rejected, "message": str(exc)})
        support = assignment.files.support_dir if assignment.files else None
        staged = dataclasses.replace(staged, given=stage_support(support, job.submission))
        summary = staged.summary
        if assignment.environment is not None:
            summary += (
                f"; in the course's environment ({', '.join(assignment.environment.requirements)})"
            )
        base = base.model_copy(update={"message": summary})
        cases = build_cases(assignment, public_seed, secret_seed, sandbox)
        aliases = JobAliases.draw(cases)
        write_job(cases, assignment, job.inputs, job.manifest, aliases)
        outputs = Outputs(job.out, aliases)
        limits = SandboxLimits(
            wall_s=assignment.time_limit_s,
            cpu_s=int(assignment.time_limit_s),
            memory_bytes=assignment.memory_mb << 20,
            limit_address_space=assignment.limit_address_space,
        )
        run = sandbox.run(job, limits)

        def every_test_failed(message: str) -> GradingResult:
            """The submission's own verdict before any call could be judged: counted."""
            tests = _all_failed(cases, outputs, message)
            update = {"message": message, "execution_time_s": run.wall_s, "tests": tests}
            return base.model_copy(update=update)

        try:
            statuses = outputs.statuses()
        except UnreadableOutput as exc:  # the submission's doing: its verdict, counted
            return every_test_failed(f"your code damaged the grader's output folder: {exc}")
        imported = statuses.get("__import__")
        if imported is None and "__start__" in statuses:
            return every_test_failed(f"importing your module ended the run: {_crash_reason(run)}")
        if imported is None:  # the harness never started: ours to fix, not the student's
            return base.model_copy(
                update={
                    "verdict": Verdict.could_not_grade,
                    "message": f"the harness did not start: {run.stderr[-500:]}",
                }
            )
        if imported.get("status") != "ok":
            kind, said = str(imported.get("type", "")), str(imported.get("message", ""))[:2000]
            message = (
                f"importing {assignment.module}.py failed: {kind} "
                f"{said}\n{str(imported.get('traceback', ''))[-1500:]}"
            ).strip()
            hint = crash_hint(kind, said, runtime_versions(statuses.get("__start__")))
            return every_test_failed(f"{message}\nhint: {hint}" if hint else message)
        crashed = _crash_reason(run)
        tests = [t for case in cases for t in judge_case(case, outputs, statuses, crashed)]
        tests = [_defined_elsewhere(t, staged, assignment) for t in tests]
        return base.model_copy(
            update={
                "tests": tests,
                "score": round(sum(t.score for t in tests), 6),
                "execution_time_s": time.monotonic() - start,
            }
        )
    finally:
        remove_tree(root)


def _defined_elsewhere(test: TestResult, staged: Staged, assignment: Assignment) -> TestResult:
    """A function missing from the graded module that another file of the upload has."""
    where = staged.elsewhere.get(test.function)
    if test.status != TestStatus.missing or where is None or test.hint:
        return test
    homes = [p.module for p in assignment.problems if test.function in (p.forward, p.backward)]
    home = next((m for m in homes if m), assignment.module)
    graded = staged.graded[0]
    there = graded if home == assignment.module else f"{home}.py beside {graded}"
    hint = f"{test.function} is in {where}, which is not graded: copy it into {there}"
    return test.model_copy(update={"hint": hint})


def _all_failed(cases: list, out: Outputs, message: str) -> list:  # type: ignore[type-arg]
    tests = []
    for case in cases:
        tests += judge_case(case, out, {}, message)
    return tests
