"""The real stack: PostgreSQL, Redis, the API and Celery workers as separate processes.

Services come from `scripts/services` (run by .ci/run). Locally, without them, these
tests skip; under CI=true a missing service fails them instead.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def require(condition: bool, what: str) -> None:
    if condition:
        return
    message = f"{what} (run scripts/services)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class RedisServer:
    """A Redis of our own, so a test can kill it and bring it back empty."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary, self.workdir = binary, workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, appendonly: bool = False) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.workdir),
                "--save",
                "",
                "--appendonly",
                "yes" if appendonly else "no",
                "--maxmemory-policy",
                "noeviction",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(
            lambda: socket.create_connection(("127.0.0.1", self.port), 0.2).close() is None,
            10,
            "redis",
        )

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def restart_keeping_data(self) -> None:
        """Killed (no clean shutdown) and started again from its append-only file."""
        self.stop()
        self.start(appendonly=True)

    def restart_empty(self) -> None:
        self.stop()
        for f in self.workdir.glob("*"):
            if f.is_file():
                f.unlink()
        self.start()


def restart_dockerd() -> None:
    """Stop the Docker daemon as a package upgrade or a restart does (SIGTERM) and start it
    again the way scripts/services did; the images stay, running containers do not."""
    pidfile = Path("/var/run/docker.pid")
    require(pidfile.exists(), "no dockerd started by scripts/services")
    pid = int(pidfile.read_text())
    os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not Path(f"/proc/{pid}").exists(), 60, "dockerd to stop")
    with open("/tmp/dockerd.log", "ab") as log:
        subprocess.Popen(["dockerd"], stdout=log, stderr=log, start_new_session=True)
    wait_until(
        lambda: subprocess.run(["docker", "info"], capture_output=True).returncode == 0,
        60,
        "dockerd to start again",
    )


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    binary = os.environ.get("DLGRADER_TEST_REDIS_SERVER", "")
    require(bool(binary) and Path(binary).exists(), "no redis-server")
    server = RedisServer(binary, tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    admin = os.environ.get("DLGRADER_TEST_POSTGRES_URL", "")
    require(bool(admin), "no PostgreSQL")
    import psycopg

    plain = admin.replace("postgresql+psycopg://", "postgresql://")
    name = f"dlg_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    yield url
    from grader.service.db import engine_for

    engine_for(url).dispose()  # our pooled connections first
    try:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.Error as exc:  # a leftover test database is harmless; say so and go on
        print(f"could not drop {name}: {exc}")


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


@pytest.fixture
def stack(tmp_path: Path, postgres_url: str, redis_server: RedisServer) -> Iterator[Stack]:
    s = started_stack(tmp_path, postgres_url, redis_server.url)
    yield s
    s.stop()
