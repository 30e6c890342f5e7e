"""Prove a sandbox by using it: the real grading harness on a one-call job.

A sandbox that starts (bwrap creates namespaces, the Docker daemon answers) can still be
unable to run the harness: an interpreter it cannot see, a package it does not mount, an
image built with another harness. Only running a job shows that.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from grader.sandbox.base import JobDirs, Sandbox, SandboxLimits, SandboxRun
from grader.settings import scratch_dir
from grader.untrusted_fs import remove_tree

PROBE_SOURCE = "def double(x):\n    return 2 * x\n"
PROBE_LIMITS = SandboxLimits(wall_s=60.0, cpu_s=30)
MAX_PROBE_STATUS = 64 << 10


def _last_line(run: SandboxRun) -> str:
    lines = [line.strip() for line in (run.stderr + "\n" + run.stdout).splitlines()]
    return next((line for line in reversed(lines) if line), "no output")[:300]


def _statuses(out: Path) -> dict[str, dict[str, object]]:
    try:
        fd = os.open(out / "status.jsonl", os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return {}
    with os.fdopen(fd, "rb") as f:
        data = f.read(MAX_PROBE_STATUS)
    found: dict[str, dict[str, object]] = {}
    for line in data.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            found.setdefault(entry["id"], entry)
    return found


def probe(box: Sandbox) -> str | None:
    """None when the harness ran in `box` and answered right; else why not, in one line."""
    root = Path(tempfile.mkdtemp(prefix="dlgrader-probe-", dir=scratch_dir()))
    try:
        job = JobDirs.create(root, label=f"probe-{os.getpid()}")
        (job.submission / "probe.py").write_text(PROBE_SOURCE)
        (job.submission / "probe.py").chmod(0o644)
        with open(job.inputs / "inputs.npz", "wb") as f:
            np.savez(f, allow_pickle=False, x=np.arange(3.0))
        call = {"id": "probe", "function": "double", "args": [{"array": "x"}], "record": [0]}
        job.manifest.write_text(json.dumps({"module": "probe", "calls": [call]}))
        run = box.run(job, PROBE_LIMITS)
        statuses = _statuses(job.out)
        if "__start__" not in statuses:
            return f"the harness did not start: {_last_line(run)}"
        answer = statuses.get("probe", {})
        if answer.get("status") != "ok":
            return f"the harness ran but could not call a function: {_last_line(run)}"
        try:
            value = np.load(job.out / "probe.0.npy", allow_pickle=False)
        except (OSError, ValueError) as exc:
            return f"the harness wrote no readable output: {exc}"
        if value.shape != (3,) or not np.array_equal(value, [0.0, 2.0, 4.0]):
            return "the harness answered wrong: double([0, 1, 2]) gave something else"
        return None
    finally:
        remove_tree(root)
