"""The real stack: PostgreSQL, Redis, the API and Celery workers as separate processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.services import ROOT, free_port, wait_until


class Stack:
    """API and workers as separate processes sharing one environment."""

    HIDDEN_SEED = 17

    def __init__(self, tmp: Path, database_url: str, broker_url: str, **extra: str) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.env = {
            **os.environ,
            "DLGRADER_DATA_DIR": str(tmp / "data"),
            "DLGRADER_DATABASE_URL": database_url,
            "DLGRADER_BROKER_URL": broker_url,
            "DLGRADER_HIDDEN_SEED": str(self.HIDDEN_SEED),
            "DLGRADER_CONFIG": str(tmp / "client.json"),
            "PYTHONUNBUFFERED": "1",
            **extra,
        }
        self.api: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []

    @property
    def server(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "grader.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
        )

    def _spawn(self, *args: str, log: str, **env: str) -> subprocess.Popen[bytes]:
        out = open(self.tmp / log, "ab")  # noqa: SIM115 - kept open for the process
        return subprocess.Popen(
            [sys.executable, "-m", "grader.cli", *args],
            env={**self.env, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )

    def start_api(self) -> None:
        self.api = self._spawn("serve", "--port", str(self.port), log="api.log")
        wait_until(
            lambda: httpx.get(f"{self.server}/readyz", timeout=2).status_code == 200,
            60,
            "the API to be ready",
        )

    def start_worker(self, concurrency: int = 1, **env: str) -> subprocess.Popen[bytes]:
        worker = self._spawn(
            "worker", "--concurrency", str(concurrency), log=f"worker{len(self.workers)}.log", **env
        )
        self.workers.append(worker)
        return worker

    def token(self, user: str, role: str = "student") -> str:
        proc = self.cli("admin", "token", "create", "--user", user, "--role", role, "--local")
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip().splitlines()[-1]

    def login(self, user: str, role: str = "student") -> str:
        token = self.token(user, role)
        assert self.cli("login", "--server", self.server, "--token", token).returncode == 0
        return token

    def stop(self) -> None:
        for proc in [*self.workers, *([self.api] if self.api else [])]:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in [*self.workers, *([self.api] if self.api else [])]:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.tmp.glob("*.log"))
        )


# The production path: Docker sandboxes when the image is built (.ci/run builds it).
STACK_SANDBOX = "auto"


def started_stack(tmp_path: Path, postgres_url: str, broker_url: str, **env: str) -> Stack:
    """The API on PostgreSQL and Redis, no worker yet, a 2 s stuck margin; `env` adds or
    overrides settings. The caller stops it."""
    settings = {"DLGRADER_STUCK_MARGIN_S": "2", "DLGRADER_SANDBOX": STACK_SANDBOX, **env}
    s = Stack(tmp_path, postgres_url, broker_url, **settings)
    s.start_api()
    return s


LAYERS = ROOT / "examples" / "cnn-layers" / "layers.py"
AUTODIFF = ROOT / "examples" / "autodiff" / "autodiff.py"


def buggy(tmp_path: Path, source: Path, old: str, new: str) -> Path:
    path = tmp_path / "buggy" / source.name
    path.parent.mkdir(exist_ok=True)
    path.write_text(source.read_text().replace(old, new))
    return path


def submit_and_wait(stack: Stack, path: Path, assignment: str) -> dict:  # type: ignore[type-arg]
    out = stack.tmp / f"{path.stem}-{assignment}-{time.monotonic_ns()}.json"
    proc = stack.cli(
        "submit", str(path), "-a", assignment, "--wait", "--json", str(out), "--timeout", "240"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr + stack.logs()
    result = json.loads(out.read_text())
    result["submission_id"] = proc.stdout.split("submitted ", 1)[1].split()[0]
    return result


def api(stack: Stack, token: str, path: str) -> dict:  # type: ignore[type-arg]
    return httpx.get(
        f"{stack.server}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10
    ).json()
