"""The Whapi-compatible channel routes, plus bulk extend, CSV export and statements."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import Field
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from ..auth.service import Principal
from ..errors import Forbidden
from ..ids import CHANNEL_ID_PATTERN, PROJECT_ID_PATTERN
from ..models import Partner
from ..partners import repository as partner_repository
from ..partners import service as partner_service
from ..projects import service as projects
from ..text import Storable
from ..api import (ApiRoute, CSV_REPLY, ERROR_RESPONSES, HistoryFilter, Paging, Reply, Success, authorized,
                   error_responses, handle, idempotency_key, services)
from . import repository, service
from .schemas import (BulkExtendRequest, ChannelCreate, ChannelUpdate, ExtendRequest, ModeRequest,
                      StopRequest, api_status, billing_status, public, valid_through)

router = APIRouter(tags=["Channels"], responses=ERROR_RESPONSES, route_class=ApiRoute)
ChannelID = Annotated[str, Path(pattern=CHANNEL_ID_PATTERN, description="Channel ID")]
ProjectID = Annotated[str, Path(pattern=PROJECT_ID_PATTERN, description="Project ID")]
Uid = Annotated[str | None, Query(pattern=r"^(?:[a-zA-Z0-9]{28}|me)$", description="User ID")]
ModeFilter = Annotated[str | None, Query(pattern="^(trial|dev|dev_archive|live)$")]
StateFilter = Annotated[str | None, Query(pattern="^(running|stopped|expired)$")]
StatusFilter = Annotated[str | None, Query(pattern="^(AUTH|QR|INIT|LAUNCH|STOP|SYNC_ERROR|expired)$")]
Expiring = Annotated[int | None, Query(ge=0, le=3650, description="only channels ending within N days")]
Search = Annotated[str | None, Query(max_length=200, description="text in the name, id or phone"), Storable]


Mode = Literal["trial", "dev", "dev_archive", "live"]


class ChannelReply(Reply):
    """The reference Channel plus dayledger's additions (daysLeft ... billingStatus)."""
    id: Annotated[str, Field(pattern=CHANNEL_ID_PATTERN)]
    name: str
    projectId: str
    apiUrl: str
    token: str
    ownerId: str
    server: int
    stopped: bool
    activeTill: int
    creationTS: int
    trial: int | None
    mode: Mode
    status: Literal["INIT", "AUTH", "QR", "LAUNCH", "STOP", "SYNC_ERROR", "expired"]
    phone: str
    daysLeft: int | None
    paidDaysLeft: int
    validThrough: date | None
    billingStatus: Literal["Paid", "Trial", "Unpaid", "Expired", "Sandbox", "Archived"]
    recurrentPaymentId: str | None = None
    prevRecurrentPaymentId: str | None = None


class ChannelList(Reply):
    channels: list[ChannelReply]
    count: int
    offset: int
    total: int


class ExtendReply(Success):
    activeTill: int
    daysAdded: int
    balance: int
    transactionId: int


class BulkExtended(Reply):
    id: str
    daysAdded: int
    activeTill: int
    transactionId: int


class BulkExtendReply(Success):
    days: int
    balance: int
    channels: list[BulkExtended]


class DeleteReply(Success):
    daysReturned: int
    balance: int


class StopReply(Success):
    daysReturned: int


class ModeReply(Success):
    mode: Mode
    daysReturned: int


class Actor(Reply):
    type: str
    id: str


class HistoryEntry(Reply):
    id: int
    time: int
    type: str
    days: int
    balanceDelta: int
    balanceAfter: int
    channelId: str | None
    channelDays: int
    comment: str
    amount: str | None
    currency: str | None
    actor: Actor
    idempotencyKey: str | None


class HistoryPage(Reply):
    history: list[HistoryEntry]
    count: int
    offset: int
    total: int


def op_for(request: Request, principal: Principal) -> service.Op:
    return service.Op(services(request).clock.now_ms(), principal.actor, idempotency_key(request))


def check_uid(uid: str | None, principal: Principal) -> None:
    if uid not in (None, "me", principal.partner_id):
        raise Forbidden("not your partner account", "uid may only be 'me' or your own user id")


async def channel_list(request: Request, paging, *, project_id=None, uid=None, **filters):
    async def fn(session, principal):
        partner_id = principal.require_partner()
        check_uid(uid, principal)
        now = services(request).clock.now_ms()
        project = None
        if project_id is not None:
            project = (await projects.get(session, partner_id, project_id)).id
        stmt = repository.filtered(partner_id, now, project_id=project, **filters)
        rows, total = await repository.page(session, stmt, paging.count, paging.offset)
        tz = ZoneInfo((await session.execute(select(Partner.timezone).where(Partner.id == partner_id))).scalar_one())
        return {"channels": [public(ch, now, tz) for ch in rows], "count": len(rows),
                "offset": paging.offset, "total": total}
    return await handle(request, fn, permission="read")


@router.put("/channels", summary="Create channel", operation_id="createChannel", response_model=ChannelReply,
            responses=error_responses(404, 409, 429))
async def create_channel(request: Request, body: ChannelCreate):
    async def fn(session, principal):
        return await service.create(session, principal.require_partner(), body, services(request).settings,
                                    op_for(request, principal))
    return await handle(request, fn, permission="channels")


@router.get("/channels/list", summary="Get channels", operation_id="getChannels", response_model=ChannelList)
async def list_channels(request: Request, paging: Paging, uid: Uid = None, mode: ModeFilter = None,
                        state: StateFilter = None, status: StatusFilter = None,
                        expiringWithin: Expiring = None, q: Search = None):
    return await channel_list(request, paging, uid=uid, mode=mode, state=state, status=status,
                              expiring_within_days=expiringWithin, q=q)


@router.get("/channels/list/{ProjectID}", summary="Get channels of a project", operation_id="getChannelsByProjectID",
            response_model=ChannelList, responses=error_responses(404))
async def list_project_channels(request: Request, ProjectID: ProjectID, paging: Paging, mode: ModeFilter = None,
                                state: StateFilter = None, status: StatusFilter = None,
                                expiringWithin: Expiring = None, q: Search = None):
    return await channel_list(request, paging, project_id=ProjectID, mode=mode, state=state, status=status,
                              expiring_within_days=expiringWithin, q=q)


@router.post("/channels/extend", summary="Extend many channels at once: all or none", response_model=BulkExtendReply,
             responses=error_responses(402, 404, 409))
async def extend_channels(request: Request, body: BulkExtendRequest):
    async def fn(session, principal):
        return await service.extend_many(session, principal.require_partner(), body, op_for(request, principal))
    return await handle(request, fn, permission="channels")


EXPORT_COLUMNS = ["Name", "ID", "Phone Number", "Work Period", "Status", "Mode", "Created Date", "Billing Status"]
EXPORT_BATCH = 2000  # channels per read transaction


@router.get("/channels/export.csv", summary="All channels as CSV, streamed", **CSV_REPLY)
async def export_channels(request: Request, mode: ModeFilter = None, state: StateFilter = None,
                          status: StatusFilter = None, expiringWithin: Expiring = None, q: Search = None):
    """The filters of ``GET /channels/list`` (no paging: every matching channel)."""
    async def fn(session, principal):
        partner_id = principal.require_partner()
        tz = (await session.execute(select(Partner.timezone).where(Partner.id == partner_id))).scalar_one()
        return partner_id, tz
    partner_id, tz_name = await authorized(request, fn)
    now = services(request).clock.now_ms()
    stmt = repository.filtered(partner_id, now, mode=mode, state=state, status=status,
                               expiring_within_days=expiringWithin, q=q)
    return StreamingResponse(stream_export(request, stmt, now, ZoneInfo(tz_name)), media_type="text/csv",
                             headers={"Content-Disposition": 'attachment; filename="channels.csv"'})


async def stream_export(request: Request, stmt, now: int, tz: ZoneInfo):
    """Batches read in short transactions of their own (keyset-paged on creation time and
    id), so a long export never holds the database: on SQLite's single connection other
    requests run between two batches. Each channel that exists throughout the export
    appears exactly once."""
    db = services(request).db
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(EXPORT_COLUMNS)
    after = None
    while True:
        rows = await db.run(repository.export_batch, stmt, after, EXPORT_BATCH)
        for ch in rows:
            created = datetime.fromtimestamp(ch.created_ms / 1000, tz).date().isoformat()
            through = valid_through(ch, tz)
            period = "sandbox" if ch.mode in ("dev", "dev_archive") else (
                f"{created} to {through}" if through else "not paid")
            writer.writerow([ch.name, ch.id, ch.phone or "", period, api_status(ch), ch.mode, created,
                             billing_status(ch, now)])
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
        if len(rows) < EXPORT_BATCH:
            return
        after = (rows[-1].created_ms, rows[-1].id)


@router.get("/channels/{ChannelID}", summary="Get channel", operation_id="getChannel", response_model=ChannelReply,
            responses=error_responses(404))
async def get_channel(request: Request, ChannelID: ChannelID):
    async def fn(session, principal):
        ch = await repository.get(session, principal.require_partner(), ChannelID)
        return await service.view(session, ch, services(request).clock.now_ms())
    return await handle(request, fn, permission="read")


@router.patch("/channels/{ChannelID}", summary="Update channel", operation_id="updateChannel", response_model=Success,
              responses=error_responses(404, 409))
async def update_channel(request: Request, ChannelID: ChannelID, body: ChannelUpdate):
    async def fn(session, principal):
        return await service.update(session, principal.require_partner(), ChannelID, body, op_for(request, principal))
    return await handle(request, fn, permission="channels")


@router.delete("/channels/{ChannelID}", summary="Delete channel; unused paid days return to the balance",
               operation_id="deleteChannel", response_model=DeleteReply, responses=error_responses(404, 409))
async def delete_channel(request: Request, ChannelID: ChannelID):
    async def fn(session, principal):
        return await service.delete(session, principal.require_partner(), ChannelID, op_for(request, principal))
    return await handle(request, fn, permission="channels")


@router.post("/channels/{ChannelID}/start", summary="Start channel", operation_id="startChannel", response_model=Success,
             responses=error_responses(404, 409))
async def start_channel(request: Request, ChannelID: ChannelID):
    async def fn(session, principal):
        return await service.start(session, principal.require_partner(), ChannelID, op_for(request, principal))
    return await handle(request, fn, permission="channels")


@router.post("/channels/{ChannelID}/stop", summary="Stop channel", operation_id="stopChannel", response_model=StopReply,
             responses=error_responses(404, 409))
async def stop_channel(request: Request, ChannelID: ChannelID, body: StopRequest | None = Body(None)):
    async def fn(session, principal):
        return await service.stop(session, principal.require_partner(), ChannelID,
                                  bool(body and body.saveDays), op_for(request, principal))
    return await handle(request, fn, permission="channels")


@router.post("/channels/{ChannelID}/restart", summary="Restart channel", operation_id="restartChannel",
             response_model=Success, responses=error_responses(404, 409))
async def restart_channel(request: Request, ChannelID: ChannelID):
    async def fn(session, principal):
        return await service.restart(session, principal.require_partner(), ChannelID, op_for(request, principal))
    return await handle(request, fn, permission="channels")


@router.post("/channels/{ChannelID}/extend", summary="Extend channel", operation_id="extendChannel",
             response_model=ExtendReply, responses=error_responses(402, 404, 409))
async def extend_channel(request: Request, ChannelID: ChannelID, body: ExtendRequest):
    async def fn(session, principal):
        return await service.extend(session, principal.require_partner(), ChannelID, body, op_for(request, principal))
    return await handle(request, fn, permission="channels")


@router.patch("/channels/{ChannelID}/mode", summary="Change channel mode", operation_id="changeChannelMode",
              response_model=ModeReply, responses=error_responses(404, 409))
async def change_mode(request: Request, ChannelID: ChannelID, body: ModeRequest | None = Body(None)):
    async def fn(session, principal):
        mode = (body.mode if body else None) or "live"
        return await service.change_mode(session, principal.require_partner(), ChannelID, mode,
                                         op_for(request, principal))
    return await handle(request, fn, permission="channels")


@router.get("/channels/{ChannelID}/history", summary="One channel's statement: every movement of its days",
            response_model=HistoryPage, responses=error_responses(404))
async def channel_history(request: Request, ChannelID: ChannelID, paging: Paging, filters: HistoryFilter):
    async def fn(session, principal):
        partner_id = principal.require_partner()
        await repository.get(session, partner_id, ChannelID, include_deleted=True)
        stmt = partner_repository.history_query(partner_id, channel_id=ChannelID, **filters.as_kwargs())
        rows, total = await partner_repository.history_page(session, stmt, paging.count, paging.offset)
        return {"history": [partner_service.entry_public(e) for e in rows], "count": len(rows),
                "offset": paging.offset, "total": total}
    return await handle(request, fn, permission="read")
