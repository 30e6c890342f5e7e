"""Service logs: JSON lines, each with the submission id of the work it describes."""

from __future__ import annotations

import json
import logging

import pytest

from grader.logs import configure_logging, submission_context
from grader.settings import Settings


def test_every_line_is_json_with_the_submission_id(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging(Settings(log_format="json"))
        log = logging.getLogger("workers.grading")
        with submission_context("sub-123"):
            log.info("attempt %d", 1)
            logging.getLogger("grader.sandbox").warning("sandbox slow")
        log.info("idle")
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    finally:
        root.handlers, root.level = saved[0], saved[1]
    assert [line["submission_id"] for line in lines] == ["sub-123", "sub-123", None]
    assert lines[0]["message"] == "attempt 1"
    assert lines[0]["level"] == "INFO"
    assert lines[1]["logger"] == "grader.sandbox"
    assert "time" in lines[0]


def test_celery_task_lines_name_their_submission(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    submission_id = "55dc84c6-c1ed-4bec-998e-754467999951"
    try:
        configure_logging(Settings(log_format="json"))
        logging.getLogger("celery.worker.strategy").info(
            "Task dlgrader.grade[abc] received",
            extra={"data": {"id": "abc", "args": f"['{submission_id}']"}},
        )
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    finally:
        root.handlers, root.level = saved[0], saved[1]
    assert lines[0]["submission_id"] == submission_id
