"""Faults on the real stack (PostgreSQL, Redis, Celery workers, the API as processes):
a deploy's SIGTERM, a submission that kills its worker every time, PostgreSQL restarted
mid-run. Each ends with exactly one outcome per submission and nothing lost."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from grader.sandbox.bwrap import BwrapSandbox
from tests.grading.helpers import processes_matching
from tests.services import RedisServer, restart_dockerd, wait_until
from tests.stack.stack import LAYERS, Stack, api, buggy, started_stack

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(BwrapSandbox.available() is not None, reason="no bubblewrap"),
]


def slow_layers(tmp_path: Path, seconds: float) -> Path:
    return buggy(
        tmp_path,
        LAYERS,
        "def relu_backward(dout, cache):\n",
        f"def relu_backward(dout, cache):\n    import time; time.sleep({seconds})\n",
    )


def submit(stack: Stack, path: Path) -> str:
    proc = stack.cli("submit", str(path), "-a", "cnn-layers")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()[1]


def detail(stack: Stack, submission_id: str) -> dict:  # type: ignore[type-arg]
    return api(stack, stack.token("tina", "ta"), f"/api/v1/submissions/{submission_id}")


def result_rows(stack: Stack, submission_id: str) -> int:
    import psycopg

    url = stack.env["DLGRADER_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM results WHERE submission_id = %s", (submission_id,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def running_child(stack: Stack, submission_id: str, attempt: int) -> int:
    """The pid of the worker child running `attempt`, from the row's events."""
    wait_until(
        lambda: any(
            e["message"].startswith(f"attempt {attempt} on")
            for e in detail(stack, submission_id)["events"]
        ),
        90,
        f"attempt {attempt} to start",
    )
    events = detail(stack, submission_id)["events"]
    line = next(e["message"] for e in events if e["message"].startswith(f"attempt {attempt} on"))
    return int(line.rsplit(":", 1)[1])


def test_sigterm_during_a_job_lets_it_finish(stack: Stack, tmp_path: Path) -> None:
    worker = stack.start_worker()
    stack.login("alice")
    submission_id = submit(stack, slow_layers(tmp_path, 1))
    running_child(stack, submission_id, 1)
    worker.send_signal(signal.SIGTERM)  # what a deploy does: a warm shutdown
    assert worker.wait(timeout=180) == 0
    row = detail(stack, submission_id)
    assert row["status"] == "graded"
    assert row["attempts"] == 1
    assert row["score"] == 52
    assert result_rows(stack, submission_id) == 1


def test_the_main_worker_process_killed_mid_job_is_graded_once(
    tmp_path: Path, postgres_url: str, redis_server: RedisServer
) -> None:
    # A 10 s visibility timeout, so Redis hands the unacknowledged task on within the test.
    stack = started_stack(
        tmp_path, postgres_url, redis_server.url, DLGRADER_VISIBILITY_TIMEOUT_S="10"
    )
    try:
        first = stack.start_worker()
        stack.login("alice")
        submission_id = submit(stack, slow_layers(tmp_path, 3))
        running_child(stack, submission_id, 1)
        first.kill()  # SIGKILL to the main process; its pool children die with it
        first.wait()
        stack.start_worker()
        wait_until(lambda: detail(stack, submission_id)["status"] == "graded", 240, "the result")
        time.sleep(3)  # a late duplicate has had its chance
        row = detail(stack, submission_id)
    finally:
        stack.stop()
    assert row["attempts"] == 2
    assert row["score"] == 52
    assert result_rows(stack, submission_id) == 1
    assert _job_containers(submission_id) == []  # attempt 1's was removed at the takeover


def test_a_submission_that_kills_its_worker_three_times_is_not_counted(
    stack: Stack, tmp_path: Path
) -> None:
    stack.start_worker()
    stack.login("alice")
    submission_id = submit(stack, slow_layers(tmp_path, 30))
    for attempt in (1, 2, 3):
        os.kill(running_child(stack, submission_id, attempt), signal.SIGKILL)
    wait_until(lambda: detail(stack, submission_id)["status"] == "failed", 120, "the verdict")
    row = detail(stack, submission_id)
    assert row["attempts"] == 3
    assert "could not grade" in row["reason"]
    assert "does not count against you" in row["reason"]
    assert result_rows(stack, submission_id) == 0
    time.sleep(3)  # no loop: nothing more happens to it
    assert detail(stack, submission_id)["attempts"] == 3
    assert _job_containers(submission_id) == []  # the last attempt's too


def _postgres(action: str) -> None:
    version, cluster = subprocess.run(
        ["pg_lsclusters", "-h"], capture_output=True, text=True, check=True
    ).stdout.split()[:2]
    subprocess.run(["pg_ctlcluster", version, cluster, action], check=True, timeout=60)


def test_postgres_restarted_mid_run(stack: Stack, tmp_path: Path) -> None:
    if subprocess.run(["which", "pg_ctlcluster"], capture_output=True).returncode != 0:
        pytest.skip("PostgreSQL is not a local cluster here")
    stack.start_worker()
    token = stack.login("alice")
    submission_id = submit(stack, slow_layers(tmp_path, 2))
    running_child(stack, submission_id, 1)
    _postgres("stop")
    try:
        down = httpx.get(
            f"{stack.server}/api/v1/submissions/{submission_id}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert down.status_code == 503
        assert down.json()["code"] == "database_unavailable"
        assert httpx.get(f"{stack.server}/readyz", timeout=30).status_code == 503
        time.sleep(5)  # the grading ends meanwhile; its worker keeps the result and retries
    finally:
        _postgres("start")
    wait_until(lambda: detail(stack, submission_id)["status"] == "graded", 180, "the result")
    row = detail(stack, submission_id)
    assert row["attempts"] == 1
    assert row["score"] == 52
    assert result_rows(stack, submission_id) == 1
    assert "database unavailable, retrying" in (stack.tmp / "worker0.log").read_text()


def test_a_backlog_longer_than_the_margin_is_not_queued_twice(
    stack: Stack, redis_server: RedisServer
) -> None:
    stack.login("alice")
    ids = [submit(stack, LAYERS) for _ in range(3)]  # no worker: a backlog in Redis
    time.sleep(3)  # past the 2 s margin
    assert stack.cli("reaper", "--once").returncode == 0
    for submission_id in ids:
        events = detail(stack, submission_id)["events"]
        assert not [e for e in events if e["message"].startswith("reaper:")]
    import redis

    assert redis.Redis.from_url(redis_server.url).llen("cpu") == 3
    redis_server.restart_empty()  # now they are lost, and the reaper must see it
    assert stack.cli("reaper", "--once").returncode == 0
    for submission_id in ids:
        events = detail(stack, submission_id)["events"]
        assert len([e for e in events if e["message"].startswith("reaper:")]) == 1
    stack.start_worker()
    wait_until(lambda: all(detail(stack, i)["status"] == "graded" for i in ids), 180, "the grading")


def test_a_task_outliving_a_short_visibility_timeout_is_graded_once(
    tmp_path: Path, postgres_url: str, redis_server: RedisServer
) -> None:
    stack = started_stack(
        tmp_path, postgres_url, redis_server.url, DLGRADER_VISIBILITY_TIMEOUT_S="2"
    )
    try:
        stack.start_worker()
        stack.start_worker()
        stack.login("alice")
        submission_id = submit(stack, slow_layers(tmp_path, 5))
        wait_until(lambda: detail(stack, submission_id)["status"] == "graded", 240, "the result")
        logs = "".join(p.read_text() for p in stack.tmp.glob("worker*.log"))
        row = detail(stack, submission_id)
    finally:
        stack.stop()
    # Redis handed the unacknowledged task to the other worker while the first still ran.
    assert "duplicate delivery discarded" in logs
    assert row["attempts"] == 1
    assert row["score"] == 52
    assert result_rows(stack, submission_id) == 1


def test_redis_killed_and_restarted_from_its_append_only_file(
    stack: Stack, tmp_path: Path, redis_server: RedisServer
) -> None:
    redis_server.restart_keeping_data()  # from here on, every write is in the AOF
    stack.start_worker()
    stack.login("alice")
    ids = [submit(stack, slow_layers(tmp_path, 1)) for _ in range(4)]
    running_child(stack, ids[0], 1)
    redis_server.restart_keeping_data()  # mid-job: one task unacknowledged, three waiting
    time.sleep(3)
    assert stack.cli("reaper", "--once").returncode == 0
    wait_until(lambda: all(detail(stack, i)["status"] == "graded" for i in ids), 240, "the grading")
    time.sleep(3)  # any late redelivery has had its chance to show a duplicate
    for submission_id in ids:
        assert result_rows(stack, submission_id) == 1
        assert detail(stack, submission_id)["score"] == 52


class CuttableProxy:
    """A TCP relay to Redis that a test can cut: every open connection closed and new
    ones refused, as a network partition looks to the worker."""

    def __init__(self, target_port: int) -> None:

        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = threading.Event()
        self.open.set()
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:

        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open.is_set():
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.pairs.append((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.close()

    def cut(self) -> None:
        self.open.clear()
        with self.lock:
            for pair in self.pairs:
                for s in pair:
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)
                        s.close()
            self.pairs.clear()

    def heal(self) -> None:
        self.open.set()


def test_a_worker_cut_off_from_redis_for_30_s_never_grades_in_parallel(
    stack: Stack, tmp_path: Path, redis_server: RedisServer
) -> None:
    proxy = CuttableProxy(redis_server.port)
    behind_proxy = f"redis://127.0.0.1:{proxy.port}/0"
    stack.start_worker(DLGRADER_BROKER_URL=behind_proxy)  # takes the job, then loses Redis
    stack.login("alice")
    submission_id = submit(stack, slow_layers(tmp_path, 4))
    claimer = running_child(stack, submission_id, 1)
    stack.start_worker()  # keeps Redis: any redelivery during the cut comes here
    proxy.cut()
    time.sleep(30)
    proxy.heal()
    wait_until(lambda: detail(stack, submission_id)["status"] == "graded", 240, "the result")
    time.sleep(5)
    row = detail(stack, submission_id)
    assert row["score"] == 52
    assert result_rows(stack, submission_id) == 1
    running = [e for e in row["events"] if e["status"] == "running" and "attempt" in e["message"]]
    # Whoever had it first, no second attempt ran beside it.
    assert len(running) == 1, (claimer, running)


def _job_containers(submission_id: str) -> list[str]:
    from grader.sandbox.docker_sandbox import LABEL

    out = subprocess.run(
        ["docker", "ps", "-a", "--filter", f"label={LABEL}", "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [name for name in out if submission_id in name]


@pytest.mark.usefixtures("docker_client")
def test_dockerd_restarted_mid_job_is_retried_without_orphans(
    tmp_path: Path, postgres_url: str, redis_server: RedisServer
) -> None:
    stack = started_stack(tmp_path, postgres_url, redis_server.url, DLGRADER_SANDBOX="docker")
    try:
        stack.start_worker()
        stack.login("alice")
        submission_id = submit(stack, slow_layers(tmp_path, 3))
        running_child(stack, submission_id, 1)
        wait_until(lambda: _job_containers(submission_id), 60, "the sandbox container")
        restart_dockerd()
        wait_until(lambda: detail(stack, submission_id)["status"] == "graded", 240, "the result")
        row = detail(stack, submission_id)
        logs = (stack.tmp / "worker0.log").read_text()
    finally:
        stack.stop()
    # Attempt 1 lost its container with the daemon: our failure, said so, and retried.
    assert row["attempts"] == 2
    assert row["score"] == 52
    assert result_rows(stack, submission_id) == 1
    retried = [e["message"] for e in row["events"] if e["message"].startswith("retrying after:")]
    assert len(retried) == 1, row["events"]
    assert "the sandbox failed, not your code" in retried[0]
    assert "sandbox failed in attempt 1" in logs
    assert _job_containers(submission_id) == []
    # Celery's own lines about the task ("received", "succeeded") name the submission too.
    task_lines = [json.loads(x) for x in logs.splitlines() if "dlgrader.grade[" in x]
    assert len(task_lines) >= 4
    assert {line["submission_id"] for line in task_lines} == {submission_id}


@pytest.mark.usefixtures("docker_client")
@pytest.mark.parametrize("sandbox", ["docker", "bwrap"])
def test_the_hard_time_limit_leaves_no_container_or_process(
    tmp_path: Path, postgres_url: str, redis_server: RedisServer, sandbox: str
) -> None:
    # No soft limit, hard 8 s: the pool kills the worker child in the middle of a run.
    stack = started_stack(
        tmp_path,
        postgres_url,
        redis_server.url,
        DLGRADER_SANDBOX=sandbox,
        DLGRADER_TASK_TIME_LIMITS_S="[0, 8]",
    )
    marker = f"hard-limit-{os.getpid()}-{sandbox}"
    slow = buggy(
        tmp_path,
        LAYERS,
        "def relu_backward(dout, cache):\n",
        "def relu_backward(dout, cache):\n"
        "    import subprocess, sys, time\n"
        f"    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', {marker!r}])\n"
        "    time.sleep(9)\n",
    )
    try:
        worker = stack.start_worker()
        stack.login("alice")
        submission_id = submit(stack, slow)
        wait_until(lambda: processes_matching(marker), 60, "the student's code to run")
        wait_until(lambda: detail(stack, submission_id)["status"] == "failed", 180, "the verdict")
        row = detail(stack, submission_id)
        time.sleep(2)  # the last kill has landed
        assert worker.poll() is None  # the worker itself lives on
        logs = (stack.tmp / "worker0.log").read_text()
    finally:
        stack.stop()
    assert row["attempts"] == 3
    assert "could not grade" in row["reason"]
    assert "hard time limit (8 s)" in row["reason"]
    assert "does not count against you" in row["reason"]
    assert result_rows(stack, submission_id) == 0
    assert "Hard time limit" in logs
    assert _job_containers(submission_id) == []
    assert processes_matching(marker) == []
