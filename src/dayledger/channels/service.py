"""Channel lifecycle rules (SPEC 4): create, extend, refunds, modes, stop/start, delete.

Locks are always taken channel(s) first, then the partner row (inside ``ledger.post``),
so concurrent operations cannot deadlock. Nothing here commits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import events, ids, ledger
from ..clock import DAY_MS
from ..config import Settings
from ..errors import Conflict, Forbidden, InsufficientBalance, NotFound, TooManyRequests
from ..ledger import Actor
from ..models import Channel, Partner
from ..projects import service as projects
from . import repository
from .schemas import (BulkExtendRequest, ChannelCreate, ChannelUpdate, ExtendRequest, public,
                      unused_paid_days)


@dataclass(frozen=True)
class Op:
    """Who does an operation, when, and under which idempotency key."""
    now: int
    actor: Actor
    key: str | None = None


async def partner_row(session: AsyncSession, partner_id: str, *, for_update: bool = False) -> Partner:
    stmt = select(Partner).where(Partner.id == partner_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one()


async def view(session: AsyncSession, ch: Channel, now_ms: int) -> dict:
    tz = (await session.execute(select(Partner.timezone).where(Partner.id == ch.partner_id))).scalar_one()
    return public(ch, now_ms, ZoneInfo(tz))


def _event_payload(ch: Channel) -> dict:
    return {"id": ch.id, "mode": ch.mode, "activeTill": ch.active_till_ms, "stopped": ch.stopped,
            "expired": ch.expired, "projectId": ch.project_id}


async def _emit(session: AsyncSession, ch: Channel, type: str, op: Op, **extra) -> None:
    await events.emit(session, partner_id=ch.partner_id, type=type, channel_id=ch.id, now_ms=op.now,
                      payload={**_event_payload(ch), **extra})


async def create(session: AsyncSession, partner_id: str, data: ChannelCreate, settings: Settings, op: Op) -> dict:
    # The partner row lock makes the rate limit exact under concurrent creates.
    partner = await partner_row(session, partner_id, for_update=True)
    project = await projects.get(session, partner_id, data.projectId)
    window_ms = settings.create_rate_window_seconds * 1000
    recent, oldest = await repository.created_since(session, partner_id, op.now - window_ms)
    if recent >= settings.create_rate_limit:
        retry_after = max(1, math.ceil((oldest + window_ms - op.now) / 1000))
        raise TooManyRequests(
            "too many channels created",
            f"at most {settings.create_rate_limit} channels per {settings.create_rate_window_seconds // 60} "
            f"minutes; retry in {retry_after} s", headers={"Retry-After": str(retry_after)})
    ch = Channel(
        id=ids.channel_id(), partner_id=partner_id, project_id=project.id, name=data.name,
        token=ids.channel_token(), api_url=settings.channel_api_url, server=settings.channel_server,
        mode="trial", stopped=False, expired=False, active_till_ms=op.now, trial_ms=None,
        connection_status="INIT", phone=data.phone or None, recurrent_payment_id=data.recurrentPaymentId,
        prev_recurrent_payment_id=data.prevRecurrentPaymentId, created_ms=op.now)
    if partner.trial_eligible:
        ch.trial_ms = ch.active_till_ms = op.now + partner.trial_days * DAY_MS
    session.add(ch)
    await session.flush()
    if partner.trial_eligible:
        await ledger.post(session, partner_id=partner_id, type="trial_grant", balance_delta=0,
                          days=partner.trial_days, channel_id=ch.id, channel_days=partner.trial_days,
                          comment=f"free trial of {partner.trial_days} days", actor=op.actor,
                          now_ms=op.now, idempotency_key=op.key)
    await _emit(session, ch, "channel.created", op)
    return public(ch, op.now, ZoneInfo(partner.timezone))


async def update(session: AsyncSession, partner_id: str, channel_id: str, data: ChannelUpdate, op: Op) -> dict:
    ch = await repository.get(session, partner_id, channel_id, for_update=True)
    if data.projectId is not None:
        ch.project_id = (await projects.get(session, partner_id, data.projectId)).id
    for field, column in (("name", "name"), ("phone", "phone"), ("recurrentPaymentId", "recurrent_payment_id"),
                          ("prevRecurrentPaymentId", "prev_recurrent_payment_id")):
        value = getattr(data, field)
        if value is not None:
            setattr(ch, column, value or None)
    await session.flush()
    return {"success": True, "result": True}


def _check_payable(ch: Channel) -> None:
    """Sandboxes are free and never expire: paid days on one would only run out unused."""
    if ch.mode in ("dev", "dev_archive"):
        raise Conflict("sandbox channels are not extended",
                       f"channel {ch.id} is a sandbox ({ch.mode}) and runs free; switch it to 'trial' first, "
                       "then extend it (and switch it to 'live')")


async def _add_paid_days(session: AsyncSession, ch: Channel, days: int, comment: str, op: Op,
                         amount=None, currency=None) -> ledger.Posted:
    _check_payable(ch)
    ch.active_till_ms = max(op.now, ch.active_till_ms) + days * DAY_MS
    if ch.expired:  # a channel stopped by expiry (never one stopped by hand) runs again once paid for
        ch.expired = False
        ch.stopped = False
    await _emit(session, ch, "channel.extended", op, days=days)  # also flushes the channel row
    # The partner row is locked last, by the guarded debit: it stays locked only for the debit,
    # the entry and the commit, so concurrent extends of one partner queue on it briefly. A
    # short balance (402) rolls back the channel change with everything else.
    return await ledger.post(session, partner_id=ch.partner_id, type="extend", balance_delta=-days,
                             channel_id=ch.id, channel_days=days, comment=comment, amount=amount,
                             currency=currency, actor=op.actor, now_ms=op.now, idempotency_key=op.key)


async def extend(session: AsyncSession, partner_id: str, channel_id: str, data: ExtendRequest, op: Op) -> dict:
    ch = await repository.get(session, partner_id, channel_id, for_update=True)
    posted = await _add_paid_days(session, ch, data.days, data.comment, op, data.amount, data.currency)
    await session.flush()
    return {"success": True, "result": True, "activeTill": ch.active_till_ms, "daysAdded": data.days,
            "balance": posted.balance_after, "transactionId": posted.entry_id}


async def extend_many(session: AsyncSession, partner_id: str, data: BulkExtendRequest, op: Op) -> dict:
    """All channels or none: locks every channel (in id order), checks the total once."""
    wanted = sorted(data.channels, key=lambda c: c.id)
    rows = (await session.execute(
        repository.live(partner_id).where(Channel.id.in_([c.id for c in wanted]))
        .order_by(Channel.id).with_for_update())).scalars().all()
    found = {ch.id: ch for ch in rows}
    missing = [c.id for c in wanted if c.id not in found]
    if missing:
        raise NotFound("channel not found", f"no channel with id {', '.join(missing)}; nothing was extended")
    for ch in rows:
        _check_payable(ch)
    total = sum(c.days for c in wanted)
    balance = (await partner_row(session, partner_id, for_update=True)).balance
    if balance < total:
        raise InsufficientBalance("insufficient balance",
                                  f"extending these channels needs {total} days but the balance is {balance} "
                                  "days; nothing was extended")
    results, posted = [], None
    for item in wanted:
        ch = found[item.id]
        posted = await _add_paid_days(session, ch, item.days, data.comment, op)
        results.append({"id": ch.id, "daysAdded": item.days, "activeTill": ch.active_till_ms,
                        "transactionId": posted.entry_id})
    await session.flush()
    return {"success": True, "result": True, "days": total, "balance": posted.balance_after,
            "channels": results}


async def refund_unused(session: AsyncSession, ch: Channel, op: Op, reason: str) -> int:
    """Return the channel's unused paid days to the balance; its time shrinks by as much."""
    days = unused_paid_days(ch, op.now)
    if days:
        await ledger.post(session, partner_id=ch.partner_id, type="refund", balance_delta=days,
                          channel_id=ch.id, channel_days=-days, comment=reason, actor=op.actor,
                          now_ms=op.now, idempotency_key=op.key)
        ch.active_till_ms -= days * DAY_MS
    return days


async def _to_sandbox(session: AsyncSession, ch: Channel, op: Op, reason: str) -> int:
    """Sandboxes are free: refund the paid days, and drop what is left (free trial time and
    the current partial day) so it cannot later turn into refundable days."""
    if ch.mode in ("dev", "dev_archive"):
        return 0
    returned = await refund_unused(session, ch, op, reason)
    ch.active_till_ms = min(ch.active_till_ms, op.now)
    ch.trial_ms = None
    return returned


async def balance_of(session: AsyncSession, partner_id: str) -> int:
    return (await session.execute(select(Partner.balance).where(Partner.id == partner_id))).scalar_one()


async def delete(session: AsyncSession, partner_id: str, channel_id: str, op: Op) -> dict:
    ch = await repository.get(session, partner_id, channel_id, for_update=True)
    returned = await refund_unused(session, ch, op, "unused days of a deleted channel")
    ch.deleted_ms = op.now
    ch.stopped = True
    await _emit(session, ch, "channel.deleted", op, daysReturned=returned)
    await session.flush()
    return {"success": True, "result": True, "daysReturned": returned,
            "balance": await balance_of(session, partner_id)}


async def stop(session: AsyncSession, partner_id: str, channel_id: str, save_days: bool, op: Op) -> dict:
    ch = await repository.get(session, partner_id, channel_id, for_update=True)
    returned = await refund_unused(session, ch, op, "unused days of a stopped channel") if save_days else 0
    ch.stopped = True
    await _emit(session, ch, "channel.stopped", op, daysReturned=returned)
    await session.flush()
    return {"success": True, "result": True, "daysReturned": returned}


async def start(session: AsyncSession, partner_id: str, channel_id: str, op: Op) -> dict:
    ch = await repository.get(session, partner_id, channel_id, for_update=True)
    if ch.mode == "dev_archive":
        raise Conflict("channel is archived", "switch the channel to mode 'dev' before starting it (or to "
                       "'trial', extend it and switch it to 'live')")
    if ch.mode != "dev" and ch.active_till_ms <= op.now:
        raise Conflict("no time left", "the channel has no remaining days; extend it first")
    ch.stopped = False
    await _emit(session, ch, "channel.started", op)
    await session.flush()
    return {"success": True, "result": True}


async def restart(session: AsyncSession, partner_id: str, channel_id: str, op: Op) -> dict:
    ch = await repository.get(session, partner_id, channel_id)
    await _emit(session, ch, "channel.restart", op)
    return {"success": True, "result": True}


async def change_mode(session: AsyncSession, partner_id: str, channel_id: str, mode: str, op: Op) -> dict:
    ch = await repository.get(session, partner_id, channel_id, for_update=True)
    previous = ch.mode
    returned = 0
    if mode == previous:
        return {"success": True, "result": True, "mode": mode, "daysReturned": 0}
    if mode == "live":
        free_left = max(0, (ch.trial_ms or 0) - op.now)
        if ch.active_till_ms - free_left <= op.now:
            first = "switch it to 'trial' and extend it" if previous in ("dev", "dev_archive") else "extend it"
            raise Forbidden("no paid time left",
                            f"a live channel needs paid days: {first} first, then switch to live")
        ch.active_till_ms -= free_left  # the free trial ends now
        if ch.trial_ms is not None and ch.trial_ms > op.now:
            ch.trial_ms = op.now
        ch.stopped = ch.stopped and previous != "dev_archive"
    elif mode == "dev":
        partner = await partner_row(session, partner_id, for_update=True)
        if await repository.count_sandboxes(session, partner_id) >= partner.sandbox_limit:
            raise Forbidden("sandbox limit reached",
                            f"at most {partner.sandbox_limit} sandbox (dev) channel(s) per partner; archive "
                            "or delete one first")
        returned = await _to_sandbox(session, ch, op, "unused days of a channel switched to sandbox")
        ch.stopped = False
    elif mode == "dev_archive":
        returned = await _to_sandbox(session, ch, op, "unused days of a channel archived as sandbox")
        ch.stopped = True
    elif mode == "trial":
        if previous not in ("dev", "dev_archive"):
            raise Forbidden("trial cannot be restarted",
                            "only a sandbox channel can return to 'trial' (without free days)")
        # Back to the state of a new channel of a partner without trials: no time of its own
        # (activeTill = creation), so it cannot "expire"; an extension starts it.
        ch.trial_ms = None
        ch.active_till_ms = ch.created_ms
        ch.stopped = False
    else:  # pragma: no cover - the request schema admits only the four modes
        raise NotFound("unknown mode", mode)
    ch.mode = mode
    ch.expired = ch.expired and mode in ("trial", "live") and ch.active_till_ms <= op.now
    await _emit(session, ch, "channel.mode", op, previous=previous, daysReturned=returned)
    await session.flush()
    return {"success": True, "result": True, "mode": mode, "daysReturned": returned}
