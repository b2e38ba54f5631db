"""Queries of the payments every road shares."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Payment, StripeEvent

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
