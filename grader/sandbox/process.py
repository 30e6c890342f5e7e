"""No isolation: only when asked for by name, for a student checking their own code."""

from __future__ import annotations

import os

from grader.sandbox.base import (
    HARNESS_DIR,
    JobDirs,
    Sandbox,
    SandboxLimits,
    SandboxRun,
)
from grader.sandbox.limits import rlimits, run_limited
from grader.sandbox.runtime import python_executable

# Where the GPU driver lives and which GPUs a worker owns: needed to reach CUDA, no secrets.
GPU_ENV = ("LD_LIBRARY_PATH", "CUDA_VISIBLE_DEVICES")


class ProcessSandbox(Sandbox):
    name = "process"

    @classmethod
    def available(cls) -> str | None:
        return None

    def run(self, job: JobDirs, limits: SandboxLimits) -> SandboxRun:
        entry = str(HARNESS_DIR / job.entry)
        # A course's environment goes first on the path (-I still sees the host's packages).
        start = (
            [
                "-c",
                f"import sys; sys.path.insert(0, {str(job.site)!r}); sys.argv = sys.argv[1:]; "
                f"exec(compile(open({entry!r}).read(), {entry!r}, 'exec'), "
                f"{{'__name__': '__main__', '__file__': {entry!r}}})",
            ]
            if job.site is not None
            else []
        )
        argv = [
            python_executable(),
            "-I",
            *start,
            entry,
            str(job.manifest),
            str(job.inputs),
            str(job.submission),
            str(job.out),
        ]
        return run_limited(
            argv,
            limits,
            self.name,
            env={"PATH": "/usr/bin:/bin", **{k: os.environ[k] for k in GPU_ENV if k in os.environ}},
            preexec=rlimits(limits, nproc=False),
            watch=job.out,
        )
