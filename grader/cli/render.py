"""How results and assignments look in a terminal."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from grader.grading.result_table import COLUMNS, result_rows, total_line
from grader.grading.specs import Assignment
from grader.grading.starter import student_functions
from submissions_schema import GradingResult

STATUS_COLOURS = {
    "passed": "green",
    "failed": "red",
    "error": "red",
    "timeout": "yellow",
    "missing": "yellow",
    "not_run": "dim",
}


def print_result(console: Console, result: GradingResult) -> None:
    table = Table(
        title=f"{result.assignment} {result.assignment_version} — sandbox {result.sandbox}"
    )
    for col in COLUMNS:
        table.add_column(col, overflow="fold")
    for row in result_rows(result):
        table.add_row(
            Text(row.test),
            Text(row.status, STATUS_COLOURS[row.status]),
            row.score,
            row.worst_error,
            Text(row.note),
        )
    console.print(table)
    if result.message:
        console.print(result.message, markup=False, highlight=False)
    console.print(total_line(result))


def print_assignment(console: Console, assignment: Assignment) -> None:
    console.print(
        f"[bold]{escape(assignment.title)}[/bold] ({assignment.name} {assignment.version})",
        markup=True,
    )
    if assignment.description:
        console.print(assignment.description.strip(), markup=False, highlight=False)
    console.print(f"Write [bold]{assignment.module}.py[/bold] with:", markup=True)
    table = Table()
    for col in ("function", "points", "cases (hidden)", "what it does"):
        table.add_column(col, overflow="fold")
    for fn in student_functions(assignment):
        table.add_row(
            Text(fn.signature),
            f"{fn.points:g}",
            f"{fn.cases} ({fn.hidden_cases})",
            Text(fn.doc),
        )
    console.print(table)
    console.print(f"total: {assignment.max_score:g} points")
