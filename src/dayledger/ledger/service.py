"""Posting a ledger transaction.

``post`` is the one function that changes a partner's stored balance. It moves the
balance with a guarded ``UPDATE ... WHERE balance >= :needed`` (so concurrent debits can
never overdraw, whatever the isolation level) and appends the entry with the resulting
``balance_after`` in the caller's transaction. It never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import InsufficientBalance, NotFound
from ..models import LedgerEntry, Partner

ENTRY_TYPES = {
    "topup", "invoice", "extend", "refund", "trial_grant", "adjustment",
    "subscription", "expire", "clawback",
}


@dataclass(frozen=True)
class Actor:
    type: str  # token | user | operator | system
    id: str


SYSTEM = Actor("system", "worker")


@dataclass(frozen=True)
class Posted:
    entry_id: int
    balance_after: int


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
) -> Posted:
    if type not in ENTRY_TYPES:
        raise ValueError(f"unknown ledger entry type {type!r}")
    # Core statements on the tables: the ORM's bulk-DML bookkeeping is pure overhead here.
    partners, entries = Partner.__table__, LedgerEntry.__table__
    stmt = partners.update().where(partners.c.id == partner_id)
    if balance_delta < 0:
        stmt = stmt.where(partners.c.balance >= -balance_delta)
    # Even a zero delta takes the row lock, so balance_after values form one chain.
    stmt = stmt.values(balance=partners.c.balance + balance_delta).returning(partners.c.balance)
    balance_after = (await session.execute(stmt)).scalar_one_or_none()
    if balance_after is None:
        balance = (await session.execute(
            select(partners.c.balance).where(partners.c.id == partner_id))).scalar_one_or_none()
        if balance is None:
            raise NotFound("partner not found")
        raise InsufficientBalance(
            "insufficient balance",
            f"this needs {-balance_delta} days but the balance is {balance} days; top up first",
        )
    entry_id = (await session.execute(
        entries.insert().values(
            partner_id=partner_id, created_ms=now_ms, type=type,
            days=abs(balance_delta) if days is None else days,
            balance_delta=balance_delta, balance_after=balance_after,
            channel_id=channel_id, channel_days=channel_days, comment=comment,
            amount=amount, currency=currency, actor_type=actor.type, actor_id=actor.id,
            idempotency_key=idempotency_key,
        ).returning(entries.c.id)
    )).scalar_one()
    return Posted(entry_id=entry_id, balance_after=balance_after)
