"""The command tree, the consoles and the exit codes every command shares."""

from __future__ import annotations

import sys
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from rich.table import Table

    from grader.grading.specs import Assignment

app = typer.Typer(
    name="dlgrader",
    help="Autograder and reproducibility service for deep-learning courses.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # click's plain help: rich's costs 0.1 s at every start
)


@app.callback()
def _course_option(
    course: Path | None = typer.Option(  # noqa: B008  (typer's way)
        None,
        "--course",
        help="a course folder whose assignments join the built-in ones (else DLGRADER_COURSE_DIR)",
        file_okay=False,
    ),
) -> None:
    if course is not None:
        import os

        os.environ["DLGRADER_COURSE_DIR"] = str(course.resolve())


def group(name: str, help: str) -> typer.Typer:
    sub = typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=None)
    app.add_typer(sub, name=name)
    return sub


reference_app = group("reference", "The ground truth: NumPy reference and its torch cross-check.")
assignment_app = group("assignment", "One assignment.")
schema_app = group("schema", "The models every part exchanges, as JSON Schema.")
sandbox_app = group("sandbox", "Where student code runs.")
env_app = group("env", "A course's own environments: pinned packages, built once, cached.")
challenge_app = group("challenge", "Challenges: import a config, submit, see teams.")
admin_app = group(
    "admin", "Course staff: tokens, regrades, stuck submissions, extensions, the gradebook."
)
token_app = typer.Typer(help="Bearer tokens.", no_args_is_help=True, rich_markup_mode=None)
admin_app.add_typer(token_app, name="token")
admin_assignment_app = typer.Typer(
    help="Course assignments on the server.", no_args_is_help=True, rich_markup_mode=None
)
admin_app.add_typer(admin_assignment_app, name="assignment")

# Logs and CI have no terminal: give tables room instead of folding them into 80 columns.
# markup=False: what we print holds names, reasons and messages from students and hosts;
# the few styled words of our own are Text objects.
console = Console(width=None if sys.stdout.isatty() else 120, markup=False)
err_console = Console(stderr=True, soft_wrap=True, markup=False)  # one line, however long


class ExitCode(IntEnum):
    """What every command's exit status means (the table in README.md, "Exit codes")."""

    OK = 0  # done: graded (whatever the score), reproduced, the checks agree
    INTERNAL = 1  # a bug in dlgrader: one line says so, DLGRADER_DEBUG=1 shows the traceback
    BAD_INPUT = 2  # usage, a missing or unwritable path, an unknown name, the server said no
    CANNOT_RUN = 3  # could not grade or run: no sandbox, a crash of ours, server unreachable
    FAILED = 4  # judged and failed: rejected, not reproduced, checks disagree
    INTERRUPTED = 130  # Ctrl-C


EXIT_USAGE = ExitCode.BAD_INPUT
EXIT_CANNOT_RUN = ExitCode.CANNOT_RUN
EXIT_FAILED = ExitCode.FAILED


def fail(message: str, code: int = ExitCode.INTERNAL) -> typer.Exit:
    """Print one line to stderr and return the Exit to raise."""
    line = " ".join(message.split())  # a YAML or pydantic error's lines, joined
    err_console.print(f"dlgrader: {line}", markup=False, highlight=False)
    return typer.Exit(code)


def check_output(path: Path | None) -> None:
    """Refuse an output path whose folder does not exist before any work is done."""
    if path is not None and not path.parent.is_dir():
        raise fail(f"cannot write {path}: {path.parent} is not a folder", EXIT_USAGE)


def write_output(path: Path, content: str | bytes) -> None:
    """Write a file the user asked for; a path that cannot be written is their input error."""
    try:
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    except OSError as exc:
        raise fail(f"cannot write {path}: {exc.strerror or exc}", EXIT_USAGE) from None


def new_table(*args: Any, **kwargs: Any) -> Table:
    """A rich Table, imported when a command first draws one (not for `--help`)."""
    from rich.table import Table

    return Table(*args, **kwargs)


def add_plain_row(table: Table, *cells: str) -> None:
    """A row of text shown as it is: names and reasons come from students and hosts, and
    rich would read "[/oops]" in a method name as markup (and crash on it)."""
    from rich.text import Text

    table.add_row(*(Text(cell) for cell in cells))


def assignment_named(name: str) -> Assignment:
    """A known assignment (built-in or the course's); an unknown name is bad input."""
    from grader.grading.course import get_assignment

    try:
        return get_assignment(name)
    except KeyError as exc:
        raise fail(str(exc.args[0]), EXIT_USAGE) from None
