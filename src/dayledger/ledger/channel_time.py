"""Channel time: the ledger's operations on a channel's paid and free time.

Every change of ``active_till_ms``, ``trial_ms`` or ``expired`` happens here, together
with the ledger entry that records it (``active_till_after_ms``: the channel's time after
the entry, the channel's twin of ``balance_after``) and, where days move, the guarded
balance change of ``post``. ``verify`` recomputes channel time from these entries.

Callers that already hold the channel row (locked ``FOR UPDATE``) pass it in. ``extend``
and ``extend_many``, the hot path, take ids and work on the rows with prebuilt Core
statements (no ORM object is loaded or flushed): the new time is computed by the
database in the ``UPDATE ... RETURNING`` that locks the row, from ``extended_till``, the
one definition of SPEC 4.3's arithmetic, whatever the engine. Locks are always taken
channel(s) first, then the partner row (inside ``post``), so concurrent operations cannot
deadlock. Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NoReturn, cast

from sqlalchemy import (BigInteger, ColumnElement, Numeric, String, Table, bindparam, case, exists, false, func, insert,
                        literal, select, true, update)
from sqlalchemy import cast as cast_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.functions import GenericFunction

from .. import events
from ..clock import DAY_MS
from ..errors import Conflict, Forbidden, NotFound
from ..models import ApiToken, Channel, Event, LedgerEntry, Partner
from ..prepared import Prepared
from .service import DEBIT, SYSTEM, Actor, Debit, Posted, low_balance_notice, post, post_debits, refuse

PAID_MODES = ("trial", "live")
SANDBOX_MODES = ("dev", "dev_archive")


@dataclass(frozen=True)
class Op:
    """Who does an operation, when, and under which idempotency key."""
    now: int
    actor: Actor
    key: str | None = None


@dataclass(frozen=True)
class ChannelTime:
    """A channel's row as an extension left it (the ``RETURNING`` of its update)."""
    id: str
    partner_id: str
    mode: str
    active_till_ms: int
    stopped: bool
    expired: bool
    project_id: str


@dataclass(frozen=True)
class Extended:
    channel: ChannelTime
    days: int
    posted: Posted


class greatest(GenericFunction[int]):
    """``GREATEST(a, b)``; SQLite spells it ``max(a, b)``."""
    type = BigInteger()
    inherit_cache = True


@compiles(greatest, "sqlite")
def _greatest_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    return f"max({compiler.process(element.clauses, **kw)})"


def extended_till(now: Any, active_till: Any, days: Any) -> ColumnElement[int]:
    """SPEC 4.3: activeTill = max(now, activeTill) + days, as SQL (every extension, whatever
    pays for it, and a reinstated clawback)."""
    return greatest(now, active_till) + days * DAY_MS


def unused_paid_days(ch: Channel, now_ms: int) -> int:
    """SPEC 4.4: floor((activeTill - max(now, trial)) / day), never negative."""
    start = max(now_ms, ch.trial_ms or 0)
    return max(0, (ch.active_till_ms - start) // DAY_MS)


# A channel event's payload: its key and the channel's attribute (and column) for each.
EVENT_FIELDS = {"id": "id", "mode": "mode", "activeTill": "active_till_ms", "stopped": "stopped",
                "expired": "expired", "projectId": "project_id"}


def event_payload(ch: Channel | ChannelTime) -> dict:
    return {key: getattr(ch, attr) for key, attr in EVENT_FIELDS.items()}


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


def check_payable(ch: Channel | ChannelTime) -> None:
    """Sandboxes are free and never expire: paid days on one would only run out unused."""
    if ch.mode in SANDBOX_MODES:
        raise Conflict("sandbox channels are not extended",
                       f"channel {ch.id} is a sandbox ({ch.mode}) and runs free; switch it to 'trial' first, "
                       "then extend it (and switch it to 'live')")


_table = cast(Table, Channel.__table__)  # declarative: always a Table
_c = _table.c
_TIME = (_c.id, _c.partner_id, _c.mode, _c.active_till_ms, _c.stopped, _c.expired, _c.project_id)
_NOW, _DAYS = bindparam("now", type_=BigInteger()), bindparam("days", type_=BigInteger())
# Paid days start a channel that expiry stopped (never one stopped by hand).
_REVIVE = {"stopped": case((_c.expired, false()), else_=_c.stopped), "expired": false()}
_PAYABLE = (_c.partner_id == bindparam("pid"), _c.deleted_ms.is_(None), *(_c.mode != mode for mode in SANDBOX_MODES))
# One extension: lock, check, compute and write the row in one statement.
_EXTEND_ONE = (update(_table).where(_c.id == bindparam("cid"), *_PAYABLE)
               .values(active_till_ms=extended_till(_NOW, _c.active_till_ms, _DAYS), **_REVIVE).returning(*_TIME))
_ADD_TIME = (update(_table).where(_c.id == bindparam("cid"))
             .values(active_till_ms=extended_till(_NOW, _c.active_till_ms, _DAYS)).returning(*_TIME))
_LOCK = (select(_c.id, _c.mode).where(_c.id.in_(bindparam("ids", expanding=True)), _c.partner_id == bindparam("pid"),
                                      _c.deleted_ms.is_(None))
         .order_by(_c.id).with_for_update())


async def _lock_balances(session: AsyncSession, partner_ids: set[str]) -> dict[str, int]:
    """Lock the partners' rows in id order (the order every writer uses) and read their
    balances: entries that move no days still carry the balance, keeping each chain intact."""
    return dict((await session.execute(
        select(Partner.id, Partner.balance).where(Partner.id.in_(sorted(partner_ids)))
        .order_by(Partner.id).with_for_update())).tuples().all())


async def _lock(session: AsyncSession, partner_id: str, channel_ids: Sequence[str]) -> None:
    """Lock the partner's channels (in id order); 404 for any that is not there, 409 for a
    sandbox."""
    found = dict((await session.execute(_LOCK, {"ids": sorted(channel_ids), "pid": partner_id})).tuples().all())
    missing = [cid for cid in channel_ids if cid not in found]
    if missing:
        raise NotFound("channel not found", f"no channel with id {', '.join(missing)}"
                       + ("; nothing was extended" if len(channel_ids) > 1 else ""))
    for cid in sorted(found):
        if found[cid] in SANDBOX_MODES:
            check_payable(ChannelTime(cid, partner_id, found[cid], 0, False, False, ""))


def _fused_extend() -> Any:
    """PostgreSQL: a whole extension in one statement (one round trip), the pieces of the
    two-engine path put together as data-modifying CTEs: the channel's ``_EXTEND_ONE``, the
    partner's guarded ``DEBIT`` (only if the channel was updated), the ledger entry and the
    ``channel.extended`` outbox row (only if both were). No piece is written twice: the
    arithmetic, the guard, the entry's columns and the payload's fields are the ones the
    separate statements use. The row returned has the channel, the partner's balance
    (NULL: short) and the entry's id."""
    entries, outbox = cast(Table, LedgerEntry.__table__), cast(Table, Event.__table__)
    ch = _EXTEND_ONE.cte("ch")
    moved = DEBIT.where(exists(select(ch.c.id))).cte("moved")
    e = entries.c

    def bound(name: str, column: Any) -> Any:
        return bindparam(name, type_=column.type)
    entry = {
        e.partner_id: bound("pid", e.partner_id), e.created_ms: _NOW, e.type: literal("extend", String()),
        e.days: _DAYS, e.balance_delta: bound("delta", e.balance_delta), e.balance_after: moved.c.balance,
        e.channel_id: ch.c.id, e.channel_days: _DAYS, e.comment: bound("entry_comment", e.comment),
        e.amount: cast_(bindparam("entry_amount", type_=Numeric(18, 4)), Numeric(18, 4)),
        e.currency: bound("entry_currency", e.currency),
        e.actor_type: bound("entry_actor_type", e.actor_type), e.actor_id: bound("entry_actor_id", e.actor_id),
        e.idempotency_key: bound("entry_key", e.idempotency_key), e.active_till_after_ms: ch.c.active_till_ms,
        e.payment_id: literal(None, String()), e.debt_delta: literal(0, BigInteger()),
    }
    appended = (entries.insert().from_select(list(entry), select(*entry.values()).select_from(ch).join(moved, true()))
                .returning(e.id).cte("appended"))
    payload = func.json_build_object(*(part for key, attr in EVENT_FIELDS.items()
                                       for part in (literal(key, String()), ch.c[attr])),
                                     literal("days", String()), _DAYS)
    o = outbox.c
    event = {o.partner_id: bound("pid", o.partner_id), o.type: literal("channel.extended", String()),
             o.channel_id: ch.c.id, o.payload: payload, o.created_ms: _NOW}
    emitted = outbox.insert().from_select(list(event), select(*event.values()).select_from(ch).join(moved, true()))
    return (select(*ch.c, moved.c.balance, moved.c.days_limit, moved.c.days_alerted, appended.c.id.label("entry_id"))
            .select_from(ch.outerjoin(moved, true()).outerjoin(appended, true())).add_cte(emitted.cte("emitted")))


_P_EXTEND_ONE, _P_FUSED_EXTEND = Prepared(_EXTEND_ONE), Prepared(_fused_extend())


async def lock_in_order(session: AsyncSession, keys: Sequence[tuple[Sequence[str], str]]) -> None:
    """A group of extensions (``db.GroupCommit``) takes its row locks before its members
    run, in the order every writer uses: channels in id order, then partners in id order.
    ``keys``: each member's channel ids and the SHA-256 of its token (whose partner it
    will debit). Members then find their rows locked already, so two groups never hold
    what the other waits for."""
    channel_ids = sorted({cid for ids, _ in keys for cid in ids})
    hashes = sorted({token_hash for _, token_hash in keys})
    if channel_ids:
        await session.execute(select(_c.id).where(_c.id.in_(channel_ids)).order_by(_c.id).with_for_update())
    if hashes:
        await session.execute(select(Partner.id).join(ApiToken, ApiToken.partner_id == Partner.id)
                              .where(ApiToken.token_hash.in_(hashes)).order_by(Partner.id)
                              .with_for_update(of=Partner))


def _emit_extended(ch: ChannelTime, days: int, op: Op) -> dict:
    return {"partner_id": ch.partner_id, "type": "channel.extended", "channel_id": ch.id, "created_ms": op.now,
            "payload": {**event_payload(ch), "days": days}}


async def extend(session: AsyncSession, partner_id: str, channel_id: str, days: int, comment: str, op: Op, *,
                 amount: Decimal | None = None, currency: str | None = None) -> Extended:
    """SPEC 4.3: debit ``days`` from the balance; activeTill = max(now, activeTill) + days.
    A short balance (402) raised by ``post`` rolls back the channel's update with the rest."""
    if session.get_bind().dialect.name == "postgresql":
        return await _extend_in_one(session, partner_id, channel_id, days, comment, op, amount, currency)
    row = await _P_EXTEND_ONE.first(session, {"cid": channel_id, "pid": partner_id, "now": op.now, "days": days})
    if row is None:
        await _not_extended(session, partner_id, channel_id)
    ch = ChannelTime(*row)
    await events.emit_one(session, _emit_extended(ch, days, op))
    posted = await post(session, partner_id=partner_id, type="extend", balance_delta=-days, days=days,
                        channel_id=ch.id, channel_days=days, comment=comment, amount=amount, currency=currency,
                        actor=op.actor, now_ms=op.now, idempotency_key=op.key, active_till_after_ms=ch.active_till_ms)
    return Extended(ch, days, posted)


async def _not_extended(session: AsyncSession, partner_id: str, channel_id: str) -> NoReturn:
    """The extension's update found no row: say why (404: not there; 409: a sandbox)."""
    await _lock(session, partner_id, [channel_id])
    raise AssertionError(f"channel {channel_id} is payable but was not updated")  # pragma: no cover


async def _extend_in_one(session: AsyncSession, partner_id: str, channel_id: str, days: int, comment: str, op: Op,
                         amount: Decimal | None, currency: str | None) -> Extended:
    row = await _P_FUSED_EXTEND.first(session, {
        # (named apart from every column: an UPDATE would take a parameter named like a column as a new value)
        "cid": channel_id, "pid": partner_id, "now": op.now, "days": days, "delta": -days, "entry_comment": comment,
        "entry_amount": amount, "entry_currency": currency, "entry_actor_type": op.actor.type,
        "entry_actor_id": op.actor.id, "entry_key": op.key})
    if row is None:
        await _not_extended(session, partner_id, channel_id)
    ch = ChannelTime(*row[:len(_TIME)])
    balance, days_limit, alerted, entry_id = row[len(_TIME):]
    if balance is None:  # the statement's channel update is rolled back with the transaction
        await refuse(session, partner_id, days)
    await low_balance_notice(session, partner_id, -days, balance, days_limit, alerted, op.now)
    return Extended(ch, days, Posted(entry_id=entry_id, balance_after=balance))


async def extend_many(session: AsyncSession, partner_id: str, items: Sequence[tuple[str, int]], comment: str,
                      op: Op) -> list[Extended]:
    """All channels or none: every channel locked (in id order) and checked, their time
    moved in one statement, their days debited in one guarded move (402 for the whole)."""
    await _lock(session, partner_id, [cid for cid, _ in items])
    days_of = dict(items)
    by_days: dict[int, list[str]] = {}
    for cid, days in items:
        by_days.setdefault(days, []).append(cid)
    # Channels asking for the same days share one branch: usually all of them.
    days_expr: Any = case(*((_c.id.in_(ids), days) for days, ids in by_days.items())) if len(by_days) > 1 \
        else next(iter(by_days))
    rows = (await session.execute(
        update(_table).where(_c.id.in_(sorted(days_of)))
        .values(active_till_ms=extended_till(op.now, _c.active_till_ms, days_expr), **_REVIVE)
        .returning(*_TIME))).all()
    channels = {row.id: ChannelTime(*row) for row in rows}
    order = sorted(days_of)
    posted = await post_debits(session, partner_id=partner_id, type="extend", actor=op.actor, now_ms=op.now,
                               comment=comment, idempotency_key=op.key,
                               debits=[Debit(cid, days_of[cid], channels[cid].active_till_ms) for cid in order],
                               refusal=("extending these channels", "nothing was extended"))
    await events.emit_many(session, [_emit_extended(channels[cid], days_of[cid], op) for cid in order])
    return [Extended(channels[cid], days_of[cid], p) for cid, p in zip(order, posted, strict=True)]


async def _add_time(session: AsyncSession, ch: Channel, days: int, op: Op, statement: Any) -> None:
    """``ch`` (held by the caller) gets ``days`` more by ``statement``; the object takes the
    stored values without being written again."""
    await session.flush()
    row = (await session.execute(statement, {"cid": ch.id, "pid": ch.partner_id, "now": op.now,
                                             "days": days})).one()
    for name in ("active_till_ms", "stopped", "expired"):
        set_committed_value(ch, name, getattr(row, name))


async def paid_period(session: AsyncSession, ch: Channel, days: int, comment: str, op: Op, *,
                      payment_id: str, amount: Decimal | None = None, currency: str | None = None) -> Posted:
    """Days paid for the channel itself (a subscription period, the payment named): its
    time grows like an extension and it runs ``live`` (a trial ends as a switch to live
    ends it); the balance is not touched. A sandbox is refused (409) like an extension."""
    check_payable(ch)
    await _add_time(session, ch, days, op, _EXTEND_ONE)
    await events.emit(session, partner_id=ch.partner_id, type="channel.extended", channel_id=ch.id,
                      now_ms=op.now, payload={**event_payload(ch), "days": days})
    posted = await _record(session, ch, op, type="subscription", comment=comment, channel_days=days, days=days,
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
    await _add_time(session, ch, days, op, _ADD_TIME)
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
