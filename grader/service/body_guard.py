"""Before any request body is read: a valid token, and a size within the route's cap.

FastAPI parses a multipart form (spooling it to disk) before it resolves the route's
dependencies, so without this a 1 GB upload with no token is stored before its 401. This
ASGI middleware answers 401 or 413 from the headers alone, then reads the body itself,
counting, up to the cap (chunked uploads too), and hands the route what it read.

Pages post forms with a session cookie instead (web.py): outside /api/ a valid session
passes too, and the sign-in form, which has neither yet, is held to a small cap.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import cookie_parser

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

BODY_METHODS = {"POST", "PUT", "PATCH"}


class BodyGuard:
    def __init__(
        self,
        app: ASGIApp,
        token_is_valid: Callable[[str], bool],
        default_cap: int,
        caps: dict[str, int],
        session_is_valid: Callable[[str], bool] | None = None,
        session_cookie: str = "",
        public: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.token_is_valid = token_is_valid
        self.default_cap = default_cap
        self.caps = caps  # path prefix -> largest body
        self.session_is_valid = session_is_valid  # a page session's cookie value -> valid
        self.session_cookie = session_cookie
        self.public = public or {}  # exact path -> largest body, posted with no credentials

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path = scope["path"]
        scheme, _, token = headers.get("authorization", "").partition(" ")
        cookie = cookie_parser(headers.get("cookie", "")).get(self.session_cookie, "")
        page = not path.startswith("/api/")
        if path in self.public:
            pass
        elif scheme.lower() == "bearer" and token:
            if not await run_in_threadpool(self.token_is_valid, token.strip()):
                await _answer(send, 401, "unauthenticated", "unknown or revoked token")
                return
        elif page and cookie and self.session_is_valid is not None:
            if not await run_in_threadpool(self.session_is_valid, cookie):
                await _sign_in(send)
                return
        else:
            if page and self.session_is_valid is not None:
                await _sign_in(send)
            else:
                await _answer(send, 401, "unauthenticated", "send 'Authorization: Bearer <token>'")
            return
        cap = self.public.get(path) or next(
            (c for p, c in self.caps.items() if path.startswith(p)), self.default_cap
        )
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > cap:
            await _answer(send, 413, "upload_too_large", f"the request is larger than {cap}")
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > cap:
                await _answer(send, 413, "upload_too_large", f"the request is larger than {cap}")
                return
            if not message.get("more_body", False):
                break
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()  # a disconnect, when the client goes
            delivered = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)


async def _sign_in(send: Send) -> None:
    """A page's form posted with no live session (it expired, the token was revoked)."""
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [(b"location", b"/signin"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": b""})


async def _answer(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"code": code, "message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})
