"""Reproducibility projects: a zip with claims.yaml, run and judged by a worker."""

from typing import Annotated

from fastapi import APIRouter, File, Header, UploadFile
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from grader.service.deps import Ctx, User, read_upload
from grader.service.errors import ERRORS

router = APIRouter(prefix="/api/v1", tags=["reproduce"], responses=ERRORS)


@router.post("/projects", status_code=201)
async def submit_project(
    ctx: Ctx,
    user: User,
    file: Annotated[UploadFile, File(description="the project as a .zip with claims.yaml")],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JSONResponse:
    data = await read_upload(file, ctx.settings.max_project_bytes)
    # Off the event loop: unpacking and parsing must never stall /healthz for others.
    submission, created = await run_in_threadpool(
        ctx.submissions.submit_project,
        user.id,
        file.filename or "project.zip",
        data,
        idempotency_key,
    )
    return JSONResponse(submission.model_dump(mode="json"), status_code=201 if created else 200)
