"""The partner's notice settings: when channel.expiring and runway.low fire, and which
events are mailed (the partner itself, or the operator for any partner)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from ..api import ERROR_RESPONSES, ApiRoute, error_responses, handle
from ..auth.service import Principal
from ..partners.params import PartnerName
from . import service
from .schemas import NoticeSettingsBody, NoticeSettingsReply

router = APIRouter(tags=["Partner settings"], responses=ERROR_RESPONSES, route_class=ApiRoute)


@router.get("/partners/{PartnerName}/notices", response_model=NoticeSettingsReply, responses=error_responses(404),
            summary="Notice settings: expiring notice, runway threshold, event types mailed")
async def get_notices(request: Request, name: PartnerName) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> NoticeSettingsReply:
        return NoticeSettingsReply.of(await service.partner_for(session, principal, name))
    return await handle(request, fn, permission="read")


@router.put("/partners/{PartnerName}/notices", response_model=NoticeSettingsReply,
            responses=error_responses(404, 409),
            summary="Set the notice settings (all of them: a field left out takes its default)",
            description="`expiringNoticeDays` (1 to 30, default 3): `channel.expiring` fires when a trial or live "
                        "channel ends within that many days. `runwayNoticeDays` (1 to 365, or null: off): "
                        "`runway.low` fires when the runway falls below it. `emailEvents`: the event types mailed "
                        "to the partner's email when the server has SMTP configured: a list of types, `[\"*\"]` "
                        "for all, `[]` for none, null or left out for the defaults (see docs/notices.md). An "
                        "unknown type answers 422.")
async def put_notices(request: Request, name: PartnerName, body: NoticeSettingsBody) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> NoticeSettingsReply:
        partner = await service.partner_for(session, principal, name, for_update=True)
        return NoticeSettingsReply.of(await service.set_notices(session, partner, body))
    return await handle(request, fn, permission="full")
