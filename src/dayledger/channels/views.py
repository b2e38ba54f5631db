"""Replies the channel routes and the dashboard's channel pages share: the channel export
(CSV, streamed in keyset-paged batches)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from ..api import csv_response, rows_in_batches
from ..db import Database
from . import repository
from .schemas import api_status, billing_status, valid_through

EXPORT_COLUMNS = ["Name", "ID", "Phone Number", "Work Period", "Status", "Mode", "Created Date", "Billing Status"]


def export_csv(db: Database, partner_id: str, tz: ZoneInfo, now_ms: int, filename: str = "channels.csv", *,
               mode: str | None = None, state: str | None = None, status: str | None = None,
               expiring_within_days: int | None = None, q: str | None = None) -> Response:
    """Every channel matching the filters of the channel list (no paging), oldest first.
    Each channel that exists throughout the export appears exactly once."""
    stmt = repository.filtered(partner_id, now_ms, mode=mode, state=state, status=status,
                               expiring_within_days=expiring_within_days, q=q)

    def row(ch: Any) -> list[Any]:
        created = datetime.fromtimestamp(ch.created_ms / 1000, tz).date().isoformat()
        through = valid_through(ch, tz)
        period = "sandbox" if ch.mode in ("dev", "dev_archive") else (
            f"{created} to {through}" if through else "not paid")
        return [ch.name, ch.id, ch.phone or "", period, api_status(ch), ch.mode, created, billing_status(ch, now_ms)]

    async def batch(session: AsyncSession, after: Any, size: int) -> list[Any]:
        return await repository.export_batch(session, stmt, after, size)
    chunks = rows_in_batches(db, EXPORT_COLUMNS, batch, lambda ch: (ch.created_ms, ch.id), row)
    return csv_response(chunks, filename)
