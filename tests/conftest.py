from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from tests.services import RedisServer, require

settings.register_profile(
    "ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=15, deadline=None)
settings.load_profile("ci")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(231)


@pytest.fixture(scope="session")
def ref():  # type: ignore[no-untyped-def]
    pytest.importorskip("torch", reason="the torch extra is not installed")
    from reference_impl.torch_ref import TorchReference

    return TorchReference("cpu")


@pytest.fixture
def docker_client():  # type: ignore[no-untyped-def]
    """The Docker daemon with the sandbox image; missing, a skip here and a failure in CI."""
    from grader.sandbox.docker_sandbox import DockerSandbox

    problem = DockerSandbox.available()
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    import docker

    return docker.from_env()


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
