"""Partner self-service: profile, billing history (JSON and CSV), tokens."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import StreamingResponse

from ..auth import service as auth
from ..ids import PARTNER_NAME_PATTERN
from ..models import LedgerEntry
from ..channels.endpoints import HistoryPage
from ..api import (ApiRoute, CSV_REPLY, ERROR_RESPONSES, HistoryFilter, Paging, Reply, Success, authorized, error_responses, handle,
                   services)
from . import repository, service
from .schemas import PartnerSettings, TokenCreate

router = APIRouter(tags=["Partner account"], responses=ERROR_RESPONSES, route_class=ApiRoute)
# The path parameter is named as in the reference ({PartnerName}); handlers call it ``name``.
PartnerName = Annotated[str, Path(alias="PartnerName", pattern=PARTNER_NAME_PATTERN, max_length=64,
                                  description="Partner Name")]
ChannelFilter = Annotated[str | None, Query(alias="channel", pattern=r"^(?:[A-Z]{6}-[A-Z0-9]{5}|[A-Z0-9]{12})$")]


class ChannelCounts(Reply):
    total: int
    byMode: dict[str, int]
    byState: dict[str, int]
    paidRunning: int  # running trial/live channels with paid time: what runwayDays divides by


class PartnerProfile(Reply):
    id: str
    name: str
    email: str
    balance: int
    currency: str
    pricePerMonth: str | None
    trialEligible: bool
    trialDays: int
    daysLimit: int
    sandboxLimit: int
    timezone: str
    status: Literal["active", "suspended"]
    creationTS: int
    channels: ChannelCounts
    runwayDays: int | None


class IssuedToken(Reply):
    id: str
    token: str | None  # null only in an Idempotency-Key replay: the secret is shown once
    scope: str
    name: str
    createdAt: int
    expiresAt: int | None


class TokenInfo(Reply):
    id: str
    name: str
    scope: str
    prefix: str
    kind: str
    createdAt: int
    expiresAt: int | None
    revokedAt: int | None


class TokenList(Reply):
    tokens: list[TokenInfo]


class WebhookEventReply(Reply):
    type: str
    method: str


class WebhookReply(Reply):
    url: str
    events: list[WebhookEventReply]
    mode: str


class SettingsReply(Reply):
    webhooks: list[WebhookReply]
    days_limit: int
    noChat: bool


@router.get("/partners/{PartnerName}", summary="Partner profile with balance, limits and channel counts",
            response_model=PartnerProfile)
async def get_partner(request: Request, name: PartnerName):
    async def fn(session, principal):
        principal.require_partner(name)
        partner = await service.get(session, name)
        return await service.profile(session, partner, services(request).clock.now_ms())
    return await handle(request, fn, permission="read")


@router.get("/partners/{PartnerName}/history", summary="Billing history: every movement of days, newest first",
            response_model=HistoryPage)
async def get_history(request: Request, name: PartnerName, paging: Paging, filters: HistoryFilter,
                      channel: ChannelFilter = None):
    async def fn(session, principal):
        partner_id = principal.require_partner(name)
        stmt = repository.history_query(partner_id, channel_id=channel, **filters.as_kwargs())
        rows, total = await repository.history_page(session, stmt, paging.count, paging.offset)
        return {"history": [service.entry_public(e) for e in rows],
                "count": len(rows), "offset": paging.offset, "total": total}
    return await handle(request, fn, permission="read")


@router.get("/partners/{PartnerName}/history.csv", summary="Billing history as CSV, streamed", **CSV_REPLY)
async def get_history_csv(request: Request, name: PartnerName, filters: HistoryFilter,
                          channel: ChannelFilter = None):
    async def fn(session, principal):
        return principal.require_partner(name)
    partner_id = await authorized(request, fn)
    stmt = repository.history_query(partner_id, channel_id=channel, **filters.as_kwargs())
    return StreamingResponse(stream_csv(request, stmt), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="{name}-history.csv"'})


async def stream_csv(request: Request, stmt):
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(service.CSV_COLUMNS)
    async with services(request).db.sessions() as session:
        result = await session.stream_scalars(stmt.order_by(LedgerEntry.id).execution_options(yield_per=1000))
        async for partition in result.partitions():
            for e in partition:
                writer.writerow(service.entry_csv_row(e))
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    if buf.tell():
        yield buf.getvalue()


@router.get("/partners/{PartnerName}/tokens", summary="List this partner's API tokens (never their secrets)",
            response_model=TokenList)
async def list_tokens(request: Request, name: PartnerName):
    async def fn(session, principal):
        return {"tokens": await auth.list_tokens(session, principal.require_partner(name))}
    return await handle(request, fn, permission="full")


@router.post("/partners/{PartnerName}/tokens", summary="Create an API token; the secret is shown only in this response",
             status_code=201, response_model=IssuedToken, responses=error_responses(409))
async def create_token(request: Request, name: PartnerName, body: TokenCreate):
    async def fn(session, principal):
        partner_id = principal.require_partner(name)
        now = services(request).clock.now_ms()
        expires = now + body.expiresInDays * 86_400_000 if body.expiresInDays else None
        issued = await auth.issue(session, kind="partner", scope=body.scope, now_ms=now,
                                  partner_id=partner_id, name=body.name, expires_ms=expires)
        return issued.public()
    return await handle(request, fn, permission="full", status=201)


@router.delete("/partners/{PartnerName}/tokens/{token_id}", summary="Revoke an API token", response_model=TokenInfo,
               responses=error_responses(404, 409))
async def revoke_token(request: Request, name: PartnerName,
                       token_id: Annotated[str, Path(pattern=r"^tok_[A-Za-z0-9]{16}$")]):
    async def fn(session, principal):
        partner_id = principal.require_partner(name)
        return await auth.revoke(session, token_id, services(request).clock.now_ms(), partner_id)
    return await handle(request, fn, permission="full")


@router.get("/partners/{PartnerName}/settings", summary="Get partner settings", operation_id="getPartnerSettings",
            tags=["Partner settings"], response_model=SettingsReply)
async def get_settings_(request: Request, name: PartnerName):
    async def fn(session, principal):
        principal.require_partner(name)
        return service.settings_public(await service.get(session, name))
    return await handle(request, fn, permission="read")


@router.patch("/partners/{PartnerName}/settings", summary="Set partner settings", operation_id="setPartnerSettings",
              tags=["Partner settings"], response_model=Success, responses=error_responses(409))
async def patch_settings(request: Request, name: PartnerName, body: PartnerSettings):
    async def fn(session, principal):
        principal.require_partner(name)
        await service.update_settings(session, name, body)
        return {"success": True, "result": True}
    return await handle(request, fn, permission="full")
