"""Gateway API, for operator tokens with scope ``gateway`` (or ``full``)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ..channels.params import ChannelID
from ..channels.schemas import IntrospectRequest, StatusReport, api_status, may_run
from ..models import Channel
from ..api import ApiRoute, ERROR_RESPONSES, Reply, Success, error_responses, handle, services
from . import service

router = APIRouter(prefix="/gateway", tags=["Gateway"], responses=ERROR_RESPONSES, route_class=ApiRoute)


class Limits(Reply):
    messagesPerDay: int
    chatsPerMonth: int
    apiRequestsPerMonth: int


class Introspection(Reply):
    channelId: str
    partnerId: str
    projectId: str
    mayRun: bool
    mode: str
    stopped: bool
    expired: bool
    activeTill: int
    status: str
    limits: Limits | None

    @classmethod
    def of(cls, ch: Channel, now_ms: int) -> Introspection:
        limits = service.MODE_LIMITS[ch.mode]
        return cls(channelId=ch.id, partnerId=ch.partner_id, projectId=ch.project_id, mayRun=may_run(ch, now_ms),
                   mode=ch.mode, stopped=ch.stopped, expired=ch.expired, activeTill=ch.active_till_ms,
                   status=api_status(ch), limits=Limits(**limits) if limits else None)


class StatusReported(Success):
    id: str
    status: str
    phone: str


@router.post("/introspect", summary="May this channel token run now, in which mode, with which limits",
             response_model=Introspection, responses=error_responses(404, 409))
async def introspect(request: Request, body: IntrospectRequest):
    async def fn(session, principal):
        return Introspection.of(await service.introspect(session, body.token), services(request).clock.now_ms())
    return await handle(request, fn, permission="gateway")


@router.post("/channels/{ChannelID}/status", summary="Report a channel's connection status and phone",
             response_model=StatusReported, responses=error_responses(404, 409))
async def report_status(request: Request, ChannelID: ChannelID, body: StatusReport):
    async def fn(session, principal):
        ch = await service.report_status(session, ChannelID, body.status, body.phone)
        return StatusReported(id=ch.id, status=api_status(ch), phone=ch.phone or "")
    return await handle(request, fn, permission="gateway")
