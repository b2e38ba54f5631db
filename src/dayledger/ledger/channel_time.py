"""Channel time: the ledger's operations on a channel's paid and free time.

Every change of ``active_till_ms``, ``trial_ms`` or ``expired`` happens here, together
with the ledger entry that records it (``active_till_after_ms``: the channel's time after
the entry, the channel's twin of ``balance_after``) and, where days move, the guarded
balance change of ``post``. ``verify`` recomputes channel time from these entries.

Callers that already hold the channel row (locked ``FOR UPDATE``) pass it in; ``extend``
and ``extend_many`` lock the rows themselves, so the hot path can later become a single
statement without changing its callers. Locks are always taken channel(s) first, then the
partner row (inside ``post``), so concurrent operations cannot deadlock. Nothing here
commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .. import events
from ..clock import DAY_MS
from ..errors import Conflict, Forbidden, InsufficientBalance, NotFound
from ..models import Channel, LedgerEntry, Partner
from .service import SYSTEM, Actor, Posted, post

PAID_MODES = ("trial", "live")
SANDBOX_MODES = ("dev", "dev_archive")


@dataclass(frozen=True)
class Op:
    """Who does an operation, when, and under which idempotency key."""
    now: int
    actor: Actor
    key: str | None = None


@dataclass(frozen=True)
class Extended:
    channel: Channel
    days: int
    posted: Posted


def unused_paid_days(ch: Channel, now_ms: int) -> int:
    """SPEC 4.4: floor((activeTill - max(now, trial)) / day), never negative."""
    start = max(now_ms, ch.trial_ms or 0)
    return max(0, (ch.active_till_ms - start) // DAY_MS)


def event_payload(ch: Channel) -> dict:
    return {"id": ch.id, "mode": ch.mode, "activeTill": ch.active_till_ms, "stopped": ch.stopped,
            "expired": ch.expired, "projectId": ch.project_id}


async def _record(session: AsyncSession, ch: Channel, op: Op, *, type: str, comment: str,
                  balance_delta: int = 0, channel_days: int = 0, days: int | None = None,
                  amount: Decimal | None = None, currency: str | None = None,
                  payment_id: str | None = None) -> Posted:
    await session.flush()  # the channel row first: the partner row is locked last, in post
    return await post(session, partner_id=ch.partner_id, type=type, balance_delta=balance_delta, days=days,
                      channel_id=ch.id, channel_days=channel_days, comment=comment, amount=amount,
                      currency=currency, actor=op.actor, now_ms=op.now, idempotency_key=op.key,
                      active_till_after_ms=ch.active_till_ms, payment_id=payment_id)


async def open_channel(session: AsyncSession, ch: Channel, op: Op, *, trial_days: int | None) -> None:
    """A new channel's time: a free trial of ``trial_days`` (recorded as a trial_grant),
    or none at all (``activeTill`` = creation: it does not run until days are added)."""
    ch.expired = False
    ch.trial_ms = op.now + trial_days * DAY_MS if trial_days else None
    ch.active_till_ms = ch.trial_ms or op.now
    session.add(ch)
    if trial_days:
        await _record(session, ch, op, type="trial_grant", days=trial_days, channel_days=trial_days,
                      comment=f"free trial of {trial_days} days")
    else:
        await session.flush()


def check_payable(ch: Channel) -> None:
    """Sandboxes are free and never expire: paid days on one would only run out unused."""
    if ch.mode in SANDBOX_MODES:
        raise Conflict("sandbox channels are not extended",
                       f"channel {ch.id} is a sandbox ({ch.mode}) and runs free; switch it to 'trial' first, "
                       "then extend it (and switch it to 'live')")


_channels = Channel.__table__.c
_LOCK = (select(Channel).where(Channel.id.in_(bindparam("ids", expanding=True)),
                               Channel.partner_id == bindparam("pid"), Channel.deleted_ms.is_(None))
         .order_by(Channel.id).with_for_update())


async def _lock_balances(session: AsyncSession, partner_ids: set[str]) -> dict[str, int]:
    """Lock the partners' rows in id order (the order every writer uses) and read their
    balances: entries that move no days still carry the balance, keeping each chain intact."""
    return dict((await session.execute(
        select(Partner.id, Partner.balance).where(Partner.id.in_(sorted(partner_ids)))
        .order_by(Partner.id).with_for_update())).tuples().all())


async def _lock(session: AsyncSession, partner_id: str, channel_ids: Sequence[str]) -> dict[str, Channel]:
    rows = (await session.execute(_LOCK, {"ids": sorted(channel_ids), "pid": partner_id})).scalars().all()
    found = {ch.id: ch for ch in rows}
    missing = [cid for cid in channel_ids if cid not in found]
    if missing:
        raise NotFound("channel not found", f"no channel with id {', '.join(missing)}"
                       + ("; nothing was extended" if len(channel_ids) > 1 else ""))
    return found


async def _add_paid_days(session: AsyncSession, ch: Channel, days: int, comment: str, op: Op, *,
                         type: str = "extend", balance_delta: int | None = None,
                         amount: Decimal | None = None, currency: str | None = None,
                         payment_id: str | None = None) -> Posted:
    check_payable(ch)
    ch.active_till_ms = max(op.now, ch.active_till_ms) + days * DAY_MS
    if ch.expired:  # a channel stopped by expiry (never one stopped by hand) runs again once paid for
        ch.expired = False
        ch.stopped = False
    await events.emit(session, partner_id=ch.partner_id, type="channel.extended", channel_id=ch.id,
                      now_ms=op.now, payload={**event_payload(ch), "days": days})
    # A short balance (402) raised by post rolls back the channel change with everything else.
    return await _record(session, ch, op, type=type, comment=comment, channel_days=days, days=days,
                         balance_delta=-days if balance_delta is None else balance_delta,
                         amount=amount, currency=currency, payment_id=payment_id)


async def extend(session: AsyncSession, partner_id: str, channel_id: str, days: int, comment: str, op: Op, *,
                 amount: Decimal | None = None, currency: str | None = None) -> Extended:
    """SPEC 4.3: debit ``days`` from the balance; activeTill = max(now, activeTill) + days."""
    ch = (await _lock(session, partner_id, [channel_id]))[channel_id]
    posted = await _add_paid_days(session, ch, days, comment, op, amount=amount, currency=currency)
    return Extended(ch, days, posted)


async def extend_many(session: AsyncSession, partner_id: str, items: Sequence[tuple[str, int]], comment: str,
                      op: Op) -> list[Extended]:
    """All channels or none: every channel locked (in id order), the total checked once."""
    found = await _lock(session, partner_id, [cid for cid, _ in items])
    for ch in found.values():
        check_payable(ch)
    total = sum(days for _, days in items)
    balance = (await _lock_balances(session, {partner_id}))[partner_id]
    if balance < total:
        raise InsufficientBalance("insufficient balance",
                                  f"extending these channels needs {total} days but the balance is {balance} "
                                  "days; nothing was extended")
    done = []
    for cid, days in sorted(items):
        ch = found[cid]
        done.append(Extended(ch, days, await _add_paid_days(session, ch, days, comment, op)))
    return done


async def paid_period(session: AsyncSession, ch: Channel, days: int, comment: str, op: Op, *,
                      payment_id: str, amount: Decimal | None = None, currency: str | None = None) -> Posted:
    """Days paid for the channel itself (a subscription period, the payment named): its
    time grows like an extension and it runs ``live`` (a trial ends as a switch to live
    ends it); the balance is not touched. A sandbox is refused (409) like an extension."""
    posted = await _add_paid_days(session, ch, days, comment, op, type="subscription", balance_delta=0,
                                  amount=amount, currency=currency, payment_id=payment_id)
    if ch.mode == "trial":
        await end_trial(session, ch, op, from_mode="trial")
    ch.mode = "live"
    return posted


async def claw_back_time(session: AsyncSession, ch: Channel, days: int, comment: str, op: Op, *,
                         payment_id: str) -> int:
    """A refunded or disputed subscription period: take back up to ``days`` of the
    channel's time still ahead (whole days; time already used stays used). The balance is
    not touched. Returns the days taken."""
    ahead = max(0, (ch.active_till_ms - max(op.now, ch.trial_ms or 0)) // DAY_MS)
    taken = min(days, ahead)
    ch.active_till_ms -= taken * DAY_MS
    await _record(session, ch, op, type="clawback", days=days, channel_days=-taken, comment=comment,
                  payment_id=payment_id)
    return taken


async def restore_time(session: AsyncSession, ch: Channel, days: int, comment: str, op: Op, *,
                       payment_id: str) -> Posted:
    """Channel time a clawback took and that is owed again (a dispute won): added back like
    an extension (from now if the channel ran out meanwhile); the balance is not touched."""
    ch.active_till_ms = max(op.now, ch.active_till_ms) + days * DAY_MS
    return await _record(session, ch, op, type="reinstate", days=days, channel_days=days, comment=comment,
                         payment_id=payment_id)


async def refund_unused(session: AsyncSession, ch: Channel, reason: str, op: Op) -> int:
    """Return the channel's unused paid days to the balance; its time shrinks by as much."""
    days = unused_paid_days(ch, op.now)
    if days:
        ch.active_till_ms -= days * DAY_MS
        await _record(session, ch, op, type="refund", balance_delta=days, channel_days=-days, comment=reason)
    return days


async def to_sandbox(session: AsyncSession, ch: Channel, reason: str, op: Op) -> int:
    """Sandboxes are free: refund the paid days, and drop what is left (free trial time and
    the current partial day) so it cannot later turn into refundable days."""
    if ch.mode in SANDBOX_MODES:
        return 0
    returned = await refund_unused(session, ch, reason, op)
    if ch.active_till_ms > op.now or ch.trial_ms is not None:
        ch.active_till_ms = min(ch.active_till_ms, op.now)
        ch.trial_ms = None
        await _record(session, ch, op, type="sandbox", comment="remaining free time and partial day dropped")
    ch.expired = False
    return returned


async def end_trial(session: AsyncSession, ch: Channel, op: Op, *, from_mode: str) -> None:
    """``trial -> live``: the free trial ends now, its remaining free time is removed.
    Refused (403) when no paid time would be left."""
    free_left = max(0, (ch.trial_ms or 0) - op.now)
    if ch.active_till_ms - free_left <= op.now:
        first = "switch it to 'trial' and extend it" if from_mode in SANDBOX_MODES else "extend it"
        raise Forbidden("no paid time left", f"a live channel needs paid days: {first} first, then switch to live")
    ch.expired = False
    if free_left:
        ch.active_till_ms -= free_left
        ch.trial_ms = op.now
        hours = free_left / 3_600_000
        await _record(session, ch, op, type="trial_end", comment=f"free trial ended: {hours:.1f} free hours removed")


async def reset_time(session: AsyncSession, ch: Channel, op: Op) -> None:
    """A sandbox back to ``trial``: the state of a new channel of a partner without trials,
    no time of its own (activeTill = creation), so it cannot expire; an extension starts it."""
    ch.trial_ms = None
    ch.expired = False
    if ch.active_till_ms != ch.created_ms:
        ch.active_till_ms = ch.created_ms
        await _record(session, ch, op, type="time_reset", comment="sandbox returned to trial without time")


def _due(now_ms: int) -> tuple:
    """Running trial/live channels whose time has passed."""
    return (Channel.expired.is_(False), Channel.stopped.is_(False), Channel.deleted_ms.is_(None),
            Channel.mode.in_(PAID_MODES),
            Channel.active_till_ms <= now_ms,
            # A channel that never had time (created unpaid) never ran, so it cannot expire.
            Channel.active_till_ms > Channel.created_ms)


async def count_due(session: AsyncSession, now_ms: int) -> int:
    return (await session.execute(select(func.count()).select_from(Channel).where(*_due(now_ms)))).scalar_one()


async def oldest_due_ms(session: AsyncSession, now_ms: int) -> int | None:
    """activeTill of the channel that has waited longest for expiry (the expiry job's lag)."""
    return (await session.execute(select(func.min(Channel.active_till_ms)).where(*_due(now_ms)))).scalar_one()


async def expire_due(session: AsyncSession, now_ms: int, batch_size: int = 5000) -> int:
    """SPEC 4.8: stop one batch of running trial/live channels whose time has passed.

    A channel the partner stopped by hand is left alone: it stays ``stopped`` (not
    ``expired``), so a later extension adds time without starting it against the
    partner's will. On PostgreSQL the batch is claimed with ``FOR UPDATE SKIP LOCKED``,
    so several workers split the work without waiting on each other and no channel is
    expired twice."""
    claim = (select(Channel.id, Channel.partner_id, Channel.mode, Channel.active_till_ms)
             .where(*_due(now_ms)).order_by(Channel.active_till_ms).limit(batch_size)
             .with_for_update(skip_locked=True))
    due = (await session.execute(claim)).all()
    if not due:
        return 0
    await session.execute(update(Channel).where(Channel.id.in_([row.id for row in due]))
                          .values(expired=True, stopped=True).execution_options(synchronize_session=False))
    balances = await _lock_balances(session, {row.partner_id for row in due})
    await session.execute(insert(LedgerEntry), [
        {"partner_id": row.partner_id, "created_ms": now_ms, "type": "expire", "days": 0,
         "balance_delta": 0, "balance_after": balances[row.partner_id], "channel_id": row.id,
         "channel_days": 0, "comment": f"{row.mode} channel expired", "actor_type": SYSTEM.type,
         "actor_id": SYSTEM.id, "active_till_after_ms": row.active_till_ms}
        for row in due])
    await events.emit_many(session, [
        {"partner_id": row.partner_id, "type": "channel.expired", "channel_id": row.id, "created_ms": now_ms,
         "payload": {"id": row.id, "mode": row.mode, "activeTill": row.active_till_ms}}
        for row in due])
    return len(due)


async def import_channels(session: AsyncSession, rows: list[dict], op: Op) -> None:
    """Channels that arrive with time of their own (moved from another system, or seeded
    for tests and benchmarks): the rows as given, each with an ``import`` entry recording
    its time, so ``verify`` can account for it. No days move."""
    if not rows:
        return
    await session.execute(insert(Channel), rows)
    balances = await _lock_balances(session, {r["partner_id"] for r in rows})
    await session.execute(insert(LedgerEntry), [
        {"partner_id": r["partner_id"], "created_ms": op.now, "type": "import", "days": 0, "balance_delta": 0,
         "balance_after": balances[r["partner_id"]], "channel_id": r["id"], "channel_days": 0,
         "comment": "channel imported with its time", "actor_type": op.actor.type, "actor_id": op.actor.id,
         "active_till_after_ms": r["active_till_ms"]}
        for r in rows])


# For channels inserted in bulk outside the app (the benchmark seeds, written with COPY):
# one ``import`` entry for each channel with time and no entry recording it yet.
RECORD_UNRECORDED_TIME = (
    "INSERT INTO ledger_entries (partner_id, created_ms, type, days, balance_delta, balance_after, channel_id, "
    "channel_days, comment, actor_type, actor_id, active_till_after_ms) "
    "SELECT c.partner_id, c.created_ms, 'import', 0, 0, p.balance, c.id, 0, 'channel imported with its time', "
    "'system', 'import', c.active_till_ms FROM channels c JOIN partners p ON p.id = c.partner_id "
    "WHERE c.active_till_ms <> c.created_ms AND NOT EXISTS (SELECT 1 FROM ledger_entries e "
    " WHERE e.channel_id = c.id AND e.active_till_after_ms IS NOT NULL) "
    "ORDER BY c.partner_id, c.created_ms, c.id")
