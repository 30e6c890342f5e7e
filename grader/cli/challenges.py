"""Challenge commands: import an EvalAI config, list, submit, leaderboards."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from grader.cli.common import (
    EXIT_CANNOT_RUN,
    EXIT_FAILED,
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

if TYPE_CHECKING:
    from submissions_schema.challenges import BoardRow, ChallengeImported


@challenge_app.command("import")
def challenge_import(
    bundle: Annotated[
        Path,
        typer.Argument(
            help="an EvalAI bundle (a folder or .zip laid out as EvalAI-Starters), or a bare "
            "challenge_config.yaml scored by a built-in evaluator"
        ),
    ],
    name: Annotated[str | None, typer.Option(help="the challenge's name here")] = None,
    evaluation: Annotated[
        str | None,
        typer.Option(
            help="evalai-script (a bundle's own evaluate(), the default) or digits (a bare config)"
        ),
    ] = None,
    wait: Annotated[float, typer.Option(help="seconds to wait for re-evaluations")] = 900.0,
    json_out: Annotated[Path | None, typer.Option("--json", help="what was done, as JSON")] = None,
    remote: Annotated[
        bool,
        typer.Option(
            "--remote",
            help="import a bundle through the server `dlgrader login` saved (a TA token), "
            "not into this host's data folder",
        ),
    ] = False,
) -> None:
    """Import an EvalAI challenge into this host's data folder (or, with --remote, the
    server's): a bundle becomes a new version; re-importing one evaluates its submissions
    again and shows the leaderboards before and after. What is not supported is listed,
    not dropped."""
    from grader.challenges.bundle import (
        EVALAI_SCRIPT,
        BundleError,
        check_evaluation,
        import_config_only,
    )
    from grader.challenges.specs import save_imported
    from grader.settings import get_settings

    check_output(json_out)
    try:
        check_evaluation(evaluation or EVALAI_SCRIPT)
    except BundleError as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    if not bundle.exists():
        raise fail(f"{bundle} does not exist", EXIT_USAGE)
    if bundle.is_file() and bundle.suffix.lower() in (".yaml", ".yml"):
        if remote:
            raise fail("a bare config is imported on the host (without --remote)", EXIT_USAGE)
        if name is None:
            raise fail("a bare config needs --name", EXIT_USAGE)
        try:
            text = bundle.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(f"cannot read {bundle}: {exc}", EXIT_USAGE) from None
        try:
            challenge = import_config_only(text, name, evaluation or "digits")
        except BundleError as exc:
            raise fail(f"cannot import {bundle}: {exc}", EXIT_USAGE) from None
        path = save_imported(challenge, get_settings().data_dir)
        console.print(
            f"imported {challenge.name}: {len(challenge.phases)} phases, "
            f"{len(challenge.dataset_splits)} splits, {len(challenge.phase_splits)} "
            f"leaderboards -> {path}"
        )
        for item in challenge.unsupported:
            console.print(f"  not supported, ignored: {item}", markup=False, highlight=False)
        return
    if evaluation not in (None, EVALAI_SCRIPT):
        raise fail(
            f"a bundle is scored by its own evaluation_script; --evaluation {evaluation} "
            "takes a bare challenge_config.yaml",
            EXIT_USAGE,
        )
    importer = _import_remotely if remote else _import_locally
    imported = importer(bundle, name, wait)
    if json_out:
        write_output(json_out, imported.model_dump_json(indent=2))
    _print_imported(imported)


def _import_locally(bundle: Path, name: str | None, wait: float) -> ChallengeImported:
    """The import through the service's own code, on this host's data folder and database,
    with the in-process workers evaluating a re-import's submissions."""
    from grader.service.challenges import ChallengeService
    from grader.service.migrate import migrate
    from grader.service.storage import BlobStore
    from grader.service.submissions import ServiceError, SubmissionService
    from grader.settings import get_settings
    from workers.embedded import EmbeddedWorkers

    settings = get_settings()
    migrate(settings.resolved_database_url())
    workers = EmbeddedWorkers(settings).start()
    try:
        submissions = SubmissionService(
            settings, BlobStore(settings.blob_dir, settings.min_free_bytes), workers
        )
        return ChallengeService(submissions, settings).import_bundle(bundle, name, wait)
    except ServiceError as exc:
        raise fail(f"cannot import {bundle}: {exc}", EXIT_USAGE) from None
    finally:
        workers.close()


def _import_remotely(bundle: Path, name: str | None, wait: float) -> ChallengeImported:
    """The bundle uploaded to the server as a zip (a folder zipped as a submission is,
    within the same limits), imported there as POST /api/v1/admin/challenges does."""
    from grader.cli.archive import ArchiveError, zip_folder
    from grader.cli.remote import _call, _client

    client = _client()
    if bundle.is_dir():
        try:
            data = zip_folder(bundle)
        except ArchiveError as exc:
            raise fail(str(exc), EXIT_USAGE) from None
    elif bundle.suffix.lower() == ".zip":
        data = bundle.read_bytes()
    else:
        raise fail(f"{bundle} is neither a folder nor a .zip", EXIT_USAGE)
    return _call(client.import_challenge, data, name, min(wait, 3600.0))


def _print_imported(imported: ChallengeImported) -> None:
    was = f" (was {imported.previous_version})" if imported.previous_version else ""
    console.print(
        f"imported {imported.name} version {imported.version}{was}: "
        f"phases {', '.join(imported.phases)}; splits {', '.join(imported.splits)}; "
        f"evaluated by its {imported.evaluation}",
        markup=False,
        highlight=False,
    )
    if imported.installed:
        console.print(f"  requirements: {', '.join(imported.installed)}", markup=False)
    for item in imported.unsupported:
        console.print(f"  not supported, ignored: {item}", markup=False, highlight=False)
    if imported.previous_version:
        console.print(
            f"  re-evaluated {imported.reevaluated} submissions"
            + (f", {len(imported.pending)} still pending" if imported.pending else "")
        )
    for board in imported.leaderboards:
        table = new_table(title=f"{imported.name} — {board.phase} / {board.split}: before → after")
        for col in ("team", "submission", "before", "after"):
            table.add_column(col)
        before = {r.submission_id: r for r in board.before}
        after = {r.submission_id: r for r in board.after}
        for sid in dict.fromkeys([*after, *before]):
            add_plain_row(
                table,
                (after.get(sid) or before[sid]).team,
                sid[:8],
                _board_cell(before.get(sid)),
                _board_cell(after.get(sid)),
            )
        console.print(table)


def _metadata_text(value: str | None) -> str | None:
    """--metadata as given, or the text of @FILE; the server checks it."""
    if value is None or not value.startswith("@"):
        return value
    try:
        return Path(value[1:]).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {value[1:]}: {exc}", EXIT_USAGE) from None


def _board_cell(row: BoardRow | None) -> str:
    if row is None:
        return "-"
    return f"#{row.rank} {row.value}" if row.rank is not None else f"{row.value}"


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
    private: Annotated[
        bool | None,
        typer.Option(
            "--private/--public",
            help="keep it off public leaderboards, or not; unset: the phase's default",
        ),
    ] = None,
    metadata: Annotated[
        str | None,
        typer.Option(
            "--metadata",
            help="a JSON object answering the phase's submission_meta_attributes, "
            "or @FILE holding one",
        ),
    ] = None,
    wait: Annotated[bool, typer.Option(help="wait for its scores")] = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait")] = 900.0,
) -> None:
    """Submit to a challenge phase; with --wait, print the scores. Exit 0 scored, 3 could
    not be scored (the challenge's evaluation script is broken among them), 4 rejected or
    failed by the challenge's evaluation."""
    from grader.cli.remote import _call, _client, final_exit_code
    from submissions_schema import FINAL_STATUSES

    client = _client()
    if not path.is_file():
        raise fail(f"{path} is not a file", EXIT_USAGE)
    submission = _call(
        client.challenge_submit,
        challenge,
        phase,
        path,
        method,
        None if private is None else not private,
        uuid.uuid4().hex,
        _metadata_text(metadata),
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
    result = detail.challenge_result
    if result is not None and result.status in ("failed", "partially_evaluated"):
        # A bundle's evaluate() judged it: failed is the submission's verdict (or the
        # host's broken script, which says so and does not count).
        console.print(f"{result.status}: {result.message}", markup=False, highlight=False)
    else:
        console.print(f"{detail.status.value}" + (f": {detail.reason}" if detail.reason else ""))
    if result is not None:
        for score in result.scores:
            shown = ", ".join(f"{k} {v:.4g}" for k, v in score.metrics.items() if v is not None)
            console.print(f"  {score.split}: {shown}")
    if result is not None and result.status == "failed":
        # The host's broken script is ours to fix, not a verdict on the submission.
        raise typer.Exit(EXIT_CANNOT_RUN if result.failed_by == "host" else EXIT_FAILED)
    raise typer.Exit(final_exit_code(detail.status))
