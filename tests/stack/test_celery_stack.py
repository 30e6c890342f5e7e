"""End to end on PostgreSQL, Redis and Celery workers in separate processes, driven
through the CLI as students and TAs use it."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import httpx
import pytest
import redis

from grader.sandbox.bwrap import BwrapSandbox
from tests.services import RedisServer, wait_until
from tests.stack.stack import AUTODIFF, LAYERS, Stack, api, buggy, submit_and_wait

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(BwrapSandbox.available() is not None, reason="no bubblewrap"),
]


def test_cli_submissions_graded_by_two_celery_workers(stack: Stack, tmp_path: Path) -> None:
    stack.start_worker()
    stack.start_worker()
    stack.login("alice")
    assert submit_and_wait(stack, LAYERS, "cnn-layers")["score"] == 52
    first = submit_and_wait(stack, AUTODIFF, "autodiff")
    assert first["score"] == 40
    bad_layers = buggy(tmp_path, LAYERS, "return dout * (cache > 0)", "return dout * 1.0")
    result = submit_and_wait(stack, bad_layers, "cnn-layers")
    assert result["score"] < 52
    assert any(t["hint"] and "mask" in t["hint"] for t in result["tests"])
    bad_autodiff = buggy(
        tmp_path, AUTODIFF, "return [self.y * dz, self.x * dz]", "return [self.x * dz, self.y * dz]"
    )
    assert submit_and_wait(stack, bad_autodiff, "autodiff")["score"] < 40
    sandboxes = {
        json.loads(p.read_text())["sandbox"]
        for p in stack.tmp.glob("*.json")
        if p.name != "client.json"
    }
    from grader.sandbox.docker_sandbox import DockerSandbox

    assert sandboxes == {"docker" if DockerSandbox.available() is None else "bwrap"}
    listing = stack.cli("submissions")
    assert listing.returncode == 0
    assert listing.stdout.count("graded") == 4
    status = stack.cli("status", first["submission_id"])
    assert status.returncode == 0
    assert "graded" in status.stdout
    assert "queued" in status.stdout  # the history
    as_json = stack.cli("result", first["submission_id"], "--json")
    assert json.loads(as_json.stdout)["verdict"] == "graded"
    missing = stack.cli("status", "no-such-id")
    assert missing.returncode == 2  # the server says 404: bad input (README, Exit codes)
    assert missing.stderr.strip().count("\n") == 0  # one line, no traceback
    assert "not_found" in missing.stderr
    stack.login("tina", "ta")
    regrade = stack.cli("admin", "regrade", "--assignment", "autodiff", "--wait-s", "120")
    assert regrade.returncode == 0, regrade.stderr
    assert "2 regraded" in regrade.stdout
    assert "0 still pending" in regrade.stdout
    metrics = httpx.get(f"{stack.server}/metrics", timeout=10).text
    assert "dlgrader_broker_up 1.0" in metrics
    assert 'dlgrader_queue_depth{queue="cpu"} 0.0' in metrics
    assert 'dlgrader_verdicts{verdict="graded"} 4.0' in metrics
    assert metrics.count("dlgrader_worker_heartbeat_age_seconds{worker=") == 2
    worker_lines = [
        json.loads(line)
        for log in stack.tmp.glob("worker*.log")
        for line in log.read_text().splitlines()
        if line.startswith("{")
    ]
    about_first = [x for x in worker_lines if x["submission_id"] == first["submission_id"]]
    assert any(x["message"].startswith("attempt 1 of autodiff") for x in about_first)


def test_worker_killed_mid_grading_gives_exactly_one_result(stack: Stack, tmp_path: Path) -> None:
    stack.start_worker()
    stack.start_worker()
    token = stack.login("alice")
    ta = stack.token("tina", "ta")
    slow = buggy(
        tmp_path,
        LAYERS,
        "def relu_backward(dout, cache):\n",
        "def relu_backward(dout, cache):\n    import time; time.sleep(2)\n",
    )
    proc = stack.cli("submit", str(slow), "-a", "cnn-layers")
    submission_id = proc.stdout.split()[1]
    # Wait until a worker child has claimed it, then SIGKILL that child.
    wait_until(
        lambda: api(stack, ta, f"/api/v1/submissions/{submission_id}")["status"] == "running",
        60,
        "the grading to start",
    )
    events = api(stack, ta, f"/api/v1/submissions/{submission_id}")["events"]
    claimer = next(e["message"] for e in events if e["status"] == "running").rsplit(":", 1)[1]
    os.kill(int(claimer), signal.SIGKILL)
    wait_until(
        lambda: api(stack, token, f"/api/v1/submissions/{submission_id}")["status"] == "graded",
        180,
        "the regrading after the kill",
    )
    detail = api(stack, ta, f"/api/v1/submissions/{submission_id}")
    assert detail["attempts"] == 2
    assert detail["score"] == 52
    import psycopg

    url = stack.env["DLGRADER_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        results = conn.execute(
            "SELECT count(*) FROM results WHERE submission_id = %s", (submission_id,)
        ).fetchone()
    assert results == (1,)


def test_redis_restarted_empty_while_50_wait_loses_nothing(
    stack: Stack, redis_server: RedisServer
) -> None:
    tokens = [stack.token(f"student{i}") for i in range(5)]  # 10 each, under the daily cap
    source = AUTODIFF.read_bytes()
    ids = []
    with httpx.Client(base_url=stack.server, timeout=30) as client:
        for n in range(50):  # no worker yet: they wait in Redis
            response = client.post(
                "/api/v1/submissions",
                headers={"Authorization": f"Bearer {tokens[n % 5]}"},
                files={"file": (AUTODIFF.name, source)},
                data={"assignment": "autodiff"},
            )
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
    assert redis.Redis.from_url(redis_server.url).llen("cpu") == 50
    redis_server.restart_empty()
    stack.start_worker()
    stack.start_worker()
    time.sleep(3)  # past the stuck margin
    assert stack.cli("reaper", "--once").returncode == 0
    ta = stack.token("tina", "ta")
    wait_until(
        lambda: all(api(stack, ta, f"/api/v1/submissions/{i}")["status"] == "graded" for i in ids),
        300,
        "every submission to be graded",
    )
    assert {api(stack, ta, f"/api/v1/submissions/{i}")["score"] for i in ids} == {40}
