"""The `dlgrader` command line."""

from __future__ import annotations

import math
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    name="dlgrader",
    help="Autograder and reproducibility service for deep-learning courses.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
reference_app = typer.Typer(
    help="The ground truth: NumPy reference and its torch cross-check.", no_args_is_help=True
)
app.add_typer(reference_app, name="reference")

# Logs and CI have no terminal: give tables room instead of folding them into 80 columns.
console = Console(width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True)

EXIT_USAGE = 2
EXIT_CANNOT_RUN = 3


def _fmt(x: float) -> str:
    return "—" if math.isnan(x) else f"{x:.1e}"


@reference_app.command("check")
def reference_check(
    device: Annotated[
        str, typer.Option(help="torch device for the cross-check: cpu, cuda, cuda:N")
    ] = "cpu",
    seed: Annotated[int, typer.Option(help="seed for every case's inputs")] = 0,
) -> None:
    """Run the parity suite: NumPy against torch float64, and every backward against
    centred differences and the directional check. Exits 1 on any disagreement."""
    from reference_impl.parity import DIRECTIONAL_TOLERANCE, NUMERIC_TOLERANCE, iter_parity_suite
    from reference_impl.torch_ref import TorchReference

    try:
        ref = TorchReference(device)
    except (RuntimeError, ValueError) as exc:
        err_console.print(f"[red]dlgrader: cannot run the torch path on {device!r}: {exc}[/red]")
        raise typer.Exit(EXIT_CANNOT_RUN) from None
    torch = ref.torch
    where = torch.cuda.get_device_name(ref.device) if ref.device.type == "cuda" else "CPU"
    table = Table(
        title=f"reference parity on {device} ({where}, torch {torch.__version__}, float64)"
    )
    table.add_column("op", no_wrap=True)
    for col in ("fwd vs torch", "grad vs torch", "numeric", "directional", "tol"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("status")
    notes: list[str] = []
    failed = 0
    with console.status("checking…"):
        for r in iter_parity_suite(device, seed):
            failed += not r.passed
            status = "[green]ok[/green]" if r.passed else "[red]FAIL[/red] " + "; ".join(r.failures)
            if r.note:
                if r.note not in notes:
                    notes.append(r.note)
                status += f" [{notes.index(r.note) + 1}]"
            table.add_row(
                r.op,
                _fmt(r.forward_error),
                _fmt(r.gradient_error),
                _fmt(r.numeric_error),
                _fmt(r.directional_error),
                f"{r.tolerance:.0e}",
                status,
            )
    console.print(table)
    for i, note in enumerate(notes, 1):
        console.print(f"[{i}] {note}", markup=False, highlight=False)
    console.print(
        f"tol is for NumPy vs torch; numeric ≤ {NUMERIC_TOLERANCE:g}; "
        f"directional ≤ {DIRECTIONAL_TOLERANCE:g}"
    )
    if failed:
        console.print(f"[red]{failed} of {table.row_count} checks FAILED[/red]")
        raise typer.Exit(1)
    console.print(f"[green]all {table.row_count} checks agree[/green]")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
