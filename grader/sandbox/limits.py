"""Running a process under limits: rlimits in the child, a wall clock and an output cap
outside it, the whole process group killed at the end. Every sandbox launches this way."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from grader.sandbox.base import SandboxLimits, SandboxRun
from grader.untrusted_fs import tree_bytes


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
    pause = 0.1
    try:
        while proc.poll() is None:
            if time.monotonic() >= deadline:
                timed_out = True
                break
            if watch is not None:
                walked = time.monotonic()
                if tree_bytes(watch) > limits.out_dir_bytes:
                    exceeded = True
                    break
                # Walking a folder of thousands of outputs is not free: keep it to about
                # a tenth of the time, so the watch never starves the job it watches.
                pause = max(0.1, 10 * (time.monotonic() - walked))
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=min(pause, max(0.0, deadline - time.monotonic())))
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
