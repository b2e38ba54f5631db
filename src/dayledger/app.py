"""create_app(): routers, the one error shape, and the in-process worker."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import __version__
from .clock import Clock
from .config import Settings, get_settings
from .db import Database
from .errors import DayledgerError, error_body
from .idempotency import InFlight
from .admin import endpoints as admin
from .channels import endpoints as channels
from .gateway import endpoints as gateway
from .partners import endpoints as partners
from .projects import endpoints as projects
from .web import Services, json_response

log = logging.getLogger("dayledger")


def describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            parts.append(f"the body is not valid JSON ({err.get('ctx', {}).get('error', 'parse error')} "
                         f"at character {err['loc'][-1]})")
            continue
        where = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DayledgerError)
    async def domain_error(_: Request, exc: DayledgerError):
        return json_response(exc.body(), exc.status, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError):
        malformed = any(e.get("type") == "json_invalid" for e in exc.errors())
        message = "malformed JSON" if malformed else "invalid request"
        return json_response(error_body(422, message, describe_validation(exc)), 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException):
        cause = exc.__cause__
        if exc.status_code == 400 and isinstance(cause, UnicodeDecodeError):
            # FastAPI's 400 for a body that is not even text: malformed JSON like any other (422)
            details = f"the body is not valid UTF-8 ({cause.reason} at byte {cause.start})"
            return json_response(error_body(422, "malformed JSON", details), 422)
        message = {404: "not found", 405: "method not allowed"}.get(exc.status_code, str(exc.detail))
        details = "no such route" if exc.status_code == 404 else str(exc.detail)
        return json_response(error_body(exc.status_code, message, details), exc.status_code,
                             getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception):
        log.exception("unhandled error", exc_info=exc)
        return json_response(error_body(500, "internal error", "the error was logged; please retry"), 500)


class JsonBodies:
    """Every body this API accepts is JSON: read one sent with a form content type (curl's
    ``-d`` default) as JSON rather than refusing it."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
            headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
            scope = {**scope, "headers": headers + [(b"content-type", b"application/json")]}
        await self.app(scope, receive, send)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None,
               run_worker: bool = False) -> FastAPI:
    settings = settings or get_settings()
    db = Database(settings.sqlalchemy_url(), settings.db_pool_size)
    svc = Services(settings=settings, db=db, clock=clock or Clock(), in_flight=InFlight())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        task = None
        if run_worker:
            from .worker import run_forever
            task = asyncio.create_task(run_forever(svc))
        yield
        if task:
            task.cancel()
        await db.dispose()

    app = FastAPI(title="dayledger", version=__version__, lifespan=lifespan, strict_content_type=False,
                  description="Prepaid days for partner-sold API channels. A compatible superset "
                              "of the Whapi.Cloud Partner API.")
    app.state.services = svc
    install_error_handlers(app)
    app.add_middleware(JsonBodies)

    for router in (channels.router, projects.router, partners.router, admin.router, gateway.router):
        app.include_router(router)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for uvicorn's worker processes (``dayledger serve --workers N``)."""
    settings = get_settings()
    return create_app(settings, run_worker=settings.run_worker)
