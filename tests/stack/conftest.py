from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import RedisServer
from tests.stack.stack import Stack, started_stack


@pytest.fixture
def stack(tmp_path: Path, postgres_url: str, redis_server: RedisServer) -> Iterator[Stack]:
    s = started_stack(tmp_path, postgres_url, redis_server.url)
    yield s
    s.stop()
