"""The `dlgrader` command line: local commands and the service's."""

from __future__ import annotations

import os
import sys

from grader.cli import (  # noqa: F401  (they register their commands)
    challenges,
    environments,
    local,
    remote,
)
from grader.cli.common import ExitCode, app, err_console
from grader.grading.specs import SpecError
from grader.settings import SettingsError


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(ExitCode.INTERRUPTED)
    except (SettingsError, SpecError) as exc:
        err_console.print(f"dlgrader: {exc}", markup=False, highlight=False)
        sys.exit(ExitCode.BAD_INPUT)
    except OSError as exc:  # the machine, not the input: a full disk, a folder we may not use
        where = f" {exc.filename}" if exc.filename else ""
        err_console.print(
            f"dlgrader: cannot use{where}: {exc.strerror or exc}", markup=False, highlight=False
        )
        sys.exit(ExitCode.CANNOT_RUN)
    except Exception as exc:  # a bug of ours: one line, never a traceback, unless asked
        from grader.grading.environments import EnvironmentFailed

        if isinstance(exc, EnvironmentFailed):  # the machine cannot build what a course pins
            err_console.print(f"dlgrader: {exc}", markup=False, highlight=False)
            sys.exit(ExitCode.CANNOT_RUN)
        if os.environ.get("DLGRADER_DEBUG"):
            raise
        err_console.print(
            f"dlgrader: internal error: {type(exc).__name__}: {exc} "
            "(a bug in dlgrader; DLGRADER_DEBUG=1 shows the traceback)",
            markup=False,
            highlight=False,
        )
        sys.exit(ExitCode.INTERNAL)
