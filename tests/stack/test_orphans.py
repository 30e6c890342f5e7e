"""The reaper removes sandbox containers left by a dead worker, and only those: never a
live job's, nor one that is not this service's (a TA's local check on the same host)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from grader.sandbox.docker_sandbox import LABEL, container_name
from grader.service.accounts import create_token
from grader.service.db import SubmissionRow, session_scope
from grader.service.migrate import migrate
from grader.settings import Settings
from submissions_schema import Role
from workers.reaper import kill_orphan_sandboxes

pytestmark = [pytest.mark.integration]


def test_orphans_go_and_live_jobs_stay(tmp_path: Path, docker_client) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, hidden_seed=1)
    url = settings.resolved_database_url()
    migrate(url)
    with session_scope(url) as session:
        create_token(session, "alice", Role.student)
        session.add(
            SubmissionRow(
                id="live",
                user_id=1,
                assignment="autodiff",
                assignment_version="1",
                file_name="autodiff.py",
                sha256="0" * 64,
                size=1,
                status="running",
                attempts=2,
            )
        )
        session.add(  # its worker died; it waits to be retried
            SubmissionRow(
                id="gone",
                user_id=1,
                assignment="autodiff",
                assignment_version="1",
                file_name="autodiff.py",
                sha256="0" * 64,
                size=1,
                status="queued",
                attempts=1,
            )
        )
    started = []
    local = "4f1c0e9a2b7d4c8e9f0a1b2c3d4e5f60"  # a local `dlgrader grade`'s label
    labels = ("live-2", "live-1", "gone-1", local, "elsewhere-3")
    names = {label: container_name(label) for label in labels}
    for label in names:  # attempt 1 of "live" was superseded
        started.append(
            docker_client.containers.run(
                "dlgrader-sandbox:latest",
                ["python", "-c", "import time; time.sleep(600)"],
                name=names[label],
                labels={LABEL: label},
                detach=True,
                network_mode="none",
            )
        )
    try:
        removed = kill_orphan_sandboxes(settings)
        assert sorted(removed) == sorted([names["live-1"], names["gone-1"]])
        # Only this test's containers: the daemon is shared with other runs on the host,
        # whose containers the reaper rightly leaves alone too.
        ours = {started_one.id for started_one in started}
        left = {
            c.labels[LABEL]
            for c in docker_client.containers.list(all=True, filters={"label": LABEL})
            if c.id in ours
        }
        assert left == {"live-2", local, "elsewhere-3"}
    finally:
        for container in started:
            with contextlib.suppress(Exception):  # already removed by the reaper
                container.remove(force=True)


def test_a_docker_worker_waits_for_its_daemon_before_taking_a_job(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import workers.grading as grading
    from grader.sandbox import SandboxUnavailable

    answers: list[object] = [SandboxUnavailable("down"), SandboxUnavailable("down"), "box"]

    def select(name: str, gpu: str | None = None, require_cgroup: bool = False) -> object:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(grading, "select_sandbox", select)
    monkeypatch.setattr(grading.time, "sleep", lambda s: None)
    assert grading.sandbox_when_ready(Settings(sandbox="docker", sandbox_wait_s=60)) == "box"
    answers[:] = [SandboxUnavailable("no bubblewrap")]
    gone = grading.sandbox_when_ready(Settings(sandbox="bwrap", sandbox_wait_s=60))
    assert isinstance(gone, SandboxUnavailable)  # reported at once: it does not come back
