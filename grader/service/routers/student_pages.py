"""A student's pages: their submissions per assignment, one submission's result, and the
leaderboards. Everything shown comes through the same service calls as the API (so the
same visibility rules: `Services.detail` redacts, `list_for` keeps to one's own)."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from grader.grading.result_table import COLUMNS, result_rows, total_line
from grader.service.deps import Ctx, MaybePageUser, PageUser
from grader.service.submissions import ServiceError
from grader.service.web import PageError, render
from submissions_schema import ACTIVE_STATUSES, Submission

router = APIRouter(include_in_schema=False)

LIVE_REFRESH_S = 3  # while something is in flight, the page reloads itself this often


@router.get("/me", response_class=HTMLResponse)
def my_submissions(ctx: Ctx, request: Request, user: PageUser) -> HTMLResponse:
    mine = ctx.submissions.list_for(user, owner=user.name, limit=1000)
    by_assignment: dict[str, list[Submission]] = defaultdict(list)
    for submission in mine:
        by_assignment[submission.assignment].append(submission)
    groups = []
    for name, rows in sorted(by_assignment.items()):
        spec = ctx.assignments.get(name) or ctx.challenges.challenges.get(name)
        scores = [r.score for r in rows if r.score is not None]
        groups.append(
            {
                "name": name,
                "title": spec.title if spec is not None else name,
                "rows": rows,
                "best": max(scores) if scores else None,
                "max_score": next((r.max_score for r in rows if r.max_score is not None), None),
            }
        )
    live = any(s.status in ACTIVE_STATUSES for s in mine)
    return render(
        request,
        "me.html.j2",
        groups=groups,
        live=live,
        refresh_s=LIVE_REFRESH_S,
        assignments=sorted(ctx.assignments.values(), key=lambda a: a.name),
    )


@router.get("/submissions/{submission_id}", response_class=HTMLResponse)
def submission_page(
    ctx: Ctx,
    request: Request,
    user: PageUser,
    submission_id: Annotated[str, Path(max_length=100)],
) -> HTMLResponse:
    try:
        detail = ctx.detail(user, submission_id)
    except ServiceError as exc:
        raise PageError(exc.status, exc.message) from None
    return render(
        request,
        "submission.html.j2",
        s=detail,
        columns=COLUMNS,
        rows=result_rows(detail.result) if detail.result is not None else [],
        total=total_line(detail.result) if detail.result is not None else "",
        live=detail.status in ACTIVE_STATUSES,
        refresh_s=LIVE_REFRESH_S,
    )


@router.get("/leaderboards", response_class=HTMLResponse)
def leaderboards(ctx: Ctx, request: Request, viewer: MaybePageUser) -> HTMLResponse:
    boards = []
    for listed in sorted(ctx.challenges.challenges.values(), key=lambda c: c.name):
        challenge = ctx.challenges.visible(listed, viewer)
        splits = {d.id: d for d in challenge.dataset_splits}
        phases = []
        for phase in challenge.phases:
            phase_splits = [
                splits[ps.dataset_split_id]
                for ps in challenge.phase_splits
                if ps.challenge_phase_id == phase.id
            ]
            phases.append({"phase": phase, "splits": phase_splits})
        boards.append({"challenge": challenge, "phases": phases})
    return render(request, "leaderboards.html.j2", boards=boards, leaderboard_url=leaderboard_url)


def leaderboard_url(challenge: str, phase: str, split: str) -> str:
    """One phase-split's leaderboard page (challenge_pages.py)."""
    return "/challenges/" + "/".join(quote(part, safe="") for part in (challenge, phase, split))
