"""The embedded service behind a real listening server, for a real browser."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from tests.browser import require_chromium
from tests.service.helpers import Service, embedded_service

DOCS = Path(__file__).resolve().parents[2] / "docs"


@contextmanager
def serving(service: Service) -> Iterator[str]:
    """The service's app under uvicorn on a free port, in a thread; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # The TestClient has already run the app's lifespan (the migrations).
    config = uvicorn.Config(service.client.app, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def live_service(tmp_path: Path, **options: Any) -> Iterator[tuple[Service, str]]:
    require_chromium()
    with embedded_service(tmp_path, **options) as service, serving(service) as url:
        yield service, url
