"""Request limits, checked in a pure ASGI middleware before the app sees a request:

- request line and headers over ``max_header_bytes`` -> 431;
- a body over its route's limit -> 413: at once when Content-Length says so (not a byte of
  the body is read), else as soon as the bytes received pass the limit (a chunked body);
  the app is never handed more than the limit;
- no new piece of a body for ``body_read_timeout`` seconds while the app waits for it
  -> 408.

These answers carry ``Connection: close``: the rest of a refused body is not worth
reading, and a stalled client should not keep its connection.

The server in front matters too: uvicorn's httptools parser (the default when installed)
collects the request line and headers without any limit before the app runs, so the 431
refuses an oversized header but cannot keep it out of memory (README: request limits).
"""

from __future__ import annotations

import asyncio
import json
import re
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import error_body

KIB = 1024
MIB = 1024 * KIB

# Routes whose valid bodies can be larger than the JSON default (max_body_bytes). Each
# limit is the largest valid body measured, with room for pretty-printing, \u escapes and
# the extra fields the reference lets clients send. A route missing here gets the default.
ROUTE_BODY_LIMITS: list[tuple[str, re.Pattern[str], int]] = [
    # A bulk extension of 5,000 channels (MAX_BULK_CHANNELS) with a 1,000-character
    # comment: 0.2 MB compact, 0.5 MB indented by four spaces with every comment character
    # escaped (500 channels: 31 KB and 54 KB).
    ("POST", re.compile(r"/channels/extend"), 1 * MIB),
    # 20 webhooks with 2,000-character URLs and 10 events each: 47 KB compact, 64 KB
    # indented, which is the default limit itself.
    ("PATCH", re.compile(r"/partners/[^/]+/settings"), 256 * KIB),
    # Reserved for Stripe's event deliveries (the route does not exist yet); Stripe's
    # events stay well under this.
    ("POST", re.compile(r"/stripe/webhook"), 1 * MIB),
]


def body_limit(method: str, path: str, default: int) -> int:
    """The most body bytes a request to ``method path`` may send (never less than the default)."""
    for route_method, pattern, limit in ROUTE_BODY_LIMITS:
        if route_method == method and pattern.fullmatch(path):
            return max(limit, default)
    return default


def header_bytes(scope: Scope) -> int:
    """Bytes of the request target and of the header lines as sent (``name: value\\r\\n``):
    what the server had to hold before the app could run."""
    target = len(scope.get("raw_path") or scope["path"].encode()) + len(scope.get("query_string", b""))
    return target + sum(len(name) + len(value) + 4 for name, value in scope["headers"])


def declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the HTTP parser refuses these before we run; nothing to add
    return None


def has_body(scope: Scope) -> bool:
    length = declared_length(scope)
    if length is not None:
        return length > 0
    return any(name == b"transfer-encoding" for name, _ in scope["headers"])


CLOSE = (b"connection", b"close")


class BodyRefused(HTTPException):
    """Raised from ``receive`` so the app stops reading. The middleware answers for it,
    whatever the app makes of the exception (FastAPI turns most body-reading errors into
    its own 400). An HTTPException, so an error handler that does see it still answers
    with the right status."""

    def __init__(self, status: int, message: str, details: str) -> None:
        super().__init__(status, details, headers={"Connection": "close"})
        self.message = message
        self.details = details


async def reply(send: Send, status: int, message: str, details: str) -> None:
    """An answer of the middleware itself: the one error shape, then the connection closes."""
    payload = json.dumps(error_body(status, message, details), separators=(",", ":")).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(payload)).encode()), CLOSE]})
    await send({"type": "http.response.body", "body": payload})


class _Exchange:
    """One request going through the limits: counts its body as the app reads it, and
    puts the middleware's answer in place of the app's once the body was refused."""

    def __init__(self, receive: Receive, send: Send, *, limit: int, timeout: float, chunked: bool,
                 expects_body: bool) -> None:
        self._receive = receive
        self._send = send
        self.limit = limit
        self.timeout = timeout
        self.chunked = chunked
        self.received = 0
        self.body_done = not expects_body
        self.refused: BodyRefused | None = None
        self.started = False   # the app's answer went out (or began to)
        self.answered = False  # the middleware's answer went out instead

    async def receive(self) -> Message:
        if self.refused is not None:
            raise self.refused
        if self.body_done:
            # After the body only http.disconnect can come, and a streamed answer waits
            # for it as long as it streams: no timeout here.
            return await self._receive()
        try:
            async with asyncio.timeout(self.timeout):
                message = await self._receive()
        except TimeoutError:
            raise self.refuse(408, "request timeout",
                              f"no part of the request body arrived for {self.timeout:g} seconds") from None
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                raise self.refuse(413, "request body too large",
                                  f"the body passed {self.limit} bytes, the most this route accepts")
            if not message.get("more_body", False):
                self.body_done = True
        else:
            self.body_done = True  # http.disconnect: nothing more will come
        return message

    def refuse(self, status: int, message: str, details: str) -> BodyRefused:
        self.refused = BodyRefused(status, message, details)
        return self.refused

    async def send(self, message: Message) -> None:
        if self.refused is not None and not self.started:
            # Whatever the app answers to a refused body, ours goes out instead.
            if not self.answered:
                self.answered = True
                await reply(self._send, self.refused.status_code, self.refused.message, self.refused.details)
            return
        if message["type"] == "http.response.start":
            self.started = True
            if self.chunked and not self.body_done:
                # Answered without reading a body of unknown length (a 401 before the
                # body, say): reading the rest only to throw it away is not worth it.
                message = {**message, "headers": [*message.get("headers", []), CLOSE]}
        await self._send(message)

    async def finish(self) -> None:
        """After the app: the answer to a refused body if the app sent none at all."""
        if self.refused is not None and not self.started and not self.answered:
            self.answered = True
            await reply(self._send, self.refused.status_code, self.refused.message, self.refused.details)


class RequestLimits:
    def __init__(self, app: ASGIApp, *, max_header_bytes: int, max_body_bytes: int,
                 body_read_timeout: float) -> None:
        self.app = app
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self.body_read_timeout = body_read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        size = header_bytes(scope)
        if size > self.max_header_bytes:
            await reply(send, 431, "request headers too large",
                        f"the request target and headers are {size} bytes; the limit is {self.max_header_bytes}")
            return
        limit = body_limit(scope["method"], scope["path"], self.max_body_bytes)
        length = declared_length(scope)
        if length is not None and length > limit:
            await reply(send, 413, "request body too large",
                        f"Content-Length is {length} bytes; this route accepts at most {limit}")
            return
        exchange = _Exchange(receive, send, limit=limit, timeout=self.body_read_timeout,
                             chunked=length is None, expects_body=has_body(scope))
        try:
            await self.app(scope, exchange.receive, exchange.send)
        except Exception:
            if exchange.refused is None or exchange.started:
                raise
        await exchange.finish()


def install(app: Starlette) -> None:
    """Put the limits in front of ``app`` (a dayledger FastAPI app), from its settings."""
    settings = app.state.services.settings
    app.add_middleware(RequestLimits, max_header_bytes=settings.max_header_bytes,
                       max_body_bytes=settings.max_body_bytes,
                       body_read_timeout=settings.body_read_timeout_seconds)
