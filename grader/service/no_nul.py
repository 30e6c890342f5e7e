"""No NUL character reaches the database. PostgreSQL refuses one in any text (psycopg's
DataError: a 500) where SQLite stores it, so every route depends on this check first
(api.py): a path with one is a 404 (nothing here is named so), a query, form or JSON value
with one a 422, the same on either database; the API's JSON for /api/, a page elsewhere.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

from grader.service.submissions import ServiceError
from grader.service.web import PageError

NUL = "\0"


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


async def _body_holds_nul(request: Request) -> bool:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()  # parsed once: FastAPI reads the same cached form
        # A file's bytes are its own business; only the text fields reach the database.
        return any(_holds_nul(v) for _, v in form.multi_items() if not isinstance(v, UploadFile))
    if kind == "application/json":
        body = await request.body()
        if b"\\u0000" not in body:
            return False
        try:
            return _holds_nul(json.loads(body))
        except ValueError:
            return False  # not JSON: the route's own validation says so
    return False


async def refuse_nul(request: Request) -> None:
    api = request.scope["path"].startswith("/api/")
    if NUL in request.scope["path"]:
        if api:
            raise ServiceError(404, "not_found", "no such resource")
        raise PageError(404, "There is nothing here.")
    if any(_holds_nul(v) for _, v in request.query_params.multi_items()) or (
        request.method in ("POST", "PUT", "PATCH") and await _body_holds_nul(request)
    ):
        if api:
            raise ServiceError(422, "invalid_request", "a value holds a NUL character")
        raise PageError(422, "A field holds a NUL character, which nothing here takes.")
