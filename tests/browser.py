"""Headless Chromium, for checking what people will look at: the DOM it built, a
screenshot, and (`Browser`) pages driven through the DevTools protocol: navigate, fill
and submit a form, read the DOM and cookies, capture the screen. One browser process per
test module keeps the fast tier cheap."""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def chromium() -> str | None:
    return next((p for p in map(shutil.which, CANDIDATES) if p), None)


def require_chromium() -> None:
    """Skip a browser test where Chromium is missing; in CI, where it must be, fail."""
    import pytest

    if chromium() is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is not installed (apt-get install chromium)")
        pytest.skip("no Chromium (apt-get install chromium)")


def _args(profile: str, *flags: str) -> list[str]:
    binary = chromium()
    if binary is None:
        raise RuntimeError("no Chromium: apt-get install chromium")
    args = [
        binary,
        "--headless=new",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        f"--user-data-dir={profile}",
        "--hide-scrollbars",
        *flags,
    ]
    if os.geteuid() == 0:  # Chromium's own sandbox refuses to run as root
        args.insert(1, "--no-sandbox")
    return args


def _run(page: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="dlgrader-chromium-") as profile:
        args = [*_args(profile, *flags), page.resolve().as_uri()]
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


class Browser:
    """One headless Chromium with one tab, driven over the DevTools protocol.

    `offline=True` makes every request but those to 127.0.0.1 fail, as on a machine
    with no internet (what /docs must survive)."""

    def __init__(self, width: int = 1200, height: int = 800, offline: bool = False) -> None:
        import websocket  # the dev dependency websocket-client

        self._profile = tempfile.TemporaryDirectory(prefix="dlgrader-chromium-")
        flags = ["--remote-debugging-port=0", f"--window-size={width},{height}"]
        if offline:  # loopback goes direct; everything else to a proxy that is not there
            flags += [
                "--proxy-server=http://127.0.0.1:9",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            ]
        self._proc = subprocess.Popen(
            [*_args(self._profile.name, *flags), "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its helpers (zygote, crashpad) share the group
        )
        port_file = Path(self._profile.name) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            if time.monotonic() > deadline or self._proc.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.05)
        port = int(port_file.read_text().split("\n")[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            pages = [t for t in json.load(r) if t["type"] == "page"]
        self._ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=30)
        self._ids = itertools.count(1)
        self._events: list[dict[str, Any]] = []
        for domain in ("Page", "Runtime", "Network"):
            self.send(f"{domain}.enable")

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """One DevTools command and its result; events that arrive meanwhile are kept."""
        call = next(self._ids)
        self._ws.send(json.dumps({"id": call, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv())
            if message.get("id") == call:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self._events.append(message)

    def _wait_for_load(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(e.get("method") == "Page.loadEventFired" for e in self._events):
                self._events.clear()
                return
            self._ws.settimeout(max(0.1, deadline - time.monotonic()))
            self._events.append(json.loads(self._ws.recv()))
        raise TimeoutError("the page did not finish loading")

    def goto(self, url: str) -> None:
        self._events.clear()
        self.send("Page.navigate", url=url)
        self._wait_for_load()

    def eval(self, expression: str) -> Any:
        """A JavaScript expression's value in the page (JSON-able values only)."""
        found = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in found:
            raise RuntimeError(f"{expression}: {found['exceptionDetails']}")
        return found["result"].get("value")

    def submit(self, form: str, **fields: str) -> None:
        """Fill the named fields of the form matched by CSS selector `form` and submit it
        as a person would (its submit button), then wait for the next page."""
        self._events.clear()
        script = (
            f"(() => {{ const f = document.querySelector({json.dumps(form)});"
            f" for (const [k, v] of Object.entries({json.dumps(fields)}))"
            " f.elements[k].value = v;"
            " (f.querySelector('[type=submit]') || f).click(); })()"
        )
        self.eval(script)
        self._wait_for_load()

    def click(self, selector: str) -> None:
        """Follow the link (or press the button) matched by `selector`; wait for the page."""
        self._events.clear()
        self.eval(f"document.querySelector({json.dumps(selector)}).click()")
        self._wait_for_load()

    def text(self, selector: str = "body") -> str:
        return str(self.eval(f"document.querySelector({json.dumps(selector)})?.innerText ?? ''"))

    def cookies(self) -> list[dict[str, Any]]:
        cookies: list[dict[str, Any]] = self.send("Network.getCookies")["cookies"]
        return cookies

    def wait_until(self, expression: str, timeout: float = 60) -> None:
        """Poll a JavaScript condition (the page may reload itself meanwhile)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.eval(expression):
                    return
            except RuntimeError:  # the page was between documents
                pass
            time.sleep(0.25)
        raise TimeoutError(f"never true: {expression}")

    def screenshot(self, png: Path, full_page: bool = True) -> Path:
        """The whole page (or just the window)."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.send("Page.getLayoutMetrics")["cssContentSize"]
            params["captureBeyondViewport"] = True
            params["clip"] = {"x": 0, "y": 0, "width": size["width"], "height": size["height"]}
            params["clip"]["scale"] = 1
        shot = self.send("Page.captureScreenshot", **params)
        png.write_bytes(base64.b64decode(shot["data"]))
        return png

    def close(self) -> None:
        if hasattr(self, "_ws"):
            self._ws.close()
        # Chromium's helpers outlive its main process and go on writing to the profile
        # (CI once failed removing it), so the whole group goes before the profile does.
        self._signal_group(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=10)
        self._signal_group(signal.SIGKILL)
        self._proc.wait()
        for _ in range(20):  # a killed helper's last write may still land
            try:
                self._profile.cleanup()
                return
            except OSError:
                time.sleep(0.1)
        self._profile.cleanup()

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):  # the group is already gone
            os.killpg(self._proc.pid, sig)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
