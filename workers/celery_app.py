"""The Celery application: configuration in one place, explicit routing, one task.

Acks late and rejects on a lost worker, so a killed worker's job is delivered
again; prefetch 1, so a worker never hoards jobs; JSON only; no ETA tasks.
The broker's visibility timeout is longer than any task's hard limit, so a
running task is not redelivered while it still runs.
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
from kombu.entity import Queue

from grader.logs import current_submission
from grader.settings import get_settings

log = logging.getLogger(__name__)

settings = get_settings()
MAX_TASK_S = 3600  # the longest hard limit any assignment may ask for


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


app = Celery("dlgrader", broker=settings.broker_url or "memory://")
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    accept_content=["json"],
    result_backend=None,
    task_ignore_result=True,
    task_default_queue="cpu",
    task_queues=[Queue("cpu"), Queue("gpu")],
    broker_transport_options=broker_transport_options(settings.visibility_timeout_s),
    broker_connection_retry_on_startup=True,
    worker_cancel_long_tasks_on_connection_loss=False,
    worker_hijack_root_logger=False,
    worker_redirect_stdouts=False,
)


def task_time_limits(time_limit_s: float) -> tuple[float, float]:
    """(soft, hard) for a grading whose sandbox wall limit is time_limit_s."""
    if settings.task_time_limits_s is not None:
        return settings.task_time_limits_s
    soft = min(time_limit_s + 30, MAX_TASK_S - 30)
    return soft, min(soft + 30, MAX_TASK_S)


class GradingRequest(Request):  # type: ignore[misc]
    """At a hard time limit the pool kills the worker child mid-job. Its bubblewrap
    sandbox dies with it, but a Docker container would not, and its row would wait for
    the reaper; so here, in the main process, the attempt is ended at once: its
    container removed, its outcome recorded as ours (retried, never counted)."""

    def on_timeout(self, soft: bool, timeout: float) -> None:
        super().on_timeout(soft, timeout)
        if soft or not self.args or self.worker_pid is None:
            return
        from grader.service.queue import CeleryDispatcher
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
                dispatcher=CeleryDispatcher(),
            )
        except Exception:
            log.exception("could not end the attempt of %s; the reaper will", self.args[0])


@app.task(name="dlgrader.grade", bind=True, Request=GradingRequest)
def grade_task(self, submission_id: str) -> str:  # type: ignore[no-untyped-def]
    from grader.service.queue import CeleryDispatcher
    from workers.grading import grade_submission

    return grade_submission(submission_id, dispatcher=CeleryDispatcher())


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
        from workers.heartbeat import start_heartbeat

        start_heartbeat(settings.broker_url, getattr(sender, "hostname", None))
