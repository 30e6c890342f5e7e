"""The embedded workers: `dlgrader serve` without a broker grades in a thread pool of its
own process, running the same task code as the Celery workers, with the reaper as a
thread beside it. The API is handed this object as its dispatcher."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from grader.grading.cases import CASE_CACHE
from grader.settings import Settings
from workers.grading import grade_submission
from workers.reaper import reap

log = logging.getLogger(__name__)


class EmbeddedWorkers:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        CASE_CACHE.resize(settings.case_cache_size)
        self.pool = ThreadPoolExecutor(settings.embedded_workers, thread_name_prefix="grading")
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._waiting = 0
        self._reaper = threading.Thread(target=self._reap_forever, name="reaper", daemon=True)

    def start(self) -> EmbeddedWorkers:
        self._reaper.start()
        return self

    def _reap_forever(self) -> None:
        while not self._closed.wait(max(1.0, self.settings.stuck_margin_s / 4)):
            try:
                reap(self.settings, self)
            except Exception:
                log.exception("reaper pass failed")

    def dispatch(self, submission_id: str, queue: str, time_limit_s: float) -> None:
        if self._closed.is_set():
            raise RuntimeError("the in-process pool is shut down")

        def run() -> None:
            with self._lock:
                self._waiting -= 1
            try:
                grade_submission(submission_id, self.settings, dispatcher=self)
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
