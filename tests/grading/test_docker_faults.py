"""The Docker sandbox tells its own failures from the student's: a container stopped from
outside (a daemon restart, an administrator) is a SandboxFailed, retried by the worker,
never a crash verdict, and it leaves no container behind."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from grader.grading.course import get_assignment
from grader.grading.grade import grade
from grader.sandbox import SandboxFailed
from grader.sandbox.docker_sandbox import LABEL, DockerSandbox

pytestmark = [pytest.mark.integration]

SLOW = """
import numpy as np
def relu_forward(x):
    import time; time.sleep(60)
    return np.maximum(0, x), x
def relu_backward(dout, cache):
    return dout * (cache > 0)
"""


def test_a_container_stopped_from_outside_is_a_sandbox_failure(
    tmp_path: Path,
    docker_client,  # type: ignore[no-untyped-def]
) -> None:
    spec = get_assignment("cnn-layers")
    relu = next(p for p in spec.problems if p.name == "relu")
    small = spec.model_copy(
        update={"problems": [relu.model_copy(update={"time_limit_s": 120.0, "hidden_cases": 0})]}
    )
    path = tmp_path / "layers.py"
    path.write_text(SLOW)
    label = f"outside-{os.getpid()}"
    raised: list[BaseException] = []

    def grading() -> None:
        try:
            grade(path, small, DockerSandbox(), secret_seed=1, job_label=label)
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=grading)
    thread.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        running = docker_client.containers.list(
            filters={"label": f"{LABEL}={label}", "status": "running"}
        )
        if running:
            time.sleep(1)  # inside the student's call
            running[0].kill()
            break
        time.sleep(0.1)
    else:
        pytest.fail("the sandbox container never ran")
    thread.join(timeout=60)
    assert len(raised) == 1, raised
    assert isinstance(raised[0], SandboxFailed), raised
    assert "stopped from outside" in str(raised[0])
    assert docker_client.containers.list(all=True, filters={"label": f"{LABEL}={label}"}) == []
