"""Pages a browser opens: the index, a project's report, a leaderboard."""

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from grader.challenges.page import render_leaderboard
from grader.reproduce.report import to_html
from grader.service.deps import Ctx, MaybeUser, User
from grader.service.errors import ERRORS
from grader.service.submissions import ServiceError

router = APIRouter(responses=ERRORS)

INDEX_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dlgrader</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em}
code{background:#f3f3f3;padding:0 .3em}</style></head><body>
<h1>dlgrader</h1>
<p>An autograder for deep-learning courses. This server speaks an HTTP API; students and
staff use it with the <code>dlgrader</code> command line:</p>
<pre><code>dlgrader login --server URL-OF-THIS-PAGE --token YOUR-TOKEN
dlgrader submit layers.py -a cnn-layers --wait</code></pre>
<ul>
<li><a href="/docs">API documentation</a> (Swagger UI) or <a href="/redoc">ReDoc</a></li>
<li><a href="/openapi.json">OpenAPI schema</a></li>
<li><a href="/readyz">readiness</a> and <a href="/metrics">metrics</a></li>
</ul></body></html>
"""


@router.get("/", include_in_schema=False, response_class=HTMLResponse)
def index() -> HTMLResponse:
    return HTMLResponse(INDEX_PAGE)


@router.get(
    "/api/v1/submissions/{submission_id}/report.html",
    tags=["reproduce"],
    response_class=HTMLResponse,
)
def project_report(ctx: Ctx, user: User, submission_id: str) -> HTMLResponse:
    detail = ctx.detail(user, submission_id)
    if detail.reproduce_report is None:
        raise ServiceError(409, "no_report", f"submission {submission_id} has no report yet")
    return HTMLResponse(to_html(detail.reproduce_report))


@router.get(
    "/api/v1/challenges/{name}/leaderboard.html",
    tags=["challenges"],
    response_class=HTMLResponse,
)
def leaderboard_page(
    ctx: Ctx,
    viewer: MaybeUser,
    name: str,
    phase: Annotated[str, Query(max_length=100)],
    split: Annotated[str, Query(max_length=100)],
    order_by: Annotated[str | None, Query(max_length=100)] = None,
) -> HTMLResponse:
    entries, updated = ctx.leaderboard(name, phase, split, viewer, order_by)
    challenge = ctx.challenges.challenge(name)
    html = render_leaderboard(
        challenge, challenge.phase_split(phase, split), entries, updated, order_by
    )
    return HTMLResponse(html)
