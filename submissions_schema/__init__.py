"""The pydantic models every part of dlgrader exchanges, exported as JSON Schema."""

from submissions_schema.results import GradingResult, TestResult, TestStatus, Verdict, Visibility

__all__ = ["GradingResult", "TestResult", "TestStatus", "Verdict", "Visibility"]
