"""Helpers for grading tests: the real bubblewrap sandbox, and solutions with a bug planted."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from grader.grading.course import get_assignment
from grader.grading.grade import grade
from grader.sandbox import select_sandbox
from grader.sandbox.bwrap import BwrapSandbox
from submissions_schema import GradingResult, TestStatus

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
FIXTURES = ROOT / "tests" / "fixtures"

needs_bwrap = pytest.mark.skipif(BwrapSandbox.available() is not None, reason="no bubblewrap")


def grade_file(path: Path, assignment: str) -> GradingResult:
    return grade(path, get_assignment(assignment), select_sandbox("bwrap"), secret_seed=7)


def plant(tmp_path: Path, source: Path, edits: list[tuple[str, str]]) -> Path:
    """A copy of `source` with each (old, new) replaced once; each old must be there."""
    text = source.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / source.name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def broken_functions(result: GradingResult) -> set[str]:
    return {t.function for t in result.tests if t.status != TestStatus.passed}


def hints_for(result: GradingResult, functions: set[str]) -> list[str]:
    return [t.hint for t in result.tests if t.function in functions and t.hint]


def processes_matching(marker: str) -> list[str]:
    """Host processes whose command line holds `marker` (containers share the host's kernel)."""
    found = []
    for pid in os.listdir("/proc"):
        with contextlib.suppress(OSError):
            if pid.isdigit() and marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
    return found
