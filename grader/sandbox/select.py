"""Choosing a sandbox by name; `auto` prefers Docker, then bubblewrap."""

from __future__ import annotations

from collections.abc import Callable

from grader.sandbox import cgroups
from grader.sandbox.base import Sandbox, SandboxUnavailable
from grader.sandbox.bwrap import BwrapSandbox
from grader.sandbox.docker_sandbox import DockerSandbox
from grader.sandbox.process import ProcessSandbox

SANDBOX_NAMES = ("auto", "bwrap", "docker", "process")
SANDBOXES: tuple[type[Sandbox], ...] = (BwrapSandbox, DockerSandbox, ProcessSandbox)


def discard_job(job_label: str) -> list[str]:
    """What any sandbox left of this job on this host, removed (its worker was killed)."""
    return [name for kind in SANDBOXES for name in kind.discard(job_label)]


def remove_orphans(orphaned: Callable[[set[str]], set[str]]) -> list[str]:
    """What any sandbox left of jobs no longer running, removed (a worker crashed)."""
    return [name for kind in SANDBOXES for name in kind.remove_orphans(orphaned)]


def select_sandbox(
    name: str = "auto", gpu: str | None = None, require_cgroup: bool = False
) -> Sandbox:
    """`auto`: Docker when its image is present and the daemon answers, else bubblewrap.
    With `require_cgroup`, bubblewrap only where each job gets a cgroup of its own."""
    if name == "auto":
        if DockerSandbox.available() is None:
            return DockerSandbox(gpu=gpu)
        problem = BwrapSandbox.available()
        if problem is not None:
            raise SandboxUnavailable(
                f"no sandbox available: {problem}. Install bubblewrap (apt-get install "
                "bubblewrap) or Docker with the sandbox image (dlgrader sandbox build), or "
                "pass --sandbox process to run your own code unisolated"
            )
        return _bwrap(require_cgroup)
    if name == "docker":
        problem = DockerSandbox.available()
        if problem is not None:
            raise SandboxUnavailable(problem)
        return DockerSandbox(gpu=gpu)
    if name == "bwrap":
        problem = BwrapSandbox.available()
        if problem is not None:
            raise SandboxUnavailable(problem)
        return _bwrap(require_cgroup)
    if name == "process":
        problem = ProcessSandbox.available()
        if problem is not None:
            raise SandboxUnavailable(problem)
        return ProcessSandbox()
    raise SandboxUnavailable(f"unknown sandbox {name!r}; choose {', '.join(SANDBOX_NAMES)}")


def _bwrap(require_cgroup: bool) -> BwrapSandbox:
    if require_cgroup:
        problem = cgroups.unavailable()
        if problem is not None:
            raise SandboxUnavailable(
                f"a cgroup per job is required (DLGRADER_JOB_CGROUPS), but {problem}: each "
                "job's memory and processes would be bounded per process only"
            )
    return BwrapSandbox(require_cgroup)
