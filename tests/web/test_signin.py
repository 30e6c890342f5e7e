"""Signing in through the real form in a headless Chromium, and out again (fast: nothing
grades here)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import Browser
from tests.service.helpers import Service
from tests.web.helpers import live_service


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, str]]:
    with live_service(tmp_path_factory.mktemp("signin"), grading=False) as running:
        yield running


def test_a_student_signs_in_through_the_form(
    site: tuple[Service, str], browser: Browser, shots: Path
) -> None:
    s, url = site
    browser.send("Network.clearBrowserCookies")
    browser.goto(f"{url}/me")
    assert browser.eval("location.pathname + location.search") == "/signin?next=/me"
    browser.screenshot(shots / "web-signin.png")
    browser.submit("form#signin", token="dlg_not-a-token")
    assert "Unknown or revoked token." in browser.text("[role=alert]")
    browser.submit("form#signin", token=s.tokens["alice"])
    assert browser.eval("location.pathname") == "/me"
    assert "alice" in browser.text("header")
    (cookie,) = [c for c in browser.cookies() if c["name"] == "dlgrader_session"]
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Lax"
    assert s.tokens["alice"] not in cookie["value"]  # the cookie names the token, holds none
    browser.submit("header form")  # Sign out
    assert browser.eval("location.pathname") == "/signin"
    assert not [c for c in browser.cookies() if c["name"] == "dlgrader_session"]
    browser.goto(f"{url}/me")
    assert browser.eval("location.pathname") == "/signin"
