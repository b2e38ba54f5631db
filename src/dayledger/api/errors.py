"""The one error shape for every answer of the app: domain errors, validation errors,
unknown routes and unexpected failures; and how routes declare their errors in OpenAPI."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import DayledgerError, error_body
from ..replies import ErrorReply
from .allow import method_not_allowed
from .responses import json_response

log = logging.getLogger("dayledger")

ERROR_DESCRIPTIONS = {
    400: "Bad request: a missing, forged or stale signature, or a malformed event",
    401: "Missing, unknown, expired or revoked API token",
    402: "Insufficient balance; nothing was changed",
    403: "Forbidden: token scope or kind, a suspended partner, another partner's account, or a rule",
    404: "Not found (or another partner's)",
    409: "Conflict with the current state, or a request with this Idempotency-Key still running",
    413: "Request body larger than the route accepts; nothing was changed",
    422: "Invalid request: body, path or query parameters, or an Idempotency-Key reused with another body",
    429: "Too many requests; see Retry-After",
    500: "Internal error",
    502: "The payment provider refused the request or did not answer; nothing was changed",
    503: "Payments are not configured on this server (the message says what to set)",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` declaring ``codes`` with the error shape."""
    return {code: {"model": ErrorReply, "description": ERROR_DESCRIPTIONS[code]} for code in codes}


# Any route may answer these; routers declare them, routes add what else they may answer
# (every mutating route adds 409: a request with the same Idempotency-Key still running).
ERROR_RESPONSES = error_responses(401, 403, 422, 500)


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


def validation_reply(exc: RequestValidationError) -> Response:
    malformed = any(e.get("type") == "json_invalid" for e in exc.errors())
    message = "malformed JSON" if malformed else "invalid request"
    return json_response(error_body(422, message, describe_validation(exc)), 422)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DayledgerError)
    async def domain_error(_: Request, exc: DayledgerError) -> Response:
        return json_response(exc.body(), exc.status, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> Response:
        return validation_reply(exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        cause = exc.__cause__
        if exc.status_code == 400 and isinstance(cause, UnicodeDecodeError):
            # FastAPI's 400 for a body that is not even text: malformed JSON like any other (422)
            details = f"the body is not valid UTF-8 ({cause.reason} at byte {cause.start})"
            return json_response(error_body(422, "malformed JSON", details), 422)
        if exc.status_code == 400 and isinstance(cause, RecursionError):
            # FastAPI's 400 when json.loads gives up on [[[[...: the parser's depth is bounded
            # by the interpreter's recursion limit, so this is cheap at any depth.
            details = "the JSON is nested too deeply (arrays or objects inside each other past the parser's limit)"
            return json_response(error_body(422, "malformed JSON", details), 422)
        if exc.status_code == 405:
            return method_not_allowed(request)  # the full Allow, and 204 to OPTIONS
        message = {404: "not found", 405: "method not allowed"}.get(exc.status_code, str(exc.detail))
        details = "no such route" if exc.status_code == 404 else str(exc.detail)
        return json_response(error_body(exc.status_code, message, details), exc.status_code,
                             getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        return json_response(error_body(500, "internal error", "the error was logged; please retry"), 500)
