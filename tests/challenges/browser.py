"""Moved to tests/browser.py (the web tests use it too); kept until test_page.py imports it
from there."""

from tests.browser import chromium, dump_dom, screenshot

__all__ = ["chromium", "dump_dom", "screenshot"]
