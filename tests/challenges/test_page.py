"""The challenge pages: rendered server-side from the entries the API returns, read back
in a real headless Chromium (the ranked rows, the embedded JSON, hostile names shown as
text), served by the embedded service, and screenshots."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from grader.challenges.leaderboard import ScoredSubmission, compute_leaderboard
from grader.challenges.page import render_challenge, render_leaderboard
from grader.challenges.specs import get_challenge
from grader.sandbox.bwrap import BwrapSandbox
from grader.service.web import TEMPLATES
from submissions_schema.challenges import LeaderboardEntry, LeaderboardPage
from tests.browser import dump_dom, require_chromium, screenshot

pytestmark = [pytest.mark.integration]
T0 = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
HOSTILE = "<script>alert(1)</script>"
DOCS = Path(__file__).resolve().parents[2] / "docs"


def sample_entries() -> list[LeaderboardEntry]:
    challenge = get_challenge("digits-convnet")
    ps = challenge.phase_split("dev", "dev")
    entries = [
        ScoredSubmission(
            "s1",
            "gradient-descenders",
            T0,
            "finished",
            {"accuracy": 0.9867, "macro_f1": 0.9866, "params": 15914, "train_time_s": 21.4},
            method_name="3-layer ConvNet + BN",
            row_id=1,
            team_id=1,
            execution_time_s=23.9,
        ),
        ScoredSubmission(
            "s2",
            "backprop-or-bust",
            T0 + timedelta(hours=2),
            "finished",
            {"accuracy": 0.9733, "macro_f1": 0.9731, "params": 8042, "train_time_s": 12.9},
            method_name="2-layer ConvNet",
            row_id=2,
            team_id=2,
            execution_time_s=14.2,
        ),
        ScoredSubmission(
            "s3",
            "staff",
            T0 - timedelta(days=1),
            "finished",
            {"accuracy": 0.9600, "macro_f1": 0.9598, "params": 5770, "train_time_s": 8.1},
            method_name="course baseline",
            is_baseline=True,
            row_id=3,
            execution_time_s=9.6,
        ),
        ScoredSubmission(
            "s4",
            HOSTILE,
            T0 + timedelta(hours=5),
            "finished",
            {"accuracy": 0.9733, "macro_f1": 0.9729, "params": None, "train_time_s": None},
            method_name=f"predictions {HOSTILE}",
            row_id=4,
            execution_time_s=0.004,
        ),
        ScoredSubmission("s5", "late-night", T0, "failed", {"accuracy": None}, row_id=5),
    ]
    return compute_leaderboard(
        entries, challenge.leaderboard_schema(ps), challenge.phase("dev"), ps
    )


def site_layout(path: str) -> dict[str, Any]:
    """The service's own layout around the page, as challenge_pages.py passes it."""
    return {
        "layout": TEMPLATES.get_template("base.html.j2"),
        "viewer": None,
        "csrf": "",
        "path": path,
    }


def sample_page(tmp_path: Path, **layout: Any) -> Path:
    challenge = get_challenge("digits-convnet")
    ps = challenge.phase_split("dev", "dev")
    html = render_leaderboard(challenge, ps, sample_entries(), T0 + timedelta(hours=6), **layout)
    page = tmp_path / "leaderboard.html"
    page.write_text(html)
    return page


class Dom(HTMLParser):
    """The board's rows as Chromium serialised them ([[cell, ...], ...] with row classes),
    the text of every <script>, and the links."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, list[str]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.links: list[str] = []
        self._cell: list[str] | None = None
        self._script: list[str] | None = None
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.rows.append((found.get("class") or "", []))
        elif tag == "td" and self._in_body:
            self._cell = []
        elif tag == "script":
            self.scripts.append((found, ""))
            self._script = []
        elif tag == "a" and found.get("href"):
            self.links.append(str(found["href"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.rows[-1][1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tbody":
            self._in_body = False
        elif tag == "script" and self._script is not None:
            self.scripts[-1] = (self.scripts[-1][0], "".join(self._script))
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._script is not None:
            self._script.append(data)


def embedded_json(dom: Dom) -> dict[str, Any]:
    [(attrs, text)] = dom.scripts  # the data, and no other script
    assert attrs == {"type": "application/json", "id": "leaderboard-data"}
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@pytest.fixture(autouse=True)
def need_chromium() -> None:
    require_chromium()


@pytest.mark.parametrize("layout", ["standalone", "site"])
def test_chromium_reads_the_ranked_rows_and_the_same_json(tmp_path: Path, layout: str) -> None:
    around = site_layout("/challenges/digits-convnet/dev/dev") if layout == "site" else {}
    dom = Dom()
    dom.feed(dump_dom(sample_page(tmp_path, **around)))
    ranked = [(cells[0], cells[1]) for _, cells in dom.rows]
    assert ranked == [
        ("1", "gradient-descenders"),
        ("2", "backprop-or-bust"),
        ("2", HOSTILE),  # escaped: shown as text, never run
        ("", "staffbaseline"),
    ]
    classes = [cls for cls, _ in dom.rows]
    assert "baseline" in classes[3]
    assert "first" in classes[0]
    assert dom.rows[2][1][2] == f"predictions {HOSTILE}"
    assert dom.rows[2][1][5] == "#"  # params missing for a predictions upload
    assert dom.rows[0][1][5] == "15,914"  # an int, shown as one
    assert dom.rows[0][1][3] == "0.9867"  # the split's precision: 4
    assert dom.rows[0][1][7] == "23.90"  # execution time: the dev split shows it
    # The page carries the API's JSON for exactly the rows it shows.
    expected = LeaderboardPage(count=4, results=sample_entries()).model_dump(mode="json")
    assert embedded_json(dom) == expected
    assert "/challenges/digits-convnet" in dom.links  # back to the overview


def test_the_overview_links_phases_splits_and_describes_metrics(tmp_path: Path) -> None:
    texts = {  # a bundle's templates/*.html, hostile bits included
        "description": f'<p>Classify <b>digits</b>.</p>{HOSTILE}<a href="javascript:x">x</a>',
        "phase-dev": '<p onmouseover="alert(1)">Dev: <i>unlimited</i> practice</p>',
        "evaluation_details": "<ul><li>accuracy on held-out digits</li></ul>",
    }
    page = tmp_path / "challenge.html"
    page.write_text(
        render_challenge(
            get_challenge("digits-convnet"), texts, **site_layout("/challenges/digits-convnet")
        )
    )
    html = dump_dom(page)
    dom = Dom()
    dom.feed(html)
    assert dom.scripts == []  # the host's <script> was removed by the sanitiser
    assert "javascript:" not in html
    assert "onmouseover" not in html
    assert "<b>digits</b>" in html  # the host's harmless HTML kept
    assert "Dev: <i>unlimited</i> practice" in html
    assert "<li>accuracy on held-out digits</li>" in html
    assert {"/challenges/digits-convnet/dev/dev", "/challenges/digits-convnet/test/test"} <= set(
        dom.links
    )
    assert "share of the split's digits classified right" in html
    assert "lower ▲" in html  # params
    assert "higher ▼" in html  # accuracy
    assert re.search(r"20 a day · no limit a month · 200 in all", html)


def test_screenshots(tmp_path: Path) -> None:
    png = screenshot(
        sample_page(tmp_path, **site_layout("/challenges/digits-convnet/dev/dev")),
        tmp_path / "leaderboard.png",
        height=760,
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000
    overview = tmp_path / "challenge.html"
    overview.write_text(
        render_challenge(
            get_challenge("digits-convnet"), **site_layout("/challenges/digits-convnet")
        )
    )
    overview_png = screenshot(overview, tmp_path / "challenge.png", height=1000)
    assert overview_png.stat().st_size > 10_000
    if os.environ.get("DLGRADER_REFRESH_DOCS"):  # the pictures in docs/challenges.md
        (DOCS / "leaderboard.png").write_bytes(png.read_bytes())
        (DOCS / "challenge.png").write_bytes(overview_png.read_bytes())


@pytest.mark.slow
@pytest.mark.skipif(BwrapSandbox.available() is not None, reason="no bubblewrap")
def test_served_pages_embed_what_the_api_returns(tmp_path: Path) -> None:
    from tests.service.helpers import embedded_service
    from tests.service.test_challenges import add_users, predictions, submit

    with embedded_service(tmp_path) as s:
        add_users(s, "carol")
        s.client.post(
            "/api/v1/admin/challenges/digits-convnet/teams",
            headers=s.headers("tina"),
            params={"team": HOSTILE, "members": ["carol"]},
        )
        for who, acc, method in (("alice", 0.9, "mlp"), ("carol", 0.95, HOSTILE)):
            sid = submit(s, who, "dev", predictions("dev", acc), method=method).json()["id"]
            assert s.wait(who, sid)["status"] == "graded"
        api = s.client.get(
            "/api/v1/challenges/digits-convnet/leaderboard", params={"phase": "dev", "split": "dev"}
        ).json()
        for url in (
            "/challenges/digits-convnet/dev/dev",
            "/api/v1/challenges/digits-convnet/leaderboard.html?phase=dev&split=dev",
        ):
            response = s.client.get(url)
            assert response.status_code == 200, response.text
            assert HOSTILE not in response.text  # escaped everywhere, the JSON included
            page = tmp_path / "served.html"
            page.write_text(response.text)
            dom = Dom()
            dom.feed(dump_dom(page))
            assert embedded_json(dom) == api
            assert [cells[1] for _, cells in dom.rows] == [HOSTILE, "alice"]
        overview = s.client.get("/challenges/digits-convnet")
        assert overview.status_code == 200
        assert 'href="/challenges/digits-convnet/dev/dev"' in overview.text
        hidden = s.client.get("/challenges/digits-convnet/test/test")  # hosts only
        assert hidden.status_code == 403
        assert "private" in hidden.text
        assert s.client.get("/challenges/nope").status_code == 404
