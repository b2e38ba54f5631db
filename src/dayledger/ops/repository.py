"""The operations queries: the database's migration revision and the metric gauges."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..ledger.channel_time import count_due, oldest_due_ms
from ..models.event import Event
from ..models.ledger_entry import LedgerEntry
from .metrics import DatabaseGauges


def _heads(connection: Connection) -> tuple[str, ...]:
    # Alembic's own reader: an empty, never migrated database has no alembic_version
    # table and answers () instead of an error.
    return tuple(MigrationContext.configure(connection).get_current_heads())


async def current_revisions(session: AsyncSession) -> tuple[str, ...]:
    connection = await session.connection()
    return await connection.run_sync(_heads)


async def read_gauges(session: AsyncSession, now_ms: int) -> DatabaseGauges:
    # Counted from the table at each scrape (not kept in process memory), so every API
    # and worker process reports the same, right number. The cost grows with the table:
    # see docs/operations.md for what one scrape takes.
    by_type = (await session.execute(select(LedgerEntry.type, func.count()).group_by(LedgerEntry.type))).all()
    outbox = (await session.execute(select(func.count()).select_from(Event))).scalar_one()
    oldest = await oldest_due_ms(session, now_ms)
    return DatabaseGauges(
        ledger_entries={kind: count for kind, count in by_type},
        outbox_events=outbox,
        expiry_due=await count_due(session, now_ms),
        expiry_lag_seconds=max(0, now_ms - oldest) / 1000 if oldest is not None else 0.0,
    )
