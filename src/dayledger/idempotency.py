"""Idempotency keys (SPEC 4.9).

The first successful response to a keyed request is stored in the same transaction as
its effect, so a crash loses both or keeps both. A repeat with the same body replays
it; the same key with another body is refused with 422; a repeat while the first is
still being processed gets 409 (an in-process registry, plus a transaction-scoped
advisory lock on PostgreSQL for requests handled by other processes). Failed requests
store nothing, so the client may retry them with the same key.
"""

from __future__ import annotations

import hashlib
import json
import re

from typing import Any, cast

from sqlalchemy import BigInteger, CursorResult, Table, bindparam, delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import Conflict, Unprocessable
from .models import IdempotencyKey
from .prepared import Prepared

MAX_KEY_LENGTH = 255
# An API token's secret as ids.api_token() makes it ("dlp_"/"dlo_" + 40 alphanumerics).
API_TOKEN_SECRET = re.compile(r'"token":"dl[a-z]_[A-Za-z0-9]{40}"')


def request_hash(method: str, path: str, query: str, body: bytes) -> str:
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    h = hashlib.sha256()
    for part in (method.encode(), path.encode(), query.encode(), canonical):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def check_key(key: str) -> None:
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise Unprocessable("invalid Idempotency-Key", f"the key must be 1 to {MAX_KEY_LENGTH} characters")


class InFlight:
    """Keys being processed by this process right now."""

    def __init__(self) -> None:
        self._keys: set[str] = set()

    def enter(self, ident: str) -> None:
        if ident in self._keys:
            raise Conflict("request in progress", "a request with this Idempotency-Key is still being processed")
        self._keys.add(ident)

    def leave(self, ident: str) -> None:
        self._keys.discard(ident)


def hash_token_key(token: str | None, key: str) -> str:
    return hashlib.sha256(f"{token}\0{key}".encode()).hexdigest()


# On the path of every keyed request: straight through the driver (prepared.py).
_LOCK = Prepared(text("SELECT pg_try_advisory_xact_lock(:k)").bindparams(bindparam("k", type_=BigInteger())))
_keys = cast(Table, IdempotencyKey.__table__).c
_FIND = Prepared(select(_keys.request_hash, _keys.status_code, _keys.response_body)
                 .where(_keys.scope == bindparam("scope"), _keys.key == bindparam("key")))
_STORE = Prepared(cast(Table, IdempotencyKey.__table__).insert().values(
    {name: bindparam(name, type_=_keys[name].type)
     for name in ("scope", "key", "request_hash", "status_code", "response_body", "created_ms")}))


async def lock_key(session: AsyncSession, scope: str, key: str) -> None:
    """On PostgreSQL, refuse (409) a key another process is processing at this moment."""
    if session.get_bind().dialect.name != "postgresql":
        return
    lock_id = int.from_bytes(hashlib.sha256(f"{scope}\0{key}".encode()).digest()[:8], "big", signed=True)
    got, = await _LOCK.first(session, {"k": lock_id})  # type: ignore[misc]  # a SELECT of one value
    if not got:
        raise Conflict("request in progress", "a request with this Idempotency-Key is still being processed")


async def find(session: AsyncSession, scope: str, key: str, req_hash: str) -> tuple[int, str] | None:
    row = await _FIND.first(session, {"scope": scope, "key": key})
    if row is None:
        return None
    stored_hash, status_code, response_body = row
    if stored_hash != req_hash:
        raise Unprocessable("Idempotency-Key reused with a different request",
                            "each key identifies one request; send a new key for a new request")
    return status_code, response_body


def redact_secrets(body: str) -> str:
    """API tokens are stored hashed and shown once: the stored answer of a keyed token
    creation keeps the token's id but not its secret, so a replay answers ``"token": null``."""
    return API_TOKEN_SECRET.sub('"token":null', body)


async def store(session: AsyncSession, scope: str, key: str, req_hash: str, status: int,
                body: str, now_ms: int) -> None:
    await _STORE.rows(session, {"scope": scope, "key": key, "request_hash": req_hash, "status_code": status,
                                "response_body": redact_secrets(body), "created_ms": now_ms})


async def purge(session: AsyncSession, older_than_ms: int) -> int:
    result = await session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_ms < older_than_ms))
    return cast(CursorResult[Any], result).rowcount or 0  # a DELETE's result is a CursorResult
