"""Where student code runs: a sandbox takes a prepared job folder and limits, and
reports how the process ended. It never reads what the code produced; the trusted
side does, after the sandbox is gone."""

from grader.sandbox.base import (
    JobDirs,
    Sandbox,
    SandboxFailed,
    SandboxLimits,
    SandboxRun,
    SandboxUnavailable,
)
from grader.sandbox.select import SANDBOX_NAMES, discard_job, remove_orphans, select_sandbox

__all__ = [
    "SANDBOX_NAMES",
    "JobDirs",
    "Sandbox",
    "SandboxFailed",
    "SandboxLimits",
    "SandboxRun",
    "SandboxUnavailable",
    "discard_job",
    "remove_orphans",
    "select_sandbox",
]
