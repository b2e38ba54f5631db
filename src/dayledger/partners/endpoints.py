"""Partner self-service: profile, billing history (JSON and CSV), tokens, settings."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from ..api import (CSV_REPLY, ERROR_RESPONSES, ApiRoute, HistoryFilter, Paging, Success, authorized,
                   error_responses, handle, services)
from ..auth import service as auth
from ..auth.service import Principal
from ..webhooks import service as webhooks
from . import service
from .params import ChannelFilter, PartnerName, TokenID
from .schemas import (HistoryPage, IssuedTokenReply, PartnerProfile, PartnerSettings, SettingsReply, TokenCreate,
                      TokenInfo, TokenList)
from .views import history_csv, history_reply, profile_reply, token_reply

router = APIRouter(tags=["Partner account"], responses=ERROR_RESPONSES, route_class=ApiRoute)



@router.get("/partners/{PartnerName}", summary="Partner profile with balance, limits and channel counts",
            response_model=PartnerProfile)
async def get_partner(request: Request, name: PartnerName) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> PartnerProfile:
        principal.require_partner(name)
        return await profile_reply(session, name, services(request).clock.now_ms())
    return await handle(request, fn, permission="read")


@router.get("/partners/{PartnerName}/history", summary="Billing history: every movement of days, newest first",
            response_model=HistoryPage)
async def get_history(request: Request, name: PartnerName, paging: Paging, filters: HistoryFilter,
                      channel: ChannelFilter = None) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> HistoryPage:
        return await history_reply(session, principal.require_partner(name), paging, filters, channel)
    return await handle(request, fn, permission="read")


@router.get("/partners/{PartnerName}/history.csv", summary="Billing history as CSV, streamed", **CSV_REPLY)
async def get_history_csv(request: Request, name: PartnerName, filters: HistoryFilter,
                          channel: ChannelFilter = None) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> str:
        return principal.require_partner(name)
    partner_id = await authorized(request, fn)
    return history_csv(services(request).db, partner_id, filters, channel, f"{name}-history.csv")


@router.get("/partners/{PartnerName}/tokens", summary="List this partner's API tokens (never their secrets)",
            response_model=TokenList)
async def list_tokens(request: Request, name: PartnerName) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> TokenList:
        tokens = await auth.list_tokens(session, principal.require_partner(name))
        return TokenList(tokens=[token_reply(t) for t in tokens])
    return await handle(request, fn, permission="full")


@router.post("/partners/{PartnerName}/tokens", summary="Create an API token; the secret is shown only in this response",
             status_code=201, response_model=IssuedTokenReply, responses=error_responses(409))
async def create_token(request: Request, name: PartnerName, body: TokenCreate) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> IssuedTokenReply:
        issued = await auth.issue_for_partner(session, principal.require_partner(name), body,
                                              services(request).clock.now_ms())
        return IssuedTokenReply(**issued.public())
    return await handle(request, fn, permission="full", status=201)


@router.delete("/partners/{PartnerName}/tokens/{token_id}", summary="Revoke an API token", response_model=TokenInfo,
               responses=error_responses(404, 409))
async def revoke_token(request: Request, name: PartnerName, token_id: TokenID) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> TokenInfo:
        partner_id = principal.require_partner(name)
        return token_reply(await auth.revoke(session, token_id, services(request).clock.now_ms(), partner_id))
    return await handle(request, fn, permission="full")


@router.get("/partners/{PartnerName}/settings", summary="Get partner settings", operation_id="getPartnerSettings",
            tags=["Partner settings"], response_model=SettingsReply)
async def get_settings_(request: Request, name: PartnerName) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> SettingsReply:
        principal.require_partner(name)
        return SettingsReply.of(await service.get(session, name))
    return await handle(request, fn, permission="read")


@router.patch("/partners/{PartnerName}/settings", summary="Set partner settings", operation_id="setPartnerSettings",
              tags=["Partner settings"], response_model=Success, responses=error_responses(409))
async def patch_settings(request: Request, name: PartnerName, body: PartnerSettings) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> Success:
        principal.require_partner(name)
        svc = services(request)
        if body.webhooks is not None:  # the list is kept as endpoints, signed like the others; its
            # URLs are checked (a DNS lookup) before anything is written, so no write lock waits on it
            await webhooks.sync_settings(session, await service.get(session, name, for_update=True),
                                         [w.model_dump() for w in body.webhooks], svc.settings, svc.clock.now_ms())
        await service.update_settings(session, name, body)
        return Success()
    return await handle(request, fn, permission="full")
