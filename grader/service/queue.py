"""Transport from the API to the workers: Celery on Redis, or an in-process pool.

Both carry only a submission id; the database row holds everything else.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from grader.settings import Settings

log = logging.getLogger(__name__)


class Dispatcher(Protocol):
    def dispatch(self, submission_id: str, queue: str, time_limit_s: float) -> None:
        """Queue one grading; raises when the transport is down (the row stays for the reaper)."""

    def ready(self) -> bool:
        """Whether the transport answers (for /readyz)."""

    def waiting(self, queue: str) -> int | None:
        """Messages waiting in `queue`, or None when the transport cannot tell."""


class InProcessDispatcher:
    """The embedded default: a thread pool running the same task code as the Celery workers."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pool = ThreadPoolExecutor(settings.embedded_workers, thread_name_prefix="grading")
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._waiting = 0

    def dispatch(self, submission_id: str, queue: str, time_limit_s: float) -> None:
        if self._closed.is_set():
            raise RuntimeError("the in-process pool is shut down")
        from workers.grading import grade_submission

        def run() -> None:
            with self._lock:
                self._waiting -= 1
            try:
                grade_submission(submission_id, dispatcher=self, settings=self.settings)
            except Exception:  # the row keeps its state; the reaper takes it from there
                log.exception("grading %s failed in the in-process pool", submission_id)

        with self._lock:
            self._waiting += 1
        self.pool.submit(run)

    def ready(self) -> bool:
        return not self._closed.is_set()

    def waiting(self, queue: str) -> int | None:
        with self._lock:
            return self._waiting

    def close(self) -> None:
        self._closed.set()
        self.pool.shutdown(wait=True, cancel_futures=True)


class CeleryDispatcher:
    def dispatch(self, submission_id: str, queue: str, time_limit_s: float) -> None:
        from workers.celery_app import grade_task, task_time_limits

        soft, hard = task_time_limits(time_limit_s)
        grade_task.apply_async(
            args=[submission_id],
            queue=queue,
            soft_time_limit=soft,
            time_limit=hard,
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
        )

    def ready(self) -> bool:
        from workers.celery_app import app

        try:
            with app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
            return True
        except Exception:
            return False

    def waiting(self, queue: str) -> int | None:
        from workers.celery_app import app

        try:
            with app.connection_for_read() as conn:
                return int(conn.default_channel.queue_declare(queue, passive=True).message_count)
        except Exception:
            return None


def dispatcher_from_settings(settings: Settings) -> Dispatcher:
    return CeleryDispatcher() if settings.broker_url else InProcessDispatcher(settings)
