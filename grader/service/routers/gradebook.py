"""Course staff: per-student extensions and the gradebook of an assignment: the API (JSON,
and the CSV Canvas imports) and the staff page that shows and edits the same."""

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi import Path as FastAPIPath
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from grader.grading.specs import Assignment
from grader.service import extensions
from grader.service.accounts import has_role
from grader.service.db import session_scope
from grader.service.deps import TA, BrowserUser, Ctx, FormTA, PageTA
from grader.service.errors import ERRORS
from grader.service.gradebook import build_gradebook, to_canvas_csv
from grader.service.submissions import ServiceError
from grader.service.web import PageError, render
from submissions_schema import Counts, Extension, ExtensionGrant, Gradebook, Role

router = APIRouter(responses=ERRORS)
API = "/api/v1/admin/assignments"

UserName = Annotated[str, FastAPIPath(min_length=1, max_length=200)]
Missing = Annotated[str, Query(pattern="^(empty|zero)$")]


class Done(StrEnum):
    """What a staff page's form did, said back on the gradebook page by its template."""

    granted = "granted"
    revoked = "revoked"


@router.get(API + "/{name}/extensions", tags=["gradebook"])
def list_extensions(ctx: Ctx, ta: TA, name: str) -> list[Extension]:
    ctx.assignment(name)
    with session_scope(ctx.url) as session:
        return extensions.for_assignment(session, name)


@router.get(API + "/{name}/extensions/{user}", tags=["gradebook"])
def get_extension(ctx: Ctx, ta: TA, name: str, user: UserName) -> Extension:
    ctx.assignment(name)
    with session_scope(ctx.url) as session:
        return extensions.get(session, name, user)


@router.put(API + "/{name}/extensions/{user}", tags=["gradebook"])
def grant_extension(
    ctx: Ctx, ta: TA, name: str, user: UserName, asked: ExtensionGrant
) -> Extension:
    """Give one student their own due date and caps (fields left out keep the
    assignment's); replaces an earlier extension. Their submissions are re-judged."""
    spec = ctx.assignment(name)
    with session_scope(ctx.url) as session:
        return extensions.grant(session, spec, user, asked, ta.name)


@router.delete(API + "/{name}/extensions/{user}", tags=["gradebook"])
def revoke_extension(ctx: Ctx, ta: TA, name: str, user: UserName) -> Extension:
    spec = ctx.assignment(name)
    with session_scope(ctx.url) as session:
        return extensions.revoke(session, spec, user, ta.name)


@router.get(API + "/{name}/gradebook", tags=["gradebook"])
def gradebook(ctx: Ctx, ta: TA, name: str, counts: Counts | None = None) -> Gradebook:
    """A row per student: the score that counts (the policy's best or latest, or
    `counts`), best and latest, late penalty, extension, attempts."""
    return build_gradebook(ctx.url, ctx.assignment(name), counts)


@router.get(
    API + "/{name}/gradebook.csv",
    tags=["gradebook"],
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "Canvas's import format"}},
)
def gradebook_csv(
    ctx: Ctx,
    viewer: BrowserUser,
    name: str,
    counts: Counts | None = None,
    missing: Missing = "empty",
) -> Response:
    """The gradebook as Canvas's gradebook import takes it (docs/gradebook.md); `missing=zero`
    writes 0 for a student with nothing graded once their deadline has passed. A bearer
    token or the staff page's session: the page's download link is a plain link."""
    if not has_role(viewer, Role.ta):
        raise ServiceError(403, "forbidden", "this needs the ta role")
    book = build_gradebook(ctx.url, ctx.assignment(name), counts)
    return Response(
        to_canvas_csv(book, missing_as_zero=missing == "zero"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": attachment(f"{book.assignment}-gradebook.csv"),
            "Cache-Control": "no-store",
        },
    )


def attachment(filename: str) -> str:
    """A download's Content-Disposition for any name: an ASCII stand-in for old clients
    and the name itself percent-encoded as UTF-8 (RFC 6266 / RFC 5987), so a quote or a
    non-Latin-1 letter in an assignment's name can neither add a parameter nor fail."""
    plain = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"


# --- the staff page ------------------------------------------------------------------------


def _page_assignment(ctx: Ctx, name: str) -> Assignment:
    try:
        return ctx.assignment(name)
    except ServiceError as exc:
        raise PageError(exc.status, exc.message) from None


@router.get("/staff/gradebook/{name}", response_class=HTMLResponse, include_in_schema=False)
def gradebook_page(
    ctx: Ctx,
    request: Request,
    ta: PageTA,
    name: Annotated[str, FastAPIPath(max_length=100)],
    counts: Counts | None = None,
    user: Annotated[str | None, Query(max_length=200)] = None,
    done: Done | None = None,
) -> HTMLResponse:
    """The table, each student's extension with a form to grant, change or revoke it, and
    the CSV for Canvas behind a plain link (the session cookie is its credential)."""
    book = build_gradebook(ctx.url, _page_assignment(ctx, name), counts)
    query = {"counts": counts.value} if counts else {}
    # The message after a form is the template's own text, about a student of this
    # gradebook: a link cannot make the page say anything else.
    shown = done if user in {r.user for r in book.rows} else None
    return render(
        request,
        "gradebook.html.j2",
        book=book,
        chosen=user,
        done=shown.value if shown else None,
        csv_url=f"{API}/{book.assignment}/gradebook.csv"
        + (f"?{urlencode(query)}" if query else ""),
        zeros_url=f"{API}/{book.assignment}/gradebook.csv?"
        + urlencode({**query, "missing": "zero"}),
    )


def _optional_int(value: str, what: str) -> int | None:
    # ASCII digits only: str.isdigit() takes "²", which int() then refuses.
    if not value.strip():
        return None
    if not re.fullmatch(r"[0-9]+", value.strip()):
        raise PageError(422, f"{what} must be a whole number, not {value!r}.")
    return int(value)


def _due(value: str) -> datetime | None:
    """The form's date and time; the page says it is UTC, as every time here is."""
    if not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise PageError(422, f"The due date {value!r} is not a date and time.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _back(name: str, done: Done, user: str) -> RedirectResponse:
    query = urlencode({"done": done.value, "user": user})
    return RedirectResponse(f"/staff/gradebook/{name}?{query}", status_code=303)


FormText = Annotated[str, Form(max_length=100)]


@router.post("/staff/gradebook/{name}/extensions", include_in_schema=False)
def grant_from_page(
    ctx: Ctx,
    ta: FormTA,
    name: Annotated[str, FastAPIPath(max_length=100)],
    user: Annotated[str, Form(min_length=1, max_length=200)],
    due_at: FormText = "",
    late_days: FormText = "",
    max_total: FormText = "",
    max_per_day: FormText = "",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    spec = _page_assignment(ctx, name)
    try:
        asked = ExtensionGrant(
            due_at=_due(due_at),
            late_days=_optional_int(late_days, "Late days"),
            max_total=_optional_int(max_total, "Max total"),
            max_per_day=_optional_int(max_per_day, "Max per day"),
            reason=reason,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PageError(422, f"{where}: {first['msg']}") from None
    try:
        with session_scope(ctx.url) as session:
            extensions.grant(session, spec, user, asked, ta.name)
    except ServiceError as exc:
        raise PageError(exc.status, exc.message) from None
    return _back(spec.name, Done.granted, user)


@router.post("/staff/gradebook/{name}/extensions/{user}/revoke", include_in_schema=False)
def revoke_from_page(
    ctx: Ctx, ta: FormTA, name: Annotated[str, FastAPIPath(max_length=100)], user: UserName
) -> Response:
    spec = _page_assignment(ctx, name)
    try:
        with session_scope(ctx.url) as session:
            extensions.revoke(session, spec, user, ta.name)
    except ServiceError as exc:
        raise PageError(exc.status, exc.message) from None
    return _back(spec.name, Done.revoked, user)
