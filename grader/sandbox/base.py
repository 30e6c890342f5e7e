"""The sandbox contract: a job's folders, its limits, how its run ended, and `Sandbox`."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, Field

HARNESS_DIR = Path(__file__).resolve().parent.parent / "harness"
HARNESS_FILES = (
    "runner.py",
    "train_runner.py",
    "repro_runner.py",
    "repro_site/sitecustomize.py",
    "evalai_runner.py",
)  # what a sandbox may run, nothing else


class SandboxUnavailable(RuntimeError):
    """The asked-for sandbox cannot run here; the message says what to install."""


class SandboxFailed(RuntimeError):
    """The sandbox itself broke during a run (its daemon went away, its container
    vanished): ours, not the student's, so the attempt is retried and never counted."""


class SandboxLimits(BaseModel):
    wall_s: float = Field(
        60.0, description="wall-clock limit for the whole run; the group is killed"
    )
    cpu_s: int = Field(60, description="RLIMIT_CPU, seconds of CPU time")
    memory_bytes: int = Field(2 << 30, description="RLIMIT_AS per process; Docker's memory limit")
    limit_address_space: bool = Field(
        True,
        description="false for CUDA jobs: the driver reserves far more address space than "
        "it uses, so only a cgroup (Docker's memory limit) can bound their memory",
    )
    max_processes: int = Field(64, description="RLIMIT_NPROC for the sandbox user")
    file_size_bytes: int = Field(64 << 20, description="RLIMIT_FSIZE, largest file it may write")
    open_files: int = Field(256, description="RLIMIT_NOFILE")
    output_bytes: int = Field(64 << 10, description="stdout and stderr kept, each")
    tmp_bytes: int = Field(64 << 20, description="size of the sandbox's private /tmp")
    out_dir_bytes: int = Field(
        256 << 20, description="the output folder; past it the run is killed"
    )


class SandboxRun(BaseModel):
    exit_code: int | None
    signal: int | None = None
    timed_out: bool = False
    out_dir_exceeded: bool = False
    oom_killed: bool = False
    wall_s: float
    stdout: str = ""
    stderr: str = ""
    sandbox: str


SANDBOX_UID = 65534  # nobody: the user student code runs as


@dataclass(frozen=True)
class JobDirs:
    """A job's folders on the host: the student's code and the inputs are mounted read-only,
    `out` is the only place the harness may write, `manifest` names the calls. `label`
    names the job (submission and attempt) wherever a sandbox needs a name."""

    submission: Path
    inputs: Path
    out: Path
    manifest: Path
    label: str = ""
    entry: str = "runner.py"  # which harness runs: the grading one, or the training one
    packages: tuple[str, ...] = ("numpy",)  # distributions the harness imports
    # A course's own environment: the packages folder bubblewrap and the process sandbox
    # put first on the path, or the derived image Docker runs (grader/grading/environments.py).
    site: Path | None = None
    image: str | None = None

    @staticmethod
    def create(
        root: Path,
        label: str = "",
        entry: str = "runner.py",
        packages: tuple[str, ...] = ("numpy",),
        site: Path | None = None,
        image: str | None = None,
    ) -> JobDirs:
        if entry not in HARNESS_FILES:
            raise ValueError(f"no harness {entry!r}")
        dirs = JobDirs(
            root / "submission",
            root / "inputs",
            root / "out",
            root / "manifest.json",
            label,
            entry,
            packages,
            site,
            image,
        )
        for d in (root, dirs.submission, dirs.inputs, dirs.out):
            d.mkdir(parents=True, exist_ok=True)
            d.chmod(0o755)
        if os.geteuid() == 0:  # the sandbox user writes out/ and only out/
            os.chown(dirs.out, SANDBOX_UID, SANDBOX_UID)
        return dirs


class Sandbox:
    """Runs the harness over a job's folders under limits."""

    name: ClassVar[str]
    gpu: str | None = None  # the GPU its runs see: only Docker's, on a GPU worker

    def run(self, job: JobDirs, limits: SandboxLimits) -> SandboxRun:
        raise NotImplementedError

    @classmethod
    def available(cls) -> str | None:
        """None when usable here, else what is missing."""
        raise NotImplementedError

    @classmethod
    def discard(cls, job_label: str) -> list[str]:
        """Remove what a run of this job left on this host after its worker was killed
        (a container); the names removed. Nothing outlives a process tree's run."""
        return []

    @classmethod
    def remove_orphans(cls, orphaned: Callable[[set[str]], set[str]]) -> list[str]:
        """Remove what runs of jobs no longer running left on this host: `orphaned` says
        which of the job labels found are such jobs (the rest are not ours to judge: a
        TA's local check, another service sharing the daemon)."""
        return []
