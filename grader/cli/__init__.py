"""The `dlgrader` command line: local commands and the service's."""

from __future__ import annotations

import os
import sys

from grader.cli import challenges, local, remote  # noqa: F401  (they register their commands)
from grader.cli.common import ExitCode, app, err_console


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(ExitCode.INTERRUPTED)
    except Exception as exc:  # a bug of ours: one line, never a traceback, unless asked
        if os.environ.get("DLGRADER_DEBUG"):
            raise
        err_console.print(
            f"dlgrader: internal error: {type(exc).__name__}: {exc} "
            "(a bug in dlgrader; DLGRADER_DEBUG=1 shows the traceback)",
            markup=False,
            highlight=False,
        )
        sys.exit(ExitCode.INTERNAL)
