"""The gradebook through the API, on SQLite and PostgreSQL: best and latest with late
penalties, our failures and unreadable uploads never counting, empty cells, extensions;
and the CSV Canvas imports, header exact, parsed back with the csv module, hostile names
neutralized. Nothing grades here (QueueOnly): outcomes are written as a worker would."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from grader.service.accounts import create_token
from grader.service.db import session_scope
from grader.service.gradebook import CANVAS_HEADER, neutralized, to_canvas_csv
from submissions_schema import Counts, Gradebook, GradebookRow, Role, SubmissionStatus
from tests.service.helpers import LAYERS, Service, embedded_service
from tests.service.test_extensions import (
    BASE,
    BOTH_DATABASES,
    NOW,
    chosen_database,
    graded,
    grant,
    with_policy,
)

pytestmark = [pytest.mark.integration]


@pytest.fixture
def database(request: pytest.FixtureRequest) -> str | None:
    return chosen_database(request)


def set_status(s: Service, submission_id: str, status: SubmissionStatus) -> None:
    from grader.service.db import SubmissionRow

    with session_scope(s.settings.resolved_database_url()) as session:
        row = session.get(SubmissionRow, submission_id)
        assert row is not None
        row.status = status.value


def book(s: Service, **params: str) -> dict[str, Any]:
    response = s.client.get(f"{BASE}/gradebook", params=params, headers=s.headers("tina"))
    assert response.status_code == 200, response.text
    return {r["user"]: r for r in response.json()["rows"]}


@pytest.fixture
def course(tmp_path: Path, database: str | None) -> Iterator[Service]:
    """Due an hour ago, two late days at 10% a day (every submission here is late)."""
    policy = with_policy(due_at=NOW - timedelta(hours=1), late_days=2, late_penalty_per_day=0.1)
    with embedded_service(tmp_path, policy, grading=False, database_url=database) as s:
        with session_scope(s.settings.resolved_database_url()) as session:
            s.tokens["carol"] = create_token(session, "carol", Role.student).token
        yield s


@BOTH_DATABASES
def test_best_and_latest_with_penalties_and_what_never_counts(course: Service) -> None:
    s = course
    first, second = (s.submit("alice", LAYERS).json()["id"] for _ in range(2))
    graded(s, first, raw=50)  # late: 45
    graded(s, second, raw=30)  # late: 27
    ours = s.submit("alice", LAYERS).json()["id"]
    set_status(s, ours, SubmissionStatus.failed)  # our failure: never a grade or an attempt
    unreadable = s.submit("alice", LAYERS).json()["id"]
    set_status(s, unreadable, SubmissionStatus.rejected)
    s.submit("alice", LAYERS)  # still queued: not graded yet
    grant(s, "bob", due_at=NOW + timedelta(days=2), reason="sick")
    bob = s.submit("bob", LAYERS).json()["id"]
    graded(s, bob, raw=52)
    rows = book(s)
    assert list(rows) == ["alice", "bob", "carol"]  # students only, those without work too
    alice = rows["alice"]
    assert (alice["score"], alice["best"], alice["latest"]) == (45, 45, 27)
    assert (alice["late"], alice["penalty"]) == (True, pytest.approx(0.1))
    assert (alice["attempts"], alice["pending"], alice["max_score"]) == (3, 1, 52)
    assert rows["bob"]["score"] == 52
    assert rows["bob"]["late"] is False
    assert rows["bob"]["extension"]["reason"] == "sick"
    assert rows["bob"]["due_at"].startswith((NOW + timedelta(days=2)).strftime("%Y-%m-%d"))
    carol = rows["carol"]
    assert (carol["score"], carol["missing"], carol["attempts"]) == (None, False, 0)
    latest = book(s, counts="latest")
    assert latest["alice"]["score"] == 27
    assert s.client.get(f"{BASE}/gradebook", headers=s.headers("alice")).status_code == 403


def test_a_course_that_counts_the_latest(tmp_path: Path) -> None:
    with embedded_service(tmp_path, with_policy(counts="latest"), grading=False) as s:
        ids = [s.submit("alice", LAYERS).json()["id"] for _ in range(2)]
        graded(s, ids[0], raw=52)
        graded(s, ids[1], raw=10)
        body = s.client.get(f"{BASE}/gradebook", headers=s.headers("tina")).json()
        assert body["counts"] == "latest"
        assert body["rows"][0]["score"] == 10


def test_missing_once_the_students_own_deadline_passed(tmp_path: Path) -> None:
    """Closed three days ago: a student with nothing graded is missing; one whose
    extension runs is not. The CSV leaves missing cells empty unless asked for zeros."""
    closed = with_policy(due_at=NOW - timedelta(days=3), late_days=1)
    with embedded_service(tmp_path, closed, grading=False) as s:
        grant(s, "bob", due_at=NOW + timedelta(days=1))
        rows = book(s)
        assert rows["alice"]["missing"] is True
        assert rows["bob"]["missing"] is False
        plain = s.client.get(f"{BASE}/gradebook.csv", headers=s.headers("tina")).text
        zeros = s.client.get(
            f"{BASE}/gradebook.csv", params={"missing": "zero"}, headers=s.headers("tina")
        ).text
        cells = {r[3]: r[5] for r in list(csv.reader(io.StringIO(plain)))[2:]}
        assert cells == {"alice": "", "bob": ""}
        cells = {r[3]: r[5] for r in list(csv.reader(io.StringIO(zeros)))[2:]}
        assert cells == {"alice": "0", "bob": ""}  # bob may still submit


@BOTH_DATABASES
def test_the_csv_is_what_canvas_imports(course: Service) -> None:
    s = course
    graded(s, s.submit("alice", LAYERS).json()["id"], raw=47)  # late: 42.3
    response = s.client.get(f"{BASE}/gradebook.csv", headers=s.headers("tina"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == (
        'attachment; filename="cnn-layers-gradebook.csv"; '
        "filename*=UTF-8''cnn-layers-gradebook.csv"
    )
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "cnn-layers"]
    assert rows[1] == ["Points Possible", "", "", "", "", "52"]
    assert rows[2:] == [
        ["alice", "", "", "alice", "", "42.3"],
        ["bob", "", "", "bob", "", ""],  # nothing graded: Canvas leaves the cell alone
        ["carol", "", "", "carol", "", ""],
    ]
    assert response.text.endswith("\r\n")


def test_an_lms_id_names_the_column_and_hostile_names_do_not_run() -> None:
    rows = [
        GradebookRow(user=name, score=score, max_score=10)
        for name, score in (("=HYPERLINK(1)", 9.456), ("+1", 1), ("-2", None), ("@x", 0))
    ]
    book = Gradebook(
        assignment="hw1",
        title="Homework 1",
        max_score=10,
        counts=Counts.best,
        lms_assignment_id="48213",
        generated_at=datetime.now(UTC),
        rows=[*rows, GradebookRow(user='a,"b"\nc', score=5, max_score=10)],
    )
    parsed = list(csv.reader(io.StringIO(to_canvas_csv(book))))
    assert parsed[0] == [*CANVAS_HEADER, "hw1 (48213)"]
    assert [r[0] for r in parsed[2:]] == ["'=HYPERLINK(1)", "'+1", "'-2", "'@x", 'a,"b"\nc']
    assert [r[3] for r in parsed[2:]] == [r[0] for r in parsed[2:]]
    assert [r[5] for r in parsed[2:]] == ["9.46", "1", "", "0", "5"]
    assert all(len(r) == 6 for r in parsed)
    assert neutralized("\tx") == "'\tx"
    assert neutralized("alice") == "alice"


def test_the_cli_grants_lists_revokes_and_exports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dlgrader admin extension ...` and `admin gradebook`, in-process against the app:
    the same HTTP calls a TA's laptop makes, exit codes from the README's table."""
    from typer.testing import CliRunner

    from grader.cli import app, remote
    from grader.cli.client import Client, ClientConfig

    policy = with_policy(due_at=NOW - timedelta(hours=1), late_days=2, late_penalty_per_day=0.1)
    with embedded_service(tmp_path, policy, grading=False) as s:

        def client() -> Client:
            c = Client(ClientConfig(server="http://testserver", token=s.tokens["tina"]))
            c.http = s.client  # the TestClient is an httpx.Client
            s.client.headers["Authorization"] = f"Bearer {s.tokens['tina']}"
            return c

        monkeypatch.setattr(remote, "_client", client)
        run = CliRunner().invoke
        granted = run(
            app,
            ["admin", "extension", "grant", "alice", "-a", "cnn-layers", "--due",
             "2031-01-05T12:00", "--max-total", "9", "--reason", "surgery"],
        )  # fmt: skip
        assert granted.exit_code == 0, granted.output
        assert "2031-01-05 12:00 UTC" in granted.output
        listed = run(app, ["admin", "extension", "list", "-a", "cnn-layers"])
        assert "surgery" in listed.output
        graded(s, s.submit("alice", LAYERS).json()["id"], raw=50)  # on time: her own date
        graded(s, s.submit("bob", LAYERS).json()["id"], raw=50)  # late: 45
        out = tmp_path / "canvas.csv"
        shown = run(app, ["admin", "gradebook", "-a", "cnn-layers", "--csv", str(out)])
        assert shown.exit_code == 0, shown.output
        assert "to 2031-01-05 12:00" in shown.output
        assert "-10%" in shown.output
        rows = list(csv.reader(io.StringIO(out.read_bytes().decode())))
        assert rows[0] == [*CANVAS_HEADER, "cnn-layers"]
        assert {r[3]: r[5] for r in rows[2:]} == {"alice": "50", "bob": "45"}
        assert (
            run(app, ["admin", "extension", "revoke", "alice", "-a", "cnn-layers"]).exit_code == 0
        )
        again = run(app, ["admin", "extension", "revoke", "alice", "-a", "cnn-layers"])
        assert again.exit_code == 2
        assert "no_extension" in again.output
        bad = run(app, ["admin", "extension", "grant", "bob", "-a", "cnn-layers", "--due", "soon"])
        assert bad.exit_code == 2
        unknown = run(app, ["admin", "gradebook", "-a", "nope"])
        assert unknown.exit_code == 2


def signed_in(s: Service, who: str) -> None:
    """Sign the TestClient in through the sign-in form, as a browser does."""
    import re

    s.client.cookies.clear()  # a fresh browser
    form = s.client.get("/signin").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert csrf is not None
    page = s.client.post(
        "/signin", data={"csrf_token": csrf.group(1), "token": s.tokens[who], "next": "/me"}
    )
    assert page.status_code == 200, page.text


def csrf_of(page: str) -> str:
    import re

    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_the_staff_page_grants_and_revokes_with_its_forms(course: Service) -> None:
    s = course
    alice = s.submit("alice", LAYERS).json()["id"]
    graded(s, alice, raw=50)  # late: 45
    away = s.client.get("/staff/gradebook/cnn-layers", follow_redirects=False)
    assert away.headers["location"] == "/signin?next=/staff/gradebook/cnn-layers"
    signed_in(s, "tina")
    page = s.client.get("/staff/gradebook/cnn-layers")
    assert page.status_code == 200
    assert "late, −10%" in page.text
    assert f'<a href="/submissions/{alice}"' in page.text  # the score opens what counts
    assert s.client.get(f"/submissions/{alice}").status_code == 200
    assert 'href="/api/v1/admin/assignments/cnn-layers/gradebook.csv"' in page.text
    # The download link works with the page's session alone (no Authorization header).
    download = s.client.get("/api/v1/admin/assignments/cnn-layers/gradebook.csv")
    assert download.status_code == 200
    assert download.text.splitlines()[2] == "alice,,,alice,,45"
    forged = s.client.post(
        "/staff/gradebook/cnn-layers/extensions", data={"user": "alice", "csrf_token": "x"}
    )
    assert forged.status_code == 403
    granted = s.client.post(
        "/staff/gradebook/cnn-layers/extensions",
        data={
            "csrf_token": csrf_of(page.text),
            "user": "alice",
            "due_at": (NOW + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
            "max_total": "5",
            "reason": "<script>alert(1)</script>",
        },
    )
    assert granted.status_code == 200, granted.text  # followed the redirect back
    assert "Extension granted to alice." in granted.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in granted.text
    assert book(s)["alice"]["score"] == 50  # re-judged: on time now
    bad = s.client.post(
        "/staff/gradebook/cnn-layers/extensions",
        data={"csrf_token": csrf_of(granted.text), "user": "alice", "max_total": "many"},
    )
    assert bad.status_code == 422
    assert "whole number" in bad.text
    revoked = s.client.post(
        "/staff/gradebook/cnn-layers/extensions/alice/revoke",
        data={"csrf_token": csrf_of(granted.text)},
    )
    assert "alice's extension revoked." in revoked.text
    assert book(s)["alice"]["score"] == 45
    signed_in(s, "alice")
    assert s.client.get("/staff/gradebook/cnn-layers").status_code == 403
    assert s.client.get("/api/v1/admin/assignments/cnn-layers/gradebook.csv").status_code == 403


@BOTH_DATABASES
def test_the_extension_form_answers_bad_numbers_and_dates_with_its_page(course: Service) -> None:
    """Unicode digits ("²" passes str.isdigit), numbers past the bounds and dates past the
    calendar's end: each is the form's 422 page, and nothing is granted."""
    signed_in(s := course, "tina")
    token = csrf_of(s.client.get("/staff/gradebook/cnn-layers").text)
    for field, value in (
        ("late_days", "²"),
        ("max_total", "¹⁰"),
        ("late_days", "99999999999"),
        ("max_per_day", "3000000"),
        ("due_at", "9999-12-30T23:59"),
    ):
        bad = s.client.post(
            "/staff/gradebook/cnn-layers/extensions",
            data={"csrf_token": token, "user": "alice", field: value},
        )
        assert bad.status_code == 422, (field, value, bad.text)
        assert bad.headers["content-type"].startswith("text/html")
    assert book(s)["alice"]["extension"] is None
    assert s.client.get("/staff/gradebook/cnn-layers").status_code == 200


def test_the_csv_download_is_named_safely_whatever_the_assignment_is_called(
    tmp_path: Path,
) -> None:
    from urllib.parse import unquote

    layers = with_policy().pop("cnn-layers")
    names = ["作业1", 'hw"; filename=evil.exe', "hw é"]
    specs = {n: layers.model_copy(update={"name": n}) for n in names}
    with embedded_service(tmp_path, specs, grading=False) as s:
        for name in names:
            got = s.client.get(
                f"/api/v1/admin/assignments/{name}/gradebook.csv", headers=s.headers("tina")
            )
            assert got.status_code == 200, (name, got.text)
            disposition = got.headers["content-disposition"]
            assert disposition.isascii()
            plain, encoded = disposition.split("; ")[1:]
            assert re.fullmatch(r'filename="[A-Za-z0-9._-]+"', plain), disposition
            assert unquote(encoded.removeprefix("filename*=UTF-8''")) == f"{name}-gradebook.csv"


def test_the_gradebook_page_says_only_what_its_forms_did(course: Service) -> None:
    """A link cannot make the page show text of its choosing: the message is the
    template's, keyed by what was done, about a student of this gradebook."""
    signed_in(s := course, "tina")
    page = "/staff/gradebook/cnn-layers"
    said = s.client.get(page, params={"done": "granted", "user": "alice"}).text
    assert "Extension granted to alice." in said
    for params in (
        {"done": "granted", "user": "Your session expired: sign in at evil.example"},
        {"granted": "Your session expired: sign in at evil.example"},
        {"revoked": "alice"},
    ):
        shown = s.client.get(page, params=params)
        assert shown.status_code == 200
        assert 'class="flash"' not in shown.text, params
    assert s.client.get(page, params={"done": "pwned", "user": "alice"}).status_code == 422
