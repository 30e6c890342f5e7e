"""Challenges: their list and data, team submissions, the EvalAI-shaped leaderboard."""

from typing import Annotated

from fastapi import APIRouter, File, Form, Header, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from grader.service.deps import Ctx, MaybeUser, User, read_upload
from grader.service.errors import ERRORS
from submissions_schema import Submission
from submissions_schema.challenges import ChallengeInfo, LeaderboardPage

router = APIRouter(prefix="/api/v1/challenges", tags=["challenges"], responses=ERRORS)


@router.get("")
def list_challenges(ctx: Ctx, viewer: MaybeUser) -> list[ChallengeInfo]:
    """Every challenge, with the phases the caller may see (staff: all of them)."""
    shown = [ctx.challenges.visible(c, viewer) for c in ctx.challenges.challenges.values()]
    return [
        ChallengeInfo(name=c.name, title=c.title, phases=c.phases, dataset_splits=c.dataset_splits)
        for c in shown
    ]


@router.get(
    "/{name}/data/{split}",
    responses={200: {"content": {"application/octet-stream": {}}}},
    response_class=Response,
)
def challenge_data(ctx: Ctx, name: str, split: str) -> Response:
    """A split's images as .npz (`x`; the train split's labels as `y`). The labels of
    every evaluated split stay with the host."""
    return Response(
        ctx.challenges.split_inputs(name, split),
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{name}-{split}.npz"'},
    )


@router.post("/{name}/submissions", status_code=201)
async def challenge_submit(
    ctx: Ctx,
    user: User,
    name: str,
    file: Annotated[UploadFile, File(description="predictions (.csv, .json) or model.py")],
    phase: Annotated[str, Form(max_length=100)],
    method_name: Annotated[str, Form(max_length=200)] = "",
    is_public: Annotated[
        bool | None, Form(description="unset: the phase's is_submission_public")
    ] = None,
    submission_metadata: Annotated[
        str | None,
        Form(
            max_length=64 << 10,
            description="a JSON object answering the phase's submission_meta_attributes",
        ),
    ] = None,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JSONResponse:
    limit = max(ctx.settings.max_predictions_bytes, ctx.settings.max_model_bytes)
    data = await read_upload(file, limit)
    submission, created = await run_in_threadpool(
        ctx.challenges.submit,
        user,
        name,
        phase,
        file.filename or "upload",
        data,
        method_name,
        is_public,
        idempotency_key,
        submission_metadata,
    )
    return JSONResponse(submission.model_dump(mode="json"), status_code=201 if created else 200)


@router.post("/{name}/submissions/{submission_id}/select")
def challenge_select(ctx: Ctx, user: User, name: str, submission_id: str) -> Submission:
    return ctx.challenges.select(user, submission_id)


@router.get("/{name}/leaderboard")
def leaderboard(
    ctx: Ctx,
    request: Request,
    viewer: MaybeUser,
    name: str,
    phase: Annotated[str, Query(max_length=100)],
    split: Annotated[str, Query(max_length=100)],
    order_by: Annotated[str | None, Query(max_length=100)] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> LeaderboardPage:
    entries, _ = ctx.leaderboard(name, phase, split, viewer, order_by)
    start = (page - 1) * page_size

    def link(p: int) -> str:
        return str(request.url.include_query_params(page=p, page_size=page_size))

    return LeaderboardPage(
        count=len(entries),
        next=link(page + 1) if start + page_size < len(entries) else None,
        previous=link(page - 1) if page > 1 else None,
        results=entries[start : start + page_size],
    )
