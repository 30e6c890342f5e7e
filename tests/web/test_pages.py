"""The pages in a real headless Chromium against a real server (uvicorn, the embedded
workers grading in bubblewrap): a student signs in through the form (as in
test_signin.py), watches a submission go live to graded, reads a result with a hint and
a redacted hidden row, and finds a leaderboard; a TA sees stuck and failed jobs,
regrades one and flags a challenge submission. One browser and one service for the
module.

`DLGRADER_SCREENSHOTS=docs python -m pytest tests/web` refreshes docs/web-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from grader.grading.course import known_assignments
from grader.service.db import SubmissionRow, session_scope
from tests.browser import Browser
from tests.service.helpers import LAYERS, Service
from tests.service.test_challenges import predictions
from tests.web.helpers import live_service

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# relu_backward that ignores its mask: the classic mistake a hint names.
NO_MASK = LAYERS.replace(b"return dout * (cache > 0)", b"return dout * 1.0")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, str]]:
    specs = dict(known_assignments())
    spec = specs["cnn-layers"]
    due = datetime.now(UTC) + timedelta(days=1)  # hidden details wait for it
    policy = spec.policy.model_copy(update={"due_at": due})
    specs["cnn-layers"] = spec.model_copy(update={"policy": policy})
    # A margin so long that the reaper never runs here: the stuck row below stays stuck.
    with live_service(
        tmp_path_factory.mktemp("web"), assignments=specs, stuck_margin_s=1_000_000
    ) as running:
        yield running


def sign_in(browser: Browser, url: str, token: str, then: str = "/me") -> None:
    """Through the real form, as a person does."""
    browser.send("Network.clearBrowserCookies")
    browser.goto(f"{url}{then}")
    assert browser.eval("location.pathname") == "/signin"
    browser.submit("form#signin", token=token)
    assert browser.eval("location.pathname") == then


def test_a_submission_goes_live_to_graded_and_shows_hints_and_hidden_rows(
    site: tuple[Service, str], browser: Browser, shots: Path
) -> None:
    s, url = site
    sign_in(browser, url, s.tokens["alice"])
    s.wait("alice", s.submit("alice", LAYERS).json()["id"])
    mistake = s.submit("alice", NO_MASK).json()["id"]
    browser.goto(f"{url}/me")
    row = f"tr[data-id='{mistake}']"
    if browser.eval(f'document.querySelector("{row} .status").innerText') != "graded":
        assert browser.eval("!!document.querySelector('meta[http-equiv=refresh]')")
        assert "Grading in progress" in browser.text("#live")
    # The page refreshes itself until the grade is in.
    browser.wait_until(f"document.querySelector(\"{row} .status\")?.innerText === 'graded'")
    browser.wait_until("!document.querySelector('#live')")
    assert "cnn-layers" in browser.text("main")
    browser.screenshot(shots / "web-me.png")

    browser.goto(f"{url}/submissions/{mistake}")
    visible = browser.eval(
        "[...document.querySelectorAll('#result tr.visible-test')].map(r => r.innerText)"
    )
    hidden = browser.eval(
        "[...document.querySelectorAll('#result tr.hidden-test')].map(r => r.innerText)"
    )
    assert any("relu_backward" in r and "hint:" in r for r in visible)
    assert hidden
    assert all("details from 20" in r for r in hidden)
    assert not any("hint:" in r for r in hidden)
    assert "total:" in browser.text("main")
    assert "graded" in browser.text(".events")
    browser.screenshot(shots / "web-result.png", full_page=False)  # the top of a long table

    # The same submission for its TA: hidden details are staff's to see.
    sign_in(browser, url, s.tokens["tina"], then=f"/submissions/{mistake}")
    staff_hidden = browser.eval(
        "[...document.querySelectorAll('#result tr.hidden-test')].map(r => r.innerText)"
    )
    assert any("hint:" in r for r in staff_hidden)
    browser.submit("form#regrade", wait_s="60")  # the same grade again: nothing changes
    assert "1 regraded: 0 changed, 1 unchanged" in browser.text("#summary")


def test_a_student_finds_a_leaderboard(
    site: tuple[Service, str], browser: Browser, shots: Path
) -> None:
    s, url = site
    posted = s.client.post(
        "/api/v1/challenges/digits-convnet/submissions",
        headers=s.headers("alice"),
        files={"file": ("preds.csv", predictions("dev", 0.9))},
        data={"phase": "dev", "method_name": "a small ConvNet"},
    ).json()
    assert s.wait("alice", posted["id"])["status"] == "graded"
    sign_in(browser, url, s.tokens["alice"])
    browser.goto(f"{url}/leaderboards")  # public, and the nav still says who is signed in
    assert "alice" in browser.text("header")
    assert "digits-convnet" in browser.text("main")
    browser.screenshot(shots / "web-leaderboards.png")
    browser.click("#c-digits-convnet a.board")
    assert "alice" in browser.text("body")
    assert "a small ConvNet" in browser.text("body")
    browser.screenshot(shots / "web-leaderboard.png")


def test_a_ta_sees_stuck_and_failed_jobs_and_regrades(
    site: tuple[Service, str], browser: Browser, shots: Path
) -> None:
    s, url = site
    url_db = s.settings.resolved_database_url()
    lost, broken = (s.submit("bob", LAYERS, key=k).json()["id"] for k in ("lost", "broken"))
    for i in (lost, broken):
        s.wait("bob", i)
    long_ago = datetime.now(UTC) - timedelta(days=30)
    with session_scope(url_db) as session:  # what a lost message and an outage leave behind
        session.execute(
            update(SubmissionRow)
            .where(SubmissionRow.id == lost)
            .values(status="queued", updated_at=long_ago, score=None)
        )
        session.execute(
            update(SubmissionRow)
            .where(SubmissionRow.id == broken)
            .values(
                status="failed",
                score=None,
                reason="could not grade after 3 attempts (worker lost); "
                "this does not count against you",
            )
        )
    sign_in(browser, url, s.tokens["tina"], then="/staff")
    assert lost[:8] in browser.text("#stuck-jobs")
    assert "queued since" in browser.text("#stuck-jobs")
    assert "worker lost" in browser.text(f"#failed-jobs tr[data-id='{broken}']")
    assert "Gradebook" in browser.text("#assignments-table")
    browser.screenshot(shots / "web-staff.png")

    browser.submit(f"#failed-jobs tr[data-id='{broken}'] form", wait_s="60")
    assert browser.eval("location.pathname") == f"/staff/submissions/{broken}/regrade"
    assert "1 regraded: 1 changed" in browser.text("#summary")
    change = browser.text("#changes tbody tr")
    assert "bob" in change
    assert "—" in change
    assert "52" in change
    browser.screenshot(shots / "web-regrade.png")
    assert s.wait("bob", broken)["status"] == "graded"

    browser.goto(f"{url}/staff")
    flag = "#c-digits-convnet form:has(input[value=is_baseline])"
    assert browser.text(flag) == "no"
    browser.submit(flag)
    assert browser.text(flag) == "yes"


def test_a_student_cannot_open_the_staff_page(site: tuple[Service, str], browser: Browser) -> None:
    s, url = site
    sign_in(browser, url, s.tokens["alice"])
    browser.goto(f"{url}/staff")
    assert "This page is for course staff." in browser.text("main")
    assert "Staff" not in browser.text("header nav")
