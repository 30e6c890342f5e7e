"""Choosing a sandbox by name; `auto` prefers Docker, then bubblewrap."""

from __future__ import annotations

from collections.abc import Callable

from grader.sandbox.base import Sandbox, SandboxUnavailable
from grader.sandbox.bwrap import BwrapSandbox
from grader.sandbox.docker_sandbox import DockerSandbox
from grader.sandbox.process import ProcessSandbox

SANDBOX_NAMES = ("auto", "bwrap", "docker", "process")
SANDBOXES: tuple[type[Sandbox], ...] = (BwrapSandbox, DockerSandbox, ProcessSandbox)


def discard_job(job_label: str) -> list[str]:
    """What any sandbox left of this job on this host, removed (its worker was killed)."""
    return [name for kind in SANDBOXES for name in kind.discard(job_label)]


def remove_orphans(active_labels: Callable[[], set[str]]) -> list[str]:
    """What any sandbox left of jobs no longer running, removed (a worker crashed)."""
    return [name for kind in SANDBOXES for name in kind.remove_orphans(active_labels)]


def select_sandbox(name: str = "auto", gpu: str | None = None) -> Sandbox:
    """`auto`: Docker when its image is present and the daemon answers, else bubblewrap."""
    choices: dict[str, type[Sandbox]] = {
        "bwrap": BwrapSandbox,
        "docker": DockerSandbox,
        "process": ProcessSandbox,
    }
    if name == "auto":
        if DockerSandbox.available() is None:
            return DockerSandbox(gpu=gpu)
        problem = BwrapSandbox.available()
        if problem is None:
            return BwrapSandbox()
        raise SandboxUnavailable(
            f"no sandbox available: {problem}. Install bubblewrap (apt-get install bubblewrap) "
            "or Docker with the sandbox image (dlgrader sandbox build), or pass "
            "--sandbox process to run your own code unisolated"
        )
    if name == "docker":
        problem = DockerSandbox.available()
        if problem is not None:
            raise SandboxUnavailable(problem)
        return DockerSandbox(gpu=gpu)
    if name not in choices:
        raise SandboxUnavailable(f"unknown sandbox {name!r}; choose auto, {', '.join(choices)}")
    problem = choices[name].available()
    if problem is not None:
        raise SandboxUnavailable(problem)
    return choices[name]()
