"""The outbox: events are rows written in the transaction of the change that caused them,
so an event exists exactly when its change was committed. Delivery (webhooks, email, the
gateway) reads them afterwards."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, bindparam
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Event
from .prepared import Prepared


# Every event type, with what it means; docs/events.md documents each payload.
EVENT_TYPES: dict[str, str] = {
    "days": "the balance fell below the partner's days_limit (once per fall; re-armed at or above it)",
    "runway.low": "the runway fell below the partner's runway notice threshold (once per fall)",
    "balance.credited": "days were credited from a payment",
    "topup.paid": "a top-up (Checkout or auto-recharge) was paid and its days credited",
    "invoice.created": "an invoice was issued",
    "invoice.paid": "an invoice was paid and its days credited",
    "subscription.paid": "a channel's subscription paid a period",
    "autorecharge.failed": "the saved card could not be charged",
    "autoextend.failed": "an auto-extend policy could not extend a channel: the balance is short",
    "channel.created": "a channel was created",
    "channel.extended": "days were moved onto a channel",
    "channel.expiring": "a channel's paid or trial time ends within the partner's notice days",
    "channel.expired": "a channel's time ran out and it stopped",
    "channel.deleted": "a channel was deleted; unused days went back to the balance",
    "channel.stopped": "a channel was stopped by hand; unused days went back to the balance",
    "channel.started": "a stopped channel was started",
    "channel.restart": "a channel was restarted",
    "channel.mode": "a channel changed mode (trial, live, sandbox)",
    "payment.refunded": "Stripe refunded a payment; its days were taken back",
    "payment.disputed": "a payment was disputed; its days were taken back",
    "payment.dispute_won": "a dispute was won; the days taken for it came back",
}


def public_id(event_id: int) -> str:
    """The event's stable id, also each delivery's ``webhook-id``."""
    return f"evt_{event_id}"


_INSERT = cast(Table, Event.__table__).insert()  # built once; see ledger/service.py
_outbox = cast(Table, Event.__table__).c
_EMIT = Prepared(cast(Table, Event.__table__).insert().values(
    {name: bindparam(name, type_=_outbox[name].type) for name in ("partner_id", "type", "channel_id", "payload",
                                                                  "created_ms")}))


async def emit(session: AsyncSession, *, partner_id: str, type: str, now_ms: int,
               channel_id: str | None = None, payload: dict | None = None) -> None:
    await session.execute(_INSERT, {"partner_id": partner_id, "type": type, "channel_id": channel_id,
                                    "payload": payload or {}, "created_ms": now_ms})


async def emit_one(session: AsyncSession, row: dict) -> None:
    """One event given as ``emit_many``'s rows are, straight through the driver (the hot path)."""
    await _EMIT.rows(session, {"channel_id": None, **row})


async def emit_many(session: AsyncSession, rows: list[dict]) -> None:
    if rows:
        await session.execute(_INSERT, rows)
