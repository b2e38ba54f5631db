"""HTTP glue shared by every router: the token, one transaction per request,
authorization and idempotency, and JSON responses."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from . import idempotency
from .auth.service import Principal, authenticate
from .clock import Clock
from .config import Settings
from .db import Database
from .ledger.service import ENTRY_TYPES

Handler = Callable[[AsyncSession, Principal], Awaitable[Any]]
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass
class Services:
    settings: Settings
    db: Database
    clock: Clock
    in_flight: idempotency.InFlight


def services(request: Request) -> Services:
    return request.app.state.services


def raw_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return request.query_params.get("token") or None


class PagingParams:
    """``count`` 1-500 (default 100) and ``offset`` >= 0, as in the reference API."""

    def __init__(self, count: int = Query(100, ge=1, le=500, description="Count of objects to return"),
                 offset: int = Query(0, ge=0, le=10**9, description="Offset of objects to return")) -> None:
        self.count = count
        self.offset = offset


Paging = Annotated[PagingParams, Depends()]


class HistoryFilterParams:
    """Filters of a billing history: the entry ``type`` and a time range in milliseconds
    (``since`` inclusive, ``until`` exclusive)."""

    def __init__(self, type: str | None = Query(None, pattern="^(" + "|".join(sorted(ENTRY_TYPES)) + ")$",
                                                description="only entries of this type"),
                 since: int | None = Query(None, ge=0, le=2**53, description="milliseconds since the epoch"),
                 until: int | None = Query(None, ge=0, le=2**53, description="milliseconds since the epoch")) -> None:
        self.type = type
        self.since_ms = since
        self.until_ms = until

    def as_kwargs(self) -> dict[str, Any]:
        return {"type": self.type, "since_ms": self.since_ms, "until_ms": self.until_ms}


HistoryFilter = Annotated[HistoryFilterParams, Depends()]


class Reply(BaseModel):
    """Base of the documented response bodies (OpenAPI only: routes return Response objects
    themselves, so these models never filter or re-serialize a reply)."""
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(Reply):
    code: int
    message: str
    details: str


class ErrorReply(Reply):
    """The one error shape (the reference's ResponseError, with ``details`` always present)."""
    error: ErrorDetail


class Success(Reply):
    """The reference's ResponseSuccess: it requires ``result``; ``success`` is sent too."""
    success: bool
    result: bool


ERROR_DESCRIPTIONS = {
    401: "Missing, unknown, expired or revoked API token",
    402: "Insufficient balance; nothing was changed",
    403: "Forbidden: token scope or kind, a suspended partner, another partner's account, or a rule",
    404: "Not found (or another partner's)",
    409: "Conflict with the current state, or a request with this Idempotency-Key still running",
    422: "Invalid request: body, path or query parameters, or an Idempotency-Key reused with another body",
    429: "Too many requests; see Retry-After",
    500: "Internal error",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` declaring ``codes`` with the error shape."""
    return {code: {"model": ErrorReply, "description": ERROR_DESCRIPTIONS[code]} for code in codes}


# Any route may answer these; routers declare them, routes add what else they may answer
# (every mutating route adds 409: a request with the same Idempotency-Key still running).
ERROR_RESPONSES = error_responses(401, 403, 422, 500)


# For routes that stream CSV: the plain Response class has no media type of its own, so
# the declared errors stay JSON while the 200 is documented as text/csv.
CSV_REPLY: dict[str, Any] = {"response_class": Response, "responses": {200: {
    "description": "CSV, streamed", "content": {"text/csv": {"schema": {"type": "string"}}}}}}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status_code=status,
                    media_type="application/json", headers=headers)


async def principal_for(session: AsyncSession, request: Request, permission: str) -> Principal:
    principal = await authenticate(session, raw_token(request), services(request).clock.now_ms())
    if permission == "operator":
        principal.require_operator()
    elif permission == "gateway":
        principal.require_operator("gateway")
    else:
        principal.require(permission)
    return principal


async def authorized(request: Request, fn: Handler, *, permission: str = "read") -> Any:
    """Run ``fn`` in one transaction after authorization and return its value as is
    (for replies that are streamed after the transaction)."""
    async def work(session: AsyncSession) -> Any:
        return await fn(session, await principal_for(session, request, permission))
    return await services(request).db.run(work)


async def handle(request: Request, fn: Handler, *, permission: str, status: int = 200) -> Response:
    """Authenticate, authorize, run ``fn`` in one transaction; for mutating requests with an
    ``Idempotency-Key``, replay or record the response in that same transaction."""
    svc = services(request)
    key = request.headers.get("idempotency-key") if request.method in MUTATING else None
    if key is None:
        async def work(session: AsyncSession) -> Response:
            return json_response(await fn(session, await principal_for(session, request, permission)), status)
        return await svc.db.run(work)

    idempotency.check_key(key)
    req_hash = idempotency.request_hash(request.method, request.url.path, request.url.query,
                                        await request.body())

    async def keyed(session: AsyncSession) -> Response:
        principal = await principal_for(session, request, permission)
        scope = principal.idempotency_scope
        await idempotency.lock_key(session, scope, key)
        found = await idempotency.find(session, scope, key, req_hash)
        if found is not None:
            return Response(found[1], status_code=found[0], media_type="application/json",
                            headers={"Idempotent-Replayed": "true"})
        request.state.idempotency_key = key
        body = json.dumps(await fn(session, principal), separators=(",", ":"))
        await idempotency.store(session, scope, key, req_hash, status, body, svc.clock.now_ms())
        return Response(body, status_code=status, media_type="application/json")

    # Before taking a connection: a duplicate arriving while the first is in this
    # process answers 409 at once instead of queueing behind it.
    in_flight_id = idempotency.hash_token_key(raw_token(request), key)
    svc.in_flight.enter(in_flight_id)
    try:
        return await svc.db.run(keyed)
    finally:
        svc.in_flight.leave(in_flight_id)


def idempotency_key(request: Request) -> str | None:
    return getattr(request.state, "idempotency_key", None)
