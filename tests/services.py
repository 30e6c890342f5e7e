"""The real services the integration tests use (PostgreSQL, Redis, dockerd), started by
`scripts/services` (run by .ci/run). Locally, without them, those tests skip; under
CI=true a missing service fails them instead."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


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
