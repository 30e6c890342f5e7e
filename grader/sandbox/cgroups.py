"""A cgroup per sandbox job: the memory of all its processes (swap included) and their
number, whatever they do. RLIMIT_AS bounds one process: four 1.2 GB processes held 4.9 GB
against a 2 GB job limit; a CUDA job has no address-space limit at all.

cgroup v2 (one tree with memory and pids controllers) and v1 (a tree per controller,
as on older hosts and some container runtimes) are both handled. Creating cgroups needs
root or a subtree delegated to the service's user (`delegate`, `dlgrader sandbox
delegate`); where neither is there, `unavailable()` says why.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import subprocess
import time
import uuid
from functools import cache
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
PARENT = "dlgrader"


def _v2_root() -> Path | None:
    controllers = ROOT / "cgroup.controllers"
    if controllers.is_file() and {"memory", "pids"} <= set(controllers.read_text().split()):
        return ROOT
    return None


def _write(path: Path, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def parents() -> list[Path]:
    """The folders under which job cgroups are made: one on v2, one per controller on v1."""
    v2 = _v2_root()
    return [v2 / PARENT] if v2 is not None else [ROOT / c / PARENT for c in ("memory", "pids")]


@cache
def unavailable() -> str | None:
    """None when per-job cgroups work here (a process can be made, moved in and
    removed), else why not (one line)."""
    probe = JobCgroup("probe-" + str(os.getpid()), 64 << 20, 16)
    try:
        probe.create()
        subprocess.run(["true"], preexec_fn=probe.enter, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        detail = f"{getattr(exc, 'strerror', None) or exc}: {getattr(exc, 'filename', '')}"
        if os.geteuid() == 0:
            return f"cannot create per-job cgroups ({detail})"
        return (
            f"no cgroup delegated to this user ({detail}); as root: "
            f"dlgrader sandbox delegate --user {pwd.getpwuid(os.geteuid()).pw_name}"
        )
    finally:
        with contextlib.suppress(OSError):
            probe.remove()
    return None


def delegate(user: str) -> list[Path]:
    """Hand the job cgroups' parents to `user` (run as root), so that a service running
    as that user makes a cgroup per job. On cgroup v2 the service must also run inside
    the subtree (systemd's Delegate=yes does both): moving a process needs write access
    to the common ancestor."""
    entry = pwd.getpwnam(user)
    v2 = _v2_root() is not None
    done = []
    for parent in parents():
        parent.mkdir(exist_ok=True)
        if v2:
            with contextlib.suppress(OSError):
                _write(ROOT / "cgroup.subtree_control", "+memory +pids")
            _write(parent / "cgroup.subtree_control", "+memory +pids")
        files = ("cgroup.procs", "cgroup.subtree_control", "cgroup.threads", "tasks")
        for path in (parent, *(parent / f for f in files)):
            if path.exists():
                os.chown(path, entry.pw_uid, entry.pw_gid)
        done.append(parent)
    unavailable.cache_clear()
    return done


class JobCgroup:
    def __init__(self, name: str, memory_bytes: int | None, max_processes: int) -> None:
        safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)[:100]
        # Unique per run: two jobs with one label (two local reproduce runs, two checks)
        # must never share a cgroup, whose removal kills every process in it.
        self.name = f"job-{safe}-{uuid.uuid4().hex[:8]}"
        self.memory_bytes = memory_bytes
        self.max_processes = max_processes
        v2 = _v2_root() is not None
        self.dirs = {("unified" if v2 else p.parent.name): p / self.name for p in parents()}

    def create(self) -> None:
        if "unified" in self.dirs:
            parent = self.dirs["unified"].parent
            parent.mkdir(exist_ok=True)
            with contextlib.suppress(OSError):  # already enabled, or the root's to give
                _write(ROOT / "cgroup.subtree_control", "+memory +pids")
            _write(parent / "cgroup.subtree_control", "+memory +pids")
            job = self.dirs["unified"]
            job.mkdir(exist_ok=True)
            if self.memory_bytes is not None:
                _write(job / "memory.max", str(self.memory_bytes))
                _write(job / "memory.swap.max", "0")
            _write(job / "pids.max", str(self.max_processes))
            return
        for folder in self.dirs.values():
            folder.parent.mkdir(exist_ok=True)
            folder.mkdir(exist_ok=True)
        memory = self.dirs["memory"]
        if self.memory_bytes is not None:
            _write(memory / "memory.limit_in_bytes", str(self.memory_bytes))
            with contextlib.suppress(OSError):  # swap accounting may be off
                _write(memory / "memory.memsw.limit_in_bytes", str(self.memory_bytes))
        _write(self.dirs["pids"] / "pids.max", str(self.max_processes))

    def enter(self) -> None:
        """Move the calling process in; run in the child before exec (preexec_fn)."""
        for folder in self.dirs.values():
            _write(folder / "cgroup.procs", "0" if "unified" in self.dirs else str(os.getpid()))

    def oom_killed(self) -> bool:
        if "unified" in self.dirs:
            events = _read(self.dirs["unified"] / "memory.events")
            return _field(events, "oom_kill") > 0
        control = _read(self.dirs["memory"] / "memory.oom_control")
        return _field(control, "oom_kill") > 0

    def kill_all(self) -> None:
        """Every process still in the job: none outlives it."""
        folder = next(iter(self.dirs.values()))
        if (folder / "cgroup.kill").exists():
            with contextlib.suppress(OSError):
                _write(folder / "cgroup.kill", "1")
        for _ in range(50):
            pids = [int(p) for p in _read(folder / "cgroup.procs").split()]
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)

    def remove(self) -> None:
        self.kill_all()
        for folder in self.dirs.values():
            for _ in range(50):  # a killed process leaves its cgroup a moment later
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _field(text: str, name: str) -> int:
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == name and value.strip().isdigit():
            return int(value)
    return 0
