"""The dayledger Python client: ``Client`` (sync) and ``AsyncClient`` (async) over httpx.

    from dayledger.client import Client
    with Client() as dl:                   # DAYLEDGER_URL, DAYLEDGER_TOKEN
        dl.channels.extend("ABCDEF-12345", days=3, comment="March")

Replies are the server's own reply models (``dayledger.client.models``); errors are
``DayledgerError`` subclasses with the error shape's ``code``, ``message`` and
``details``. Mutating calls carry an ``Idempotency-Key`` and are retried safely
(``Retries``). See docs/client.md.
"""

from ._async import AsyncClient
from ._core import NO_RETRIES, Retries, new_idempotency_key
from ._sync import Client
from .errors import (BadRequest, Conflict, ConnectionFailed, DayledgerError, Forbidden, InsufficientBalance, NotFound,
                     RateLimited, ServerError, Unauthorized, UnexpectedReply, Unprocessable)

__all__ = ["AsyncClient", "BadRequest", "Client", "Conflict", "ConnectionFailed", "DayledgerError", "Forbidden",
           "InsufficientBalance", "NO_RETRIES", "NotFound", "RateLimited", "Retries", "ServerError", "Unauthorized",
           "UnexpectedReply", "Unprocessable", "new_idempotency_key"]
