"""Many versions of a solution graded in one sandbox run.

`dlgrader assignment check` grades hundreds of modules — mutants, the correct-solution
corpus, the bug zoo — on the same cases. Starting a sandbox per module would cost a
second each; the harness's batch mode imports each module in turn in one process, and
the trusted side judges each module's outputs exactly as it judges a student's.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from grader.grading.cases import Case, JobAliases, write_job
from grader.grading.compare import Outputs, judge_case
from grader.grading.environments import job_dirs
from grader.grading.harness_io import UnreadableOutput
from grader.grading.specs import Assignment
from grader.grading.staging import stage_support
from grader.sandbox import Sandbox, SandboxFailed, SandboxLimits
from grader.settings import scratch_dir
from grader.untrusted_fs import remove_tree
from submissions_schema import TestResult, TestStatus

BATCH = 100  # modules per sandbox run
ENDED_HERE = "the run ended in this module (a crash, or the memory limit)"


@dataclass(frozen=True)
class Variant:
    module: str  # its module name inside the batch
    source: str
    problems: frozenset[str] | None = None  # the problems it is graded on; None: all


def _run_batch(
    variants: list[Variant],
    cases: list[Case],
    assignment: Assignment,
    box: Sandbox,
    until_failure: bool,
) -> dict[str, list[TestResult]]:
    """Each variant's test results from one sandbox run. A variant that ends the run (a
    crash, the memory limit) fails the calls it did not finish; those after it never
    started and get no results here."""
    root = Path(tempfile.mkdtemp(prefix="dlgrader-variants-", dir=scratch_dir()))
    try:
        job = job_dirs(root, "variants", assignment, box)
        stage_support(assignment.files.support_dir if assignment.files else None, job.submission)
        for v in variants:
            path = job.submission / f"{v.module}.py"
            path.write_text(v.source)
            path.chmod(0o644)
        aliases = JobAliases({})
        write_job(cases, assignment, job.inputs, job.manifest, aliases)
        manifest = json.loads(job.manifest.read_text())
        index = {call["id"]: i for i, call in enumerate(manifest["calls"])}
        chosen: dict[str, list[Case]] = {}
        for v in variants:
            chosen[v.module] = [
                c for c in cases if v.problems is None or c.problem.name in v.problems
            ]

        # Caught or not needs no self-check: the perturbed calls (x ± εu) only explain a
        # failure, so judging until the first failure leaves them out.
        def wanted(call: dict[str, object]) -> bool:
            return not (until_failure and str(call["id"]).endswith(("+", "-")))

        manifest["mutants"] = [
            {
                "module": v.module,
                "calls": sorted(
                    index[call["id"]] for c in chosen[v.module] for call in c.calls if wanted(call)
                ),
            }
            for v in variants
        ]
        job.manifest.write_text(json.dumps(manifest))
        budget = max(60.0, len(variants) * 5.0)
        limits = SandboxLimits(
            wall_s=budget,
            cpu_s=int(budget),
            memory_bytes=assignment.memory_mb << 20,
            limit_address_space=assignment.limit_address_space,
        )
        box.run(job, limits)
        results: dict[str, list[TestResult]] = {}
        for v in variants:
            out = job.out / v.module
            if not out.is_dir():  # the run ended before this one started
                continue
            outputs = Outputs(out, aliases)
            try:
                statuses = outputs.statuses()
            except UnreadableOutput:
                statuses = {}
            imported = statuses.get("__import__", {})
            ended = ENDED_HERE
            if imported.get("status") not in (None, "ok"):
                ended = (
                    f"importing it failed: {imported.get('type', '')} {imported.get('message', '')}"
                )
            tests: list[TestResult] = []
            for case in chosen[v.module]:
                tests += judge_case(case, outputs, statuses, ended)
                if until_failure and any(t.status != TestStatus.passed for t in tests):
                    break  # a mutant is caught: its other cases need no judging
            results[v.module] = tests
        return results
    finally:
        remove_tree(root)


def grade_variants(
    variants: Iterable[Variant],
    cases: list[Case],
    assignment: Assignment,
    box: Sandbox,
    until_failure: bool = False,
) -> dict[str, list[TestResult]]:
    """Every variant's test results, a batch per sandbox run; those a crashing variant
    kept from starting go into the next run. With `until_failure`, a variant's judging
    stops at its first failed case (mutants: caught or not is all that counts)."""
    results: dict[str, list[TestResult]] = {}
    pending = list(variants)
    while pending:
        batch = _run_batch(pending[:BATCH], cases, assignment, box, until_failure)
        if not batch:
            raise SandboxFailed("the sandbox run ended before its first module started")
        results.update(batch)
        pending = [v for v in pending if v.module not in results]
    return results
