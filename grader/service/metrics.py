"""Prometheus metrics for /metrics, read at scrape time from where the truth lives: the
database (submissions, latencies, verdicts, failures) and the broker (queue depth, worker
heartbeats). Nothing is counted in process memory, so every API replica reports the same
figures and a restart loses none of them."""

from __future__ import annotations

from collections.abc import Iterator

import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, or_, select

from grader.service.db import EventRow, SubmissionRow, session_scope, utcnow
from grader.service.heartbeats import last_heartbeats
from grader.service.lifecycle import as_utc
from grader.service.queue import QUEUES
from grader.settings import Settings
from submissions_schema import SubmissionStatus, Verdict

LATENCY_BUCKETS_S = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
VERDICT_OF_STATUS = {
    SubmissionStatus.graded.value: Verdict.graded.value,
    SubmissionStatus.rejected.value: Verdict.rejected.value,
    SubmissionStatus.failed.value: Verdict.could_not_grade.value,
}
# Failure events as the workers and the reaper write them, sorted into kinds by their words.
FAILURE_KINDS = (
    ("reaper:", "worker_lost"),
    ("SandboxUnavailable", "sandbox_unavailable"),
    ("docker", "docker"),
    ("memory", "out_of_memory"),
    ("time limit", "time_limit"),
)


def failure_kind(message: str) -> str:
    lowered = message.lower()
    for words, kind in FAILURE_KINDS:
        if words.lower() in lowered:
            return kind
    return "other"


class ServiceCollector(Collector):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        broker = settings.broker_url or ""
        self.redis = (
            redis.Redis.from_url(broker, socket_timeout=2, socket_connect_timeout=2)
            if broker.startswith(("redis://", "rediss://"))
            else None
        )

    def collect(self) -> Iterator[GaugeMetricFamily | HistogramMetricFamily]:
        yield from self._from_database()
        yield from self._from_broker()

    def _from_database(self) -> Iterator[GaugeMetricFamily | HistogramMetricFamily]:
        by_status = GaugeMetricFamily(
            "dlgrader_submissions", "Submissions by status and kind", labels=["status", "kind"]
        )
        verdicts = GaugeMetricFamily(
            "dlgrader_verdicts", "Finished submissions by verdict", labels=["verdict"]
        )
        failures = GaugeMetricFamily(
            "dlgrader_grading_failures",
            "Failed grading attempts (ours, retried or final) by kind",
            labels=["kind"],
        )
        with session_scope(self.settings.resolved_database_url()) as session:
            counts = session.execute(
                select(SubmissionRow.status, SubmissionRow.kind, func.count()).group_by(
                    SubmissionRow.status, SubmissionRow.kind
                )
            ).all()
            spans = session.execute(
                select(SubmissionRow.created_at, SubmissionRow.finished_at).where(
                    SubmissionRow.status == SubmissionStatus.graded.value,
                    SubmissionRow.finished_at.is_not(None),
                )
            ).all()
            failure_messages = session.scalars(
                select(EventRow.message).where(
                    or_(
                        EventRow.message.startswith("retrying after:"),
                        EventRow.message.startswith("could not grade:"),
                        EventRow.message.startswith("reaper:"),
                    )
                )
            ).all()
        per_verdict = dict.fromkeys(VERDICT_OF_STATUS.values(), 0)
        for status, kind, n in counts:
            by_status.add_metric([status, kind], n)
            if status in VERDICT_OF_STATUS:
                per_verdict[VERDICT_OF_STATUS[status]] += n
        for verdict, n in per_verdict.items():
            verdicts.add_metric([verdict], n)
        per_kind: dict[str, int] = {}
        for message in failure_messages:
            kind = failure_kind(message)
            per_kind[kind] = per_kind.get(kind, 0) + 1
        for kind, n in sorted(per_kind.items()):
            failures.add_metric([kind], n)

        latencies = []
        for created, finished in spans:
            if finished is not None:
                latencies.append(max(0.0, (as_utc(finished) - as_utc(created)).total_seconds()))
        cumulative = [
            (str(le), float(sum(1 for s in latencies if s <= le))) for le in LATENCY_BUCKETS_S
        ]
        histogram = HistogramMetricFamily(
            "dlgrader_grading_latency_seconds",
            "Time from upload to result of graded submissions",
            buckets=[*cumulative, ("+Inf", float(len(latencies)))],
            sum_value=sum(latencies),
        )
        yield from (by_status, verdicts, failures, histogram)

    def _from_broker(self) -> Iterator[GaugeMetricFamily]:
        if self.redis is None:
            return
        depth = GaugeMetricFamily("dlgrader_queue_depth", "Messages waiting", labels=["queue"])
        beats = GaugeMetricFamily(
            "dlgrader_worker_heartbeat_age_seconds",
            "Seconds since each live worker's last heartbeat",
            labels=["worker"],
        )
        up = GaugeMetricFamily("dlgrader_broker_up", "1 when the broker answers")
        try:
            for queue in QUEUES:
                depth.add_metric([queue], self.redis.llen(queue))
            now = utcnow().timestamp()
            for worker, at in sorted(last_heartbeats(self.redis).items()):
                beats.add_metric([worker], max(0.0, now - at))
        except redis.RedisError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield from (up, depth, beats)


def metrics_registry(settings: Settings) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServiceCollector(settings))
    return registry


def render_metrics(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
