"""Worker heartbeats in Redis: one key per worker, refreshed every few seconds, expiring
on its own when the worker dies, so /metrics and `dlgrader admin stuck` can tell a live
worker from a silent one without Celery's event stream."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import redis

KEY_PREFIX = "dlgrader:heartbeat:"
INTERVAL_S = 5.0
TTL_S = 30


def start_heartbeat(broker_url: str, worker: str | None = None) -> threading.Event:
    """Beat in a daemon thread until the returned event is set; a Redis outage only
    skips beats."""
    name = worker or socket.gethostname()
    client = redis.Redis.from_url(broker_url, socket_timeout=2, socket_connect_timeout=2)
    stop = threading.Event()

    def beat() -> None:
        while not stop.is_set():
            with contextlib.suppress(redis.RedisError):
                client.set(KEY_PREFIX + name, f"{time.time():.3f}", ex=TTL_S)
            stop.wait(INTERVAL_S)

    threading.Thread(target=beat, name="dlgrader-heartbeat", daemon=True).start()
    return stop


def last_heartbeats(client: redis.Redis) -> dict[str, float]:
    """worker → Unix time of its last beat, for every worker beating in the last TTL_S."""
    beats: dict[str, float] = {}
    for key in client.scan_iter(match=KEY_PREFIX + "*", count=100):
        value = client.get(key)
        if value is not None:
            beats[key.decode()[len(KEY_PREFIX) :]] = float(value)
    return beats
