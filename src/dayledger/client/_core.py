"""What the sync and the async client share: configuration from the environment, the
retry policy (which answers are retried, how long to wait), idempotency keys, and
turning an answer into its reply model or its exception. Nothing here does I/O."""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from .errors import UnexpectedReply, error_shape, retry_after_seconds

M = TypeVar("M", bound=BaseModel)

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
URL_VARIABLE = "DAYLEDGER_URL"
TOKEN_VARIABLE = "DAYLEDGER_TOKEN"
DEFAULT_TIMEOUT = 30.0
PAGE_SIZE = 500  # the most a list route answers at once (api/paging.py)
# Errors worth sending again: no answer arrived, or the connection broke before one did.
# (A LocalProtocolError or an unsupported URL would fail the same way every time.)
RETRIED_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


def monotonic() -> float:
    return time.monotonic()


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


def configured(base_url: str | None, token: str | None) -> tuple[str, str]:
    """The server's URL and the token: as given, else ``DAYLEDGER_URL`` / ``DAYLEDGER_TOKEN``."""
    url = base_url or os.environ.get(URL_VARIABLE, "")
    secret = token or os.environ.get(TOKEN_VARIABLE, "")
    if not url:
        raise ValueError(f"no server URL: pass base_url or set {URL_VARIABLE}")
    if not secret:
        raise ValueError(f"no API token: pass token or set {TOKEN_VARIABLE}")
    return url.rstrip("/"), secret


def default_headers(token: str) -> dict[str, str]:
    from .. import __version__
    return {"Authorization": f"Bearer {token}", "Accept": "application/json",
            "User-Agent": f"dayledger-python/{__version__}"}


@dataclass(frozen=True)
class Retries:
    """When and how long to retry.

    Retried: timeouts and broken connections (every method: a mutating call carries an
    ``Idempotency-Key``, so the server answers a repeat with the first outcome), 5xx
    answers, and a 409 "request in progress" (the first attempt with this key is still
    running); each after an exponential backoff with jitter. A 429 waits what its
    ``Retry-After`` says, unless that is more than ``max_retry_after``: then
    ``RateLimited`` is raised at once, with ``retry_after``. Nothing is retried past
    ``max_attempts`` attempts or ``max_total_seconds`` since the first.
    """
    max_attempts: int = 5
    max_total_seconds: float = 60.0
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def backoff(self, attempt: int) -> float:
        """The wait after failed attempt ``attempt`` (1, 2, ...): up to base × 2^(attempt-1),
        capped, the upper half of it drawn at random ("equal jitter": never zero, and many
        clients failing together do not come back together)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    def _within(self, attempt: int, elapsed: float, delay: float) -> float | None:
        if attempt >= self.max_attempts or elapsed + delay > self.max_total_seconds:
            return None
        return delay

    def after_error(self, attempt: int, elapsed: float, exc: Exception) -> float | None:
        """The wait before trying again after ``exc`` (no answer), or None to give up."""
        if not isinstance(exc, RETRIED_ERRORS):
            return None
        return self._within(attempt, elapsed, self.backoff(attempt))

    def after_answer(self, attempt: int, elapsed: float, response: httpx.Response) -> float | None:
        """The wait before trying again after the error answer ``response``, or None."""
        status = response.status_code
        if status == 429:
            wait = retry_after_seconds(response)
            if wait is None:
                wait = self.backoff(attempt)
            if wait > self.max_retry_after:
                return None
            return self._within(attempt, elapsed, wait)
        if (status == 409 and in_progress(response)) or (status >= 500 and status != 501):
            return self._within(attempt, elapsed, self.backoff(attempt))
        return None


NO_RETRIES = Retries(max_attempts=1)


def in_progress(response: httpx.Response) -> bool:
    """A 409 saying a request with this Idempotency-Key is still being processed."""
    return error_shape(response)[0] == "request in progress"


def parse(model: type[M], response: httpx.Response) -> M:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise UnexpectedReply(response.status_code, f"the answer is not a {model.__name__}", str(exc),
                              response=response) from None


def query(**params: Any) -> dict[str, Any]:
    """Query parameters without the ones left out (None)."""
    return {k: v for k, v in params.items() if v is not None}


def body(**fields: Any) -> dict[str, Any]:
    """A JSON body without the fields left out (None): for PATCH-like changes."""
    return {k: v for k, v in fields.items() if v is not None}


def bulk_items(items: Mapping[str, int] | Any) -> list[dict[str, Any]]:
    """``{id: days}`` or ``[(id, days), ...]`` as the bulk extension's ``channels``."""
    pairs = items.items() if isinstance(items, Mapping) else items
    return [{"id": cid, "days": days} for cid, days in pairs]
