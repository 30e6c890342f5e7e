"""What grading produces: one `TestResult` per graded case, gathered in a `GradingResult`."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import ConfigDict, Field

from submissions_schema.base import SchemaModel


class TestStatus(StrEnum):
    __test__ = False  # not a pytest class

    passed = "passed"
    failed = "failed"  # ran, but the numbers are wrong
    error = "error"  # raised, returned the wrong type or shape, or mutated its inputs
    timeout = "timeout"
    missing = "missing"  # the function or class is not in the submission
    not_run = "not_run"  # an earlier failure (the forward, the whole sandbox) stopped it


class Visibility(StrEnum):
    visible = "visible"
    hidden = "hidden"
    after_due_date = "after_due_date"


class Verdict(StrEnum):
    """The whole submission's fate."""

    graded = "graded"  # every test has a status; the score stands
    rejected = "rejected"  # unreadable upload (not Python, no files): the student's to fix
    could_not_grade = "could_not_grade"  # our failure: never counts against the student


class TestResult(SchemaModel):
    __test__ = False
    model_config = ConfigDict(frozen=True)

    name: str = Field(description="problem and case, e.g. 'affine_backward #2'")
    function: str = Field(description="the student function or class this test exercises")
    status: TestStatus
    score: float
    max_score: float
    visibility: Visibility = Visibility.visible
    worst_error: float | None = Field(None, description="largest rel_error against the reference")
    worst_at: str | None = Field(None, description="which output and index it occurred at")
    message: str = ""
    hint: str | None = Field(None, description="a classic backprop mistake the numbers match")


class GradingResult(SchemaModel):
    assignment: str
    assignment_version: str
    verdict: Verdict
    score: float
    max_score: float
    tests: list[TestResult] = Field(default_factory=list)
    message: str = Field("", description="why a submission was rejected or could not be graded")
    sandbox: str = Field("", description="which sandbox ran the student code")
    execution_time_s: float = 0.0
    graded_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    reference_version: str = ""
