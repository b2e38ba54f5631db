"""Queries of the payments every road shares."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from .. import paging
from ..models import Partner, Payment, StripeEvent

# Insert-or-nothing by Stripe's event id (both engines know ON CONFLICT ... DO NOTHING):
# on PostgreSQL a concurrent duplicate waits for the first transaction and then finds
# the row; on SQLite transactions are serial. Returns the id only when this call stored it.
_STORE_EVENT = text(
    "INSERT INTO stripe_events (id, type, created, payload, received_ms, outcome) "
    "VALUES (:id, :type, :created, :payload, :received_ms, '') ON CONFLICT (id) DO NOTHING RETURNING id")


async def store_event(session: AsyncSession, *, id: str, type: str, created: int, payload: str,
                      received_ms: int) -> bool:
    stored = await session.execute(_STORE_EVENT, {"id": id, "type": type, "created": created,
                                                  "payload": payload, "received_ms": received_ms})
    return stored.scalar_one_or_none() is not None


async def event(session: AsyncSession, event_id: str) -> StripeEvent | None:
    return await session.get(StripeEvent, event_id)


async def payment_for_update(session: AsyncSession, **by: Any) -> Payment | None:
    """The payment matching every ``column=value`` given, locked for this transaction."""
    stmt = select(Payment).with_for_update()
    for column, value in by.items():
        stmt = stmt.where(getattr(Payment, column) == value)
    return (await session.execute(stmt)).scalar_one_or_none()


async def payments_page(session: AsyncSession, count: int, offset: int, *, partner_id: str | None = None,
                        kind: str | None = None, status: str | None = None, flagged: bool | None = None
                        ) -> tuple[list[tuple[Payment, str]], int]:
    """Every payment (the operator's view) with its partner's name, newest first."""
    stmt = select(Payment, Partner.name).join(Partner, Partner.id == Payment.partner_id)
    if partner_id:
        stmt = stmt.where(Payment.partner_id == partner_id)
    if kind:
        stmt = stmt.where(Payment.kind == kind)
    if status:
        stmt = stmt.where(Payment.status == status)
    if flagged is not None:
        stmt = stmt.where(Payment.flag.is_not(None) if flagged else Payment.flag.is_(None))
    rows, total = await paging.page(session, stmt, count, offset, Payment.created_ms.desc(), Payment.id.desc(),
                                    scalars=False)
    return [(p, name) for p, name in rows], total


async def events_page(session: AsyncSession, count: int, offset: int, *, type: str | None = None,
                      outcome: str | None = None) -> tuple[list[StripeEvent], int]:
    """Stripe events as received, newest first; ``outcome`` is a prefix ("flagged")."""
    stmt = select(StripeEvent)
    if type:
        stmt = stmt.where(StripeEvent.type == type)
    if outcome:
        # substr, not LIKE: the same case-sensitive prefix on both engines, no wildcards
        stmt = stmt.where(func.substr(StripeEvent.outcome, 1, len(outcome)) == outcome)
    return await paging.page(session, stmt, count, offset, StripeEvent.received_ms.desc(), StripeEvent.id.desc())


async def intent_held_by_another(session: AsyncSession, intent: str, payment_id: str) -> str | None:
    """The other payment that already names this PaymentIntent, if any (one intent pays
    one payment: the unique index would refuse a second)."""
    stmt = select(Payment.id).where(Payment.stripe_payment_intent == intent, Payment.id != payment_id).limit(1)
    return (await session.execute(stmt)).scalar_one_or_none()
