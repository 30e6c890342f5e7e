"""The HTTP API (FastAPI): uploads, status, results, regrades, tokens, health.

(No `from __future__ import annotations` here: FastAPI must see the dependency
aliases built inside `create_app` as objects, not strings.)

Every error is JSON `{code, message}` (`submissions_schema.ApiError`); no stack
trace leaves the server. Students see only their own submissions; TAs see all.
"""

import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, Header, Query, Request, UploadFile
from fastapi import Path as FastAPIPath
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from grader.challenges.page import render_leaderboard
from grader.reproduce.report import to_html
from grader.service.accounts import (
    create_token,
    has_role,
    list_tokens,
    revoke_token,
    user_for_token,
)
from grader.service.body_guard import BodyGuard
from grader.service.challenges import ChallengeService
from grader.service.db import SubmissionRow, UserRow, engine_for, session_scope
from grader.service.metrics import metrics_registry, render_metrics
from grader.service.migrate import migrate
from grader.service.queue import Dispatcher, InProcessDispatcher, dispatcher_from_settings
from grader.service.storage import BlobStore, StorageFull
from grader.service.submissions import ServiceError, SubmissionService
from grader.service.uploads import MAX_PROJECT_BYTES
from grader.settings import Settings
from grader.specs import Assignment, shipped_assignments
from submissions_schema import (
    FINAL_STATUSES,
    ApiError,
    AssignmentInfo,
    GradingResult,
    RegradeSummary,
    Role,
    ScoreChange,
    StuckSubmission,
    Submission,
    SubmissionDetail,
    TokenCreated,
    TokenInfo,
)
from submissions_schema.challenges import (
    Challenge,
    ChallengeInfo,
    LeaderboardEntry,
    LeaderboardPage,
    TeamInfo,
)

log = logging.getLogger(__name__)
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ApiError} for code in (400, 401, 403, 404, 409, 413, 422, 429, 503, 507)
}


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


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(ApiError(code=code, message=message).model_dump(), status_code=status)


def create_app(
    settings: Settings,
    dispatcher: Dispatcher | None = None,
    assignments: dict[str, Assignment] | None = None,
    challenges: dict[str, Challenge] | None = None,
) -> FastAPI:
    url = settings.resolved_database_url()
    dispatcher = dispatcher or dispatcher_from_settings(settings)
    service = SubmissionService(
        url, BlobStore(settings.blob_dir, settings.min_free_bytes), dispatcher
    )
    assignments = assignments if assignments is not None else shipped_assignments()
    stop = threading.Event()

    def reaper_loop() -> None:
        from workers.reaper import reap

        while not stop.wait(max(1.0, settings.stuck_margin_s / 4)):
            try:
                reap(settings, dispatcher)
            except Exception:
                log.exception("reaper pass failed")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        migrate(url)
        reaper = None
        if isinstance(dispatcher, InProcessDispatcher):  # embedded: the reaper lives here too
            reaper = threading.Thread(target=reaper_loop, name="reaper", daemon=True)
            reaper.start()
        yield
        stop.set()
        if isinstance(dispatcher, InProcessDispatcher):
            dispatcher.close()

    # Swagger UI and ReDoc from assets the package ships: the docs work without internet.
    app = FastAPIOffline(
        title="dlgrader",
        version="1",
        lifespan=lifespan,
        description="Autograder for deep-learning courses.",
    )
    bearer = HTTPBearer(auto_error=False)

    def token_is_valid(token: str) -> bool:
        with session_scope(url) as session:
            return user_for_token(session, token) is not None

    # Token and size are checked from the headers before any body is read (body_guard.py).
    app.add_middleware(
        BodyGuard,
        token_is_valid=token_is_valid,
        default_cap=settings.max_request_bytes,
        caps={"/api/v1/projects": MAX_PROJECT_BYTES + (1 << 20)},
    )

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
        return error(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", []))
        return error(422, "invalid_request", f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(StorageFull)
    async def _storage_full(request: Request, exc: StorageFull) -> JSONResponse:
        log.error("upload refused, storage full: %s", exc)
        return error(
            507,
            "storage_full",
            "the server's storage is full, so your upload was not stored and does not count; "
            "try again later, and tell the course staff",
        )

    @app.exception_handler(OperationalError)
    async def _db_down(request: Request, exc: OperationalError) -> JSONResponse:
        log.warning("database unavailable: %s", exc.orig)
        return error(503, "database_unavailable", "the database is unavailable; try again shortly")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error(500, "internal_error", "an internal error occurred; it has been logged")

    def current_user(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> UserRow:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise ServiceError(401, "unauthenticated", "send 'Authorization: Bearer <token>'")
        with session_scope(url) as session:
            user = user_for_token(session, credentials.credentials)
            if user is None:
                raise ServiceError(401, "unauthenticated", "unknown or revoked token")
            session.expunge(user)
            return user

    def require(role: Role) -> Any:
        def check(user: Annotated[UserRow, Depends(current_user)]) -> UserRow:
            if not has_role(user, role):
                raise ServiceError(403, "forbidden", f"this needs the {role.value} role")
            return user

        return Depends(check)

    User = Annotated[UserRow, Depends(current_user)]
    TA = Annotated[UserRow, require(Role.ta)]
    Admin = Annotated[UserRow, require(Role.admin)]

    def assignment(name: str) -> Any:
        if name not in assignments:
            raise ServiceError(404, "unknown_assignment", f"no assignment {name!r}")
        return assignments[name]

    @app.get("/", include_in_schema=False, response_class=HTMLResponse)
    def index() -> HTMLResponse:
        return HTMLResponse(INDEX_PAGE)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: {"model": ApiError}})
    def readyz() -> JSONResponse:
        try:
            with engine_for(url).connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            return error(503, "database_unavailable", "the database does not answer")
        if not dispatcher.ready():
            return error(503, "broker_unavailable", "the queue does not answer")
        return JSONResponse({"status": "ready"})

    registry = metrics_registry(settings)

    @app.get(
        "/metrics",
        tags=["health"],
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}}, 503: {"model": ApiError}},
    )
    def metrics() -> Response:
        """Prometheus text format; read from the database and the broker at each scrape."""
        return Response(render_metrics(registry), media_type="text/plain; version=0.0.4")

    @app.get("/api/v1/assignments", tags=["assignments"], responses=ERRORS)
    def list_assignments(user: User) -> list[AssignmentInfo]:
        return [
            AssignmentInfo(
                name=a.name,
                version=a.version,
                title=a.title,
                module=a.module,
                max_score=a.max_score,
                policy=a.policy,
            )
            for a in assignments.values()
        ]

    @app.post("/api/v1/submissions", tags=["submissions"], status_code=201, responses=ERRORS)
    async def submit(
        user: User,
        file: Annotated[UploadFile, File(description="the module, or a .zip holding it")],
        assignment_name: Annotated[str, Form(alias="assignment")],
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> JSONResponse:
        spec = assignment(assignment_name)
        data = await file.read(spec.policy.max_upload_bytes + 1)
        submission, created = await run_in_threadpool(
            service.submit, user.id, spec, file.filename or "upload", data, idempotency_key
        )
        return JSONResponse(submission.model_dump(mode="json"), status_code=201 if created else 200)

    @app.get("/api/v1/submissions", tags=["submissions"], responses=ERRORS)
    def list_submissions(
        user: User,
        assignment_name: Annotated[str | None, Query(alias="assignment", max_length=100)] = None,
        owner: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[Submission]:
        return service.list_for(user, assignment_name, owner, limit)

    @app.get("/api/v1/submissions/{submission_id}", tags=["submissions"], responses=ERRORS)
    def get_submission(user: User, submission_id: str) -> SubmissionDetail:
        with session_scope(url) as session:
            row = service.visible_row(session, user, submission_id)
            spec = assignments.get(row.assignment)
        return challenge_service.redact(service.detail(user, submission_id, spec), user)

    @app.get("/api/v1/submissions/{submission_id}/result", tags=["submissions"], responses=ERRORS)
    def get_result(user: User, submission_id: str) -> GradingResult:
        detail = get_submission(user, submission_id)
        if detail.result is None:
            raise ServiceError(
                409, "not_graded", f"submission {submission_id} is {detail.status.value}"
            )
        return detail.result

    @app.post("/api/v1/admin/submissions/{submission_id}/regrade", tags=["admin"], responses=ERRORS)
    def regrade_one(ta: TA, submission_id: str) -> Submission:
        with session_scope(url) as session:
            service.visible_row(session, ta, submission_id)
        if not service.regrade([submission_id]):
            raise ServiceError(
                409, "not_regradable", "only graded or failed submissions are regraded"
            )
        return service.get_model(submission_id)

    @app.post("/api/v1/admin/assignments/{name}/regrade", tags=["admin"], responses=ERRORS)
    def regrade_all(
        ta: TA,
        name: str,
        wait_s: Annotated[float, Query(ge=0, le=3600)] = 0.0,
    ) -> RegradeSummary:
        if name not in assignments and name not in challenge_service.challenges:
            raise ServiceError(404, "unknown_assignment", f"no assignment or challenge {name!r}")
        with session_scope(url) as session:
            ids = list(
                session.scalars(select(SubmissionRow.id).where(SubmissionRow.assignment == name))
            )
        before = service.previous_scores(ids)
        queued = service.regrade(ids)
        deadline = time.monotonic() + wait_s
        pending: set[str] = set(queued)
        while pending and time.monotonic() < deadline:
            time.sleep(0.2)
            pending = {i for i in pending if service.get_model(i).status not in FINAL_STATUSES}
        after = service.previous_scores(queued)
        changed = [
            ScoreChange(
                submission_id=i, owner=service.get_model(i).owner, before=before[i], after=after[i]
            )
            for i in queued
            if i not in pending and before[i] != after[i]
        ]
        return RegradeSummary(
            assignment=name,
            requested=len(queued),
            changed=changed,
            unchanged=len(queued) - len(pending) - len(changed),
            pending=sorted(pending),
        )

    @app.post("/api/v1/admin/tokens", tags=["admin"], status_code=201, responses=ERRORS)
    def new_token(
        admin: Admin,
        user: Annotated[str, Query(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.@-]+$")],
        role: Role = Role.student,
    ) -> TokenCreated:
        with session_scope(url) as session:
            return create_token(session, user, role)

    @app.get("/api/v1/admin/tokens", tags=["admin"], responses=ERRORS)
    def tokens(
        admin: Admin, user: Annotated[str | None, Query(max_length=200)] = None
    ) -> list[TokenInfo]:
        with session_scope(url) as session:
            return list_tokens(session, user)

    @app.delete("/api/v1/admin/tokens/{token_id}", tags=["admin"], responses=ERRORS)
    def revoke(
        admin: Admin, token_id: Annotated[int, FastAPIPath(ge=1, le=2**31 - 1)]
    ) -> TokenInfo:
        with session_scope(url) as session:
            revoked = revoke_token(session, token_id)
        if revoked is None:
            raise ServiceError(404, "unknown_token", f"no token {token_id}")
        return revoked

    @app.get("/api/v1/admin/stuck", tags=["admin"], responses=ERRORS)
    def stuck(ta: TA) -> list[StuckSubmission]:
        """Submissions that waited or ran longer than their limits, with the reason."""
        from workers.reaper import stuck_submissions

        return [
            StuckSubmission(id=i, why=why, attempts=attempts)
            for i, why, attempts in stuck_submissions(settings)
        ]

    # --- reproducibility projects ----------------------------------------------------------

    @app.post("/api/v1/projects", tags=["reproduce"], status_code=201, responses=ERRORS)
    async def submit_project(
        user: User,
        file: Annotated[UploadFile, File(description="the project as a .zip with claims.yaml")],
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> JSONResponse:
        data = await file.read(MAX_PROJECT_BYTES + 1)
        # Off the event loop: unpacking and parsing must never stall /healthz for others.
        submission, created = await run_in_threadpool(
            service.submit_project, user.id, file.filename or "project.zip", data, idempotency_key
        )
        return JSONResponse(submission.model_dump(mode="json"), status_code=201 if created else 200)

    @app.get(
        "/api/v1/submissions/{submission_id}/report.html",
        tags=["reproduce"],
        response_class=HTMLResponse,
        responses=ERRORS,
    )
    def project_report(user: User, submission_id: str) -> HTMLResponse:
        detail = get_submission(user, submission_id)
        if detail.reproduce_report is None:
            raise ServiceError(409, "no_report", f"submission {submission_id} has no report yet")
        return HTMLResponse(to_html(detail.reproduce_report))

    # --- challenges --------------------------------------------------------------------

    challenge_service = ChallengeService(service, settings, challenges)
    optional_bearer = HTTPBearer(auto_error=False)

    def optional_user(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(optional_bearer)],
    ) -> UserRow | None:
        """Public leaderboards need no token; a token shows what its holder may see."""
        return None if credentials is None else current_user(credentials)

    MaybeUser = Annotated[UserRow | None, Depends(optional_user)]

    @app.get("/api/v1/challenges", tags=["challenges"], responses=ERRORS)
    def list_challenges() -> list[ChallengeInfo]:
        return [
            ChallengeInfo(
                name=c.name, title=c.title, phases=c.phases, dataset_splits=c.dataset_splits
            )
            for c in challenge_service.challenges.values()
        ]

    @app.get(
        "/api/v1/challenges/{name}/data/{split}",
        tags=["challenges"],
        responses={**ERRORS, 200: {"content": {"application/octet-stream": {}}}},
        response_class=Response,
    )
    def challenge_data(name: str, split: str) -> Response:
        """A split's images as .npz (`x`; the train split's labels as `y`). The labels of
        every evaluated split stay with the host."""
        return Response(
            challenge_service.split_inputs(name, split),
            media_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{name}-{split}.npz"'},
        )

    @app.post(
        "/api/v1/challenges/{name}/submissions",
        tags=["challenges"],
        status_code=201,
        responses=ERRORS,
    )
    async def challenge_submit(
        user: User,
        name: str,
        file: Annotated[UploadFile, File(description="predictions (.csv, .json) or model.py")],
        phase: Annotated[str, Form(max_length=100)],
        method_name: Annotated[str, Form(max_length=200)] = "",
        is_public: Annotated[bool, Form()] = True,
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> JSONResponse:
        data = await file.read((2 << 20) + 1)
        submission, created = await run_in_threadpool(
            challenge_service.submit,
            user,
            name,
            phase,
            file.filename or "upload",
            data,
            method_name,
            is_public,
            idempotency_key,
        )
        return JSONResponse(submission.model_dump(mode="json"), status_code=201 if created else 200)

    @app.post(
        "/api/v1/challenges/{name}/submissions/{submission_id}/select",
        tags=["challenges"],
        responses=ERRORS,
    )
    def challenge_select(user: User, name: str, submission_id: str) -> Submission:
        return challenge_service.select(user, submission_id)

    @app.patch(
        "/api/v1/admin/challenges/{name}/submissions/{submission_id}",
        tags=["admin"],
        responses=ERRORS,
    )
    def challenge_mark(
        ta: TA,
        name: str,
        submission_id: str,
        is_baseline: bool | None = None,
        is_flagged: bool | None = None,
        is_public: bool | None = None,
    ) -> Submission:
        return challenge_service.mark(
            submission_id, is_baseline=is_baseline, is_flagged=is_flagged, is_public=is_public
        )

    @app.post(
        "/api/v1/admin/challenges/{name}/teams", tags=["admin"], status_code=201, responses=ERRORS
    )
    def create_team(
        ta: TA,
        name: str,
        team: Annotated[str, Query(min_length=1, max_length=200)],
        members: Annotated[list[str], Query(min_length=1)],
    ) -> TeamInfo:
        return challenge_service.create_team(name, team, members)

    def _leaderboard(
        name: str, phase: str, split: str, viewer: UserRow | None, order_by: str | None
    ) -> tuple[list[LeaderboardEntry], datetime]:
        entries, updated = challenge_service.leaderboard(name, phase, split, viewer, order_by)
        return entries, updated or datetime.now(UTC)

    @app.get("/api/v1/challenges/{name}/leaderboard", tags=["challenges"], responses=ERRORS)
    def leaderboard(
        request: Request,
        viewer: MaybeUser,
        name: str,
        phase: Annotated[str, Query(max_length=100)],
        split: Annotated[str, Query(max_length=100)],
        order_by: Annotated[str | None, Query(max_length=100)] = None,
        page: Annotated[int, Query(ge=1)] = 1,
        page_size: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> LeaderboardPage:
        entries, _ = _leaderboard(name, phase, split, viewer, order_by)
        start = (page - 1) * page_size

        def link(p: int) -> str:
            return str(request.url.include_query_params(page=p, page_size=page_size))

        return LeaderboardPage(
            count=len(entries),
            next=link(page + 1) if start + page_size < len(entries) else None,
            previous=link(page - 1) if page > 1 else None,
            results=entries[start : start + page_size],
        )

    @app.get(
        "/api/v1/challenges/{name}/leaderboard.html",
        tags=["challenges"],
        response_class=HTMLResponse,
        responses=ERRORS,
    )
    def leaderboard_page(
        viewer: MaybeUser,
        name: str,
        phase: Annotated[str, Query(max_length=100)],
        split: Annotated[str, Query(max_length=100)],
        order_by: Annotated[str | None, Query(max_length=100)] = None,
    ) -> HTMLResponse:
        entries, updated = _leaderboard(name, phase, split, viewer, order_by)
        challenge = challenge_service.challenge(name)
        html = render_leaderboard(
            challenge, challenge.phase_split(phase, split), entries, updated, order_by
        )
        return HTMLResponse(html)

    return app
