"""The staff solution as the truth: run through the harness, in the sandbox, as students are.

A course assignment's problem without a `reference` is defined by the course's own
solution (`solution/` of its folder). Its answers come from running that solution on
the cases' calls in the same sandbox and environment as the students' code, so a
solution written for the course's NumPy gives the course's answers. The solution is
trusted, but what its run leaves is still read through the capped, pickle-free readers.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from grader.grading.environments import job_dirs
from grader.grading.harness_io import (
    UnreadableOutput,
    load_output,
    read_status,
    write_harness_files,
)
from grader.grading.specs import Assignment, SpecError
from grader.grading.staging import stage_support
from grader.sandbox import Sandbox, SandboxLimits
from grader.settings import scratch_dir
from grader.untrusted_fs import copy_tree, remove_tree


def stage_solution(assignment: Assignment, dest: Path) -> None:
    """The staff solution and the course's support files, as a submission folder."""
    files = assignment.files
    if files is None or not files.solution_dir.is_dir():
        raise SpecError(f"{assignment.name}: no staff solution to be the truth")
    copy_tree(files.solution_dir, dest)
    stage_support(files.support_dir, dest)


def _limits(assignment: Assignment, modules: int = 1) -> SandboxLimits:
    budget = max(60.0, assignment.time_limit_s) * modules
    return SandboxLimits(
        wall_s=budget,
        cpu_s=int(budget),
        memory_bytes=assignment.memory_mb << 20,
        limit_address_space=assignment.limit_address_space,
    )


def _statuses(out: Path) -> dict[str, dict[str, Any]]:
    try:
        return read_status(out)
    except UnreadableOutput:  # the staff solution damaged its own output: no answers
        return {}


def _recorded(out: Path, calls: list[dict[str, Any]], statuses: dict[str, Any]) -> dict[str, Any]:
    """Every saved output of the calls that returned, by `call id.output`."""
    outputs = {}
    for call in calls:
        entry = statuses.get(call["id"]) or {}
        if entry.get("status") != "ok":
            continue
        for name, described in entry.get("outputs", {}).items():
            if isinstance(described, dict) and described.get("saved"):
                array = load_output(out, f"{call['id']}.{name}")
                if array is not None:
                    outputs[f"{call['id']}.{name}"] = array
    return outputs


def run_solution(
    assignment: Assignment,
    arrays: dict[str, np.ndarray],
    calls: list[dict[str, Any]],
    box: Sandbox,
) -> dict[str, np.ndarray]:
    """Every output the solution recorded, by `call id.output`; a call of the solution
    that fails is the course's mistake, said with the call and the solution's error."""
    root = Path(tempfile.mkdtemp(prefix="dlgrader-solution-", dir=scratch_dir()))
    try:
        job = job_dirs(root, "solution", assignment, box)
        stage_solution(assignment, job.submission)
        write_harness_files(arrays, calls, assignment, job.inputs, job.manifest)
        run = box.run(job, _limits(assignment))
        statuses = _statuses(job.out)
        for call in calls:
            entry = statuses.get(call["id"])
            if entry is None or entry.get("status") != "ok":
                said = entry or statuses.get("__import__") or {"message": run.stderr[-800:]}
                problem, index, _ = call["id"].split(".", 2)
                fn = call.get("function") or call.get("method") or call.get("class")
                raise SpecError(
                    f"{assignment.name}: the staff solution failed calling {fn} (problem "
                    f"{problem}, case {int(index) + 1}): "
                    f"{said.get('type', '')} {said.get('message', '')}".rstrip()
                )
        return _recorded(job.out, calls, statuses)
    finally:
        remove_tree(root)


def run_variants(
    assignment: Assignment,
    arrays: dict[str, np.ndarray],
    calls: list[dict[str, Any]],
    sources: dict[str, str],
    box: Sandbox,
) -> dict[str, dict[str, np.ndarray]]:
    """What each variant of the solution (a module name -> its source, the course's
    known mistakes) records on the same calls, in one sandbox run beside the solution's
    other files. A call a variant fails simply records nothing."""
    if not sources:
        return {}
    root = Path(tempfile.mkdtemp(prefix="dlgrader-variants-", dir=scratch_dir()))
    try:
        job = job_dirs(root, "mistakes", assignment, box)
        stage_solution(assignment, job.submission)
        for name, source in sources.items():
            (job.submission / f"{name}.py").write_text(source)
            (job.submission / f"{name}.py").chmod(0o644)
        write_harness_files(arrays, calls, assignment, job.inputs, job.manifest)
        manifest = json.loads(job.manifest.read_text())
        every = list(range(len(calls)))
        manifest["mutants"] = [{"module": name, "calls": every} for name in sources]
        job.manifest.write_text(json.dumps(manifest))
        box.run(job, _limits(assignment, len(sources)))
        recorded = {}
        for name in sources:
            out = job.out / name
            if out.is_dir():
                recorded[name] = _recorded(out, calls, _statuses(out))
        return recorded
    finally:
        remove_tree(root)
