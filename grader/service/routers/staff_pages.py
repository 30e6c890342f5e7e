"""Course staff's page: stuck and failed jobs with their reasons, regrades with their
before/after summary, challenge phases and the flags of challenge submissions. The work
is the admin API's (regrades.py, lifecycle.py, ChallengeService.mark); this only shows it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select

from grader.service.db import SubmissionRow, UserRow, session_scope
from grader.service.deps import Ctx, FormTA, PageTA
from grader.service.lifecycle import stuck_submissions
from grader.service.regrades import assignment_submissions, regrade_with_summary
from grader.service.submissions import ServiceError
from grader.service.web import PageError, render
from submissions_schema import JobKind, SubmissionStatus

router = APIRouter(prefix="/staff", include_in_schema=False)

Name = Annotated[str, Path(min_length=1, max_length=100)]
SubmissionId = Annotated[str, Path(min_length=1, max_length=100)]
WaitS = Annotated[float, Form(ge=0, le=120)]
FLAGS = ("is_baseline", "is_flagged", "is_public")
LISTED = 200  # rows per table; the API lists the rest


def _row_facts(ids: list[str], url: str) -> dict[str, tuple[str, str]]:
    """id -> (owner, assignment), for the stuck list, which carries ids only."""
    if not ids:
        return {}
    with session_scope(url) as session:
        found = session.execute(
            select(SubmissionRow.id, UserRow.name, SubmissionRow.assignment)
            .join(UserRow, UserRow.id == SubmissionRow.user_id)
            .where(SubmissionRow.id.in_(ids))
        ).all()
    return {i: (owner, assignment) for i, owner, assignment in found}


@router.get("", response_class=HTMLResponse)
def staff_page(ctx: Ctx, request: Request, ta: PageTA) -> HTMLResponse:
    stuck = stuck_submissions(ctx.settings)
    facts = _row_facts([i for i, _, _ in stuck], ctx.url)
    challenge_names = set(ctx.challenges.challenges)
    with session_scope(ctx.url) as session:
        failed = session.execute(
            select(SubmissionRow, UserRow.name)
            .join(UserRow, UserRow.id == SubmissionRow.user_id)
            .where(SubmissionRow.status == SubmissionStatus.failed.value)
            .order_by(SubmissionRow.updated_at.desc())
            .limit(LISTED)
        ).all()
        counts = dict(
            session.execute(
                select(SubmissionRow.assignment, func.count()).group_by(SubmissionRow.assignment)
            ).all()
        )
        marked = session.execute(
            select(SubmissionRow, UserRow.name)
            .join(UserRow, UserRow.id == SubmissionRow.user_id)
            .where(SubmissionRow.kind == JobKind.challenge.value)
            .order_by(SubmissionRow.created_at.desc())
            .limit(LISTED)
        ).all()
        for row, _ in [*failed, *marked]:
            session.expunge(row)
    by_challenge: dict[str, list[tuple[SubmissionRow, str]]] = {n: [] for n in challenge_names}
    for row, owner in marked:
        by_challenge.setdefault(row.assignment, []).append((row, owner))
    return render(
        request,
        "staff.html.j2",
        stuck=[(i, why, attempts, *facts.get(i, ("?", "?"))) for i, why, attempts in stuck],
        failed=failed,
        assignments=sorted(ctx.assignments.values(), key=lambda a: a.name),
        counts=counts,
        challenges=sorted(ctx.challenges.challenges.values(), key=lambda c: c.name),
        by_challenge=by_challenge,
        flags=FLAGS,
    )


@router.post("/submissions/{submission_id}/regrade", response_class=HTMLResponse)
def regrade_one(
    ctx: Ctx, request: Request, ta: FormTA, submission_id: SubmissionId, wait_s: WaitS = 20.0
) -> HTMLResponse:
    try:
        with session_scope(ctx.url) as session:
            name = ctx.submissions.visible_row(session, ta, submission_id).assignment
    except ServiceError as exc:
        raise PageError(exc.status, exc.message) from None
    summary = regrade_with_summary(ctx.submissions, name, [submission_id], wait_s)
    return render(request, "regrade.html.j2", summary=summary, one=submission_id)


@router.post("/assignments/{name}/regrade", response_class=HTMLResponse)
def regrade_all(
    ctx: Ctx, request: Request, ta: FormTA, name: Name, wait_s: WaitS = 20.0
) -> HTMLResponse:
    if name not in ctx.assignments and name not in ctx.challenges.challenges:
        raise PageError(404, f"No assignment or challenge {name!r}.")
    ids = assignment_submissions(ctx.submissions, name)
    summary = regrade_with_summary(ctx.submissions, name, ids, wait_s)
    return render(request, "regrade.html.j2", summary=summary, one=None)


@router.post("/challenges/{name}/submissions/{submission_id}/flags")
def set_flag(
    ctx: Ctx,
    ta: FormTA,
    name: Name,
    submission_id: SubmissionId,
    flag: Annotated[str, Form(pattern="^(is_baseline|is_flagged|is_public)$")],
    value: Annotated[bool, Form()],
) -> Response:
    try:
        ctx.challenges.mark(name, submission_id, **{flag: value})
    except ServiceError as exc:
        raise PageError(exc.status, exc.message) from None
    return RedirectResponse(f"/staff#c-{name}", status_code=303)
