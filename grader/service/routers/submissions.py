"""Homework: the assignments, uploads, their status and results."""

from typing import Annotated

from fastapi import APIRouter, File, Form, Header, Query, UploadFile
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from grader.service.db import session_scope
from grader.service.deps import Ctx, User, read_upload
from grader.service.errors import ERRORS
from grader.service.submissions import ServiceError, effective_policy, extension_for
from submissions_schema import AssignmentInfo, GradingResult, Submission, SubmissionDetail

router = APIRouter(prefix="/api/v1", responses=ERRORS)


@router.get("/assignments", tags=["assignments"])
def list_assignments(ctx: Ctx, user: User) -> list[AssignmentInfo]:
    """Each assignment with the policy as it applies to the caller: a student with an
    extension sees their own due date and caps."""
    with session_scope(ctx.url) as session:
        return [
            AssignmentInfo(
                name=a.name,
                version=a.version,
                title=a.title,
                module=a.module,
                max_score=a.max_score,
                policy=effective_policy(a.policy, extension_for(session, user.id, a.name)),
            )
            for a in ctx.assignments.values()
        ]


@router.post("/submissions", tags=["submissions"], status_code=201)
async def submit(
    ctx: Ctx,
    user: User,
    file: Annotated[UploadFile, File(description="the module, or a .zip holding it")],
    assignment_name: Annotated[str, Form(alias="assignment")],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JSONResponse:
    spec = ctx.assignment(assignment_name)
    data = await read_upload(file, spec.policy.max_upload_bytes)
    submission, created = await run_in_threadpool(
        ctx.submissions.submit, user.id, spec, file.filename or "upload", data, idempotency_key
    )
    return JSONResponse(submission.model_dump(mode="json"), status_code=201 if created else 200)


@router.get("/submissions", tags=["submissions"])
def list_submissions(
    ctx: Ctx,
    user: User,
    assignment_name: Annotated[str | None, Query(alias="assignment", max_length=100)] = None,
    owner: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Submission]:
    return ctx.submissions.list_for(user, assignment_name, owner, limit)


@router.get("/submissions/{submission_id}", tags=["submissions"])
def get_submission(ctx: Ctx, user: User, submission_id: str) -> SubmissionDetail:
    return ctx.detail(user, submission_id)


@router.get("/submissions/{submission_id}/result", tags=["submissions"])
def get_result(ctx: Ctx, user: User, submission_id: str) -> GradingResult:
    detail = ctx.detail(user, submission_id)
    if detail.result is None:
        raise ServiceError(
            409, "not_graded", f"submission {submission_id} is {detail.status.value}"
        )
    return detail.result
