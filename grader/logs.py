"""Service logging: one JSON object per line (python-json-logger), each carrying the id of
the submission being handled, so `grep <id>` over every worker's log tells one story."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

from grader.settings import Settings

current_submission: ContextVar[str | None] = ContextVar("current_submission", default=None)


@contextmanager
def submission_context(submission_id: str) -> Iterator[None]:
    """Every log line inside carries `submission_id`, whichever module writes it."""
    token = current_submission.set(submission_id)
    try:
        yield
    finally:
        current_submission.reset(token)


class SubmissionIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "submission_id"):
            record.submission_id = current_submission.get()
        return True


def configure_logging(settings: Settings) -> None:
    """Replace the root logger's handlers with one on stderr, in the configured format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(SubmissionIdFilter())
    formatter: logging.Formatter
    if settings.log_format == "json":
        formatter = JsonFormatter(
            "{asctime}{levelname}{name}{message}{submission_id}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    else:
        formatter = logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s [%(submission_id)s] %(message)s"
        )
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(settings.log_level.upper())
