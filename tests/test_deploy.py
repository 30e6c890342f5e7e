"""docker-compose.yml: valid, and wired the way docs/deploy.md says."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def compose(*args: str, profiles: str | None = None) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is not installed (scripts/services installs it)")
        pytest.skip("docker-compose is not installed")
    return subprocess.run(
        [binary, "--env-file", ".env.example", "-f", "docker-compose.yml", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **({"COMPOSE_PROFILES": profiles} if profiles is not None else {})},
    )


def test_compose_file_is_valid_with_every_profile() -> None:
    proc = compose(
        "--profile", "gpu", "--profile", "build", "--profile", "monitoring", "config", "-q"
    )
    assert proc.returncode == 0, proc.stderr


def test_services_and_their_wiring() -> None:
    proc = compose("--profile", "gpu", "config")
    assert proc.returncode == 0, proc.stderr
    config = yaml.safe_load(proc.stdout)
    services = config["services"]
    assert {"redis", "postgres", "api", "worker-cpu", "worker-gpu", "reaper"} <= set(services)
    assert "--appendonly" in services["redis"]["command"]
    assert "noeviction" in services["redis"]["command"]
    gpu = services["worker-gpu"]
    assert gpu["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    assert "--gpus" in gpu["command"]
    for name in ("worker-cpu", "worker-gpu"):
        env = services[name]["environment"]
        assert env["DLGRADER_SANDBOX"] == "docker"
        mounts = json.dumps(services[name]["volumes"])
        assert "/var/run/docker.sock" in mounts
        assert env["DLGRADER_SCRATCH_DIR"] in mounts  # same path on host and in the worker
    assert services["api"]["environment"]["DLGRADER_BROKER_URL"].startswith("redis://")
    assert "postgres-data" in config["volumes"]


def test_gpu_workers_and_tools_are_behind_profiles() -> None:
    """A CPU-only machine (COMPOSE_PROFILES empty) starts no GPU worker; the image build
    and Flower are opt-in."""
    proc = compose("config", profiles="")
    assert proc.returncode == 0, proc.stderr
    services = yaml.safe_load(proc.stdout)["services"]
    assert services["worker-gpu"]["profiles"] == ["gpu"]
    assert services["sandbox-image"]["profiles"] == ["build"]
    assert services["flower"]["profiles"] == ["monitoring"]
    assert "profiles" not in services["worker-cpu"]
