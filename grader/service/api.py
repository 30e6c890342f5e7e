"""The HTTP API (FastAPI): the app assembled from its routers (`routers/`), the shared
objects every route depends on (`deps.py`), the error shape (`errors.py`) and the body
guard. Students see only their own submissions; TAs see all.

The app is handed its dispatcher: Celery's (by task name, through Redis) or the
embedded workers that `dlgrader serve` starts beside it. It never imports the workers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline

from grader.grading.specs import Assignment
from grader.service.accounts import user_for_token
from grader.service.body_guard import BodyGuard
from grader.service.challenges import ChallengeService
from grader.service.db import session_scope
from grader.service.deps import Services, page_viewer, session_token_user
from grader.service.errors import add_error_handlers
from grader.service.metrics import metrics_registry
from grader.service.migrate import migrate
from grader.service.no_nul import refuse_nul
from grader.service.queue import Dispatcher
from grader.service.routers import (
    admin,
    challenge_pages,
    challenges,
    gradebook,
    health,
    pages,
    projects,
    staff_pages,
    student_pages,
    submissions,
)
from grader.service.storage import BlobStore
from grader.service.submissions import SubmissionService
from grader.service.web import SESSION_COOKIE, SecurityHeaders, add_page_handlers
from grader.settings import Settings
from submissions_schema.challenges import Challenge

MULTIPART_SLACK = 1 << 20  # a form's boundaries and fields around the file


def create_app(
    settings: Settings,
    dispatcher: Dispatcher,
    assignments: dict[str, Assignment] | None = None,
    challenge_specs: dict[str, Challenge] | None = None,
) -> FastAPI:
    url = settings.resolved_database_url()
    submission_service = SubmissionService(
        settings, BlobStore(settings.blob_dir, settings.min_free_bytes), dispatcher
    )
    services = Services(
        settings=settings,
        url=url,
        dispatcher=dispatcher,
        submissions=submission_service,
        challenges=ChallengeService(submission_service, settings, challenge_specs),
        fixed_assignments=assignments,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        migrate(url)
        yield

    # Swagger UI and ReDoc from assets the package ships: the docs work without internet.
    app = FastAPIOffline(
        title="dlgrader",
        version="1",
        lifespan=lifespan,
        description="Autograder for deep-learning courses.",
        dependencies=[Depends(refuse_nul)],  # before every route's own (no_nul.py)
    )
    app.state.services = services
    app.state.metrics_registry = metrics_registry(settings)

    def token_is_valid(token: str) -> bool:
        with session_scope(url) as session:
            return user_for_token(session, token) is not None

    # Token and size are checked from the headers before any body is read (body_guard.py).
    challenge_cap = max(settings.max_predictions_bytes, settings.max_model_bytes)
    app.add_middleware(
        BodyGuard,
        token_is_valid=token_is_valid,
        default_cap=settings.max_request_bytes,
        caps={
            "/api/v1/projects": settings.max_project_bytes + MULTIPART_SLACK,
            "/api/v1/challenges/": challenge_cap + MULTIPART_SLACK,
            "/api/v1/admin/assignments": settings.max_assignment_bytes + MULTIPART_SLACK,
        },
        session_is_valid=lambda cookie: session_token_user(services, cookie) is not None,
        session_cookie=SESSION_COOKIE,
        public={"/signin": 8 << 10},  # the sign-in form: a token and its CSRF field
    )
    # FastAPIOffline's defaults: it serves Swagger UI and ReDoc itself, at these paths.
    app.add_middleware(
        SecurityHeaders, docs_paths=frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})
    )
    add_error_handlers(app)
    add_page_handlers(app, page_viewer)
    for module in (
        health,
        submissions,
        projects,
        challenges,
        admin,
        gradebook,
        challenge_pages,
        pages,
        student_pages,
        staff_pages,
    ):
        app.include_router(module.router)
    return app
