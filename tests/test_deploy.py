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


SECRETS = {"POSTGRES_PASSWORD": "pg-secret", "REDIS_PASSWORD": "redis-secret"}
SECRETS["DLGRADER_HIDDEN_SEED"] = "98765"


def env_file(tmp: Path, secrets: dict[str, str]) -> Path:
    """.env.example with the secrets a TA fills in."""
    lines = []
    for line in (ROOT / ".env.example").read_text().splitlines():
        name = line.split("=", 1)[0]
        lines.append(f"{name}={secrets[name]}" if name in secrets else line)
    path = tmp / ".env"
    path.write_text("\n".join(lines) + "\n")
    return path


def compose(
    *args: str, profiles: str | None = None, secrets: dict[str, str] = SECRETS
) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is not installed (scripts/services installs it)")
        pytest.skip("docker-compose is not installed")
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="dlgrader-compose-"))
    return subprocess.run(
        [binary, "--env-file", str(env_file(tmp, secrets)), "-f", "docker-compose.yml", *args],
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


def test_compose_refuses_to_start_without_its_secrets() -> None:
    """.env.example holds no usable password or hidden seed: each must be set."""
    for missing in SECRETS:
        proc = compose("config", "-q", secrets={k: v for k, v in SECRETS.items() if k != missing})
        assert proc.returncode != 0
        assert f"set {missing} in .env" in proc.stderr


def test_redis_wants_its_password_and_the_api_runs_unprivileged() -> None:
    config = yaml.safe_load(compose("--profile", "gpu", "config").stdout)
    services = config["services"]
    assert "redis-secret" in services["redis"]["command"]
    assert services["api"]["environment"]["DLGRADER_BROKER_URL"].startswith(
        "redis://:redis-secret@"
    )
    assert "user" not in services["api"]  # the image's unprivileged user
    assert "USER dlgrader" in (ROOT / "deploy" / "service.Dockerfile").read_text()
    assert {services[n].get("user") for n in ("worker-cpu", "worker-gpu", "reaper")} == {"root"}
