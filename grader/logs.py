"""Service logging: one JSON object per line (python-json-logger), each carrying the id of
the submission being handled, so `grep <id>` over every worker's log tells one story."""

from __future__ import annotations

import logging
import re
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


# Celery's own lines about a task ("received", "succeeded") carry its arguments in `data`;
# a grading task's first argument is the submission id.
_CELERY_TASK_ARGS = re.compile(r"^\[\s*'([0-9a-f-]{36})'")


class SubmissionIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        submission_id = getattr(record, "submission_id", None) or current_submission.get()
        data = getattr(record, "data", None)
        if submission_id is None and isinstance(data, dict):
            match = _CELERY_TASK_ARGS.match(str(data.get("args", "")))
            submission_id = match.group(1) if match else None
        record.submission_id = submission_id
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
