"""The leaderboard page in a real headless Chromium: the ranked rows read back from the
DOM it built, and a screenshot."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from grader.challenges.leaderboard import ScoredSubmission, compute_leaderboard
from grader.challenges.page import render_leaderboard
from grader.challenges.specs import get_challenge
from tests.challenges.browser import chromium, dump_dom, screenshot

pytestmark = [pytest.mark.integration]
T0 = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def sample_page(tmp_path: Path) -> Path:
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
        ),
        ScoredSubmission(
            "s2",
            "backprop-or-bust",
            T0 + timedelta(hours=2),
            "finished",
            {"accuracy": 0.9733, "macro_f1": 0.9731, "params": 8042, "train_time_s": 12.9},
            method_name="2-layer ConvNet",
        ),
        ScoredSubmission(
            "s3",
            "staff",
            T0 - timedelta(days=1),
            "finished",
            {"accuracy": 0.9600, "macro_f1": 0.9598, "params": 5770, "train_time_s": 8.1},
            method_name="course baseline",
            is_baseline=True,
        ),
        ScoredSubmission(
            "s4",
            "relu-crew",
            T0 + timedelta(hours=5),
            "finished",
            {"accuracy": 0.9733, "macro_f1": 0.9729, "params": None, "train_time_s": None},
            method_name="predictions <script>alert(1)</script>",
        ),
        ScoredSubmission("s5", "late-night", T0, "failed", {"accuracy": None}),
    ]
    rows = compute_leaderboard(
        entries, challenge.leaderboard_schema(ps), challenge.phase("dev"), ps
    )
    page = tmp_path / "leaderboard.html"
    page.write_text(render_leaderboard(challenge, ps, rows, T0 + timedelta(hours=6)))
    return page


class Rows(HTMLParser):
    """The table's rows as Chromium serialised them: [[cell, ...], ...] with row classes."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, list[str]]] = []
        self._cell: list[str] | None = None
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.rows.append((dict(attrs).get("class") or "", []))
        elif tag == "td" and self._in_body:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.rows[-1][1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(autouse=True)
def need_chromium() -> None:
    if chromium() is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is not installed (apt-get install chromium)")
        pytest.skip("no Chromium")


def test_chromium_reads_the_ranked_rows(tmp_path: Path) -> None:
    parser = Rows()
    parser.feed(dump_dom(sample_page(tmp_path)))
    ranked = [(cells[0], cells[1]) for _, cells in parser.rows]
    assert ranked == [
        ("1", "gradient-descenders"),
        ("2", "backprop-or-bust"),
        ("2", "relu-crew"),
        ("", "staffbaseline"),
    ]
    classes = [cls for cls, _ in parser.rows]
    assert "baseline" in classes[3]
    assert "first" in classes[0]
    assert parser.rows[2][1][2] == "predictions <script>alert(1)</script>"  # escaped, shown as text
    assert parser.rows[2][1][5] == "#"  # params missing for a predictions upload


def test_screenshot(tmp_path: Path) -> None:
    png = screenshot(sample_page(tmp_path), tmp_path / "leaderboard.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000
