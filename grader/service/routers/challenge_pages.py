"""A challenge's pages: its overview, and each phase-split's leaderboard, in the site's
layout. The leaderboard page embeds the JSON the API returns and renders its table from
the same entries. A bearer token (the CLI) or the page session says who is reading:
hosts see hidden splits and scores, a team its own rows where the split says so.

(No `from __future__ import annotations`: FastAPI reads the aliases as objects.)
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from grader.challenges.bundle import templates
from grader.challenges.page import render_challenge, render_leaderboard
from grader.service.accounts import has_role
from grader.service.db import UserRow
from grader.service.deps import Credentials, Ctx, current_user, page_viewer
from grader.service.errors import ERRORS
from grader.service.submissions import ServiceError
from grader.service.web import TEMPLATES, PageError
from submissions_schema import Role

router = APIRouter(responses=ERRORS)


def reader(ctx: Ctx, request: Request, credentials: Credentials) -> UserRow | None:
    """A bearer token when one is sent (the CLI's --html), else the signed-in browser."""
    if credentials is not None:
        return current_user(ctx, credentials)
    return page_viewer(ctx, request)


Reader = Annotated[UserRow | None, Depends(reader)]


def site(request: Request) -> dict[str, Any]:
    """What the site layout (grader/service/templates/base.html.j2) needs around a page."""
    return {
        "layout": TEMPLATES.get_template("base.html.j2"),
        "viewer": getattr(request.state, "page_user", None),
        "csrf": getattr(request.state, "csrf", ""),
        "path": request.url.path,
    }


def _leaderboard_html(
    ctx: Ctx,
    request: Request,
    viewer: UserRow | None,
    name: str,
    phase: str,
    split: str,
    order_by: str | None,
) -> HTMLResponse:
    entries, updated = ctx.leaderboard(name, phase, split, viewer, order_by)
    challenge = ctx.challenges.challenge(name)
    phase_split = challenge.phase_split(phase, split)
    host = viewer is not None and has_role(viewer, Role.ta)
    html = render_leaderboard(
        challenge,
        phase_split,
        entries,
        updated,
        order_by,
        scores_shown=host or phase_split.show_scores_on_leaderboard,
        **site(request),
    )
    return HTMLResponse(html, headers={"cache-control": "no-store"})


@router.get("/challenges/{name}", include_in_schema=False, response_class=HTMLResponse)
def challenge_page(ctx: Ctx, request: Request, viewer: Reader, name: str) -> HTMLResponse:
    try:
        challenge = ctx.challenges.challenge(name)
    except ServiceError as exc:
        raise PageError(exc.status, exc.message) from None
    texts = templates(challenge, ctx.settings.data_dir)  # a bundle's HTML, sanitised there
    html = render_challenge(ctx.challenges.visible(challenge, viewer), texts, **site(request))
    return HTMLResponse(html, headers={"cache-control": "no-store"})


@router.get(
    "/challenges/{name}/{phase}/{split}", include_in_schema=False, response_class=HTMLResponse
)
def leaderboard_page(
    ctx: Ctx,
    request: Request,
    viewer: Reader,
    name: str,
    phase: str,
    split: str,
    order_by: Annotated[str | None, Query(max_length=100)] = None,
) -> HTMLResponse:
    try:
        return _leaderboard_html(ctx, request, viewer, name, phase, split, order_by)
    except ServiceError as exc:
        raise PageError(exc.status, exc.message) from None


@router.get(
    "/api/v1/challenges/{name}/leaderboard.html",
    tags=["challenges"],
    response_class=HTMLResponse,
)
def leaderboard_html(
    ctx: Ctx,
    request: Request,
    viewer: Reader,
    name: str,
    phase: Annotated[str, Query(max_length=100)],
    split: Annotated[str, Query(max_length=100)],
    order_by: Annotated[str | None, Query(max_length=100)] = None,
) -> HTMLResponse:
    """The leaderboard page (as /challenges/{name}/{phase}/{split}), errors as the API's."""
    return _leaderboard_html(ctx, request, viewer, name, phase, split, order_by)
