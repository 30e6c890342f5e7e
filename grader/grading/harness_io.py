"""What crosses the sandbox boundary, in one place: the harness's inputs and manifest,
written here; its status lines and arrays, read back only through capped, pickle-free
readers, whoever ran (a student, a mutant, the staff solution)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from grader.grading.specs import Assignment
from grader.untrusted_fs import load_npy, read_bytes

INPUTS_FILE = "inputs.npz"


def write_harness_files(
    arrays: dict[str, np.ndarray],
    calls: list[dict[str, Any]],
    assignment: Assignment,
    inputs_dir: Path,
    manifest: Path,
) -> None:
    """The harness's inputs as one uncompressed .npz (one file: cheap to write and mount)
    and its manifest."""
    with open(inputs_dir / INPUTS_FILE, "wb") as f:
        np.savez(f, allow_pickle=False, **arrays)
    job = {"module": assignment.module, "also": list(assignment.other_modules), "calls": calls}
    manifest.write_text(json.dumps(job))


MAX_ARRAY_BYTES = 64 << 20
MAX_STATUS_BYTES = 4 << 20


class UnreadableOutput(ValueError):
    """The output folder holds something the harness never writes where its status file
    should be (a link, a FIFO, a folder, too many bytes): the submission's doing."""


def read_status(out: Path) -> dict[str, dict[str, Any]]:
    path = out / "status.jsonl"
    data = read_bytes(path, MAX_STATUS_BYTES)
    if data is None and os.path.lexists(path):
        raise UnreadableOutput("status.jsonl was replaced by something that is not the file")
    statuses: dict[str, dict[str, Any]] = {}
    for line in (data or b"").splitlines():
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):  # RecursionError: [[[[...]]]] nested 10^5 deep
            continue
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            statuses.setdefault(entry["id"], entry)  # the harness's line comes first
    if data is not None and "__start__" not in statuses:
        # The harness writes its start line before anything else runs: without it, the
        # file was overwritten. (No file at all: the harness never started, ours.)
        raise UnreadableOutput("status.jsonl was overwritten")
    return statuses


def load_output(out: Path, key: str) -> np.ndarray | None:
    """A regular, size-checked, pickle-free numeric .npy, or None."""
    return load_npy(out / f"{key}.npy", MAX_ARRAY_BYTES)
