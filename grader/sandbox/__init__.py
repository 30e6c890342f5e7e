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
    select_sandbox,
)

__all__ = [
    "JobDirs",
    "Sandbox",
    "SandboxFailed",
    "SandboxLimits",
    "SandboxRun",
    "SandboxUnavailable",
    "select_sandbox",
]
