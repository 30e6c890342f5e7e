"""Liveness, readiness (the database and the queue answer) and Prometheus metrics."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from grader.service.db import engine_for
from grader.service.deps import Ctx
from grader.service.errors import error
from grader.service.metrics import render_metrics
from submissions_schema import ApiError

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"model": ApiError}})
def readyz(ctx: Ctx) -> JSONResponse:
    try:
        with engine_for(ctx.url).connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        return error(503, "database_unavailable", "the database does not answer")
    if not ctx.dispatcher.ready():
        return error(503, "broker_unavailable", "the queue does not answer")
    return JSONResponse({"status": "ready"})


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}, 503: {"model": ApiError}},
)
def metrics(request: Request) -> Response:
    """Prometheus text format; read from the database and the broker at each scrape."""
    body = render_metrics(request.app.state.metrics_registry)
    return Response(body, media_type="text/plain; version=0.0.4")
