"""Skips for what an environment may lack: a test needing it skips, naming what is missing."""

from __future__ import annotations

from importlib.util import find_spec

import pytest

needs_torch = pytest.mark.skipif(
    find_spec("torch") is None, reason="the torch extra is not installed (pip install '.[torch]')"
)
