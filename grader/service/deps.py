"""What every route depends on, in one place: the service objects, who is asking, and
uploads read to one limit.

(No `from __future__ import annotations`: FastAPI reads these aliases as objects.)
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Form, Request, UploadFile
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from grader.grading.course import known_assignments
from grader.grading.specs import Assignment
from grader.service.accounts import has_role, user_for_token
from grader.service.challenges import ChallengeService
from grader.service.db import TokenRow, UserRow, session_scope
from grader.service.queue import Dispatcher
from grader.service.submissions import ServiceError, SubmissionService
from grader.service.web import (
    SESSION_COOKIE,
    PageError,
    SignInRequired,
    csrf_ok,
    csrf_token,
    read_session,
    session_key,
    wants_html,
)
from grader.settings import Settings
from submissions_schema import Role, SubmissionDetail
from submissions_schema.challenges import LeaderboardEntry


@dataclass(frozen=True)
class Services:
    """What `create_app` builds once and every route shares (as `app.state.services`)."""

    settings: Settings
    url: str
    dispatcher: Dispatcher
    submissions: SubmissionService
    challenges: ChallengeService
    fixed_assignments: dict[str, Assignment] | None = None  # tests pin theirs

    @property
    def assignments(self) -> dict[str, Assignment]:
        """The built-in, the course folder's and the pushed assignments, read afresh: a
        push is graded from the next submission on."""
        if self.fixed_assignments is not None:
            return self.fixed_assignments
        return known_assignments(self.settings.course_dir, self.settings.data_dir)

    def assignment(self, name: str) -> Assignment:
        if name not in self.assignments:
            raise ServiceError(404, "unknown_assignment", f"no assignment {name!r}")
        return self.assignments[name]

    def detail(self, viewer: UserRow, submission_id: str) -> SubmissionDetail:
        """A submission as `viewer` may see it (hidden details and host-only scores
        redacted until their time)."""
        with session_scope(self.url) as session:
            row = self.submissions.visible_row(session, viewer, submission_id)
            spec = self.assignments.get(row.assignment)
        detail = self.submissions.detail(viewer, submission_id, spec)
        return self.challenges.redact(detail, viewer)

    def leaderboard(
        self, name: str, phase: str, split: str, viewer: UserRow | None, order_by: str | None
    ) -> tuple[list[LeaderboardEntry], datetime]:
        entries, updated = self.challenges.leaderboard(name, phase, split, viewer, order_by)
        return entries, updated or datetime.now(UTC)


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


Ctx = Annotated[Services, Depends(services)]
bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def current_user(ctx: Ctx, credentials: Credentials) -> UserRow:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ServiceError(401, "unauthenticated", "send 'Authorization: Bearer <token>'")
    with session_scope(ctx.url) as session:
        user = user_for_token(session, credentials.credentials)
        if user is None:
            raise ServiceError(401, "unauthenticated", "unknown or revoked token")
        session.expunge(user)
        return user


def optional_user(ctx: Ctx, credentials: Credentials) -> UserRow | None:
    """Public pages need no token; a token shows what its holder may see."""
    return None if credentials is None else current_user(ctx, credentials)


def _require(role: Role) -> Any:
    def check(user: Annotated[UserRow, Depends(current_user)]) -> UserRow:
        if not has_role(user, role):
            raise ServiceError(403, "forbidden", f"this needs the {role.value} role")
        return user

    return Depends(check)


User = Annotated[UserRow, Depends(current_user)]
MaybeUser = Annotated[UserRow | None, Depends(optional_user)]
TA = Annotated[UserRow, _require(Role.ta)]
Admin = Annotated[UserRow, _require(Role.admin)]


# Pages: a signed session cookie instead of a bearer token (web.py). The API never reads
# the cookie, so a page's session cannot be replayed against it cross-site; only the GET
# requests a browser follows from a page (a report, the gradebook CSV) take it, through
# `BrowserUser`.


def session_token_user(ctx: Services, cookie: str | None) -> tuple[UserRow, str] | None:
    """The user a session cookie signs in, and the cookie, while its token is unrevoked
    and not signed out since."""
    session = read_session(session_key(ctx.settings), cookie)
    if session is None:
        return None
    with session_scope(ctx.url) as db:
        token = db.get(TokenRow, session.token_id)
        if token is None or token.revoked_at is not None or token.session_epoch != session.epoch:
            return None
        user = token.user
        db.expunge(user)
    return user, session.cookie


def _here(request: Request) -> str:
    """This page's path and query: where signing in comes back to."""
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def page_viewer(ctx: Ctx, request: Request) -> UserRow | None:
    """Who is signed in, if anyone; what the page templates show (`request.state`)."""
    found = session_token_user(ctx, request.cookies.get(SESSION_COOKIE))
    if found is None:
        return None
    user, cookie = found
    request.state.page_user = user
    request.state.csrf = csrf_token(session_key(ctx.settings), cookie)
    return user


def page_user(request: Request, viewer: Annotated[UserRow | None, Depends(page_viewer)]) -> UserRow:
    if viewer is None:
        raise SignInRequired(_here(request))
    return viewer


def page_ta(user: Annotated[UserRow, Depends(page_user)]) -> UserRow:
    if not has_role(user, Role.ta):
        raise PageError(403, "This page is for course staff.")
    return user


def form_checked(
    ctx: Ctx,
    request: Request,
    posted: Annotated[str, Form(alias="csrf_token", max_length=200)] = "",
) -> None:
    """A POSTed form carries the CSRF token of the session that posts it."""
    if not csrf_ok(session_key(ctx.settings), request.cookies.get(SESSION_COOKIE), posted):
        raise PageError(403, "This form has expired or came from another site; reload the page.")


def form_user(
    user: Annotated[UserRow, Depends(page_user)], _: Annotated[None, Depends(form_checked)]
) -> UserRow:
    return user


def form_ta(
    user: Annotated[UserRow, Depends(page_ta)], _: Annotated[None, Depends(form_checked)]
) -> UserRow:
    return user


def browser_user(ctx: Ctx, request: Request, credentials: Credentials) -> UserRow:
    """A bearer token if one is sent (the CLI), else the page session (a browser following
    a link): for GET routes that return a page."""
    if credentials is not None:
        return current_user(ctx, credentials)
    viewer = page_viewer(ctx, request)
    if viewer is None:
        if wants_html(request):  # a browser whose session expired: sign in, then back
            raise SignInRequired(_here(request))
        raise ServiceError(
            401, "unauthenticated", "send 'Authorization: Bearer <token>', or sign in"
        )
    return viewer


MaybePageUser = Annotated[UserRow | None, Depends(page_viewer)]
PageUser = Annotated[UserRow, Depends(page_user)]
PageTA = Annotated[UserRow, Depends(page_ta)]
# A POST form: the signed-in user (or staff) and a checked CSRF token.
FormUser = Annotated[UserRow, Depends(form_user)]
FormTA = Annotated[UserRow, Depends(form_ta)]
BrowserUser = Annotated[UserRow, Depends(browser_user)]


async def read_upload(file: UploadFile, limit: int) -> bytes:
    """At most limit + 1 bytes, so the size check downstream sees an oversized upload as
    one (the body guard has already held the whole request to its route's cap)."""
    return await file.read(limit + 1)
