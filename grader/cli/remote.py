"""The service's commands: run it (serve, worker, reaper) and use it (login, submit, ...)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

import typer

from grader.cli.common import (
    EXIT_CANNOT_RUN,
    EXIT_USAGE,
    ExitCode,
    add_plain_row,
    admin_app,
    admin_assignment_app,
    app,
    check_output,
    console,
    fail,
    new_table,
    token_app,
    write_output,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from grader.cli.client import Client
    from submissions_schema import Extension, Submission, SubmissionStatus

P = ParamSpec("P")
T = TypeVar("T")


def _client() -> Client:
    from grader.cli.client import Client, ClientError, load_config

    try:
        return Client(load_config())
    except ClientError as exc:
        raise fail(str(exc), EXIT_USAGE) from None


def _call(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a client call; a server or network error becomes one line and exit 1."""
    from pydantic import ValidationError

    from grader.cli.client import ClientError

    try:
        return fn(*args, **kwargs)
    except ClientError as exc:
        # The server said no to what was asked (4xx): the user's input. Unreachable or a
        # server error (5xx): it could not be done now.
        asked_wrong = exc.status is not None and 400 <= exc.status < 500
        raise fail(str(exc), EXIT_USAGE if asked_wrong else EXIT_CANNOT_RUN) from None
    except ValidationError as exc:  # a server of another version, or not ours
        raise fail(
            f"unexpected answer from the server: {exc.error_count()} fields do not match",
            EXIT_CANNOT_RUN,
        ) from None


# --- running the service -------------------------------------------------------------------


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
) -> None:
    """Run the HTTP API. Without DLGRADER_BROKER_URL it also grades, in-process, on SQLite
    and bubblewrap: the whole service on one machine."""
    import uvicorn

    from grader.logs import configure_logging
    from grader.service.api import create_app
    from grader.settings import get_settings

    settings = get_settings()
    _require_containment()
    url = _open_database()
    mode = f"Celery on {settings.broker_url}" if settings.broker_url else "embedded workers"
    console.print(
        f"dlgrader API on http://{host}:{port} — database {url.split('@')[-1]}, {mode}",
        highlight=False,
    )
    configure_logging(settings)
    if settings.broker_url:
        from grader.service.queue import CeleryDispatcher

        # log_config=None: uvicorn's lines go through our handler, in our format.
        uvicorn.run(
            create_app(settings, CeleryDispatcher(settings)), host=host, port=port, log_config=None
        )
        return
    from workers.embedded import EmbeddedWorkers  # the pool and the reaper, in this process

    embedded = EmbeddedWorkers(settings).start()
    try:
        uvicorn.run(create_app(settings, embedded), host=host, port=port, log_config=None)
    finally:
        embedded.close()


@app.command("worker")
def worker(
    queues: Annotated[str, typer.Option(help="comma-separated: cpu, gpu")] = "cpu",
    concurrency: Annotated[int, typer.Option(help="jobs at once (with --gpus: one per GPU)")] = 2,
    gpus: Annotated[str | None, typer.Option(help="GPU ids this worker owns, e.g. 0,1")] = None,
    name: Annotated[
        str | None, typer.Option(help="node name; default QUEUES-PID@HOST, unique per process")
    ] = None,
) -> None:
    """Run a Celery worker (needs DLGRADER_BROKER_URL). With --gpus, one job slot per GPU."""
    from grader.settings import get_settings
    from workers.celery_app import app as celery_app
    from workers.gpu import configure_gpu_slots

    if not get_settings().broker_url:
        raise fail(
            "set DLGRADER_BROKER_URL (redis://...) to run Celery workers; "
            "`dlgrader serve` grades in-process without one",
            EXIT_USAGE,
        )
    _open_database(migrated=False)
    _require_containment()
    if gpus:
        slots = configure_gpu_slots(gpus)
        concurrency = len(slots)
    celery_app.worker_main(
        [
            "worker",
            "--loglevel=INFO",
            f"--queues={queues}",
            f"--concurrency={concurrency}",
            "--pool=prefork",
            "--without-gossip",
            "--without-mingle",
            # Unique, so two workers on one host keep separate heartbeats and logs.
            f"--hostname={name or queues.replace(',', '-') + f'-{os.getpid()}@%h'}",
        ]
    )


@app.command("reaper")
def reaper(
    interval: Annotated[float, typer.Option(help="seconds between passes")] = 30.0,
    once: Annotated[bool, typer.Option(help="one pass, then exit")] = False,
) -> None:
    """Re-queue submissions the queue lost (Redis emptied, a worker killed)."""
    from grader.logs import configure_logging
    from grader.service.queue import CeleryDispatcher
    from grader.settings import get_settings
    from workers.reaper import reap

    settings = get_settings()
    _open_database(migrated=False)
    configure_logging(settings)
    dispatcher = CeleryDispatcher(settings)
    while True:
        reaped = reap(settings, dispatcher)
        if reaped.requeued or reaped.failed or reaped.orphans:
            console.print(
                f"reaper: re-queued {len(reaped.requeued)}, failed {len(reaped.failed)}, "
                f"removed {len(reaped.orphans)} orphaned sandboxes"
            )
        if once:
            return
        time.sleep(interval)


# --- using it ------------------------------------------------------------------------------


@app.command("login")
def login(
    server: Annotated[str, typer.Option(help="e.g. https://grader.example.edu")],
    token: Annotated[str, typer.Option(help="the token course staff gave you")],
) -> None:
    """Check the token against the server and save both (the file is private to you)."""
    import httpx

    from grader.cli.client import CONFIG, Client, ClientConfig, save_config

    try:
        url = httpx.URL(server)
    except httpx.InvalidURL as exc:
        raise fail(f"--server {server!r} is not a URL: {exc}", EXIT_USAGE) from None
    if url.scheme not in ("http", "https") or not url.host:
        raise fail(f"--server {server!r}: give http(s)://HOST[:PORT]", EXIT_USAGE)
    config = ClientConfig(server=server, token=token)
    assignments = _call(Client(config).assignments)
    try:
        save_config(config)
    except OSError as exc:
        raise fail(f"cannot save {CONFIG}: {exc.strerror or exc}", EXIT_USAGE) from None
    console.print(f"logged in to {server}; {len(assignments)} assignments; saved to {CONFIG}")


def _score(s: Submission, between: str = "/") -> str:
    """Points out of the maximum; a challenge's submission has a metric and no maximum."""
    if s.score is None:
        return ""
    return f"{s.score:g}" + ("" if s.max_score is None else f"{between}{s.max_score:g}")


def _print_status(detail: Submission) -> None:
    shown = _score(detail, " / ")
    score = f", score {shown}" if shown else ""
    late = f", late (−{detail.penalty:.0%})" if detail.late else ""
    console.print(
        f"{detail.id}  {detail.assignment}  {detail.status.value}{score}{late}", highlight=False
    )
    if detail.reason:
        console.print(f"  {detail.reason}", markup=False, highlight=False)


@app.command("submit")
def submit(
    path: Annotated[Path, typer.Argument(help="the module, a folder holding it, or a .zip")],
    assignment: Annotated[str, typer.Option("--assignment", "-a")],
    wait: Annotated[
        bool, typer.Option(help="follow it until graded, then print the result")
    ] = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the result here")] = None,
    timeout: Annotated[float, typer.Option(help="seconds to wait with --wait")] = 900.0,
) -> None:
    """Upload a submission (a folder is zipped as `dlgrader grade` reads it); with --wait,
    show its status live, then the result. Exit 0 graded, 3 could not be graded, 4 rejected."""
    from grader.cli.archive import ArchiveError, zip_folder
    from grader.cli.render import print_result

    check_output(json_out)
    client = _client()
    if not path.exists():
        raise fail(f"{path} does not exist", EXIT_USAGE)
    if path.is_dir():
        info = next((a for a in _call(client.assignments) if a.name == assignment), None)
        if info is None:
            raise fail(f"the server has no assignment {assignment!r}", EXIT_USAGE)
        if not any(path.rglob(f"{info.module}.py")):
            raise fail(f"no {info.module}.py in {path}", EXIT_USAGE)
        try:
            data, name = zip_folder(path), f"{path.resolve().name}.zip"
        except ArchiveError as exc:
            raise fail(str(exc), EXIT_USAGE) from None
    else:
        data, name = path.read_bytes(), path.name
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    key = uuid.uuid4().hex  # one key for every retry of this upload: never two submissions
    with Progress(
        TextColumn("uploading {task.fields[name]}"),
        BarColumn(),
        DownloadColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("upload", total=len(data), name=name)
        submission = _call(
            client.submit,
            data,
            name,
            assignment,
            lambda n: bar.advance(task, n),
            idempotency_key=key,
        )
    console.print(f"submitted {submission.id} ({submission.status.value})")
    if not wait:
        return
    from submissions_schema import FINAL_STATUSES

    deadline = time.monotonic() + timeout
    last = None
    with console.status("waiting…") as spinner:
        while True:
            detail = _call(client.submission, submission.id)
            if detail.status != last:
                spinner.update(f"{detail.status.value}…")
                last = detail.status
            if detail.status in FINAL_STATUSES:
                break
            if time.monotonic() > deadline:
                raise fail(
                    f"still {detail.status.value} after {timeout:g} s; "
                    f"check later with `dlgrader status {submission.id}`",
                    EXIT_CANNOT_RUN,
                )
            time.sleep(0.5)
    _print_status(detail)
    if detail.result is not None:
        print_result(console, detail.result)
        if json_out:
            write_output(json_out, detail.result.model_dump_json(indent=2))
    raise typer.Exit(final_exit_code(detail.status))


def final_exit_code(status: SubmissionStatus) -> ExitCode:
    """A submission's final status as an exit code: graded 0, failed 3, rejected 4."""
    from submissions_schema import SubmissionStatus

    if status == SubmissionStatus.graded:
        return ExitCode.OK
    return ExitCode.CANNOT_RUN if status == SubmissionStatus.failed else ExitCode.FAILED


@app.command("status")
def status(submission_id: str) -> None:
    """A submission's status and its history."""
    detail = _call(_client().submission, submission_id)
    _print_status(detail)
    for event in detail.events:
        console.print(
            f"  {event.at:%Y-%m-%d %H:%M:%S}  {event.status.value:<9} {event.message}",
            markup=False,
            highlight=False,
        )


@app.command("submissions")
def submissions(
    assignment: Annotated[str | None, typer.Option("--assignment", "-a")] = None,
) -> None:
    """Your submissions (all of them, for course staff), newest first."""
    rows = _call(_client().submissions, assignment)
    table = new_table()
    for col in ("id", "owner", "assignment", "submitted", "status", "score"):
        table.add_column(col)
    for s in rows:
        add_plain_row(
            table,
            s.id,
            s.owner,
            s.assignment,
            f"{s.created_at:%Y-%m-%d %H:%M}",
            s.status.value,
            _score(s),
        )
    console.print(table)


@app.command("result")
def result(
    submission_id: str,
    json_out: Annotated[
        bool, typer.Option("--json", help="print the GradingResult as JSON")
    ] = False,
) -> None:
    """A graded submission's result table."""
    from grader.cli.render import print_result

    graded = _call(_client().result, submission_id)
    if json_out:
        print(graded.model_dump_json(indent=2))
    else:
        print_result(console, graded)


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Option(help="user name (created when new)")],
    role: Annotated[str, typer.Option(help="student, ta or admin")] = "student",
    local: Annotated[
        bool,
        typer.Option(
            help="write this machine's database instead of asking the server: the first "
            "admin token, before anyone can log in"
        ),
    ] = False,
) -> None:
    """Create a bearer token (as an admin, through the server). Printed once; the service
    keeps only its hash."""
    from submissions_schema import Role

    if role not in set(Role):
        raise fail(f"no role {role!r}; choose {', '.join(Role)}", EXIT_USAGE)
    if local:
        from grader.service.accounts import BadUserName, create_token

        try:
            with _local_database() as session:
                created = create_token(session, user, Role(role))
        except BadUserName as exc:
            raise fail(str(exc), EXIT_USAGE) from None
    else:
        created = _call(_client().create_token, user, role)
    console.print(f"token for {created.user} ({created.role.value}):")
    print(created.token)


@token_app.command("list")
def token_list(
    user: Annotated[str | None, typer.Option(help="only this user's tokens")] = None,
) -> None:
    """Every token the server knows (never the tokens themselves): id, user, role, state."""
    rows = _call(_client().tokens, user)
    table = new_table()
    for col in ("id", "user", "role", "created", "revoked"):
        table.add_column(col)
    for t in rows:
        revoked = "" if t.revoked_at is None else f"{t.revoked_at:%Y-%m-%d %H:%M}"
        add_plain_row(
            table, str(t.id), t.user, t.role.value, f"{t.created_at:%Y-%m-%d %H:%M}", revoked
        )
    console.print(table)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="the id `token list` shows")],
) -> None:
    """Revoke a token: the next request with it is refused."""
    revoked = _call(_client().revoke_token, token_id)
    console.print(f"revoked token {revoked.id} of {revoked.user}")


def _require_containment() -> None:
    """The service grades untrusted code: with bubblewrap, each job's memory and processes
    must be bounded as a whole (a cgroup per job) unless the host accepts less, saying so."""

    from grader.sandbox import cgroups
    from grader.settings import get_settings

    settings = get_settings()
    if settings.sandbox == "process":  # for a student's own code on their own machine
        raise fail(
            "DLGRADER_SANDBOX=process runs submissions unisolated (they could read the "
            "reference solutions and each other's files): the service grades in bwrap or docker",
            EXIT_USAGE,
        )
    if settings.job_cgroups == "if_available" or settings.sandbox == "docker":
        return
    if settings.sandbox == "auto":
        from grader.sandbox.docker_sandbox import DockerSandbox

        if DockerSandbox.available() is None:
            return
    problem = cgroups.unavailable()
    if problem is not None:
        raise fail(
            f"cannot bound each job's memory and processes here ({problem}); run as root "
            "or with a delegated cgroup, use Docker sandboxes, or accept per-process limits with "
            "DLGRADER_JOB_CGROUPS=if_available",
            EXIT_CANNOT_RUN,
        )


def _open_database(migrated: bool = True) -> str:
    """This machine's database for the commands that run or bootstrap a server: migrated
    (the API and the first token), or only reached (workers and the reaper, which start
    beside the API and must not race its migration); one line, exit 3, when unreachable."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    from grader.service.db import engine_for
    from grader.service.migrate import migrate
    from grader.settings import get_settings

    try:
        url = get_settings().resolved_database_url()
    except OSError as exc:
        raise fail(
            f"cannot use the data folder: {exc.strerror or exc}: {exc.filename} "
            "(DLGRADER_DATA_DIR)",
            EXIT_CANNOT_RUN,
        ) from None
    try:
        if migrated:
            migrate(url)
        else:
            with engine_for(url).connect() as connection:
                connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise fail(
            f"cannot use the database {url.split('@')[-1]}: {reason} (DLGRADER_DATABASE_URL)",
            EXIT_CANNOT_RUN,
        ) from None
    return url


@contextmanager
def _local_database() -> Iterator[Session]:
    from grader.service.db import session_scope

    with session_scope(_open_database()) as session:
        yield session


@admin_app.command("regrade")
def regrade(
    submission_id: Annotated[str | None, typer.Argument(help="one submission")] = None,
    assignment: Annotated[str | None, typer.Option("--assignment", "-a", help="all of it")] = None,
    wait_s: Annotated[float, typer.Option(help="wait this long for the new scores")] = 300.0,
) -> None:
    """Regrade one submission, or every submission of an assignment with a summary of changes."""
    client = _client()
    if (submission_id is None) == (assignment is None):
        raise fail("give a submission id or --assignment", EXIT_USAGE)
    if submission_id:
        _print_status(_call(client.regrade, submission_id))
        return
    assert assignment is not None
    summary = _call(client.regrade_assignment, assignment, wait_s)
    console.print(
        f"{summary.assignment}: {summary.requested} regraded, {len(summary.changed)} "
        f"changed, {summary.unchanged} unchanged, {len(summary.pending)} still pending"
    )
    table = new_table()
    for col in ("submission", "owner", "before", "after"):
        table.add_column(col)
    for change in summary.changed:
        add_plain_row(
            table, change.submission_id, change.owner, f"{change.before}", f"{change.after}"
        )
    if summary.changed:
        console.print(table)


@admin_assignment_app.command("push")
def push_assignment(
    folder: Annotated[
        Path, typer.Argument(help="an assignment folder: assignment.yaml, solution/, ...")
    ],
    check: Annotated[
        bool, typer.Option(help="check it here first (assignment check --no-mutants)")
    ] = True,
    and_regrade: Annotated[
        bool,
        typer.Option(
            "--regrade/--no-regrade", help="regrade earlier submissions when grading changed"
        ),
    ] = False,
    wait_s: Annotated[float, typer.Option(help="with --regrade: wait for the new scores")] = 300.0,
) -> None:
    """Upload a new version of a course assignment to the server: validated there, kept
    with its content hash, graded from the next submission on. Old versions stay."""
    from grader.cli.archive import ArchiveError, zip_folder

    if not (folder / "assignment.yaml").is_file():
        raise fail(f"{folder} holds no assignment.yaml", EXIT_USAGE)
    if check:
        _check_before_push(folder)
    try:
        data = zip_folder(folder)
    except ArchiveError as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    client = _client()
    pushed = _call(client.push_assignment, data, f"{folder.resolve().name}.zip")
    before = (
        f" (was {pushed.previous_version}, {pushed.previous_sha256[:12]})"
        if (pushed.previous_sha256)
        else " (new)"
    )
    console.print(f"{pushed.name} {pushed.version}, {pushed.sha256[:12]}{before}", highlight=False)
    if not pushed.changed:
        console.print("grading is unchanged: no regrade needed", highlight=False)
        return
    console.print(
        f"changed: {', '.join(pushed.changed)}; {pushed.submissions} earlier submissions",
        highlight=False,
    )
    if pushed.regrade is None:
        return
    if not and_regrade:
        console.print(
            f"regrade them with: dlgrader admin regrade --assignment {pushed.name}",
            highlight=False,
        )
        return
    regrade(None, pushed.name, wait_s)


def _check_before_push(folder: Path) -> None:
    """`assignment check --no-mutants` on the folder as its own course, in a child
    process: the solution, the starter, the gradients, the corpus and the zoo."""
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp) / "course"
        (course / "assignments").mkdir(parents=True)
        (course / "course.yaml").write_text("name: push-check\n")
        name = _spec_name(folder)
        (course / "assignments" / name).symlink_to(folder.resolve())
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "grader.cli",
                "--course",
                str(course),
                "assignment",
                "check",
                name,
                "--no-mutants",
            ],
            capture_output=True,
            text=True,
        )
    if proc.returncode != 0:
        console.print(proc.stdout, markup=False, highlight=False)
        raise fail(
            f"the check failed, nothing was pushed: {proc.stderr.strip()} "
            "(--no-check pushes anyway)",
            proc.returncode,
        )
    console.print("checked here: the solution, the starter, its gradients, corpus and zoo")


def _spec_name(folder: Path) -> str:
    from grader.grading.specs import SpecError, load_assignment_file

    try:
        return load_assignment_file(folder / "assignment.yaml").name
    except SpecError as exc:
        raise fail(str(exc), EXIT_USAGE) from None


@admin_app.command("stuck")
def stuck() -> None:
    """Submissions that waited or ran longer than their limits, with the reason."""
    found = _call(_client().stuck)
    for s in found:
        console.print(f"{s.id}  {s.why}  (attempts {s.attempts})", highlight=False)
    if not found:
        console.print("nothing stuck")


# --- extensions and the gradebook ----------------------------------------------------------

extension_app = typer.Typer(
    help="Per-student extensions: a due date and limits of their own.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
admin_app.add_typer(extension_app, name="extension")


def _extensions_path(assignment: str, user: str | None = None) -> str:
    from urllib.parse import quote

    path = f"/api/v1/admin/assignments/{quote(assignment, safe='')}/extensions"
    return path if user is None else f"{path}/{quote(user, safe='')}"


def _due(text: str | None) -> str | None:
    """An ISO date and time; one without a zone is UTC, as the server keeps every time."""
    from datetime import UTC, datetime

    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise fail(
            f"--due {text!r} is not a date and time like 2026-12-10T23:59", EXIT_USAGE
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def _print_extensions(rows: list[Extension]) -> None:
    table = new_table()
    for col in ("user", "due", "late days", "max total", "max per day", "reason", "by"):
        table.add_column(col)
    for e in rows:
        add_plain_row(
            table,
            e.user,
            "" if e.due_at is None else f"{e.due_at:%Y-%m-%d %H:%M} UTC",
            *("" if v is None else str(v) for v in (e.late_days, e.max_total, e.max_per_day)),
            e.reason,
            e.granted_by,
        )
    console.print(table)


@extension_app.command("grant")
def extension_grant(
    user: Annotated[str, typer.Argument(help="the student's user name")],
    assignment: Annotated[str, typer.Option("--assignment", "-a")],
    due: Annotated[str | None, typer.Option(help="their own due date, ISO (no zone: UTC)")] = None,
    late_days: Annotated[int | None, typer.Option(min=0, help="late days after it")] = None,
    max_total: Annotated[int | None, typer.Option(min=1, help="their cap in all")] = None,
    max_per_day: Annotated[int | None, typer.Option(min=1, help="their cap per day")] = None,
    reason: Annotated[str, typer.Option(help="why, for the record")] = "",
) -> None:
    """Give one student their own due date and limits (what is left out keeps the
    assignment's); replaces an earlier extension, and re-judges their submissions."""
    from submissions_schema import Extension

    body = {
        "due_at": _due(due),
        "late_days": late_days,
        "max_total": max_total,
        "max_per_day": max_per_day,
        "reason": reason,
    }
    client = _client()
    granted = Extension.model_validate(
        _call(client.request, "PUT", _extensions_path(assignment, user), json=body)
    )
    _print_extensions([granted])


@extension_app.command("list")
def extension_list(assignment: Annotated[str, typer.Option("--assignment", "-a")]) -> None:
    """Every extension on an assignment."""
    from submissions_schema import Extension

    rows = _call(_client().request, "GET", _extensions_path(assignment))
    found = [Extension.model_validate(e) for e in rows]
    if found:
        _print_extensions(found)
    else:
        console.print(f"no extensions on {assignment}", highlight=False)


@extension_app.command("revoke")
def extension_revoke(
    user: Annotated[str, typer.Argument(help="the student's user name")],
    assignment: Annotated[str, typer.Option("--assignment", "-a")],
) -> None:
    """Take an extension back: the assignment's own policy applies to the student again."""
    from submissions_schema import Extension

    revoked = Extension.model_validate(
        _call(_client().request, "DELETE", _extensions_path(assignment, user))
    )
    console.print(f"revoked {revoked.user}'s extension on {revoked.assignment}", highlight=False)


def _extension_cell(extension: Extension | None) -> str:
    if extension is None:
        return ""
    if extension.due_at is None:
        return "own limits"
    return f"to {extension.due_at:%Y-%m-%d %H:%M}"


@admin_app.command("gradebook")
def gradebook(
    assignment: Annotated[str, typer.Option("--assignment", "-a")],
    csv_out: Annotated[
        Path | None, typer.Option("--csv", help="also write the CSV Canvas's gradebook imports")
    ] = None,
    counts: Annotated[
        str | None, typer.Option(help="best or latest (default: the assignment's policy)")
    ] = None,
    missing_zero: Annotated[
        bool, typer.Option(help="in the CSV, 0 for nothing graded once a deadline passed")
    ] = False,
) -> None:
    """A row per student: the score that counts, best and latest, late penalty, extension,
    attempts (docs/gradebook.md)."""
    from urllib.parse import quote

    from submissions_schema import Gradebook

    if counts not in (None, "best", "latest"):
        raise fail(f"--counts {counts!r}: choose best or latest", EXIT_USAGE)
    check_output(csv_out)
    params = {"counts": counts} if counts else {}
    path = f"/api/v1/admin/assignments/{quote(assignment, safe='')}/gradebook"
    client = _client()
    book = Gradebook.model_validate(_call(client.request, "GET", path, params=params))
    table = new_table(title=f"{book.assignment}: {book.counts.value} counts, of {book.max_score:g}")
    for col in ("student", "score", "best", "latest", "late", "extension", "attempts", "last"):
        table.add_column(col)
    for r in book.rows:
        score = "missing" if r.missing else ("" if r.score is None else f"{r.score:g}")
        add_plain_row(
            table,
            r.user,
            score,
            "" if r.best is None else f"{r.best:g}",
            "" if r.latest is None else f"{r.latest:g}",
            f"-{r.penalty:.0%}" if r.late else "",
            _extension_cell(r.extension),
            str(r.attempts) + (f" (+{r.pending} grading)" if r.pending else ""),
            "" if r.last_submitted is None else f"{r.last_submitted:%Y-%m-%d %H:%M}",
        )
    console.print(table)
    if csv_out is not None:
        params["missing"] = "zero" if missing_zero else "empty"
        text = _call(client.send, "GET", f"{path}.csv", params=params).text
        write_output(csv_out, text.encode())  # its CRLF lines as they are, on any system
        console.print(f"wrote {csv_out} ({len(book.rows)} students) for Canvas", highlight=False)
