"""Operator API: partners, their prices, limits and status, credits and debits of days;
reading any partner's channels, projects and history; every API token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from ..api import (CSV_REPLY, ERROR_RESPONSES, ApiRoute, HistoryFilter, Paging, authorized, error_responses, handle,
                   idempotency_key, services)
from ..auth import service as auth
from ..auth.service import Principal
from ..channels import service as channels
from ..channels.params import Expiring, ModeFilter, Search, StateFilter, StatusFilter
from ..channels.schemas import ChannelList
from ..partners import service
from ..partners.params import ChannelFilter, PartnerName, TokenID
from ..partners.views import history_csv, history_reply, profile_reply, token_reply
from ..partners.schemas import (CreatedPartner, DaysChange, DaysChanged, HistoryPage, IssuedTokenReply, PartnerCreate,
                                PartnerList, PartnerProfile, PartnerUpdate, TokenCreate, TokenInfo, TokenPage)
from ..projects import service as projects
from ..projects.schemas import ProjectList

router = APIRouter(prefix="/admin", tags=["Operator"], responses=ERROR_RESPONSES, route_class=ApiRoute)
TokenKind = Annotated[str | None, Query(pattern="^(partner|operator)$", description="only tokens of this kind")]
PartnerFilter = Annotated[str | None, Query(alias="partner", pattern=r"^[a-zA-Z0-9_-]+$", max_length=64,
                                            description="only this partner's tokens")]


@router.post("/partners", summary="Create a partner (with its default project)", status_code=201,
             response_model=CreatedPartner, responses=error_responses(409))
async def create_partner(request: Request, body: PartnerCreate) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> CreatedPartner:
        svc = services(request)
        now = svc.clock.now_ms()
        partner, project_id = await service.create(session, body, svc.settings, now)
        counts = await service.counts_of(session, partner, now)
        return CreatedPartner(**PartnerProfile.fields_of(partner, counts, now), projectId=project_id)
    return await handle(request, fn, permission="operator", status=201)


@router.get("/partners", summary="List partners with balances and channel counts", response_model=PartnerList)
async def list_partners(request: Request, paging: Paging) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> PartnerList:
        now = services(request).clock.now_ms()
        rows, total = await service.page(session, paging.count, paging.offset, now)
        return PartnerList(partners=[PartnerProfile.of(p, counts, now) for p, counts in rows], count=len(rows),
                           offset=paging.offset, total=total)
    return await handle(request, fn, permission="operator")


@router.get("/partners/{PartnerName}", summary="One partner", response_model=PartnerProfile,
            responses=error_responses(404))
async def get_partner(request: Request, name: PartnerName) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> PartnerProfile:
        return await profile_reply(session, name, services(request).clock.now_ms())
    return await handle(request, fn, permission="operator")


@router.patch("/partners/{PartnerName}", summary="Change a partner's price, trial eligibility, limits or status",
              response_model=PartnerProfile, responses=error_responses(404, 409))
async def update_partner(request: Request, name: PartnerName, body: PartnerUpdate) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> PartnerProfile:
        await service.update(session, name, body)
        return await profile_reply(session, name, services(request).clock.now_ms())
    return await handle(request, fn, permission="operator")


async def _set_status(request: Request, name: str, status: str) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> PartnerProfile:
        await service.set_status(session, name, status)
        return await profile_reply(session, name, services(request).clock.now_ms())
    return await handle(request, fn, permission="operator")


@router.post("/partners/{PartnerName}/suspend", response_model=PartnerProfile, responses=error_responses(404, 409),
             summary="Suspend a partner: its tokens may still read, every change answers 403; its channels "
                     "keep the time they have")
async def suspend_partner(request: Request, name: PartnerName) -> Response:
    return await _set_status(request, name, "suspended")


@router.post("/partners/{PartnerName}/resume", summary="Resume a suspended partner", response_model=PartnerProfile,
             responses=error_responses(404, 409))
async def resume_partner(request: Request, name: PartnerName) -> Response:
    return await _set_status(request, name, "active")


async def _change_days(request: Request, name: str, body: DaysChange, sign: int) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> DaysChanged:
        posted = await service.change_days(session, name, body, sign=sign, actor=principal.actor,
                                           now_ms=services(request).clock.now_ms(),
                                           idempotency_key=idempotency_key(request))
        return DaysChanged(transactionId=posted.entry_id, days=body.days, balance=posted.balance_after)
    return await handle(request, fn, permission="operator")


@router.post("/partners/{PartnerName}/credit", summary="Credit days to a partner's balance (comment required)",
             response_model=DaysChanged, responses=error_responses(404, 409))
async def credit(request: Request, name: PartnerName, body: DaysChange) -> Response:
    return await _change_days(request, name, body, +1)


@router.post("/partners/{PartnerName}/debit", summary="Debit days from a partner's balance (comment required)",
             response_model=DaysChanged, responses=error_responses(402, 404, 409))
async def debit(request: Request, name: PartnerName, body: DaysChange) -> Response:
    return await _change_days(request, name, body, -1)


@router.get("/partners/{PartnerName}/channels", summary="A partner's channels (the filters of /channels/list)",
            response_model=ChannelList, responses=error_responses(404))
async def partner_channels(request: Request, name: PartnerName, paging: Paging, mode: ModeFilter = None,
                           state: StateFilter = None, status: StatusFilter = None, expiringWithin: Expiring = None,
                           q: Search = None) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> ChannelList:
        partner = await service.get(session, name)
        now = services(request).clock.now_ms()
        rows, total, tz = await channels.list_page(session, partner.id, paging.count, paging.offset, now, mode=mode,
                                                   state=state, status=status,
                                                   expiring_within_days=expiringWithin, q=q)
        return ChannelList.of(rows, total, paging.offset, now, tz)
    return await handle(request, fn, permission="operator")


@router.get("/partners/{PartnerName}/projects", summary="A partner's projects", response_model=ProjectList,
            responses=error_responses(404))
async def partner_projects(request: Request, name: PartnerName, paging: Paging) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> ProjectList:
        partner = await service.get(session, name)
        rows, total = await projects.page(session, partner.id, paging.count, paging.offset)
        return ProjectList.of(rows, total, paging.offset)
    return await handle(request, fn, permission="operator")


@router.get("/partners/{PartnerName}/history", summary="A partner's billing history, newest first",
            response_model=HistoryPage, responses=error_responses(404))
async def partner_history(request: Request, name: PartnerName, paging: Paging, filters: HistoryFilter,
                          channel: ChannelFilter = None) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> HistoryPage:
        partner = await service.get(session, name)
        return await history_reply(session, partner.id, paging, filters, channel)
    return await handle(request, fn, permission="operator")


@router.get("/partners/{PartnerName}/history.csv", summary="A partner's billing history as CSV, streamed",
            **CSV_REPLY)
async def partner_history_csv(request: Request, name: PartnerName, filters: HistoryFilter,
                              channel: ChannelFilter = None) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> str:
        return (await service.get(session, name)).id
    partner_id = await authorized(request, fn, permission="operator")
    return history_csv(services(request).db, partner_id, filters, channel, f"{name}-history.csv")


@router.post("/partners/{PartnerName}/tokens", summary="Create an API token for a partner", status_code=201,
             response_model=IssuedTokenReply, responses=error_responses(404, 409))
async def create_partner_token(request: Request, name: PartnerName, body: TokenCreate) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> IssuedTokenReply:
        partner = await service.get(session, name)
        issued = await auth.issue_for_partner(session, partner.id, body, services(request).clock.now_ms())
        return IssuedTokenReply(**issued.public())
    return await handle(request, fn, permission="operator", status=201)


@router.get("/tokens", summary="Every API token, partners' and operators' (never their secrets)",
            response_model=TokenPage, responses=error_responses(404))
async def list_tokens(request: Request, paging: Paging, kind: TokenKind = None,
                      partner: PartnerFilter = None) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> TokenPage:
        partner_id = (await service.get(session, partner)).id if partner else None
        rows, total = await auth.all_tokens(session, paging.count, paging.offset, kind=kind, partner_id=partner_id)
        return TokenPage(tokens=[token_reply(t, name) for t, name in rows], count=len(rows), offset=paging.offset,
                         total=total)
    return await handle(request, fn, permission="operator")


@router.delete("/tokens/{token_id}", summary="Revoke any API token (a partner's or an operator's)",
               response_model=TokenInfo, responses=error_responses(404, 409))
async def revoke_token(request: Request, token_id: TokenID) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> TokenInfo:
        return token_reply(await auth.revoke(session, token_id, services(request).clock.now_ms()))
    return await handle(request, fn, permission="operator")
