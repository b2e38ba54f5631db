"""Channel lifecycle rules (SPEC 4): create, extend, refunds, modes, stop/start, delete.

Every change of a channel's time goes through the ledger (``ledger.channel_time``); this
module decides what may happen and in which order. It returns channels and ledger
results, never API replies, and never commits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import events, ids
from ..config import Settings
from ..errors import Conflict, Forbidden, NotFound, TooManyRequests
from ..ledger import Extended, Op
from ..ledger import channel_time as time
from ..models import Channel, Partner
from ..projects import service as projects
from . import repository
from .schemas import BulkExtendRequest, ChannelCreate, ChannelUpdate, ExtendRequest


@dataclass(frozen=True)
class Shown:
    """A channel and the time zone its partner reads dates in."""
    channel: Channel
    tz: ZoneInfo


@dataclass(frozen=True)
class Refunded:
    channel: Channel
    days_returned: int


@dataclass(frozen=True)
class Deleted(Refunded):
    balance: int  # after the refund (the delete reply shows it)


async def partner_row(session: AsyncSession, partner_id: str, *, for_update: bool = False) -> Partner:
    stmt = select(Partner).where(Partner.id == partner_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one()


async def timezone_of(session: AsyncSession, partner_id: str) -> ZoneInfo:
    return ZoneInfo((await session.execute(select(Partner.timezone).where(Partner.id == partner_id))).scalar_one())


async def emit(session: AsyncSession, ch: Channel, type: str, op: Op, **extra: object) -> None:
    await events.emit(session, partner_id=ch.partner_id, type=type, channel_id=ch.id, now_ms=op.now,
                      payload={**time.event_payload(ch), **extra})


async def show(session: AsyncSession, partner_id: str, channel_id: str) -> Shown:
    ch = await repository.get(session, partner_id, channel_id)
    return Shown(ch, await timezone_of(session, partner_id))


async def list_page(session: AsyncSession, partner_id: str, count: int, offset: int, now_ms: int, *,
                    project_id: str | None = None, **filters: object) -> tuple[list[Channel], int, ZoneInfo]:
    project = None if project_id is None else (await projects.get(session, partner_id, project_id)).id
    stmt = repository.filtered(partner_id, now_ms, project_id=project, **filters)  # type: ignore[arg-type]
    rows, total = await repository.page(session, stmt, count, offset)
    return rows, total, await timezone_of(session, partner_id)


async def create(session: AsyncSession, partner_id: str, data: ChannelCreate, settings: Settings, op: Op) -> Shown:
    # The partner row lock makes the rate limit exact under concurrent creates.
    partner = await partner_row(session, partner_id, for_update=True)
    project = await projects.get(session, partner_id, data.projectId)
    window_ms = settings.create_rate_window_seconds * 1000
    recent, oldest = await repository.created_since(session, partner_id, op.now - window_ms)
    if recent >= settings.create_rate_limit:
        retry_after = max(1, math.ceil(((oldest or op.now) + window_ms - op.now) / 1000))
        raise TooManyRequests(
            "too many channels created",
            f"at most {settings.create_rate_limit} channels per {settings.create_rate_window_seconds // 60} "
            f"minutes; retry in {retry_after} s", headers={"Retry-After": str(retry_after)})
    ch = Channel(
        id=ids.channel_id(), partner_id=partner_id, project_id=project.id, name=data.name,
        token=ids.channel_token(), api_url=settings.channel_api_url, server=settings.channel_server,
        mode="trial", stopped=False, connection_status="INIT", phone=data.phone or None,
        recurrent_payment_id=data.recurrentPaymentId, prev_recurrent_payment_id=data.prevRecurrentPaymentId,
        created_ms=op.now)
    await time.open_channel(session, ch, op, trial_days=partner.trial_days if partner.trial_eligible else None)
    await emit(session, ch, "channel.created", op)
    return Shown(ch, ZoneInfo(partner.timezone))


async def update(session: AsyncSession, partner_id: str, channel_id: str, data: ChannelUpdate) -> Channel:
    ch = await repository.get(session, partner_id, channel_id, for_update=True)
    if data.projectId is not None:
        ch.project_id = (await projects.get(session, partner_id, data.projectId)).id
    for field, column in (("name", "name"), ("phone", "phone"), ("recurrentPaymentId", "recurrent_payment_id"),
                          ("prevRecurrentPaymentId", "prev_recurrent_payment_id")):
        value = getattr(data, field)
        if value is not None:
            setattr(ch, column, value or None)
    await session.flush()
    return ch


async def extend(session: AsyncSession, partner_id: str, channel_id: str, data: ExtendRequest, op: Op) -> Extended:
    return await time.extend(session, partner_id, channel_id, data.days, data.comment, op,
                             amount=data.amount, currency=data.currency)


async def extend_many(session: AsyncSession, partner_id: str, data: BulkExtendRequest, op: Op) -> list[Extended]:
    return await time.extend_many(session, partner_id, [(c.id, c.days) for c in data.channels], data.comment, op)


async def balance_of(session: AsyncSession, partner_id: str) -> int:
    return (await session.execute(select(Partner.balance).where(Partner.id == partner_id))).scalar_one()


async def delete(session: AsyncSession, partner_id: str, channel_id: str, op: Op) -> Deleted:
    ch = await repository.get(session, partner_id, channel_id, for_update=True)
    returned = await time.refund_unused(session, ch, "unused days of a deleted channel", op)
    ch.deleted_ms = op.now
    ch.stopped = True
    await emit(session, ch, "channel.deleted", op, daysReturned=returned)
    await session.flush()
    return Deleted(ch, returned, await balance_of(session, partner_id))


async def stop(session: AsyncSession, partner_id: str, channel_id: str, save_days: bool, op: Op) -> Refunded:
    ch = await repository.get(session, partner_id, channel_id, for_update=True)
    returned = await time.refund_unused(session, ch, "unused days of a stopped channel", op) if save_days else 0
    ch.stopped = True
    await emit(session, ch, "channel.stopped", op, daysReturned=returned)
    await session.flush()
    return Refunded(ch, returned)


async def start(session: AsyncSession, partner_id: str, channel_id: str, op: Op) -> Channel:
    ch = await repository.get(session, partner_id, channel_id, for_update=True)
    if ch.mode == "dev_archive":
        raise Conflict("channel is archived", "switch the channel to mode 'dev' before starting it (or to "
                       "'trial', extend it and switch it to 'live')")
    if ch.mode != "dev" and ch.active_till_ms <= op.now:
        raise Conflict("no time left", "the channel has no remaining days; extend it first")
    ch.stopped = False
    await emit(session, ch, "channel.started", op)
    await session.flush()
    return ch


async def restart(session: AsyncSession, partner_id: str, channel_id: str, op: Op) -> Channel:
    ch = await repository.get(session, partner_id, channel_id)
    await emit(session, ch, "channel.restart", op)
    return ch


async def change_mode(session: AsyncSession, partner_id: str, channel_id: str, mode: str, op: Op) -> Refunded:
    ch = await repository.get(session, partner_id, channel_id, for_update=True)
    previous = ch.mode
    returned = 0
    if mode == previous:
        return Refunded(ch, 0)
    if mode == "live":
        await time.end_trial(session, ch, op, from_mode=previous)
        ch.stopped = ch.stopped and previous != "dev_archive"
    elif mode == "dev":
        partner = await partner_row(session, partner_id, for_update=True)
        if await repository.count_sandboxes(session, partner_id) >= partner.sandbox_limit:
            raise Forbidden("sandbox limit reached",
                            f"at most {partner.sandbox_limit} sandbox (dev) channel(s) per partner; archive "
                            "or delete one first")
        returned = await time.to_sandbox(session, ch, "unused days of a channel switched to sandbox", op)
        ch.stopped = False
    elif mode == "dev_archive":
        returned = await time.to_sandbox(session, ch, "unused days of a channel archived as sandbox", op)
        ch.stopped = True
    elif mode == "trial":
        if previous not in time.SANDBOX_MODES:
            raise Forbidden("trial cannot be restarted",
                            "only a sandbox channel can return to 'trial' (without free days)")
        await time.reset_time(session, ch, op)
        ch.stopped = False
    else:  # pragma: no cover - the request schema admits only the four modes
        raise NotFound("unknown mode", mode)
    ch.mode = mode
    await emit(session, ch, "channel.mode", op, previous=previous, daysReturned=returned)
    await session.flush()
    return Refunded(ch, returned)
