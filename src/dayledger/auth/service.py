"""API tokens: created once and shown once, stored as SHA-256, scoped, revocable."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .. import ids, paging
from ..errors import Forbidden, NotFound, Unauthorized
from ..ledger import Actor
from ..models import ApiToken, Partner
from ..prepared import Prepared

PARTNER_SCOPES = ("read", "channels", "billing", "full")
OPERATOR_SCOPES = ("full", "gateway")

# What each scope may do. "read" covers every GET; "full" adds managing tokens/settings.
GRANTS = {
    "read": {"read"},
    "channels": {"read", "channels"},
    "billing": {"read", "billing"},
    "full": {"read", "channels", "billing", "full"},
    "gateway": {"gateway"},
}


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    token_id: str
    kind: str  # partner | operator
    scope: str
    partner_id: str | None = None
    partner_name: str | None = None
    suspended: bool = False  # a suspended partner's token: reads only (api.handling enforces it)
    user_id: str | None = None  # a person signed in to the dashboard or console (users/)

    @property
    def actor(self) -> Actor:
        if self.user_id is not None:
            return Actor("user", self.user_id)
        return Actor("operator" if self.kind == "operator" else "token", self.token_id)

    @property
    def idempotency_scope(self) -> str:
        return self.partner_id if self.partner_id else f"operator:{self.token_id}"

    def require(self, permission: str) -> None:
        if permission not in GRANTS[self.scope]:
            raise Forbidden("token scope too narrow",
                            f"this needs a token with '{permission}' rights; this token has scope '{self.scope}'")

    def require_partner(self, name: str | None = None) -> str:
        if self.kind != "partner" or self.partner_id is None:
            raise Forbidden("partner token required", "use a partner API token for this route")
        if name is not None and name != self.partner_name:
            raise Forbidden("not your partner account", f"this token belongs to partner '{self.partner_name}'")
        return self.partner_id

    def check_uid(self, uid: str | None) -> None:
        """The reference's ``uid`` filter: only 'me' or the caller's own partner id."""
        if uid not in (None, "me", self.partner_id):
            raise Forbidden("not your partner account", "uid may only be 'me' or your own user id")

    def require_operator(self, permission: str = "full") -> None:
        if self.kind != "operator":
            raise Forbidden("operator token required", "this route is for the platform operator")
        if self.scope != "full":  # an operator's full token may do anything an operator can
            self.require(permission)


@dataclass(frozen=True)
class IssuedToken:
    id: str
    token: str
    scope: str
    name: str
    partner_id: str | None
    created_ms: int
    expires_ms: int | None

    def public(self) -> dict:
        return {"id": self.id, "token": self.token, "scope": self.scope, "name": self.name,
                "createdAt": self.created_ms, "expiresAt": self.expires_ms}


async def issue(session: AsyncSession, *, kind: str, scope: str, now_ms: int,
                partner_id: str | None = None, name: str = "", expires_ms: int | None = None) -> IssuedToken:
    allowed = PARTNER_SCOPES if kind == "partner" else OPERATOR_SCOPES
    if scope not in allowed:
        raise Forbidden("unknown scope", f"scope must be one of {', '.join(allowed)}", status=422)
    raw = ids.api_token(kind)
    token = ApiToken(id=ids.token_id(), kind=kind, partner_id=partner_id, name=name, scope=scope,
                     token_hash=hash_token(raw), prefix=raw[:8], created_ms=now_ms, expires_ms=expires_ms)
    session.add(token)
    await session.flush()
    return IssuedToken(token.id, raw, scope, name, partner_id, now_ms, expires_ms)


# Runs on every request: Core, built once, run straight through the driver (prepared.py).
_tokens, _partners = ApiToken.__table__.c, Partner.__table__.c
_BY_HASH = Prepared(select(_tokens.id, _tokens.kind, _tokens.scope, _tokens.partner_id, _tokens.expires_ms,
                   _tokens.revoked_ms, _partners.name, _partners.status)
            .select_from(ApiToken.__table__.outerjoin(Partner.__table__, _partners.id == _tokens.partner_id))
            .where(_tokens.token_hash == bindparam("hash")))


async def authenticate(session: AsyncSession, raw: str | None, now_ms: int) -> Principal:
    if not raw:
        raise Unauthorized("missing API token", "send 'Authorization: Bearer <token>' or '?token=<token>'")
    row = await _BY_HASH.first(session, {"hash": hash_token(raw)})
    if row is None:
        raise Unauthorized("invalid API token", "the token is unknown")
    token_id, kind, scope, partner_id, expires_ms, revoked_ms, name, status = row
    if revoked_ms is not None:
        raise Unauthorized("invalid API token", "the token was revoked")
    if expires_ms is not None and expires_ms <= now_ms:
        raise Unauthorized("invalid API token", "the token has expired")
    return Principal(token_id, kind, scope, partner_id, name, suspended=kind == "partner" and status != "active")


async def issue_for_partner(session: AsyncSession, partner_id: str, data: Any, now_ms: int) -> IssuedToken:
    """A partner token as a request asks for it: ``data`` has name, scope, expiresInDays."""
    expires = now_ms + data.expiresInDays * 86_400_000 if data.expiresInDays else None
    return await issue(session, kind="partner", scope=data.scope, now_ms=now_ms, partner_id=partner_id,
                       name=data.name, expires_ms=expires)


async def list_tokens(session: AsyncSession, partner_id: str | None) -> list[ApiToken]:
    """A partner's tokens, or (``None``) the operator's."""
    stmt = select(ApiToken).order_by(ApiToken.created_ms, ApiToken.id)
    stmt = stmt.where(ApiToken.partner_id == partner_id) if partner_id else stmt.where(ApiToken.kind == "operator")
    return list((await session.execute(stmt)).scalars())


async def all_tokens(session: AsyncSession, count: int, offset: int, *, kind: str | None = None,
                     partner_id: str | None = None) -> tuple[list[tuple[ApiToken, str | None]], int]:
    """Every token (the operator's view), with its partner's name, oldest first."""
    stmt = select(ApiToken, Partner.name).outerjoin(Partner, Partner.id == ApiToken.partner_id)
    if kind:
        stmt = stmt.where(ApiToken.kind == kind)
    if partner_id:
        stmt = stmt.where(ApiToken.partner_id == partner_id)
    rows, total = await paging.page(session, stmt, count, offset, ApiToken.created_ms, ApiToken.id, scalars=False)
    return [(t, name) for t, name in rows], total


def token_fields(t: ApiToken) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "scope": t.scope, "prefix": t.prefix, "kind": t.kind,
            "createdAt": t.created_ms, "expiresAt": t.expires_ms, "revokedAt": t.revoked_ms}


async def revoke(session: AsyncSession, token_id: str, now_ms: int, partner_id: str | None = None) -> ApiToken:
    """Revoke a token (a partner's own only, when ``partner_id`` is given); revoking a
    revoked token changes nothing."""
    stmt = update(ApiToken).where(ApiToken.id == token_id)
    if partner_id is not None:
        stmt = stmt.where(ApiToken.partner_id == partner_id)
    await session.execute(stmt.where(ApiToken.revoked_ms.is_(None)).values(revoked_ms=now_ms)
                          .execution_options(synchronize_session=False))
    token = (await session.execute(select(ApiToken).where(ApiToken.id == token_id)
                                   .execution_options(populate_existing=True))).scalar_one_or_none()
    if token is None or (partner_id is not None and token.partner_id != partner_id):
        raise NotFound("token not found", f"no token with id {token_id}")
    return token
