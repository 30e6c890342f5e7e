from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import Browser, require_chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per test module."""
    require_chromium()
    with Browser() as b:
        yield b


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: DLGRADER_SCREENSHOTS=docs refreshes docs/web-*.png."""
    folder = os.environ.get("DLGRADER_SCREENSHOTS")
    return Path(folder) if folder else tmp_path_factory.mktemp("shots")
