"""The command tree, the consoles and the exit codes every command shares."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

app = typer.Typer(
    name="dlgrader",
    help="Autograder and reproducibility service for deep-learning courses.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def group(name: str, help: str) -> typer.Typer:
    sub = typer.Typer(help=help, no_args_is_help=True)
    app.add_typer(sub, name=name)
    return sub


reference_app = group("reference", "The ground truth: NumPy reference and its torch cross-check.")
assignment_app = group("assignment", "One assignment.")
schema_app = group("schema", "The models every part exchanges, as JSON Schema.")
sandbox_app = group("sandbox", "Where student code runs.")
challenge_app = group("challenge", "Challenges: import a config, submit, see teams.")
admin_app = group("admin", "Course staff: tokens, regrades, stuck submissions.")
token_app = typer.Typer(help="Bearer tokens.", no_args_is_help=True)
admin_app.add_typer(token_app, name="token")

# Logs and CI have no terminal: give tables room instead of folding them into 80 columns.
console = Console(width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True, soft_wrap=True)  # one line, however long

EXIT_USAGE = 2
EXIT_CANNOT_RUN = 3


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one line to stderr and return the Exit to raise."""
    err_console.print(f"dlgrader: {message}", markup=False, highlight=False)
    return typer.Exit(code)
