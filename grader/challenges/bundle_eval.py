"""A bundle's evaluate() on one submission: run in the sandbox by the EvalAI harness
(grader/harness/evalai_runner.py), its return value read back through the capped readers
and judged here against the challenge's own declared splits and labels.

Who pays for what (docs/challenges.md):
- evaluate() raising, timing out, running out of memory or dying on a submission is
  that submission's verdict: failed, counted against the phase's limits (a team may not
  loop for free on a host's script). The student sees a short message; the traceback
  and output, which can quote the annotations, are for staff only (`host_log`).
- A return value that breaks the host's own schema (not a result list, a split the
  phase is not evaluated on, a metric that is no label, a value that is no number, no
  split at all, or a split missing while partial evaluation is off) is the host's
  error: failed, visible to staff with its reason and output, NOT counted. The script
  decides what it returns; a submission it cannot score should make it raise.
- The script meeting the sandbox is the host's too, the same for every team: the package
  failing to import (before any submission is read: a requirement the host did not list,
  a pip install with no network), an ImportError inside evaluate(), or any failure after
  the script reached for the network (a model or data download).
- The sandbox not starting, the harness never running: ours, raised, retried.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from grader.challenges.bundle import SCRIPT_DIR, version_dir
from grader.sandbox import JobDirs, Sandbox, SandboxLimits, SandboxRun
from grader.settings import Settings, scratch_dir
from grader.untrusted_fs import copy_tree, read_bytes, read_text, remove_tree
from submissions_schema.challenges import Challenge, ChallengeResult, SplitScore, SubmissionKind

ENTRY = "evalai_runner.py"
MAX_RESULT_BYTES = 4 << 20
MAX_STATUS_BYTES = 64 << 10
MAX_SUBMISSION_RESULT_CHARS = 64 << 10
MAX_HOST_LOG_CHARS = 24 << 10


class HostError(ValueError):
    """evaluate() returned something its own challenge's schema does not allow."""


def _safe_name(file_name: str) -> str:
    """The submission's file name as evaluate() sees it: its own, made harmless."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", PurePosixPath(file_name).name).lstrip(".")
    return name[:100] or "submission"


def _limits(challenge: Challenge, phase: str, settings: Settings) -> SandboxLimits:
    seconds = challenge.phase(phase).execution_time_limit or settings.challenge_eval_time_s
    return SandboxLimits(
        wall_s=seconds,
        cpu_s=int(seconds) + 30,
        memory_bytes=settings.challenge_eval_memory_bytes,
        max_processes=64,
        open_files=1024,
        tmp_bytes=512 << 20,  # Starters' scripts unpack a submission zip under /tmp
        out_dir_bytes=16 << 20,
        output_bytes=64 << 10,
    )


def _metrics(
    where: str, values: Any, labels: list[str], allow_error_names: bool = False
) -> dict[str, int | float | None]:
    if not isinstance(values, dict):
        raise HostError(f"{where} is {type(values).__name__}, not a mapping of metric to value")
    metrics: dict[str, int | float | None] = {}
    for name, value in values.items():
        label = name
        if allow_error_names and isinstance(name, str) and name.startswith("error_"):
            label = name.removeprefix("error_")  # EvalAI names error bars either way
        if label not in labels:
            raise HostError(
                f"{where}: {str(name)[:100]!r} is not a label of its leaderboard "
                f"(labels: {', '.join(labels)})"
            )
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            metrics[label] = None  # NaN, inf: shown as missing, never ranked
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise HostError(f"{where}: {label} is {type(value).__name__}, not a number")
        else:
            metrics[label] = value
    return metrics


def _by_split(
    where: str, entries: Any, splits: dict[str, tuple[int, list[str]]], errors: bool = False
) -> dict[str, dict[str, int | float | None]]:
    if not isinstance(entries, list):
        raise HostError(f"{where} is {type(entries).__name__}, not a list of {{split: metrics}}")
    found: dict[str, dict[str, int | float | None]] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or len(entry) != 1:
            raise HostError(f"{where}[{i}] is not a mapping with one split codename")
        (split, values), *_ = entry.items()
        if split not in splits:
            raise HostError(
                f"{where}[{i}] names split {str(split)[:100]!r}, which this phase is not "
                f"evaluated on (its splits: {', '.join(splits)})"
            )
        if split in found:
            raise HostError(f"{where} names split {split} twice")
        found[split] = _metrics(f"{where}[{i}].{split}", values, splits[split][1], errors)
    return found


def judge(
    challenge: Challenge, phase: str, returned: Any, fingerprint: str
) -> tuple[list[SplitScore], str, str]:
    """The scores in evaluate()'s return value: (scores, status, message); HostError when
    the value breaks the challenge's schema."""
    p = challenge.phase(phase)
    codenames = {d.id: d.codename for d in challenge.dataset_splits}
    splits = {
        codenames[ps.dataset_split_id]: (ps.id, challenge.leaderboard_schema(ps).labels)
        for ps in challenge.phase_splits
        if ps.challenge_phase_id == p.id
    }
    if not isinstance(returned, dict) or "result" not in returned:
        raise HostError(
            f"evaluate() returned {type(returned).__name__} without a 'result' key "
            "(EvalAI's shape: {'result': [{split: {metric: value}}], ...})"
        )
    scores = _by_split("result", returned["result"], splits)
    error = returned.get("error")
    bars = _by_split("error", error, splits, errors=True) if isinstance(error, list) else {}
    ordered = [
        SplitScore(
            split=split,
            phase_split_id=splits[split][0],
            metrics=metrics,
            error=bars.get(split),
            fingerprint=fingerprint,
        )
        for split, metrics in scores.items()
    ]
    missing = [s for s in splits if s not in scores]
    if not scores:
        raise HostError("evaluate() returned an empty result (no split scored)")
    if missing and not p.is_partial_submission_evaluation_enabled:
        # The script chooses the splits it returns; one it omits without partial
        # evaluation is the host's (an incomplete submission should make it raise).
        raise HostError(
            f"evaluate() scored {', '.join(scores)} but not {', '.join(missing)}, which "
            f"{p.codename} is evaluated on, and partial evaluation is off"
        )
    if missing:
        return ordered, "partially_evaluated", f"evaluated on {', '.join(scores)} only"
    return ordered, "finished", ""


def _host_log(run: SandboxRun, status: dict[str, Any] | None, reason: str = "") -> str:
    parts = [
        f"exit code {run.exit_code}, signal {run.signal}, {run.wall_s:.1f} s"
        + (", timed out" if run.timed_out else "")
        + (", out of memory" if run.oom_killed else ""),
    ]
    if reason:
        parts.append(f"reason: {reason}")
    if status and isinstance(status.get("traceback"), str):
        parts.append("--- traceback ---\n" + status["traceback"][-8000:])
    parts.append("--- stderr ---\n" + run.stderr[-8000:])
    parts.append("--- stdout ---\n" + run.stdout[-6000:])
    return "\n".join(parts)[-MAX_HOST_LOG_CHARS:]


def _read_json(path: Path, max_bytes: int) -> Any:
    text = read_text(path, max_bytes)
    if text is None:
        return None
    try:
        return json.loads(text)  # NaN and Infinity parse as floats
    except (ValueError, RecursionError):
        return None


def _capped_json(value: Any) -> Any:
    text = json.dumps(value, allow_nan=True, default=str)
    return value if len(text) <= MAX_SUBMISSION_RESULT_CHARS else text[:MAX_SUBMISSION_RESULT_CHARS]


# A module missing inside evaluate() (a lazy import) cannot be a data file's doing.
ENVIRONMENT_ERRORS = ("ImportError", "ModuleNotFoundError")


def _environment_failure(status: dict[str, Any], timed_out: bool, wall_s: float) -> str | None:
    """Why a failed evaluation is the host's script meeting the sandbox, the same for every
    team: it failed while importing (a requirement it does not list, a pip install), or
    needed a module it does not list, or failed after reaching for the network, which the
    sandbox does not have (a model or data download: NLTK's LookupError, say). None when
    the failure may be the submission's."""
    if status.get("status") == "ok":
        return None
    kind = str(status.get("type", "an error"))[:60]
    if status.get("stage") == "import":
        if timed_out:
            why = f"importing it ran past this phase's {wall_s:g} s limit"
        elif status.get("status") == "error":
            why = f"importing it raised {kind}"
        else:
            why = "the process died while importing it"
        return f"{why}, before reading any submission"
    if status.get("status") != "error":
        return None
    if kind in ENVIRONMENT_ERRORS:
        return f"it imports a module the challenge's environment lacks ({kind})"
    if status.get("network"):
        return f"it tried to reach the network, which evaluations do not have, then raised {kind}"
    return None


def evaluate_submission(
    challenge: Challenge,
    phase: str,
    upload: Path,
    file_name: str,
    box: Sandbox,
    settings: Settings,
    metadata: dict[str, Any],
    job_label: str = "",
) -> ChallengeResult:
    """Run the challenge's evaluate() on one submission in the sandbox and judge it."""
    p = challenge.phase(phase)
    if p.test_annotation_file is None:
        raise ValueError(f"{challenge.name}/{phase} has no test_annotation_file")  # ours
    version = version_dir(challenge, settings.data_dir)
    annotation = version.joinpath(*PurePosixPath(p.test_annotation_file).parts)
    truth = read_bytes(annotation, settings.max_bundle_bytes)
    if truth is None:
        raise ValueError(f"{annotation} is missing from the stored version")  # ours
    fingerprint = hashlib.sha256(truth).hexdigest()
    base = ChallengeResult(
        challenge=challenge.name,
        phase=phase,
        kind=SubmissionKind.predictions,
        challenge_version=challenge.version,
        submission_metadata=dict(metadata.get("submission_metadata") or {}),
    )
    root = Path(tempfile.mkdtemp(prefix="dlgrader-evalai-", dir=scratch_dir()))
    try:
        site = image = None
        if challenge.environment is not None:
            from grader.grading.environments import EnvironmentFailed, build_site, image_tag

            if box.name == "docker":
                from grader.sandbox.image import image_exists

                image = image_tag(challenge.environment, getattr(box, "image", ""))
                if not image_exists(image):
                    raise EnvironmentFailed(f"Docker has no image of {challenge.name}'s script")
            else:
                site = build_site(challenge.environment).site  # built at import: cached
        job = JobDirs.create(root, job_label, entry=ENTRY, site=site, image=image)
        (job.inputs / SCRIPT_DIR).mkdir(mode=0o755)
        copy_tree(version / SCRIPT_DIR, job.inputs / SCRIPT_DIR)
        annotation_name = "annotation" + "".join(PurePosixPath(p.test_annotation_file).suffixes)
        (job.inputs / annotation_name).write_bytes(truth)
        (job.inputs / annotation_name).chmod(0o644)
        submission = _safe_name(file_name)
        (job.submission / submission).write_bytes(upload.read_bytes())
        (job.submission / submission).chmod(0o644)
        job.manifest.write_text(
            json.dumps(
                {
                    "annotation": annotation_name,
                    "submission": submission,
                    "phase": phase,
                    "metadata": metadata,
                }
            )
        )
        limits = _limits(challenge, phase, settings)
        run = box.run(job, limits)  # SandboxFailed: ours, retried by the worker
        status = _read_json(job.out / "status.json", MAX_STATUS_BYTES)
        if not isinstance(status, dict):
            if run.timed_out or run.oom_killed:
                status = {"status": "started"}
            else:  # the harness never wrote its first line: it did not start
                raise RuntimeError(f"the evaluation harness did not start: {run.stderr[-500:]}")
        done = base.model_copy(update={"execution_time_s": round(run.wall_s, 3)})
        host_why = _environment_failure(status, run.timed_out, limits.wall_s)
        if host_why is not None:
            return done.model_copy(
                update={
                    "status": "failed",
                    "failed_by": "host",
                    "message": f"the challenge's evaluation script is broken ({host_why}); "
                    "the hosts can see why, and this does not count as a submission",
                    "host_log": _host_log(run, status, f"evaluation_script: {host_why}"),
                }
            )
        if status.get("status") != "ok":
            if run.timed_out:
                why = f"the evaluation ran past this phase's {limits.wall_s:g} s limit"
            elif run.oom_killed:
                why = "the evaluation ran out of memory on your submission"
            elif status.get("status") == "error":
                kind = str(status.get("type", "an error"))[:60]
                why = f"the evaluation script failed on your submission ({kind})"
            else:
                why = "the evaluation process died on your submission before it reported"
            return done.model_copy(
                update={
                    "status": "failed",
                    "failed_by": "submission",
                    "message": f"{why}; this counts as a submission",
                    "host_log": _host_log(run, status),
                }
            )
        returned = _read_json(job.out / "result.json", MAX_RESULT_BYTES)
        try:
            scores, verdict, message = judge(challenge, phase, returned, fingerprint)
        except HostError as exc:
            return done.model_copy(
                update={
                    "status": "failed",
                    "failed_by": "host",
                    "message": "the challenge's evaluation script is broken (its result does "
                    "not fit its own leaderboards); the hosts can see why, and this does "
                    "not count as a submission",
                    "host_log": _host_log(run, status, str(exc)),
                }
            )
        extra = returned.get("submission_metadata") if isinstance(returned, dict) else None
        answers = dict(done.submission_metadata)
        if isinstance(extra, dict):
            answers.update({str(k)[:100]: v for k, v in list(extra.items())[:50]})
        counted = "; this counts as a submission" if verdict == "failed" else ""
        return done.model_copy(
            update={
                "scores": scores,
                "status": verdict,
                "failed_by": "submission" if verdict == "failed" else "",
                "message": message + counted,
                "submission_result": _capped_json(returned.get("submission_result")),
                "submission_metadata": answers if _capped_json(answers) is answers else {},
                "host_log": _host_log(run, status),
            }
        )
    finally:
        remove_tree(root)
