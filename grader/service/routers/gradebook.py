"""Course staff: per-student extensions and the gradebook of an assignment (JSON, and the
CSV Canvas imports)."""

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as FastAPIPath
from fastapi.responses import Response

from grader.service import extensions
from grader.service.db import session_scope
from grader.service.deps import TA, Ctx
from grader.service.errors import ERRORS
from grader.service.gradebook import build_gradebook, to_canvas_csv
from submissions_schema import Counts, Extension, ExtensionGrant, Gradebook

router = APIRouter(prefix="/api/v1/admin/assignments", tags=["gradebook"], responses=ERRORS)

UserName = Annotated[str, FastAPIPath(min_length=1, max_length=200)]


@router.get("/{name}/extensions")
def list_extensions(ctx: Ctx, ta: TA, name: str) -> list[Extension]:
    ctx.assignment(name)
    with session_scope(ctx.url) as session:
        return extensions.for_assignment(session, name)


@router.get("/{name}/extensions/{user}")
def get_extension(ctx: Ctx, ta: TA, name: str, user: UserName) -> Extension:
    ctx.assignment(name)
    with session_scope(ctx.url) as session:
        return extensions.get(session, name, user)


@router.put("/{name}/extensions/{user}")
def grant_extension(
    ctx: Ctx, ta: TA, name: str, user: UserName, asked: ExtensionGrant
) -> Extension:
    """Give one student their own due date and caps (fields left out keep the
    assignment's); replaces an earlier extension. Their submissions are re-judged."""
    spec = ctx.assignment(name)
    with session_scope(ctx.url) as session:
        return extensions.grant(session, spec, user, asked, ta.name)


@router.delete("/{name}/extensions/{user}")
def revoke_extension(ctx: Ctx, ta: TA, name: str, user: UserName) -> Extension:
    spec = ctx.assignment(name)
    with session_scope(ctx.url) as session:
        return extensions.revoke(session, spec, user, ta.name)


@router.get("/{name}/gradebook")
def gradebook(ctx: Ctx, ta: TA, name: str, counts: Counts | None = None) -> Gradebook:
    """A row per student: the score that counts (the policy's best or latest, or
    `counts`), best and latest, late penalty, extension, attempts."""
    return build_gradebook(ctx.url, ctx.assignment(name), counts)


@router.get(
    "/{name}/gradebook.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "Canvas's import format"}},
)
def gradebook_csv(
    ctx: Ctx,
    ta: TA,
    name: str,
    counts: Counts | None = None,
    missing: Annotated[str, Query(pattern="^(empty|zero)$")] = "empty",
) -> Response:
    """The gradebook as Canvas's gradebook import takes it (docs/gradebook.md); `missing=zero`
    writes 0 for a student with nothing graded once their deadline has passed."""
    book = build_gradebook(ctx.url, ctx.assignment(name), counts)
    return Response(
        to_canvas_csv(book, missing_as_zero=missing == "zero"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}-gradebook.csv"'},
    )
