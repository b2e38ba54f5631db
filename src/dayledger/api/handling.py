"""Running a JSON API request: the token, one transaction per request, authorization,
idempotency, and the route class that reads bodies as JSON and checks the token first."""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import idempotency
from ..auth.service import Principal, authenticate, hash_token
from ..ledger import channel_time
from ..context import Services
from ..errors import Forbidden, Unauthorized
from ..replies import Reply

Handler = Callable[[AsyncSession, Principal], Awaitable[Any]]
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


def services(request: Request) -> Services:
    return request.app.state.services


def bearer(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header."""
    header = request.headers.get("authorization", "")
    return (header[7:].strip() or None) if header[:7].lower() == "bearer " else None


def raw_token(request: Request) -> str | None:
    """The API token: the bearer header, else ``?token=``."""
    return bearer(request) or request.query_params.get("token") or None


MISSING_TOKEN = Unauthorized("missing API token", "send 'Authorization: Bearer <token>' or '?token=<token>'")


class ApiRoute(APIRoute):
    """The route class of the JSON API routers (and only those, so HTML forms and raw
    signed webhook bodies can live in the same app):

    - every body is read as JSON, whatever its content type (curl's ``-d`` sends a form type);
    - a request without any token is refused (401) before its body is read;
    - a request whose body or parameters are invalid is authenticated before it hears 422,
      so a stranger learns nothing about a route's payload and a suspended partner's
      mutation is 403 whatever it sends.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            if request.method in MUTATING:
                headers = [(k, v) for k, v in request.scope["headers"] if k != b"content-type"]
                request.scope["headers"] = headers + [(b"content-type", b"application/json")]
                request.__dict__.pop("_headers", None)
            if raw_token(request) is None:
                raise MISSING_TOKEN
            try:
                return await original(request)
            except (RequestValidationError, StarletteHTTPException) as exc:
                if isinstance(exc, StarletteHTTPException) and exc.status_code != 400:
                    raise
                await services(request).db.run(_check_caller, request)
                raise

        return handler


async def _check_caller(session: AsyncSession, request: Request) -> None:
    principal = await authenticate(session, raw_token(request), services(request).clock.now_ms())
    check_suspension(principal, request.method)


def check_suspension(principal: Principal, method: str) -> None:
    """A suspended partner's tokens may read; every change is refused."""
    if principal.suspended and method in MUTATING:
        raise Forbidden("partner suspended",
                        "this partner account is suspended: reading works, changes are refused; "
                        "contact the operator")


async def principal_for(session: AsyncSession, request: Request, permission: str) -> Principal:
    principal = await authenticate(session, raw_token(request), services(request).clock.now_ms())
    if permission == "operator":
        principal.require_operator()
    elif permission == "gateway":
        principal.require_operator("gateway")
    else:
        principal.require(permission)
    check_suspension(principal, request.method)
    return principal


def encode(value: Any) -> str:
    body = value.dump() if isinstance(value, Reply) else value
    return json.dumps(body, separators=(",", ":"))


async def authorized(request: Request, fn: Handler, *, permission: str = "read") -> Any:
    """Run ``fn`` in one transaction after authorization and return its value as is
    (for replies that are streamed after the transaction)."""
    async def work(session: AsyncSession) -> Any:
        return await fn(session, await principal_for(session, request, permission))
    return await services(request).db.run(work)


async def handle(request: Request, fn: Handler, *, permission: str, status: int = 200,
                 grouped: Sequence[str] | None = None) -> Response:
    """Authenticate, authorize, run ``fn`` in one transaction and answer its reply; for
    mutating requests with an ``Idempotency-Key``, replay or record the answer in that
    same transaction. ``grouped``: the channel ids a hot ledger write will extend; its
    transaction may be shared with other requests that arrive meanwhile (group commit,
    ``db.GroupCommit``: one flush for all, each its own answer or error), which lock those
    channels and the token's partner first, in the global order."""
    svc = services(request)
    if grouped is None:
        run: Callable[..., Awaitable[Response]] = svc.db.run
    else:
        token_hash = hash_token(raw_token(request) or "")
        prelock = (channel_time.lock_in_order, (tuple(grouped), token_hash))
        run = functools.partial(svc.db.run_grouped, prelock=prelock, lane_key=token_hash)
    key = request.headers.get("idempotency-key") if request.method in MUTATING else None
    if key is None:
        async def work(session: AsyncSession) -> Response:
            reply = await fn(session, await principal_for(session, request, permission))
            return Response(encode(reply), status_code=status, media_type="application/json")
        return await run(work)

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
        body = encode(await fn(session, principal))
        await idempotency.store(session, scope, key, req_hash, status, body, svc.clock.now_ms())
        return Response(body, status_code=status, media_type="application/json")

    # Before taking a connection: a duplicate arriving while the first is in this
    # process answers 409 at once instead of queueing behind it.
    in_flight_id = idempotency.hash_token_key(raw_token(request), key)
    svc.in_flight.enter(in_flight_id)
    try:
        return await run(keyed)
    finally:
        svc.in_flight.leave(in_flight_id)


def idempotency_key(request: Request) -> str | None:
    return getattr(request.state, "idempotency_key", None)
