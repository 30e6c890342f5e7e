"""bubblewrap: the embedded default on Linux.

No network, a new PID/IPC/UTS namespace, only /usr, the Python runtime dlgrader runs on
(`runtime.py`: any venv, pyenv, uv, conda; its installed packages hidden) and the
packages the harness imports mounted, read-only; the submission and inputs
read-only; a private /tmp and the job's output folder writable; a cleared
environment, a new session, dying with its parent. As root, the harness then
drops to a uid of its own (`uids.py`) inside a cgroup of its own (`cgroups.py`), so
RLIMIT_NPROC and the memory limit hold for the whole job; otherwise bwrap's user
namespace isolates the caller, and RLIMIT_NPROC allows the job max_processes more
than the caller already runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

from grader.sandbox import cgroups
from grader.sandbox.base import (
    HARNESS_DIR,
    SANDBOX_UID,
    JobDirs,
    Sandbox,
    SandboxFailed,
    SandboxLimits,
    SandboxRun,
)
from grader.sandbox.limits import rlimits, run_limited
from grader.sandbox.runtime import package_roots, python_runtime
from grader.sandbox.uids import NoFreeUid, leased_uid


def _dirs_for(path: Path) -> list[tuple[str, ...]]:
    """--dir every ancestor with mode 0755, so the unprivileged uid can walk to the mount."""
    return [("--perms", "0755", "--dir", str(parent)) for parent in reversed(path.parents[:-1])]


class BwrapSandbox(Sandbox):
    name = "bwrap"

    def __init__(self, require_cgroup: bool = False) -> None:
        # A service grading untrusted code requires each job bounded as a whole; checked
        # again at every run, so a cgroup lost after start-up never goes unnoticed.
        self.require_cgroup = require_cgroup

    @classmethod
    def available(cls) -> str | None:
        if sys.platform != "linux":
            return "bubblewrap needs Linux"
        exe = shutil.which("bwrap")
        if exe is None:
            return "bwrap is not installed (apt-get install bubblewrap)"
        probe = subprocess.run(
            [exe, "--unshare-all", "--ro-bind", "/", "/", "true"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if probe.returncode != 0:
            return f"bwrap cannot create namespaces here: {probe.stderr.strip()}"
        return None

    def argv(self, job: JobDirs, limits: SandboxLimits, uid: int = SANDBOX_UID) -> list[str]:
        as_root = os.geteuid() == 0
        runtime = python_runtime()
        isolation = [
            "--die-with-parent",
            "--new-session",
            "--clearenv",
            "--unshare-ipc",
            "--unshare-pid",
            "--unshare-net",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--hostname",
            "sandbox",
        ]
        if not as_root:
            isolation += ["--unshare-user", "--cap-drop", "ALL"]
        # Each entry: one mount, one line. The private /tmp comes first so that an
        # interpreter or a package living under the host's /tmp is mounted over it.
        mounts: list[tuple[str, ...]] = [
            ("--ro-bind", "/usr", "/usr"),
            ("--symlink", "usr/lib", "/lib"),
            ("--symlink", "usr/lib64", "/lib64"),
            ("--symlink", "usr/bin", "/bin"),
            ("--perms", "1777", "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp"),
        ]
        for path in [*runtime.trees, *runtime.extra_files]:
            mounts += [*_dirs_for(path), ("--ro-bind", str(path), str(path))]
        for hidden in runtime.hidden:  # every installed package: an empty, read-only folder
            mounts += [("--tmpfs", str(hidden)), ("--remount-ro", str(hidden))]
        mounts += [("--perms", "0755", "--dir", "/opt"), ("--perms", "0755", "--dir", "/opt/site")]
        # `python` and `python3` for a project's command, whatever the binary is named.
        mounts += [
            ("--perms", "0755", "--dir", "/opt/bin"),
            ("--symlink", str(runtime.executable), "/opt/bin/python"),
            ("--symlink", str(runtime.executable), "/opt/bin/python3"),
        ]
        if job.site is not None:  # the course's environment replaces the host's packages
            mounts += [("--ro-bind", str(job.site), "/opt/site")]
        else:
            mounts += [
                ("--ro-bind", str(p), f"/opt/site/{p.name}") for p in package_roots(job.packages)
            ]
        mounts += [
            ("--perms", "0755", "--dir", "/opt/harness"),
            ("--ro-bind", str(HARNESS_DIR), "/opt/harness"),
            ("--ro-bind", str(job.submission), "/submission"),
            ("--ro-bind", str(job.inputs), "/inputs"),
            ("--ro-bind", str(job.manifest), "/manifest.json"),
            ("--bind", str(job.out), "/out"),
            ("--proc", "/proc"),
            ("--dev", "/dev"),
            # Shared memory for worker processes (a DataLoader's, multiprocessing's queues):
            # private and capped as /tmp is; bwrap's own /dev/shm is root's, mode 0755.
            ("--perms", "1777", "--size", str(limits.tmp_bytes), "--tmpfs", "/dev/shm"),
            ("--remount-ro", "/"),  # bwrap's root is a tmpfs: only /tmp and /out are writable
        ]
        env = [
            ("--setenv", "PATH", "/usr/bin"),
            ("--setenv", "HOME", "/tmp"),
            ("--setenv", "OMP_NUM_THREADS", "1"),
            ("--setenv", "OPENBLAS_NUM_THREADS", "1"),
        ]
        args = [
            "bwrap",
            *isolation,
            *(a for m in [*mounts, *env] for a in m),
            "--chdir",
            "/tmp",
            "--",
        ]
        if as_root:
            args += [
                "setpriv",
                f"--reuid={uid}",
                f"--regid={uid}",
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
                "--no-new-privs",
            ]
        # -I ignores PYTHONPATH, so the harness starts with -S and a path of its own.
        entry = f"/opt/harness/{job.entry}"
        launcher = (
            "import sys; sys.path[:0] = ['/opt/site']; sys.argv = sys.argv[1:]; "
            f"exec(compile(open({entry!r}).read(), {entry!r}, 'exec'), "
            f"{{'__name__': '__main__', '__file__': {entry!r}}})"
        )
        return [
            *args,
            str(runtime.executable),
            "-I",
            "-S",
            "-c",
            launcher,
            f"/opt/harness/{job.entry}",
            "/manifest.json",
            "/inputs",
            "/submission",
            "/out",
        ]

    def run(self, job: JobDirs, limits: SandboxLimits) -> SandboxRun:
        if os.geteuid() != 0:  # the user namespace maps the caller: no uid to choose
            return self._run(job, limits, self.argv(job, limits))
        try:
            with leased_uid() as uid:
                os.chown(job.out, uid, uid)  # the job's own uid writes out/ and only out/
                return self._run(job, limits, self.argv(job, limits, uid))
        except NoFreeUid as exc:  # ours, not the student's: retried, never counted
            raise SandboxFailed(str(exc)) from exc

    def _run(self, job: JobDirs, limits: SandboxLimits, argv: list[str]) -> SandboxRun:
        apply_rlimits = rlimits(limits, nproc=True)

        def launch(preexec: Callable[[], None]) -> SandboxRun:
            env = {"PATH": "/usr/bin:/bin"}
            return run_limited(argv, limits, self.name, env=env, preexec=preexec, watch=job.out)

        problem = cgroups.unavailable()
        if problem is not None:
            if self.require_cgroup:
                raise SandboxFailed(f"a cgroup per job is required, but {problem}")
            return launch(apply_rlimits)
        # The job's cgroup bounds all its processes together: memory (swap included), and
        # their number, on top of each process's own rlimits.
        group = cgroups.JobCgroup(
            job.label or uuid.uuid4().hex, limits.memory_bytes, limits.max_processes
        )
        try:
            group.create()
        except OSError as exc:
            raise SandboxFailed(f"could not create the job's cgroup: {exc}") from exc

        def preexec() -> None:
            group.enter()
            apply_rlimits()

        try:
            run = launch(preexec)
            if group.oom_killed():
                run = run.model_copy(update={"oom_killed": True})
            return run
        finally:
            group.remove()
