"""What every route depends on, in one place: the service objects, who is asking, and
uploads read to one limit.

(No `from __future__ import annotations`: FastAPI reads these aliases as objects.)
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request, UploadFile
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from grader.grading.course import known_assignments
from grader.grading.specs import Assignment
from grader.service.accounts import has_role, user_for_token
from grader.service.challenges import ChallengeService
from grader.service.db import UserRow, session_scope
from grader.service.queue import Dispatcher
from grader.service.submissions import ServiceError, SubmissionService
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


async def read_upload(file: UploadFile, limit: int) -> bytes:
    """At most limit + 1 bytes, so the size check downstream sees an oversized upload as
    one (the body guard has already held the whole request to its route's cap)."""
    return await file.read(limit + 1)
