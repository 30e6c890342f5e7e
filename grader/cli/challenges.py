"""Challenge commands: import an EvalAI config, list, submit, leaderboards."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Annotated

import typer

from grader.cli.common import (
    EXIT_CANNOT_RUN,
    EXIT_USAGE,
    add_plain_row,
    app,
    challenge_app,
    check_output,
    console,
    fail,
    new_table,
    write_output,
)


@challenge_app.command("import")
def challenge_import(
    file: Annotated[Path, typer.Argument(help="an EvalAI challenge_config.yaml")],
    name: Annotated[str, typer.Option(help="the challenge's name here")],
    evaluation: Annotated[str, typer.Option(help="the evaluator that scores it")] = "digits",
) -> None:
    """Create a challenge from an EvalAI config; what is not supported is listed, not dropped."""
    from grader.challenges.evalai import EvalAIImportError, import_evalai_config
    from grader.challenges.specs import save_imported
    from grader.settings import get_settings

    if not file.is_file():
        raise fail(f"{file} is not a file", EXIT_USAGE)
    try:
        text = file.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {file}: {exc}", EXIT_USAGE) from None
    try:
        challenge = import_evalai_config(text, name, evaluation)
    except EvalAIImportError as exc:
        raise fail(f"cannot import {file}: {exc}", EXIT_USAGE) from None
    path = save_imported(challenge, get_settings().data_dir)
    console.print(
        f"imported {challenge.name}: {len(challenge.phases)} phases, "
        f"{len(challenge.dataset_splits)} splits, {len(challenge.phase_splits)} "
        f"leaderboards -> {path}"
    )
    for item in challenge.unsupported:
        console.print(f"  not supported, ignored: {item}", markup=False, highlight=False)


@app.command("challenges")
def list_challenges() -> None:
    """The challenges this server knows: shipped and imported."""
    from grader.challenges.specs import all_challenges
    from grader.settings import get_settings

    table = new_table(title="challenges")
    for col in ("name", "title", "phases", "splits"):
        table.add_column(col)
    for c in all_challenges(get_settings().data_dir).values():
        add_plain_row(
            table,
            c.name,
            c.title,
            ", ".join(p.codename for p in c.phases),
            ", ".join(d.codename for d in c.dataset_splits),
        )
    console.print(table)


@app.command("leaderboard")
def leaderboard(
    challenge: Annotated[str, typer.Argument(help="challenge name")],
    phase: Annotated[str, typer.Option(help="phase codename")],
    split: Annotated[str, typer.Option(help="dataset split codename")],
    json_out: Annotated[Path | None, typer.Option("--json", help="EvalAI-shaped JSON here")] = None,
    html_out: Annotated[Path | None, typer.Option("--html", help="a static page here")] = None,
    order_by: Annotated[str | None, typer.Option(help="a metric label")] = None,
) -> None:
    """A challenge's leaderboard from the server, as your token may see it (hosts and TAs
    see private and host-only entries too); optionally saved as EvalAI-shaped JSON and a page."""
    from grader.cli.remote import _call, _client

    for out in (json_out, html_out):
        check_output(out)
    client = _client()
    board = _call(client.leaderboard, challenge, phase, split, order_by)
    spec = next((c for c in _call(client.challenges) if c.name == challenge), None)
    if json_out:
        write_output(json_out, json.dumps(board.model_dump(mode="json"), indent=2))
    if html_out:
        write_output(html_out, _call(client.leaderboard_html, challenge, phase, split, order_by))
    entries = board.results
    labels = entries[0].leaderboard__schema.labels if entries else []
    title = spec.title if spec else challenge
    table = new_table(title=f"{title} — {phase} / {split}")
    for col in ("rank", "team", "method", *labels):
        table.add_column(col)
    for e in entries:
        team = e.submission__participant_team__team_name + (
            " (baseline)" if e.submission__is_baseline else ""
        )
        add_plain_row(
            table,
            "" if e.rank is None else str(e.rank),
            team,
            e.submission__method_name,
            *[str(v) for v in e.result],
        )
    console.print(table)


@challenge_app.command("data")
def challenge_data(
    challenge: Annotated[str, typer.Argument(help="challenge name")],
    split: Annotated[str, typer.Option(help="dataset split codename (or train)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="the .npz to write")],
) -> None:
    """Download a split's images (`x`; train also has its labels, `y`) to predict on."""
    import io

    import numpy as np

    from grader.cli.remote import _call, _client

    check_output(out)
    data = _call(_client().challenge_data, challenge, split)
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        shapes = ", ".join(f"{k} {arrays[k].shape}" for k in arrays.files)
    write_output(out, data)
    console.print(f"{challenge} {split}: {shapes} -> {out}")


@challenge_app.command("submit")
def challenge_submit(
    path: Annotated[Path, typer.Argument(help="predictions (.csv, .json) or model.py")],
    challenge: Annotated[str, typer.Option("--challenge", "-c")],
    phase: Annotated[str, typer.Option(help="phase codename")],
    method: Annotated[str, typer.Option(help="a name for your method")] = "",
    private: Annotated[bool, typer.Option(help="keep it off public leaderboards")] = False,
    wait: Annotated[bool, typer.Option(help="wait for its scores")] = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait")] = 900.0,
) -> None:
    """Submit to a challenge phase; with --wait, print the scores. Exit 0 scored, 3 could
    not be scored, 4 rejected."""
    from grader.cli.remote import _call, _client, final_exit_code
    from submissions_schema import FINAL_STATUSES

    client = _client()
    if not path.is_file():
        raise fail(f"{path} is not a file", EXIT_USAGE)
    submission = _call(
        client.challenge_submit, challenge, phase, path, method, not private, uuid.uuid4().hex
    )
    console.print(f"submitted {submission.id} ({submission.status.value})")
    if not wait:
        return
    deadline = time.monotonic() + timeout
    while True:
        detail = _call(client.submission, submission.id)
        if detail.status in FINAL_STATUSES:
            break
        if time.monotonic() > deadline:
            raise fail(
                f"still {detail.status.value}; see `dlgrader status {submission.id}`",
                EXIT_CANNOT_RUN,
            )
        time.sleep(0.5)
    console.print(f"{detail.status.value}" + (f": {detail.reason}" if detail.reason else ""))
    if detail.challenge_result is not None:
        for score in detail.challenge_result.scores:
            shown = ", ".join(f"{k} {v:.4g}" for k, v in score.metrics.items() if v is not None)
            console.print(f"  {score.split}: {shown}")
    raise typer.Exit(final_exit_code(detail.status))
