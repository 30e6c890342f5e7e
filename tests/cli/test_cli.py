"""`dlgrader reference check` end to end, as a TA runs it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from reference_impl.parity import all_cases
from reference_impl.torch_ref import cuda_available
from tests.markers import needs_torch


def dlgrader(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grader.cli", *args], capture_output=True, text=True, timeout=300
    )


@needs_torch
@pytest.mark.slow  # ~4 s: every op twice over
def test_reference_check_prints_every_op_and_exits_0() -> None:
    proc = dlgrader("reference", "check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for case in all_cases():
        assert case.op in proc.stdout
    assert f"all {len(all_cases())} checks agree" in proc.stdout


@needs_torch
@pytest.mark.skipif(cuda_available(), reason="this machine has CUDA")
def test_reference_check_on_missing_cuda_says_so() -> None:
    proc = dlgrader("reference", "check", "--device", "cuda")
    assert proc.returncode == 3
    assert "no CUDA device" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_device_is_a_clear_error() -> None:
    proc = dlgrader("reference", "check", "--device", "tpu")
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr


def test_final_statuses_and_claim_verdicts_map_to_the_exit_code_table() -> None:
    from datetime import UTC, datetime

    from grader.cli.common import ExitCode
    from grader.cli.local import reproduce_exit_code
    from grader.cli.remote import final_exit_code
    from submissions_schema import SubmissionStatus
    from submissions_schema.reproduce import ClaimResult, ClaimVerdict, ReproduceReport

    assert final_exit_code(SubmissionStatus.graded) == ExitCode.OK
    assert final_exit_code(SubmissionStatus.failed) == ExitCode.CANNOT_RUN
    assert final_exit_code(SubmissionStatus.rejected) == ExitCode.FAILED

    def report(*verdicts: ClaimVerdict) -> ReproduceReport:
        now = datetime.now(UTC)
        claims = [
            ClaimResult(id=f"C{i}", type="absolute", metric="m", verdict=v, reason="")
            for i, v in enumerate(verdicts)
        ]
        return ReproduceReport(
            title="t",
            started_at=now,
            finished_at=now,
            code_sha256="0",
            sandbox="bwrap",
            claims=claims,
        )

    assert reproduce_exit_code(report(ClaimVerdict.reproduced)) == ExitCode.OK
    assert reproduce_exit_code(report(ClaimVerdict.reproduced, ClaimVerdict.inconclusive)) == 4
    assert reproduce_exit_code(report(ClaimVerdict.not_reproduced)) == ExitCode.FAILED
    every_run_failed = report(ClaimVerdict.failed_to_run, ClaimVerdict.failed_to_run)
    assert reproduce_exit_code(every_run_failed) == ExitCode.CANNOT_RUN


def test_names_from_students_print_as_they_are() -> None:
    """A method or team name like "[/oops]" is text, not rich markup (which raised)."""
    from rich.console import Console

    from grader.cli import common

    table = common.new_table()
    table.add_column("method")
    common.add_plain_row(table, "[/oops] [bold]x")
    out = Console(record=True, width=80)
    out.print(table)
    common.console.print("[/oops]")  # the shared consoles read no markup either
    assert "[/oops] [bold]x" in out.export_text()


def test_the_service_refuses_bwrap_without_per_job_containment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """serve and worker grade untrusted code: without a cgroup per job they stop, in
    one line, unless the host accepts per-process limits (DLGRADER_JOB_CGROUPS)."""
    import typer

    from grader.cli import remote
    from grader.sandbox import cgroups
    from grader.settings import get_settings

    monkeypatch.setattr(cgroups, "unavailable", lambda: "no cgroup controllers here")
    for accepted, refused in (("", True), ("if_available", False), ("required", True)):
        monkeypatch.setenv("DLGRADER_SANDBOX", "bwrap")
        if accepted:
            monkeypatch.setenv("DLGRADER_JOB_CGROUPS", accepted)
        else:
            monkeypatch.delenv("DLGRADER_JOB_CGROUPS", raising=False)
        get_settings.cache_clear()
        try:
            if refused:
                with pytest.raises(typer.Exit) as stopped:
                    remote._require_containment()
                assert stopped.value.exit_code == 3
            else:
                remote._require_containment()
        finally:
            get_settings.cache_clear()


def test_a_result_table_shows_names_without_escapes() -> None:
    """Names print as they are: no markup read, and no backslash added to hide some."""
    from rich.console import Console

    from grader.cli.render import print_result
    from submissions_schema import GradingResult, TestResult, TestStatus, Verdict

    test = TestResult(
        name="batchnorm_forward [test mode] #1",
        function="batchnorm_forward",
        status=TestStatus.failed,
        score=0,
        max_score=1,
        message="got [/oops]",
    )
    result = GradingResult(
        assignment="a",
        assignment_version="1",
        verdict=Verdict.graded,
        score=0,
        max_score=1,
        sandbox="bwrap",
        reference_version="r",
        tests=[test],
    )
    out = Console(record=True, width=200, markup=False)
    print_result(out, result)
    text = out.export_text()
    assert "batchnorm_forward [test mode] #1" in text
    assert "got [/oops]" in text
    assert "\\[" not in text


def test_delegating_cgroups_checks_the_user_first() -> None:
    """`sandbox delegate` names a real user, and is root's to run (exit 2 otherwise)."""
    proc = subprocess.run(
        [sys.executable, "-m", "grader.cli", "sandbox", "delegate", "--user", "no-such-user-x"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith("no user 'no-such-user-x'") or "only root" in proc.stderr


def test_a_required_cgroup_is_checked_when_grading_not_only_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker that started with Docker and falls back to bubblewrap, or loses its
    cgroups later, refuses the job (ours: retried, never counted) rather than running it
    bounded per process only."""
    from grader.sandbox import SandboxUnavailable, cgroups, select_sandbox
    from grader.sandbox.bwrap import BwrapSandbox

    if BwrapSandbox.available() is not None:
        pytest.skip("no bubblewrap")
    monkeypatch.setattr(cgroups, "unavailable", lambda: "no cgroup controllers here")
    with pytest.raises(SandboxUnavailable, match="no cgroup controllers here"):
        select_sandbox("bwrap", require_cgroup=True)
    assert select_sandbox("bwrap").name == "bwrap"  # the host accepted per-process limits
