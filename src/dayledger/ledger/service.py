"""Posting a ledger transaction.

``post`` is the one function that changes a partner's stored balance. It moves the
balance with a guarded ``UPDATE ... WHERE balance >= :needed`` (so concurrent debits can
never overdraw, whatever the isolation level) and appends the entry with the resulting
``balance_after`` in the caller's transaction. It never commits.

A partner may owe days (``debt_days``: a refund or dispute took back more than the
balance held). Every credit pays that debt first: the entry records the whole credit in
``days`` and splits it into ``balance_delta`` and a negative ``debt_delta``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import NoReturn, cast

from sqlalchemy import BigInteger, Boolean, Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import events
from ..errors import InsufficientBalance, NotFound
from ..models import LedgerEntry, Partner
from ..prepared import Prepared

# Records of channel time that move no days (see channel_time.py); billing histories
# leave them out unless asked for by type.
TIME_ONLY = {"trial_end", "sandbox", "time_reset", "import"}
ENTRY_TYPES = {
    "topup", "invoice", "extend", "refund", "trial_grant", "adjustment",
    "subscription", "expire", "clawback", "reinstate", *TIME_ONLY,
}
# Entries that credit a payment: exactly one per paid payment (a unique index, and verify).
PAYMENT_CREDITS = ("topup", "invoice", "subscription")


@dataclass(frozen=True)
class Actor:
    type: str  # token | user | operator | system
    id: str


SYSTEM = Actor("system", "worker")


@dataclass(frozen=True)
class Posted:
    entry_id: int
    balance_after: int


# Built once: a statement object caches its compiled form and cache key, so the hot path
# only binds parameters. Building them per call cost more than executing them.
_partners, _entries = cast(Table, Partner.__table__), cast(Table, LedgerEntry.__table__)  # declarative: always a Table
_delta = bindparam("delta", type_=BigInteger())
_MOVE = (_partners.update().where(_partners.c.id == bindparam("pid"))
         .values(balance=_partners.c.balance + _delta)
         .returning(_partners.c.balance, _partners.c.days_limit, _partners.c.days_alerted))
DEBIT = _MOVE.where(_partners.c.balance + _delta >= 0)
_ALERTED = (_partners.update().where(_partners.c.id == bindparam("pid"))
            .values(days_alerted=bindparam("alerted", type_=Boolean())))
_BALANCE = select(_partners.c.balance).where(_partners.c.id == bindparam("pid"))
# Every column of an entry but its id, as parameters named like the columns.
_APPEND = (_entries.insert().values({c.name: bindparam(c.name, type_=c.type) for c in _entries.c if c.name != "id"})
           .returning(_entries.c.id))
_APPEND_MANY = _entries.insert().returning(_entries.c.id, sort_by_parameter_order=True)
# The hot path runs these straight through the driver (prepared.py).
_P_MOVE, _P_DEBIT, _P_APPEND = Prepared(_MOVE), Prepared(DEBIT), Prepared(_APPEND)
_DEBT = select(_partners.c.debt_days).where(_partners.c.id == bindparam("pid")).with_for_update()
_MOVE_DEBT = (_partners.update().where(_partners.c.id == bindparam("pid"))
              .values(debt_days=_partners.c.debt_days + bindparam("debt", type_=BigInteger())))


async def post(
    session: AsyncSession,
    *,
    partner_id: str,
    type: str,
    balance_delta: int,
    actor: Actor,
    now_ms: int,
    days: int | None = None,
    channel_id: str | None = None,
    channel_days: int = 0,
    comment: str = "",
    amount: Decimal | None = None,
    currency: str | None = None,
    idempotency_key: str | None = None,
    active_till_after_ms: int | None = None,
    payment_id: str | None = None,
    debt_delta: int = 0,
) -> Posted:
    if type not in ENTRY_TYPES:
        raise ValueError(f"unknown ledger entry type {type!r}")
    if days is None:
        days = abs(balance_delta)
    if balance_delta > 0:
        # A credit pays the debt first (read under the row lock: SELECT ... FOR UPDATE on
        # PostgreSQL; SQLite transactions begin IMMEDIATE, so nothing writes in between).
        debt = (await session.execute(_DEBT, {"pid": partner_id})).scalar_one_or_none() or 0
        paid = min(debt, balance_delta)
        balance_delta -= paid
        debt_delta -= paid
    if debt_delta:
        await session.execute(_MOVE_DEBT, {"pid": partner_id, "debt": debt_delta})
    balance_after = await _move(session, partner_id, balance_delta, now_ms)
    entry_id, = await _P_APPEND.first(session, {
        "partner_id": partner_id, "created_ms": now_ms, "type": type,
        "days": days,
        "balance_delta": balance_delta, "balance_after": balance_after,
        "channel_id": channel_id, "channel_days": channel_days, "comment": comment,
        "amount": amount, "currency": currency, "actor_type": actor.type, "actor_id": actor.id,
        "idempotency_key": idempotency_key, "active_till_after_ms": active_till_after_ms,
        "payment_id": payment_id, "debt_delta": debt_delta,
    })  # type: ignore[misc]  # an INSERT ... RETURNING gives its row
    return Posted(entry_id=entry_id, balance_after=balance_after)


@dataclass(frozen=True)
class Debit:
    """One entry of ``post_debits``: ``days`` moved from the balance onto a channel."""
    channel_id: str
    days: int
    active_till_after_ms: int


async def post_debits(session: AsyncSession, *, partner_id: str, type: str, debits: list[Debit], actor: Actor,
                      now_ms: int, comment: str, idempotency_key: str | None = None,
                      refusal: tuple[str, str] = ("this", "top up first")) -> list[Posted]:
    """Many debits of one partner at once (a bulk extension): one guarded move of their
    sum (all or none: 402 if the balance is short, its details worded by ``refusal``),
    then one entry each, in the given order, whose ``balance_after`` values continue the
    chain as if each had been posted alone."""
    if type not in ENTRY_TYPES:
        raise ValueError(f"unknown ledger entry type {type!r}")
    total = sum(d.days for d in debits)
    balance = await _move(session, partner_id, -total, now_ms, refusal=refusal) + total
    rows, afters = [], []
    for d in debits:
        balance -= d.days
        afters.append(balance)
        rows.append({"partner_id": partner_id, "created_ms": now_ms, "type": type, "days": d.days,
                     "balance_delta": -d.days, "balance_after": balance, "channel_id": d.channel_id,
                     "channel_days": d.days, "comment": comment, "amount": None, "currency": None,
                     "actor_type": actor.type, "actor_id": actor.id, "idempotency_key": idempotency_key,
                     "active_till_after_ms": d.active_till_after_ms, "payment_id": None, "debt_delta": 0})
    ids = (await session.execute(_APPEND_MANY, rows)).scalars().all()
    return [Posted(entry_id=i, balance_after=after) for i, after in zip(ids, afters, strict=True)]


async def _move(session: AsyncSession, partner_id: str, balance_delta: int, now_ms: int, *,
                refusal: tuple[str, str] = ("this", "top up first")) -> int:
    """Move the stored balance by ``balance_delta`` and return it; a debit is guarded
    (balance >= needed) and refused with 402 when short. Even a zero delta takes the row
    lock, so balance_after values form one chain."""
    moved = await (_P_DEBIT if balance_delta < 0 else _P_MOVE).first(session, {"pid": partner_id,
                                                                              "delta": balance_delta})
    if moved is None:
        await refuse(session, partner_id, -balance_delta, refusal)
    balance_after, days_limit, alerted = moved
    await low_balance_notice(session, partner_id, balance_delta, balance_after, days_limit, alerted, now_ms)
    return balance_after


async def refuse(session: AsyncSession, partner_id: str, needed: int,
                 refusal: tuple[str, str] = ("this", "top up first")) -> NoReturn:
    """The guarded debit of ``needed`` days found the balance short: 402 (404 if there is
    no such partner)."""
    balance = (await session.execute(_BALANCE, {"pid": partner_id})).scalar_one_or_none()
    if balance is None:
        raise NotFound("partner not found")
    raise InsufficientBalance("insufficient balance",
                              f"{refusal[0]} needs {needed} days but the balance is {balance} days; {refusal[1]}")


async def low_balance_notice(session: AsyncSession, partner_id: str, balance_delta: int, balance_after: int,
                              days_limit: int, alerted: bool, now_ms: int) -> None:
    """SPEC 7: the ``days`` event fires once when a debit leaves the balance below
    ``days_limit`` and re-arms when a credit brings it back to the limit or above, so many
    debits below the limit make one notice, not a storm. Written in the debit's transaction."""
    if balance_delta < 0 and balance_after < days_limit and not alerted:
        await session.execute(_ALERTED, {"pid": partner_id, "alerted": True})
        await events.emit(session, partner_id=partner_id, type="days", now_ms=now_ms,
                          payload={"balance": balance_after, "daysLimit": days_limit})
    elif balance_delta > 0 and balance_after >= days_limit and alerted:
        await session.execute(_ALERTED, {"pid": partner_id, "alerted": False})
