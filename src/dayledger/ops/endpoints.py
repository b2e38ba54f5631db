"""/health, /ready and /metrics: for load balancers, orchestrators and Prometheus, not for
partners. Plain routes (no body parsing, no partner tokens), tagged "Operations"."""

from __future__ import annotations

import hmac
from typing import Literal

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from .. import __version__
from ..api import json_response, services
from ..api.handling import bearer
from ..context import Services
from ..errors import Unauthorized, error_body
from ..replies import ErrorReply, Reply
from ..worker import JOBS
from . import readiness, repository
from .metrics import DatabaseGauges, Metrics
from .middleware import RequestMetrics

router = APIRouter(tags=["Operations"])


class HealthReply(Reply):
    status: Literal["ok"]
    version: str


class ReadyReply(Reply):
    status: Literal["ready"]
    database: Literal["postgresql", "sqlite"]
    migration: str


def _metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


@router.get("/health", response_model=HealthReply, summary="The process is up",
            description="Always 200 while the process serves HTTP; touches no database. For liveness probes.")
async def health() -> Response:
    return json_response(HealthReply(status="ok", version=__version__).dump())


@router.get("/ready", response_model=ReadyReply, summary="Ready to serve",
            description="200 when the database answers and its schema is at this code's migration head; "
                        "503 otherwise, with what is wrong in `details`. Answers within "
                        "DAYLEDGER_READY_TIMEOUT_SECONDS even when the database hangs.",
            responses={503: {"model": ErrorReply, "description": "Database unreachable or migrations not current"}})
async def ready(request: Request) -> Response:
    svc = services(request)
    state = await readiness.check(svc.db, svc.settings.ready_timeout_seconds)
    if not state.ready:
        return json_response(error_body(503, "not ready", state.details), 503)
    engine: Literal["postgresql", "sqlite"] = "sqlite" if svc.db.is_sqlite else "postgresql"
    return json_response(ReadyReply(status="ready", database=engine, migration=state.revision).dump())


def _check_metrics_token(request: Request, expected: str) -> None:
    given = bearer(request) or ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized("metrics token required" if not given else "wrong metrics token",
                           "send Authorization: Bearer <DAYLEDGER_METRICS_TOKEN>",
                           headers={"WWW-Authenticate": 'Bearer realm="metrics"'})


async def _gauges(svc: Services) -> DatabaseGauges | None:
    """The database gauges, or None when the database does not answer in time (the
    scrape still returns the request and job metrics)."""
    if svc.db.is_sqlite and readiness.sqlite_file_problem(svc.db):
        return None
    try:
        return await readiness.within(svc.settings.ready_timeout_seconds,
                                      lambda: svc.db.run(repository.read_gauges, svc.clock.now_ms()))
    except Exception:  # noqa: BLE001 - reported as dayledger_metrics_database_up 0
        return None


@router.get("/metrics", summary="Prometheus metrics",
            description="Prometheus text exposition (OpenMetrics when the scraper asks for it). Open unless "
                        "DAYLEDGER_METRICS_TOKEN is set; then it needs `Authorization: Bearer <that token>`.",
            response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "Metrics in the Prometheus text format"},
                       401: {"model": ErrorReply, "description": "DAYLEDGER_METRICS_TOKEN is set and was not sent"}})
async def metrics(request: Request) -> Response:
    svc = services(request)
    if svc.settings.metrics_token:
        _check_metrics_token(request, svc.settings.metrics_token)
    gauges = await _gauges(svc)
    body, content_type = _metrics(request).render(gauges, request.headers.get("accept"))
    return Response(body, media_type=content_type)


def install(app: FastAPI) -> None:
    """Mount /health, /ready and /metrics and count every request of ``app``."""
    def group_commit() -> tuple[int, int] | None:
        group = app.state.services.db.group
        return None if group is None else (group.groups, group.members)

    metrics = Metrics(job_names=[job.name for job in JOBS], group_commit=group_commit)
    app.state.metrics = metrics
    app.include_router(router)
    app.add_middleware(RequestMetrics, metrics=metrics)
