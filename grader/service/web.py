"""The web pages' machinery in one place: the Jinja2 environment (autoescaped), signed
cookie sessions, the CSRF tokens bound to them, and rendering a page.

A session cookie names the token its holder signed in with (by its row id), signed with
the host's session key. It carries no token: every request looks the token up again, so
revoking the token ends the session. POST forms carry a CSRF token derived from the
cookie (an HMAC of it), so another site cannot post as the user even where SameSite
would let it through (old browsers, a sibling subdomain).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import inspect
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from grader.html import html_templates
from grader.settings import Settings

SESSION_COOKIE = "dlgrader_session"
SIGNIN_COOKIE = "dlgrader_signin"  # a nonce the sign-in form's CSRF token is bound to
SESSION_MAX_AGE_S = 12 * 3600  # a day's work; the token itself outlives it
SIGNIN_MAX_AGE_S = 3600

TEMPLATES = html_templates("grader.service")


@cache
def _session_key(path: Path) -> bytes:
    """The host's session key: 32 random bytes drawn once into the data folder (private),
    so every API process sharing that folder signs and checks alike."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process drew it first
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
    key = path.read_text().strip()
    while len(key) < 64:  # the other process has not finished writing it
        time.sleep(0.01)
        key = path.read_text().strip()
    return bytes.fromhex(key)


def session_key(settings: Settings) -> bytes:
    return _session_key(settings.data_dir / "session_key")


def _mac(key: bytes, purpose: str, value: str) -> str:
    digest = hmac.new(key, f"{purpose}\0{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass(frozen=True)
class Session:
    token_id: int
    epoch: int  # the token's session epoch when it was issued; sign-out moves it on
    cookie: str  # the signed value, which the CSRF token is bound to


def issue_session(key: bytes, token_id: int, epoch: int = 0, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    payload = f"{token_id}.{epoch}.{issued}.{secrets.token_urlsafe(9)}"
    return f"{payload}.{_mac(key, 'session', payload)}"


def read_session(key: bytes, cookie: str | None, now: float | None = None) -> Session | None:
    """The session a cookie holds if its signature is ours and it has not expired (whether
    its token and epoch are still current is the database's to say: deps.py)."""
    if not cookie or len(cookie) > 200:
        return None
    payload, _, mac = cookie.rpartition(".")
    if not hmac.compare_digest(mac, _mac(key, "session", payload)):
        return None
    fields = payload.split(".")
    if len(fields) != 4 or not all(f.isascii() and f.isdigit() for f in fields[:3]):
        return None
    token_id, epoch, issued = (int(f) for f in fields[:3])
    age = (time.time() if now is None else now) - issued
    if not 0 <= age <= SESSION_MAX_AGE_S:
        return None
    return Session(token_id, epoch, cookie)


def csrf_token(key: bytes, bound_to: str) -> str:
    """The token a form posts back: bound to the session cookie (or, before sign-in, to
    the sign-in nonce cookie)."""
    return _mac(key, "csrf", bound_to)


def csrf_ok(key: bytes, bound_to: str | None, posted: str | None) -> bool:
    if not bound_to or not posted:
        return False
    return hmac.compare_digest(posted, csrf_token(key, bound_to))


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def safe_next(target: str | None) -> str:
    """Where to go after sign-in: a path on this site only (never `//elsewhere`)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/me"
    return target


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page: the template with who is signed in and the form token their POSTs carry
    (both set on `request.state` by the page dependencies)."""
    html = TEMPLATES.get_template(template).render(
        viewer=getattr(request.state, "page_user", None),
        csrf=getattr(request.state, "csrf", ""),
        path=request.url.path,
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers={"cache-control": "no-store"})


HTTP_MESSAGES = {
    404: "There is no page here.",
    405: "This address is not a page to open; go back and use the page's own links and buttons.",
}


def wants_html(request: Request) -> bool:
    """A browser navigating (its Accept names HTML), not a client that takes JSON."""
    return "text/html" in request.headers.get("accept", "")


class SignInRequired(Exception):
    """A page needs a signed-in user: the browser goes to /signin, then back."""

    def __init__(self, back_to: str) -> None:
        super().__init__(back_to)
        self.back_to = back_to


class PageError(Exception):
    """A page that cannot be shown, said as a page (not the API's JSON)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def add_page_handlers(app: FastAPI, viewer: Callable[[Any, Request], object]) -> None:
    """`viewer` (deps.page_viewer) notes who is signed in on `request.state` for an error
    page that no route ran before."""

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(f"/signin?next={quote(exc.back_to, safe='/')}", status_code=303)

    @app.exception_handler(PageError)
    async def _page_error(request: Request, exc: PageError) -> Response:
        return render(request, "error.html.j2", exc.status, status=exc.status, message=exc.message)

    # A browser that opens a path no page has (a mistyped link, a GET of a form's action)
    # gets a page; the API, curl and the CLI (which accept no HTML) keep the JSON.
    api_http = app.exception_handlers[StarletteHTTPException]

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api/") or not wants_html(request):
            answered = api_http(request, exc)
            return await answered if inspect.isawaitable(answered) else answered
        if not hasattr(request.state, "page_user"):  # no route ran: say who is signed in
            await run_in_threadpool(viewer, request.app.state.services, request)
        message = HTTP_MESSAGES.get(exc.status_code, str(exc.detail))
        page = render(
            request, "error.html.j2", exc.status_code, status=exc.status_code, message=message
        )
        for name, value in (exc.headers or {}).items():  # a 405's Allow
            page.headers[name] = value
        return page

    # A page's form with a bad field (a wait of "abc") is answered as a page; the API's
    # requests keep the JSON error (errors.py's handler, registered before this one).
    api_invalid = app.exception_handlers[RequestValidationError]

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.startswith("/api/"):
            answered = api_invalid(request, exc)
            return await answered if inspect.isawaitable(answered) else answered
        first = exc.errors()[0] if exc.errors() else {}
        field = str(first.get("loc", ["", "the form"])[-1])
        message = f"{field}: {first.get('msg', 'invalid')}"
        return render(request, "error.html.j2", 422, status=422, message=message)


# Every HTML response (the pages, a report, the API docs) loads nothing from elsewhere and
# cannot be framed. The pages need inline styles only (and data: images in a report);
# Swagger UI starts from an inline script and ReDoc searches in a blob: worker.
PAGE_CSP = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
HTML_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeaders:
    """ASGI middleware: `nosniff` on every response (a CSV is never read as a page), and
    on HTML ones the CSP, no framing and a same-origin referrer."""

    def __init__(self, app: Any, docs_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.docs_paths = docs_paths

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = DOCS_CSP if scope["path"] in self.docs_paths else PAGE_CSP

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                kind = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                headers.append((b"x-content-type-options", b"nosniff"))
                if kind.startswith(b"text/html"):
                    headers += [(b"content-security-policy", csp.encode()), *HTML_HEADERS]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
