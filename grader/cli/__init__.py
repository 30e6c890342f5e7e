"""The `dlgrader` command line: local commands and the service's."""

from __future__ import annotations

import sys

from grader.cli import challenges, local, remote  # noqa: F401  (they register their commands)
from grader.cli.common import app


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
