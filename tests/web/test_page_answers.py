"""What the pages say where the red-team pass found them wanting (fast, no browser): a
mistyped address is a page for a browser, a report is never cached, a late score's total
says what counts, a job that failed or was refused says whose fault it is, and the
narrow-screen layout keeps a wide table in its own box; the staff pages ask the
database no more often for a course of hundreds."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from grader.service import deps
from grader.service.db import SubmissionRow, UserRow, session_scope
from grader.service.routers import pages
from submissions_schema import Role, SubmissionStatus
from tests.service.helpers import LAYERS, Service, embedded_service
from tests.service.test_extensions import BASE, NOW, graded, with_policy
from tests.service.test_gradebook import set_status
from tests.web.test_sessions import sign_in

BROWSER = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture
def service(tmp_path: Path):  # type: ignore[no-untyped-def]
    # Due an hour ago, 10% a day late: every submission here is a day late.
    policy = with_policy(due_at=NOW - timedelta(hours=1), late_days=2, late_penalty_per_day=0.1)
    with embedded_service(tmp_path, policy, grading=False) as s:
        yield s


def test_a_browser_on_an_address_with_no_page_gets_a_page(service: Service) -> None:
    c = sign_in(service, "alice")
    lost = c.get("/no/such/page", headers=BROWSER)
    assert lost.status_code == 404
    assert lost.headers["content-type"].startswith("text/html")
    assert lost.headers["cache-control"] == "no-store"
    assert "There is no page here." in lost.text
    assert "alice" in lost.text  # the header still says who is signed in
    # A GET of a form's action (a bookmarked /signout): a page, with its Allow.
    wrong = c.get("/signout", headers=BROWSER)
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "POST"
    assert "not a page to open" in wrong.text
    # The API, and clients that take no HTML (curl, the CLI), keep the JSON.
    assert c.get("/no/such/page").json()["code"] == "http_error"
    api = c.get("/api/v1/nothing", headers=BROWSER)
    assert (api.status_code, api.json()["code"]) == (404, "http_error")


def test_a_report_is_never_cached(service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    mine = service.submit("alice", LAYERS).json()["id"]
    report: Any = SimpleNamespace(reproduce_report=object())
    monkeypatch.setattr(deps.Services, "detail", lambda self, user, submission_id: report)
    monkeypatch.setattr(pages, "to_html", lambda found: "<p>a student's results</p>")
    shown = sign_in(service, "alice").get(f"/api/v1/submissions/{mine}/report.html")
    assert shown.status_code == 200
    assert shown.headers["cache-control"] == "no-store"


def test_a_late_results_total_says_what_counts(service: Service) -> None:
    late = service.submit("alice", LAYERS).json()["id"]
    graded(service, late, 50)
    html = sign_in(service, "alice").get(f"/submissions/{late}").text
    assert "total: 50 / 52" in html  # what the tests gave
    assert 'id="late-total">late (−10%): counts as 45 / 52' in html  # what the grade is


@pytest.mark.parametrize(
    ("status", "says"),
    [
        (SubmissionStatus.failed, "the grader's failure, not your code's"),
        (SubmissionStatus.rejected, "could not be read as a submission"),
    ],
)
def test_an_uncounted_submission_says_whose_it_is(
    service: Service, status: SubmissionStatus, says: str
) -> None:
    sid = service.submit("alice", LAYERS).json()["id"]
    set_status(service, sid, status)
    c = sign_in(service, "alice")
    html = c.get(f"/submissions/{sid}").text
    assert says in html
    assert "costs you no attempt" in html
    assert "http-equiv" not in html  # final: the page stops refreshing itself


def test_wide_tables_scroll_in_their_own_box_on_a_phone(service: Service) -> None:
    service.submit("alice", LAYERS)
    html = sign_in(service, "alice").get("/me").text
    assert "@media (max-width:48rem){table{display:block;overflow-x:auto}" in html
    # /me puts what a student looks for first: when, status, score, late, then the file.
    head = html.split("<thead>")[1].split("</thead>")[0]
    order = ["submitted", "status", "score", "late", "file"]
    assert [head.index(f">{h}<") for h in order] == sorted(head.index(f">{h}<") for h in order)


def _students(s: Service, first: int, count: int) -> None:
    """`count` more students with three graded submissions each, written as a worker would."""
    with session_scope(s.settings.resolved_database_url()) as session:
        for i in range(first, first + count):
            user = UserRow(name=f"student{i:03d}", role=Role.student.value)
            session.add(user)
            session.flush()
            for score in (10.0, 30.0, 20.0):
                session.add(
                    SubmissionRow(
                        user_id=user.id,
                        assignment="cnn-layers",
                        assignment_version="1",
                        file_name="layers.py",
                        sha256="0" * 64,
                        size=1,
                        status=SubmissionStatus.graded.value,
                        score=score,
                        max_score=52,
                        result_json="{}",
                    )
                )


def test_staff_pages_ask_the_database_as_often_for_300_students_as_for_3(
    service: Service,
) -> None:
    """No query per student (an N+1 would make the pages take seconds at a course's size);
    measured at 500 students x 3: /staff 65 ms, the gradebook 95 ms."""
    c = sign_in(service, "tina")
    asked: list[str] = []

    def count(*args: Any) -> None:
        asked.append(args[2])

    def queries(path: str) -> int:
        asked.clear()
        event.listen(Engine, "before_cursor_execute", count)
        try:
            assert c.get(path).status_code == 200
        finally:
            event.remove(Engine, "before_cursor_execute", count)
        return len(asked)

    paths = ("/staff", "/staff/gradebook/cnn-layers", BASE + "/gradebook.csv")
    _students(service, 0, 3)
    few = [queries(p) for p in paths]
    _students(service, 3, 300)
    assert [queries(p) for p in paths] == few
    assert "student302" in c.get("/staff/gradebook/cnn-layers").text
