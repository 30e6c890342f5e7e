"""Headless Chromium, for checking what people will look at: the DOM it built, a screenshot."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def chromium() -> str | None:
    return next((p for p in map(shutil.which, CANDIDATES) if p), None)


def _run(page: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    binary = chromium()
    if binary is None:
        raise RuntimeError("no Chromium: apt-get install chromium")
    with tempfile.TemporaryDirectory(prefix="dlgrader-chromium-") as profile:
        args = [
            binary,
            "--headless=new",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--hide-scrollbars",
            *flags,
            page.resolve().as_uri(),
        ]
        if os.geteuid() == 0:  # Chromium's own sandbox refuses to run as root
            args.insert(1, "--no-sandbox")
        return subprocess.run(args, capture_output=True, text=True, timeout=120)


def dump_dom(page: Path) -> str:
    """The DOM after Chromium parsed and laid out the page, serialised."""
    proc = _run(page, "--dump-dom")
    if proc.returncode != 0:
        raise RuntimeError(f"chromium failed: {proc.stderr[-500:]}")
    return proc.stdout


def screenshot(page: Path, png: Path, width: int = 1100, height: int = 700) -> Path:
    proc = _run(page, f"--screenshot={png.resolve()}", f"--window-size={width},{height}")
    if proc.returncode != 0 or not png.exists():
        raise RuntimeError(f"chromium failed to take a screenshot: {proc.stderr[-500:]}")
    return png
