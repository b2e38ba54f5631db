"""The asynchronous client: ``AsyncClient``, its transport (retries, paging, downloads) and
its resources (``_async_resources.py``, one method per partner API operation). The
synchronous client (``_sync.py``, ``_sync_resources.py``) is generated from these two
files by ``scripts/unasync-client``; edit these and run the script."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx

from . import _core
from ._async_resources import (AsyncAutorecharge, AsyncCards, AsyncChannels, AsyncInvoices, AsyncNotices,
                               AsyncPartner, AsyncPolicies, AsyncProjects, AsyncSubscriptions, AsyncTokens,
                               AsyncTopups, AsyncWebhooks)
from ._core import PAGE_SIZE, M, Retries, parse, query
from .errors import ConnectionFailed, error_for
from .models import MeReply


class AsyncClient:
    """A partner's client of a dayledger server.

    ``AsyncClient(base_url, token)``, or with neither: ``DAYLEDGER_URL`` and
    ``DAYLEDGER_TOKEN``. Use it as an async context manager (or call ``aclose``).
    ``retries`` says what is retried (``Retries``); ``http_client`` replaces the
    ``httpx.AsyncClient`` the client makes (its base URL and headers are then yours).
    """

    def __init__(self, base_url: str | None = None, token: str | None = None, *,
                 timeout: float | httpx.Timeout = _core.DEFAULT_TIMEOUT, retries: Retries | None = None,
                 http_client: httpx.AsyncClient | None = None) -> None:
        self.base_url, self._token = _core.configured(base_url, token)
        self.retries = retries or Retries()
        self._http = http_client or httpx.AsyncClient(base_url=self.base_url, timeout=timeout,
                                                      headers=_core.default_headers(self._token))
        self._partner_name: str | None = None
        self.channels = AsyncChannels(self)
        self.projects = AsyncProjects(self)
        self.partner = AsyncPartner(self)
        self.tokens = AsyncTokens(self)
        self.topups = AsyncTopups(self)
        self.cards = AsyncCards(self)
        self.autorecharge = AsyncAutorecharge(self)
        self.invoices = AsyncInvoices(self)
        self.subscriptions = AsyncSubscriptions(self)
        self.policies = AsyncPolicies(self)
        self.notices = AsyncNotices(self)
        self.webhooks = AsyncWebhooks(self)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------------ transport

    async def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                      json: Any = None, idempotency_key: str | None = None) -> httpx.Response:
        """Send one API request with the retries of ``self.retries`` and answer its
        successful response, else raise the error's exception. A mutating request carries
        ``idempotency_key`` (a new UUID if None), the same on every attempt."""
        headers = {}
        if method in _core.MUTATING:
            idempotency_key = idempotency_key or _core.new_idempotency_key()
            headers["Idempotency-Key"] = idempotency_key
        started = _core.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._http.request(method, path, params=params, json=json, headers=headers)
            except Exception as exc:
                delay = self.retries.after_error(attempt, _core.monotonic() - started, exc)
                if delay is None:
                    if isinstance(exc, httpx.TransportError):
                        raise ConnectionFailed(f"no answer from {self.base_url} after {attempt} attempt(s)",
                                               f"{type(exc).__name__}: {exc}",
                                               idempotency_key=idempotency_key) from exc
                    raise
                await asyncio.sleep(delay)
                continue
            if response.is_success:
                return response
            delay = self.retries.after_answer(attempt, _core.monotonic() - started, response)
            if delay is None:
                raise error_for(response)
            await asyncio.sleep(delay)

    async def call(self, model: type[M], method: str, path: str, *, params: Mapping[str, Any] | None = None,
                   json: Any = None, idempotency_key: str | None = None) -> M:
        """``request``, its answer read as ``model`` (the server's reply model)."""
        response = await self.request(method, path, params=params, json=json, idempotency_key=idempotency_key)
        return parse(model, response)

    async def pages(self, model: type[M], path: str, field: str, params: Mapping[str, Any],
                    page_size: int = PAGE_SIZE) -> AsyncIterator[Any]:
        """Every item of a paged list route (``count``/``offset``, answering ``total``),
        fetched ``page_size`` at a time as the iteration goes."""
        offset = 0
        while True:
            page = await self.call(model, "GET", path, params={**query(**params), "count": page_size,
                                                               "offset": offset})
            rows = getattr(page, field)
            for row in rows:
                yield row
            offset += len(rows)
            if not rows or offset >= getattr(page, "total"):  # noqa: B009 - ``model`` is any paged reply
                return

    async def download(self, path: str, dest: str | Path | IO[bytes], params: Mapping[str, Any]) -> int:
        """Stream a CSV route's answer into ``dest`` (a file path, written through a
        ``.part`` file renamed at the end, or a binary file object); answers the bytes
        written. A failure before the answer's status is retried like any GET; one while
        the body arrives raises ``ConnectionFailed`` (a path is then left untouched)."""
        params = query(**params)
        started = _core.monotonic()
        attempt = 0
        while True:
            attempt += 1
            receiving = False
            try:
                async with self._http.stream("GET", path, params=params) as response:
                    if response.is_success:
                        receiving = True  # from here a failure is not retried: bytes may be out
                        return await _save(response, dest)
                    await response.aread()
            except Exception as exc:
                delay = None if receiving else self.retries.after_error(attempt, _core.monotonic() - started, exc)
                if delay is None:
                    if isinstance(exc, httpx.TransportError):
                        raise ConnectionFailed(f"no answer from {self.base_url} after {attempt} attempt(s)",
                                               f"{type(exc).__name__}: {exc}") from exc
                    raise
                await asyncio.sleep(delay)
                continue
            delay = self.retries.after_answer(attempt, _core.monotonic() - started, response)
            if delay is None:
                raise error_for(response)
            await asyncio.sleep(delay)

    # ------------------------------------------------------------------ the token

    async def me(self) -> MeReply:
        """``GET /me``: the token's partner name (None for an operator token), kind, scope and id."""
        return await self.call(MeReply, "GET", "/me")

    async def partner_name(self) -> str:
        """The token's partner name (asked once, then remembered): the ``{PartnerName}``
        of the partner routes."""
        if self._partner_name is None:
            me = await self.me()
            if me.partner is None:
                raise ValueError("this is an operator token: the partner routes need a partner's token")
            self._partner_name = me.partner
        return self._partner_name

    async def partner_path(self, tail: str = "") -> str:
        return f"/partners/{await self.partner_name()}{tail}"


async def _save(response: httpx.Response, dest: str | Path | IO[bytes]) -> int:
    written = 0
    if isinstance(dest, str | Path):
        target = Path(dest)
        part = target.with_name(target.name + ".part")
        try:
            with part.open("wb") as f:
                async for chunk in response.aiter_bytes():
                    written += f.write(chunk)
            part.replace(target)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        return written
    async for chunk in response.aiter_bytes():
        written += dest.write(chunk)
    return written
