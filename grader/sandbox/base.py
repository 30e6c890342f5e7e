"""The sandbox contract and the choice between implementations."""

from __future__ import annotations

import contextlib
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, ClassVar

from pydantic import BaseModel, Field

from grader.untrusted_fs import tree_bytes

HARNESS_DIR = Path(__file__).resolve().parent.parent / "harness"
HARNESS_FILES = (
    "runner.py",
    "train_runner.py",
    "repro_runner.py",
    "repro_site/sitecustomize.py",
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

    @staticmethod
    def create(
        root: Path,
        label: str = "",
        entry: str = "runner.py",
        packages: tuple[str, ...] = ("numpy",),
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
        )
        for d in (root, dirs.submission, dirs.inputs, dirs.out):
            d.mkdir(parents=True, exist_ok=True)
            d.chmod(0o755)
        if os.geteuid() == 0:  # the sandbox user writes out/ and only out/
            os.chown(dirs.out, SANDBOX_UID, SANDBOX_UID)
        return dirs


def _read_capped(stream: IO[bytes], cap: int, into: list[bytes]) -> None:
    kept = 0
    while chunk := stream.read(65536):
        if kept < cap:
            into.append(chunk[: cap - kept])
            kept += len(chunk)
    # Keep draining past the cap so a student printing forever never blocks on a full pipe.


def tasks_of(uid: int) -> int:
    """Processes and threads the uid runs now: what RLIMIT_NPROC counts."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/status") as f:
                status = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        if int(status.get("Uid", "-1").split()[0]) == uid:
            total += int(status.get("Threads", "1").strip())
    return total


def process_limit(limits: SandboxLimits) -> int:
    """RLIMIT_NPROC for a job. Root's jobs run as a uid of their own, so the job's limit
    is the limit; a user's jobs run as that user, whose processes count too, so the job
    may start max_processes more than the user runs now."""
    if os.geteuid() == 0:
        return limits.max_processes
    return tasks_of(os.getuid()) + limits.max_processes


def rlimits(limits: SandboxLimits, nproc: bool) -> Callable[[], None]:
    nproc_limit = process_limit(limits) if nproc else None  # counted before the fork

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 1))
        if limits.limit_address_space:
            resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_size_bytes, limits.file_size_bytes))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if nproc_limit is not None:
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc_limit, nproc_limit))

    return apply


def run_limited(
    argv: Sequence[str],
    limits: SandboxLimits,
    name: str,
    env: dict[str, str] | None = None,
    preexec: Callable[[], None] | None = None,
    watch: Path | None = None,
) -> SandboxRun:
    """Start argv in its own session, cap its output, kill the whole group at the wall limit
    or when the `watch` folder outgrows `limits.out_dir_bytes`."""
    start = time.monotonic()
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env if env is not None else {},
        start_new_session=True,
        preexec_fn=preexec,
    )
    out: list[bytes] = []
    err: list[bytes] = []
    readers = [
        threading.Thread(
            target=_read_capped, args=(proc.stdout, limits.output_bytes, out), daemon=True
        ),
        threading.Thread(
            target=_read_capped, args=(proc.stderr, limits.output_bytes, err), daemon=True
        ),
    ]
    for r in readers:
        r.start()
    timed_out = exceeded = False
    deadline = start + limits.wall_s
    try:
        while proc.poll() is None:
            if time.monotonic() >= deadline:
                timed_out = True
                break
            if watch is not None and tree_bytes(watch) > limits.out_dir_bytes:
                exceeded = True
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=min(0.1, max(0.0, deadline - time.monotonic())))
    finally:
        # The whole group: children that escaped the harness's own process go too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    for r in readers:
        r.join(timeout=5)
    code = proc.returncode
    return SandboxRun(
        exit_code=code if code >= 0 else None,
        signal=-code if code < 0 else None,
        timed_out=timed_out,
        out_dir_exceeded=exceeded,
        wall_s=time.monotonic() - start,
        stdout=b"".join(out).decode("utf-8", "replace"),
        stderr=b"".join(err).decode("utf-8", "replace"),
        sandbox=name,
    )


class Sandbox:
    """Runs the harness over a job's folders under limits."""

    name: ClassVar[str]

    def run(self, job: JobDirs, limits: SandboxLimits) -> SandboxRun:
        raise NotImplementedError

    @classmethod
    def available(cls) -> str | None:
        """None when usable here, else what is missing."""
        raise NotImplementedError


def package_roots(distributions: tuple[str, ...]) -> list[Path]:
    """The top-level folders and modules of these distributions and of everything they
    require: all a harness may import, and nothing of dlgrader."""
    from importlib import metadata

    roots: dict[str, Path] = {}
    seen: set[str] = set()
    todo = list(distributions)
    while todo:
        name = todo.pop()
        key = name.lower().replace("_", "-")
        if key in seen:
            continue
        seen.add(key)
        if key == "dlgrader":  # never the grader itself, whatever asks for it
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        # The first part of each RECORD path, read as text: numpy lists 1,500 files.
        record = dist.read_text("RECORD") or ""
        tops = {line.split(",", 1)[0].split("/", 1)[0] for line in record.splitlines() if line}
        for top in tops:
            # .dist-info comes too: importlib.metadata (a fingerprint's package list) reads it.
            if top.endswith((".data", ".pth")) or top in ("", "..", "__pycache__"):
                continue
            path = Path(str(dist.locate_file(top)))
            if path.exists():
                roots[top] = path
        todo += _required(dist.requires or [])
    return sorted(roots.values())


def _required(specs: list[str]) -> list[str]:
    """The names of the requirements that apply here (no extras)."""
    names = []
    for spec in specs:
        if ";" in spec:  # a marker: only then is packaging worth importing
            from packaging.requirements import Requirement

            req = Requirement(spec)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            names.append(req.name)
        else:
            names.append(re.split(r"[\s\[(<>=!~]", spec.strip(), maxsplit=1)[0])
    return names


def python_executable() -> str:
    return sys.executable


def which(cmd: str) -> str | None:
    return shutil.which(cmd)


SANDBOX_NAMES = ("auto", "bwrap", "docker", "process")


def select_sandbox(name: str = "auto", gpu: str | None = None) -> Sandbox:
    """`auto`: Docker when its image is present and the daemon answers, else bubblewrap."""
    from grader.sandbox.bwrap import BwrapSandbox
    from grader.sandbox.docker_sandbox import DockerSandbox
    from grader.sandbox.process import ProcessSandbox

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
