"""The client's exceptions: one per kind of answer, each carrying the error shape's
``code``, ``message`` and ``details`` (``{"error": {"code", "message", "details"}}``)."""

from __future__ import annotations

import json
from typing import Any

import httpx


class DayledgerError(Exception):
    """Base of every error the client raises. ``code`` is the HTTP status (0 when no
    answer came at all); ``response`` is the last answer, if any."""

    def __init__(self, code: int, message: str, details: str = "", *,
                 response: httpx.Response | None = None) -> None:
        super().__init__(f"{code} {message}" + (f": {details}" if details else ""))
        self.code = code
        self.message = message
        self.details = details
        self.response = response


class BadRequest(DayledgerError):
    """400."""


class Unauthorized(DayledgerError):
    """401: missing, unknown, expired or revoked token."""


class InsufficientBalance(DayledgerError):
    """402: the balance holds fewer days than asked; nothing was changed."""


class Forbidden(DayledgerError):
    """403: token scope, a suspended partner, another partner's account, or a rule."""


class NotFound(DayledgerError):
    """404 (another partner's objects answer 404 too)."""


class Conflict(DayledgerError):
    """409: a conflict with the current state (or a keyed request still running, once the
    retries are spent)."""


class Unprocessable(DayledgerError):
    """422: an invalid body, path or query, or an Idempotency-Key reused with another body."""


class RateLimited(DayledgerError):
    """429. ``retry_after``: seconds the server asked to wait (None if it did not say)."""

    def __init__(self, code: int, message: str, details: str = "", *, response: httpx.Response | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(code, message, details, response=response)
        self.retry_after = retry_after


class ServerError(DayledgerError):
    """5xx, once the retries are spent."""


class UnexpectedReply(DayledgerError):
    """A successful answer that is not the reply shape this client knows (a server of
    another version, or something else answering at that URL)."""


class ConnectionFailed(DayledgerError):
    """No answer: the connection failed or timed out on every attempt (``code`` 0). For a
    mutating call the outcome is unknown: call again with the same ``idempotency_key``
    (``ConnectionFailed.idempotency_key``) and the server answers the first outcome."""

    def __init__(self, message: str, details: str = "", *, idempotency_key: str | None = None) -> None:
        super().__init__(0, message, details)
        self.idempotency_key = idempotency_key


BY_STATUS: dict[int, type[DayledgerError]] = {
    400: BadRequest, 401: Unauthorized, 402: InsufficientBalance, 403: Forbidden, 404: NotFound, 409: Conflict,
    422: Unprocessable, 429: RateLimited,
}


def retry_after_seconds(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (the delta form; an HTTP date is not used by dayledger)."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def error_shape(response: httpx.Response) -> tuple[str, str]:
    """``(message, details)`` of an error answer: the error shape's, or for an answer not
    in that shape (a proxy's HTML page, say) the reason phrase and the start of the body."""
    try:
        body: Any = json.loads(response.content)
        err = body["error"]
        return str(err["message"]), str(err.get("details", ""))
    except (ValueError, KeyError, TypeError):
        return response.reason_phrase or "error", response.text[:500]


def error_for(response: httpx.Response) -> DayledgerError:
    """The exception for an error answer."""
    message, details = error_shape(response)
    status = response.status_code
    if status == 429:
        return RateLimited(status, message, details, response=response,
                           retry_after=retry_after_seconds(response))
    cls = BY_STATUS.get(status) or (ServerError if status >= 500 else DayledgerError)
    return cls(status, message, details, response=response)
