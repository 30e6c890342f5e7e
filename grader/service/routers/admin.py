"""Course staff: assignment pushes, regrades, tokens, stuck submissions, challenge marks."""

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile
from fastapi import Path as FastAPIPath
from starlette.concurrency import run_in_threadpool

from grader.service.accounts import USER_NAME, create_token, list_tokens, revoke_token
from grader.service.assignments import push_assignment
from grader.service.db import session_scope
from grader.service.deps import TA, Admin, Ctx, read_upload
from grader.service.errors import ERRORS
from grader.service.lifecycle import stuck_submissions
from grader.service.regrades import assignment_submissions, regrade_with_summary
from grader.service.submissions import ServiceError
from submissions_schema import (
    AssignmentPushed,
    RegradeSummary,
    Role,
    StuckSubmission,
    Submission,
    TokenCreated,
    TokenInfo,
)
from submissions_schema.challenges import ChallengeImported, TeamInfo

router = APIRouter(prefix="/api/v1/admin", tags=["admin"], responses=ERRORS)


@router.post("/submissions/{submission_id}/regrade")
def regrade_one(ctx: Ctx, ta: TA, submission_id: str) -> Submission:
    with session_scope(ctx.url) as session:
        ctx.submissions.visible_row(session, ta, submission_id)
    if not ctx.submissions.regrade([submission_id]):
        raise ServiceError(409, "not_regradable", "only graded or failed submissions are regraded")
    return ctx.submissions.get_model(submission_id)


@router.post("/assignments", status_code=201)
async def push(ctx: Ctx, ta: TA, file: Annotated[UploadFile, File()]) -> AssignmentPushed:
    """A new version of a course assignment: a zip of its folder (docs/authoring.md)."""
    data = await read_upload(file, ctx.settings.max_assignment_bytes)
    return await run_in_threadpool(push_assignment, ctx.settings, ctx.url, data)


@router.post("/challenges", status_code=201)
async def import_challenge(
    ctx: Ctx,
    ta: TA,
    file: Annotated[UploadFile, File(description="an EvalAI bundle, zipped")],
    name: Annotated[str | None, Query(max_length=100)] = None,
    wait_s: Annotated[float, Query(ge=0, le=3600)] = 0.0,
) -> ChallengeImported:
    """A new version of an EvalAI challenge bundle (docs/challenges.md); a re-import
    evaluates the challenge's submissions again and returns the leaderboards before and
    after (wait_s: how long to wait for them)."""
    data = await read_upload(file, ctx.settings.max_bundle_bytes)
    if not data:
        raise ServiceError(422, "empty_upload", "the upload is empty")

    def run() -> ChallengeImported:
        with tempfile.TemporaryDirectory(prefix="dlgrader-upload-") as tmp:
            path = Path(tmp) / "bundle.zip"
            path.write_bytes(data)
            return ctx.challenges.import_bundle(path, name, wait_s)

    return await run_in_threadpool(run)


@router.post("/assignments/{name}/regrade")
def regrade_all(
    ctx: Ctx,
    ta: TA,
    name: str,
    wait_s: Annotated[float, Query(ge=0, le=3600)] = 0.0,
) -> RegradeSummary:
    if name not in ctx.assignments and name not in ctx.challenges.challenges:
        raise ServiceError(404, "unknown_assignment", f"no assignment or challenge {name!r}")
    ids = assignment_submissions(ctx.submissions, name)
    return regrade_with_summary(ctx.submissions, name, ids, wait_s)


@router.post("/tokens", status_code=201)
def new_token(
    ctx: Ctx,
    admin: Admin,
    user: Annotated[str, Query(min_length=1, max_length=200, pattern=USER_NAME)],
    role: Role = Role.student,
) -> TokenCreated:
    with session_scope(ctx.url) as session:
        return create_token(session, user, role)


@router.get("/tokens")
def tokens(
    ctx: Ctx, admin: Admin, user: Annotated[str | None, Query(max_length=200)] = None
) -> list[TokenInfo]:
    with session_scope(ctx.url) as session:
        return list_tokens(session, user)


@router.delete("/tokens/{token_id}")
def revoke(
    ctx: Ctx, admin: Admin, token_id: Annotated[int, FastAPIPath(ge=1, le=2**31 - 1)]
) -> TokenInfo:
    with session_scope(ctx.url) as session:
        revoked = revoke_token(session, token_id)
    if revoked is None:
        raise ServiceError(404, "unknown_token", f"no token {token_id}")
    return revoked


@router.get("/stuck")
def stuck(ctx: Ctx, ta: TA) -> list[StuckSubmission]:
    """Submissions that waited or ran longer than their limits, with the reason."""
    return [
        StuckSubmission(id=i, why=why, attempts=attempts)
        for i, why, attempts in stuck_submissions(ctx.settings)
    ]


@router.patch("/challenges/{name}/submissions/{submission_id}")
def challenge_mark(
    ctx: Ctx,
    ta: TA,
    name: str,
    submission_id: str,
    is_baseline: bool | None = None,
    is_flagged: bool | None = None,
    is_public: bool | None = None,
) -> Submission:
    return ctx.challenges.mark(
        name, submission_id, is_baseline=is_baseline, is_flagged=is_flagged, is_public=is_public
    )


@router.post("/challenges/{name}/teams", status_code=201)
def create_team(
    ctx: Ctx,
    ta: TA,
    name: str,
    team: Annotated[str, Query(min_length=1, max_length=200)],
    members: Annotated[list[str], Query(min_length=1)],
) -> TeamInfo:
    return ctx.challenges.create_team(name, team, members)
