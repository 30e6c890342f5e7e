"""Pages a browser opens: the index, signing in and out, a project's report. (A
student's and staff's own pages: student_pages.py, staff_pages.py; a challenge's and its
leaderboards': challenge_pages.py.)"""

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select, update

from grader.reproduce.report import to_html
from grader.service.accounts import hash_token
from grader.service.db import TokenRow, session_scope
from grader.service.deps import BrowserUser, Ctx, FormUser, MaybePageUser, Services
from grader.service.errors import ERRORS
from grader.service.submissions import ServiceError
from grader.service.web import (
    SESSION_COOKIE,
    SESSION_MAX_AGE_S,
    SIGNIN_COOKIE,
    SIGNIN_MAX_AGE_S,
    csrf_ok,
    csrf_token,
    issue_session,
    read_session,
    render,
    safe_next,
    session_key,
    set_cookie,
)

router = APIRouter(responses=ERRORS)


@router.get("/", include_in_schema=False, response_class=HTMLResponse)
def index(request: Request, viewer: MaybePageUser) -> HTMLResponse:
    return render(request, "index.html.j2", server=str(request.base_url).rstrip("/"))


@router.get("/signin", include_in_schema=False, response_class=HTMLResponse)
def signin_form(
    ctx: Ctx,
    request: Request,
    viewer: MaybePageUser,
    next: Annotated[str, Query(max_length=500)] = "/me",
) -> Response:
    if viewer is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _signin_page(ctx, request, safe_next(next))


def _signin_page(
    ctx: Services, request: Request, next_page: str, error: str = "", status: int = 200
) -> HTMLResponse:
    """The form, its CSRF token bound to a fresh nonce cookie (so another site cannot sign
    a browser in as someone else)."""
    nonce = secrets.token_urlsafe(18)
    page = render(
        request,
        "signin.html.j2",
        status,
        signin_csrf=csrf_token(session_key(ctx.settings), nonce),
        next=next_page,
        error=error,
    )
    set_cookie(request, page, SIGNIN_COOKIE, nonce, SIGNIN_MAX_AGE_S)
    return page


@router.post("/signin", include_in_schema=False, response_class=HTMLResponse)
def signin(
    ctx: Ctx,
    request: Request,
    token: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form(alias="csrf_token", max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "/me",
) -> Response:
    key = session_key(ctx.settings)
    back = safe_next(next)
    if not csrf_ok(key, request.cookies.get(SIGNIN_COOKIE), csrf):
        return _signin_page(ctx, request, back, "The form expired; sign in again.", 403)
    with session_scope(ctx.url) as session:
        row = session.scalar(
            select(TokenRow).where(
                TokenRow.token_hash == hash_token(token.strip()), TokenRow.revoked_at.is_(None)
            )
        )
        current = None if row is None else (row.id, row.session_epoch)
    if current is None:
        return _signin_page(ctx, request, back, "Unknown or revoked token.", 401)
    page = RedirectResponse(back, status_code=303)
    set_cookie(request, page, SESSION_COOKIE, issue_session(key, *current), SESSION_MAX_AGE_S)
    page.delete_cookie(SIGNIN_COOKIE, path="/")
    return page


@router.post("/signout", include_in_schema=False)
def signout(ctx: Ctx, request: Request, user: FormUser) -> Response:
    """Ends every page session of this token, not only this browser's cookie: the token's
    epoch moves on, so a copy of the cookie (another tab, a shared machine) is refused."""
    session = read_session(session_key(ctx.settings), request.cookies.get(SESSION_COOKIE))
    if session is not None:  # FormUser has checked it; read again for its token and epoch
        with session_scope(ctx.url) as db:
            db.execute(
                update(TokenRow)
                .where(TokenRow.id == session.token_id, TokenRow.session_epoch == session.epoch)
                .values(session_epoch=TokenRow.session_epoch + 1)
            )
    page = RedirectResponse("/signin", status_code=303)
    page.delete_cookie(SESSION_COOKIE, path="/")
    return page


@router.get(
    "/api/v1/submissions/{submission_id}/report.html",
    tags=["reproduce"],
    response_class=HTMLResponse,
)
def project_report(ctx: Ctx, user: BrowserUser, submission_id: str) -> HTMLResponse:
    """A reproducibility report, for the CLI (bearer) or a signed-in browser (cookie)."""
    detail = ctx.detail(user, submission_id)
    if detail.reproduce_report is None:
        raise ServiceError(409, "no_report", f"submission {submission_id} has no report yet")
    # A student's own results: no browser or proxy keeps a copy (as every page).
    return HTMLResponse(to_html(detail.reproduce_report), headers={"cache-control": "no-store"})
