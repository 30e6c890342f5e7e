from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

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
