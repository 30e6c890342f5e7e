"""Transport from the API to the workers, by task name: the service never imports them.

A dispatcher carries only a submission id; the database row holds everything else.
`CeleryDispatcher` sends `dlgrader.grade` through Redis; the embedded pool (in
`workers/embedded.py`) is another dispatcher, handed to the API by `dlgrader serve`.
The broker's settings live here, so both sides of the queue read them from one place.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from celery import Celery

    from grader.settings import Settings

GRADE_TASK = "dlgrader.grade"
QUEUES = ("cpu", "gpu")
MAX_TASK_S = 3600  # the longest hard limit any assignment may ask for


class Dispatcher(Protocol):
    def dispatch(self, submission_id: str, queue: str, time_limit_s: float) -> None:
        """Queue one grading; raises when the transport is down (the row stays for the reaper)."""

    def ready(self) -> bool:
        """Whether the transport answers (for /readyz)."""

    def waiting(self, queue: str) -> int | None:
        """Messages waiting in `queue`, or None when the transport cannot tell."""


def broker_transport_options(visibility_timeout_s: float | None) -> dict[str, float]:
    if visibility_timeout_s is None:
        return {"visibility_timeout": MAX_TASK_S + 600}
    # A short timeout is only useful if unacknowledged tasks are swept as often.
    sweep = max(1.0, visibility_timeout_s / 2)
    return {
        "visibility_timeout": visibility_timeout_s,
        "unacked_restore_interval": sweep,
        "unacked_restore_throttle": 1,
    }


def celery_config(settings: Settings) -> dict[str, Any]:
    """Acks late and rejects on a lost worker, so a killed worker's job is delivered again;
    prefetch 1, so a worker never hoards jobs; JSON only; no results; no ETA tasks. The
    visibility timeout outlasts any task's hard limit, so a running task is not
    redelivered while it still runs."""
    from kombu.entity import Queue

    return dict(
        broker_url=settings.broker_url or "memory://",
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        result_backend=None,
        task_ignore_result=True,
        task_default_queue="cpu",
        task_queues=[Queue(q) for q in QUEUES],
        broker_transport_options=broker_transport_options(settings.visibility_timeout_s),
        broker_connection_retry_on_startup=True,
        worker_cancel_long_tasks_on_connection_loss=False,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
    )


def task_time_limits(time_limit_s: float, settings: Settings) -> tuple[float, float]:
    """(soft, hard) for a grading whose sandbox wall limit is time_limit_s: the sandbox's
    own limit always fires first."""
    if settings.task_time_limits_s is not None:
        return settings.task_time_limits_s
    soft = min(time_limit_s + 30, MAX_TASK_S - 30)
    return soft, min(soft + 30, MAX_TASK_S)


class CeleryDispatcher:
    """Sends by task name through the broker; a producer only."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def app(self) -> Celery:
        from celery import Celery

        app = Celery("dlgrader", set_as_current=False)
        app.conf.update(celery_config(self.settings))
        return app

    def dispatch(self, submission_id: str, queue: str, time_limit_s: float) -> None:
        soft, hard = task_time_limits(time_limit_s, self.settings)
        self.app.send_task(
            GRADE_TASK,
            args=[submission_id],
            queue=queue,
            soft_time_limit=soft,
            time_limit=hard,
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
        )

    def ready(self) -> bool:
        try:
            with self.app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
            return True
        except Exception:
            return False

    def waiting(self, queue: str) -> int | None:
        try:
            with self.app.connection_for_read() as conn:
                return int(conn.default_channel.queue_declare(queue, passive=True).message_count)
        except Exception:
            return None
