"""The outbox: events are rows written in the transaction of the change that caused them,
so an event exists exactly when its change was committed. Delivery (webhooks, email, the
gateway) reads them afterwards."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Event


_INSERT = cast(Table, Event.__table__).insert()  # built once; see ledger/service.py


async def emit(session: AsyncSession, *, partner_id: str, type: str, now_ms: int,
               channel_id: str | None = None, payload: dict | None = None) -> None:
    await session.execute(_INSERT, {"partner_id": partner_id, "type": type, "channel_id": channel_id,
                                    "payload": payload or {}, "created_ms": now_ms})


async def emit_many(session: AsyncSession, rows: list[dict]) -> None:
    if rows:
        await session.execute(_INSERT, rows)
