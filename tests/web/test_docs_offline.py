"""Swagger UI and ReDoc render every operation in a headless Chromium that can reach
nothing but this server: their scripts and styles come from the package, not a CDN."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import Browser
from tests.service.helpers import Service
from tests.web.helpers import live_service

pytestmark = [pytest.mark.slow]  # ReDoc takes its seconds to lay out 30-odd operations


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, str]]:
    with live_service(tmp_path_factory.mktemp("docs"), grading=False) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with Browser(offline=True) as b:
        yield b


def operations(s: Service) -> int:
    paths = s.client.get("/openapi.json").json()["paths"]
    return sum(len(methods) for methods in paths.values())


def test_the_browser_really_is_offline(browser: Browser) -> None:
    browser.goto("https://example.com/")
    assert "Example Domain" not in browser.text()


def test_swagger_ui_renders_every_operation_offline(
    site: tuple[Service, str], browser: Browser
) -> None:
    s, url = site
    browser.goto(f"{url}/docs")
    browser.wait_until("document.querySelectorAll('.opblock').length > 0")
    assert browser.eval("document.querySelectorAll('.opblock').length") == operations(s)
    assert "/api/v1/submissions" in browser.text(".swagger-ui")
    folder = os.environ.get("DLGRADER_SCREENSHOTS")
    if folder:
        browser.screenshot(Path(folder) / "web-docs.png", full_page=False)


def test_redoc_renders_every_operation_offline(site: tuple[Service, str], browser: Browser) -> None:
    s, url = site
    browser.goto(f"{url}/redoc")
    selector = '[data-section-id^="operation/"]'
    browser.wait_until(f"document.querySelectorAll('{selector}').length > 0")
    assert browser.eval(f"document.querySelectorAll('{selector}').length") == operations(s)
