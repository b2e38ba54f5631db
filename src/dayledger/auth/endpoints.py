"""``GET /me``: the token's own identity, so a script needs only a URL and a token."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from ..api import ERROR_RESPONSES, ApiRoute, handle
from .schemas import MeReply
from .service import Principal

router = APIRouter(tags=["Tokens"], responses=ERROR_RESPONSES, route_class=ApiRoute)


@router.get("/me", summary="The token's partner name, kind, scope and id", operation_id="getMe",
            response_model=MeReply)
async def me(request: Request) -> Response:
    """Any token with ``read`` rights may ask (every partner scope, and an operator's
    ``full`` token, with ``partner: null``; a ``gateway`` token is 403 like on every other
    read); a suspended partner's token answers with ``suspended: true``."""
    async def fn(session: AsyncSession, principal: Principal) -> MeReply:
        return MeReply(tokenId=principal.token_id,
                       kind="partner" if principal.kind == "partner" else "operator", scope=principal.scope,
                       partner=principal.partner_name, partnerId=principal.partner_id,
                       suspended=principal.suspended)
    return await handle(request, fn, permission="read")
