"""Code submissions: a student's model.py trained in the sandbox under a fixed budget,
evaluated on the hidden split on the trusted side (the sandbox never sees its labels)."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from grader.challenges import digits
from grader.challenges.evaluate import SubmissionUnreadable, phase_splits_of
from grader.grading.harness_io import load_output
from grader.sandbox import JobDirs, Sandbox, SandboxLimits
from grader.settings import scratch_dir
from grader.untrusted_fs import UnreadableTree, load_npy, read_text, remove_tree, walk_files
from submissions_schema.challenges import Challenge, ChallengeResult, SplitScore, SubmissionKind

TRAINING_SEED = 1234


MAX_WEIGHT_FILES = 4096
MAX_WEIGHTS_BYTES = 512 << 20


def _read_meta(out: Path) -> dict[str, Any] | None:
    text = read_text(out / "meta.json", 64 << 10)
    if text is None:
        return None
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return meta if isinstance(meta, dict) else None


def count_parameters(weights: Path) -> int | None:
    """Trainable parameters, counted in the weights the harness saved (headers checked
    by the untrusted reader); None when there are none to count."""
    total = 0
    try:
        files = list(walk_files(weights, max_depth=1, max_entries=MAX_WEIGHT_FILES))
    except UnreadableTree:
        return None
    for entry in files:
        array = load_npy(entry.path, MAX_WEIGHTS_BYTES)
        if array is None:
            return None
        total += array.size
    return total if files else None  # a count: an int on the leaderboard


def train_and_score(
    challenge: Challenge,
    phase: str,
    upload: Path,
    box: Sandbox,
    data: dict[str, digits.Split],
    job_label: str = "",
) -> ChallengeResult:
    targets = phase_splits_of(challenge, phase)
    root = Path(tempfile.mkdtemp(prefix="dlgrader-train-", dir=scratch_dir()))
    try:
        job = JobDirs.create(root, job_label, entry="train_runner.py", packages=("numpy", "torch"))
        shutil.copyfile(upload, job.submission / "model.py")
        (job.submission / "model.py").chmod(0o644)
        arrays: dict[str, np.ndarray] = {
            "train_x": data["train"].images,
            "train_y": data["train"].labels,
        }
        arrays.update({f"{split}_x": data[split].images for split, _ in targets})
        with open(job.inputs / "inputs.npz", "wb") as f:
            np.savez(f, allow_pickle=False, **arrays)
        job.manifest.write_text(
            json.dumps(
                {
                    "seed": TRAINING_SEED,
                    "epochs": challenge.code_budget_epochs,
                    "seconds": challenge.code_budget_s,
                    "splits": [s for s, _ in targets],
                    "use_gpu": True,
                }
            )
        )
        limits = SandboxLimits(
            wall_s=challenge.code_budget_s + 90,
            cpu_s=int(challenge.code_budget_s) * 8 + 120,
            memory_bytes=8 << 30,
            limit_address_space=False,
            max_processes=512,
            open_files=1024,
        )
        run = box.run(job, limits)
        meta = _read_meta(job.out)
        tail = (run.stdout + run.stderr)[-2000:]
        if meta is None or meta.get("status") == "started":
            why = (
                "training ran past its budget and was stopped"
                if run.timed_out
                else "the training process ended before reporting (memory or a crash?)"
            )
            raise SubmissionUnreadable(f"{why}. Output: {tail[-500:]}")
        if meta.get("status") != "ok":
            raise SubmissionUnreadable(
                f"your model failed: {meta.get('type', '')}: {str(meta.get('message', ''))[:500]}"
            )
        params = count_parameters(job.out / "weights")
        scores = []
        for split, ps_id in targets:
            predicted = load_output(job.out, f"pred_{split}")
            n = len(data[split].labels)
            if predicted is None or predicted.shape != (n,) or predicted.dtype.kind not in "iu":
                raise SubmissionUnreadable(f"no usable predictions for the {split} split")
            metrics = digits.score(data[split], predicted.astype(np.int64))
            # Both from trusted code, never from meta.json (the model can rewrite it):
            # parameters counted in the saved weights, time measured around the sandbox.
            metrics["params"] = params
            metrics["train_time_s"] = round(run.wall_s, 3)
            scores.append(
                SplitScore(
                    split=split,
                    phase_split_id=ps_id,
                    metrics=metrics,
                    fingerprint=data[split].fingerprint,
                )
            )
        device = meta.get("device", "?")
        return ChallengeResult(
            challenge=challenge.name,
            phase=phase,
            kind=SubmissionKind.code,
            scores=scores,
            message=f"trained on {device}",
            log_tail=tail,
            execution_time_s=round(run.wall_s, 3),
        )
    finally:
        remove_tree(root)
