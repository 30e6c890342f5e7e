"""The Celery application: the workers' side of the queue, one task.

Its configuration (acks late, prefetch 1, JSON, the visibility timeout) is the queue's,
from `grader/service/queue.py`, which the API sends through by task name.
"""

from __future__ import annotations

import logging
from contextvars import Token

from celery import Celery
from celery.signals import (
    setup_logging,
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_init,
    worker_ready,
)
from celery.worker.request import Request

from grader.grading.cases import CASE_CACHE
from grader.logs import current_submission
from grader.service.queue import GRADE_TASK, CeleryDispatcher, celery_config
from grader.settings import get_settings

log = logging.getLogger(__name__)

settings = get_settings()  # the worker process's entry point: read once, passed down
app = Celery("dlgrader")
app.conf.update(celery_config(settings))
CASE_CACHE.resize(settings.case_cache_size)
dispatcher = CeleryDispatcher(settings)  # retries and re-queues go back through the broker


class GradingRequest(Request):  # type: ignore[misc]
    """At a hard time limit the pool kills the worker child mid-job. Its bubblewrap
    sandbox dies with it, but a Docker container would not, and its row would wait for
    the reaper; so here, in the main process, the attempt is ended at once: its
    container removed, its outcome recorded as ours (retried, never counted)."""

    def on_timeout(self, soft: bool, timeout: float) -> None:
        super().on_timeout(soft, timeout)
        if soft or not self.args or self.worker_pid is None:
            return
        from workers.grading import abandon_attempt, worker_id

        # Synchronously, before the pool kills the child and forks its replacement: a
        # thread here could hold a lock (the database pool's, the Docker client's) at
        # that fork, and the new child would hang on it.
        try:
            abandon_attempt(
                submission_id=str(self.args[0]),
                worker=worker_id(self.worker_pid),
                reason=f"the grading ran past its hard time limit ({timeout:g} s)",
                settings=settings,
                dispatcher=dispatcher,
            )
        except Exception:
            log.exception("could not end the attempt of %s; the reaper will", self.args[0])


@app.task(name=GRADE_TASK, bind=True, Request=GradingRequest)
def grade_task(self, submission_id: str) -> str:  # type: ignore[no-untyped-def]
    from workers.grading import grade_submission

    return grade_submission(submission_id, settings, dispatcher=dispatcher)


@setup_logging.connect
def _our_logging(**_: object) -> None:
    # Connected, so Celery leaves logging to us: JSON lines with the submission id.
    from grader.logs import configure_logging

    configure_logging(settings)


_log_context: dict[str, Token[str | None]] = {}


@task_prerun.connect
def _log_with_submission(task_id: str, args: tuple[object, ...] = (), **_: object) -> None:
    # Celery's own lines for the task ("succeeded", a failure) carry the submission id too.
    if args:
        _log_context[task_id] = current_submission.set(str(args[0]))


@task_postrun.connect
def _log_without_submission(task_id: str, **_: object) -> None:
    token = _log_context.pop(task_id, None)
    if token is not None:
        current_submission.reset(token)


@worker_init.connect
def _preload_grading(**_: object) -> None:
    # Imported once in the main process, before the pool forks: a fresh child (the first,
    # or one replacing a child killed at a hard time limit) starts grading at once.
    import workers.grading  # noqa: F401


@worker_process_init.connect
def _fresh_connections(**_: object) -> None:
    # A forked child must not reuse the parent's database connections.
    from grader.service.db import reset_engines

    reset_engines()


@worker_ready.connect
def _clean_leftovers(sender: object = None, **_: object) -> None:
    # Sandboxes of jobs this node ran before a crash or a restart.
    from workers.reaper import kill_orphan_sandboxes

    kill_orphan_sandboxes(settings)
    if settings.broker_url and settings.broker_url.startswith(("redis://", "rediss://")):
        from grader.service.heartbeats import start_heartbeat

        start_heartbeat(settings.broker_url, getattr(sender, "hostname", None))
