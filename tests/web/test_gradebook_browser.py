"""The gradebook in a real headless Chromium against a real server (uvicorn, the embedded
workers grading in bubblewrap): a TA signs in, grants a student an extension through the
page's form, sees a late penalty beside the extended student's on-time score, and
downloads the CSV for Canvas through the page's link.

`DLGRADER_SCREENSHOTS=docs python -m pytest tests/web` refreshes docs/web-gradebook.png."""

from __future__ import annotations

import csv
import io
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from grader.grading.course import known_assignments
from grader.service.accounts import create_token
from grader.service.db import session_scope
from grader.service.gradebook import CANVAS_HEADER
from submissions_schema import Role
from tests.browser import Browser
from tests.service.helpers import LAYERS
from tests.web.helpers import live_service
from tests.web.test_pages import sign_in

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def downloaded(folder: Path, timeout: float = 30) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in folder.iterdir() if not p.name.endswith(".crdownload")]
        if done:
            return done[0]
        time.sleep(0.1)
    raise TimeoutError(f"nothing downloaded into {folder}")


def test_a_ta_sees_penalties_grants_an_extension_and_downloads_the_csv(
    tmp_path: Path, browser: Browser, shots: Path
) -> None:
    specs = dict(known_assignments())
    spec = specs["cnn-layers"]
    policy = spec.policy.model_copy(
        update={
            "due_at": datetime.now(UTC) - timedelta(hours=1),
            "late_days": 2,
            "late_penalty_per_day": 0.1,
            "lms_assignment_id": "48213",
        }
    )
    specs["cnn-layers"] = spec.model_copy(update={"policy": policy})
    with live_service(tmp_path / "site", assignments=specs) as (s, url):
        with session_scope(s.settings.resolved_database_url()) as session:
            s.tokens["carol"] = create_token(session, "carol", Role.student).token
        late = s.submit("alice", LAYERS).json()
        assert s.wait("alice", late["id"])["score"] == pytest.approx(52 * 0.9)

        sign_in(browser, url, s.tokens["tina"], then="/staff/gradebook/cnn-layers")
        assert "late, −10%" in browser.text("tr[data-user=alice] td.late")
        due = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
        browser.goto(f"{url}/staff/gradebook/cnn-layers?user=bob")
        browser.submit("form#grant", due_at=due, reason="hospital, note seen")
        assert "Extension granted to bob." in browser.text("[role=status]")

        on_time = s.submit("bob", LAYERS).json()  # after its due date, inside bob's own
        assert on_time["late"] is False
        assert s.wait("bob", on_time["id"])["score"] == 52
        browser.goto(f"{url}/staff/gradebook/cnn-layers")
        assert browser.text("tr[data-user=alice] td.score") == "46.8"
        assert browser.text("tr[data-user=bob] td.score") == "52"
        assert browser.text("tr[data-user=bob] td.late") == ""
        assert "hospital, note seen" in browser.text("tr[data-user=bob] td.extension")
        assert browser.text("tr[data-user=carol] td.score") == "—"
        browser.screenshot(shots / "web-gradebook.png")

        # The link downloads, as a click in the browser does (its session is the credential).
        folder = tmp_path / "downloads"
        folder.mkdir()
        browser.send("Browser.setDownloadBehavior", behavior="allow", downloadPath=str(folder))
        browser.eval("document.querySelector('#canvas-csv').click()")
        saved = downloaded(folder)
        assert saved.name == "cnn-layers-gradebook.csv"
        rows = list(csv.reader(io.StringIO(saved.read_bytes().decode())))
        assert rows[0] == [*CANVAS_HEADER, "cnn-layers (48213)"]
        assert rows[1] == ["Points Possible", "", "", "", "", "52"]
        assert rows[2:] == [
            ["alice", "", "", "alice", "", "46.8"],
            ["bob", "", "", "bob", "", "52"],
            ["carol", "", "", "carol", "", ""],
        ]
        # The same href fetched with the session cookie, and without it.
        href = browser.eval("document.querySelector('#canvas-csv').href")
        (cookie,) = [c for c in browser.cookies() if c["name"] == "dlgrader_session"]
        request = urllib.request.Request(
            href, headers={"Cookie": f"{cookie['name']}={cookie['value']}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.read() == saved.read_bytes()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(href, timeout=30)
        assert refused.value.code == 401
