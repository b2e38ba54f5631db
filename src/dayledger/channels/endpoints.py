"""The Whapi-compatible channel routes, plus bulk extend, CSV export and statements:
parse, authorize, call one service function, shape the reply."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from ..api import (CSV_REPLY, ERROR_RESPONSES, ApiRoute, HistoryFilter, Paging, PagingParams, Success, authorized,
                   error_responses, handle, idempotency_key, services)
from ..auth.service import Principal
from ..ledger import Op
from ..partners import service as partner_service
from ..partners.schemas import HistoryPage
from . import repository, service, views
from .params import ChannelID, Expiring, ModeFilter, ProjectID, Search, StateFilter, StatusFilter, Uid
from .schemas import (BulkExtendReply, BulkExtendRequest, ChannelCreate, ChannelList, ChannelReply, ChannelUpdate,
                      DeleteReply, ExtendReply, ExtendRequest, ModeReply, ModeRequest, StopReply, StopRequest)

router = APIRouter(tags=["Channels"], responses=ERROR_RESPONSES, route_class=ApiRoute)



def op_for(request: Request, principal: Principal) -> Op:
    return Op(services(request).clock.now_ms(), principal.actor, idempotency_key(request))


# First of the router: the hot path, matched before the other routes are tried.
@router.post("/channels/{ChannelID}/extend", summary="Extend channel", operation_id="extendChannel",
             response_model=ExtendReply, responses=error_responses(402, 404, 409))
async def extend_channel(request: Request, ChannelID: ChannelID, body: ExtendRequest) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> ExtendReply:
        done = await service.extend(session, principal.require_partner(), ChannelID, body, op_for(request, principal))
        return ExtendReply.of(done)
    return await handle(request, fn, permission="channels", grouped=[ChannelID])


async def channel_list(request: Request, paging: PagingParams, *, project_id: str | None = None,
                       uid: str | None = None, **filters: Any) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> ChannelList:
        partner_id = principal.require_partner()
        principal.check_uid(uid)
        now = services(request).clock.now_ms()
        rows, total, tz = await service.list_page(session, partner_id, paging.count, paging.offset, now,
                                                  project_id=project_id, **filters)
        return ChannelList.of(rows, total, paging.offset, now, tz)
    return await handle(request, fn, permission="read")


@router.put("/channels", summary="Create channel", operation_id="createChannel", response_model=ChannelReply,
            responses=error_responses(404, 409, 429))
async def create_channel(request: Request, body: ChannelCreate) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> ChannelReply:
        op = op_for(request, principal)
        shown = await service.create(session, principal.require_partner(), body, services(request).settings, op)
        return ChannelReply.of(shown.channel, op.now, shown.tz)
    return await handle(request, fn, permission="channels")


@router.get("/channels/list", summary="Get channels", operation_id="getChannels", response_model=ChannelList)
async def list_channels(request: Request, paging: Paging, uid: Uid = None, mode: ModeFilter = None,
                        state: StateFilter = None, status: StatusFilter = None,
                        expiringWithin: Expiring = None, q: Search = None) -> Response:
    return await channel_list(request, paging, uid=uid, mode=mode, state=state, status=status,
                              expiring_within_days=expiringWithin, q=q)


@router.get("/channels/list/{ProjectID}", summary="Get channels of a project", operation_id="getChannelsByProjectID",
            response_model=ChannelList, responses=error_responses(404))
async def list_project_channels(request: Request, ProjectID: ProjectID, paging: Paging, mode: ModeFilter = None,
                                state: StateFilter = None, status: StatusFilter = None,
                                expiringWithin: Expiring = None, q: Search = None) -> Response:
    return await channel_list(request, paging, project_id=ProjectID, mode=mode, state=state, status=status,
                              expiring_within_days=expiringWithin, q=q)


# 413: its schema admits 5,000 items, and with extra fields a body can pass the route's 1 MiB.
@router.post("/channels/extend", summary="Extend many channels at once: all or none", response_model=BulkExtendReply,
             responses=error_responses(402, 404, 409, 413))
async def extend_channels(request: Request, body: BulkExtendRequest) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> BulkExtendReply:
        done = await service.extend_many(session, principal.require_partner(), body, op_for(request, principal))
        return BulkExtendReply.of(done)
    return await handle(request, fn, permission="channels", grouped=[c.id for c in body.channels])


@router.get("/channels/export.csv", summary="All channels as CSV, streamed", **CSV_REPLY)
async def export_channels(request: Request, mode: ModeFilter = None, state: StateFilter = None,
                          status: StatusFilter = None, expiringWithin: Expiring = None, q: Search = None) -> Response:
    """The filters of ``GET /channels/list`` (no paging: every matching channel). Each
    channel that exists throughout the export appears exactly once."""
    async def fn(session: AsyncSession, principal: Principal) -> tuple[str, ZoneInfo]:
        partner_id = principal.require_partner()
        return partner_id, await service.timezone_of(session, partner_id)
    partner_id, tz = await authorized(request, fn)
    svc = services(request)
    return views.export_csv(svc.db, partner_id, tz, svc.clock.now_ms(), mode=mode, state=state, status=status,
                            expiring_within_days=expiringWithin, q=q)


@router.get("/channels/{ChannelID}", summary="Get channel", operation_id="getChannel", response_model=ChannelReply,
            responses=error_responses(404))
async def get_channel(request: Request, ChannelID: ChannelID) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> ChannelReply:
        shown = await service.show(session, principal.require_partner(), ChannelID)
        return ChannelReply.of(shown.channel, services(request).clock.now_ms(), shown.tz)
    return await handle(request, fn, permission="read")


@router.patch("/channels/{ChannelID}", summary="Update channel", operation_id="updateChannel", response_model=Success,
              responses=error_responses(404, 409))
async def update_channel(request: Request, ChannelID: ChannelID, body: ChannelUpdate) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> Success:
        await service.update(session, principal.require_partner(), ChannelID, body)
        return Success()
    return await handle(request, fn, permission="channels")


@router.delete("/channels/{ChannelID}", summary="Delete channel; unused paid days return to the balance",
               operation_id="deleteChannel", response_model=DeleteReply, responses=error_responses(404, 409))
async def delete_channel(request: Request, ChannelID: ChannelID) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> DeleteReply:
        done = await service.delete(session, principal.require_partner(), ChannelID, op_for(request, principal))
        return DeleteReply(daysReturned=done.days_returned, balance=done.balance)
    return await handle(request, fn, permission="channels")


@router.post("/channels/{ChannelID}/start", summary="Start channel", operation_id="startChannel",
             response_model=Success, responses=error_responses(404, 409))
async def start_channel(request: Request, ChannelID: ChannelID) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> Success:
        await service.start(session, principal.require_partner(), ChannelID, op_for(request, principal))
        return Success()
    return await handle(request, fn, permission="channels")


@router.post("/channels/{ChannelID}/stop", summary="Stop channel", operation_id="stopChannel", response_model=StopReply,
             responses=error_responses(404, 409))
async def stop_channel(request: Request, ChannelID: ChannelID, body: StopRequest | None = Body(None)) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> StopReply:
        done = await service.stop(session, principal.require_partner(), ChannelID, bool(body and body.saveDays),
                                  op_for(request, principal))
        return StopReply(daysReturned=done.days_returned)
    return await handle(request, fn, permission="channels")


@router.post("/channels/{ChannelID}/restart", summary="Restart channel", operation_id="restartChannel",
             response_model=Success, responses=error_responses(404, 409))
async def restart_channel(request: Request, ChannelID: ChannelID) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> Success:
        await service.restart(session, principal.require_partner(), ChannelID, op_for(request, principal))
        return Success()
    return await handle(request, fn, permission="channels")


@router.patch("/channels/{ChannelID}/mode", summary="Change channel mode", operation_id="changeChannelMode",
              response_model=ModeReply, responses=error_responses(404, 409))
async def change_mode(request: Request, ChannelID: ChannelID, body: ModeRequest | None = Body(None)) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> ModeReply:
        mode = (body.mode if body else None) or "live"
        done = await service.change_mode(session, principal.require_partner(), ChannelID, mode,
                                         op_for(request, principal))
        return ModeReply(mode=done.channel.mode, daysReturned=done.days_returned)  # type: ignore[arg-type]
    return await handle(request, fn, permission="channels")


@router.get("/channels/{ChannelID}/history", summary="One channel's statement: every movement of its days",
            response_model=HistoryPage, responses=error_responses(404))
async def channel_history(request: Request, ChannelID: ChannelID, paging: Paging, filters: HistoryFilter) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> HistoryPage:
        partner_id = principal.require_partner()
        await repository.get(session, partner_id, ChannelID, include_deleted=True)
        rows, total = await partner_service.history(session, partner_id, paging.count, paging.offset,
                                                    channel_id=ChannelID, **filters.as_kwargs())
        return HistoryPage.of(rows, total, paging.offset)
    return await handle(request, fn, permission="read")
