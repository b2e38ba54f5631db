"""Replies the partner routes and the operator's routes share."""

from __future__ import annotations

from typing import Any

from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from ..api import csv_response, rows_in_batches
from ..api.paging import HistoryFilterParams, PagingParams
from ..auth import service as auth
from ..db import Database
from ..models import ApiToken, Partner
from . import repository, service
from .schemas import HISTORY_CSV_COLUMNS, HistoryPage, PartnerProfile, TokenInfo, history_csv_row


async def profile(session: AsyncSession, partner: Partner, now_ms: int) -> PartnerProfile:
    return PartnerProfile.of(partner, await service.counts_of(session, partner, now_ms), now_ms)


async def profile_reply(session: AsyncSession, name: str, now_ms: int) -> PartnerProfile:
    return await profile(session, await service.get(session, name), now_ms)


async def history_reply(session: AsyncSession, partner_id: str, paging: PagingParams, filters: HistoryFilterParams,
                        channel: str | None) -> HistoryPage:
    rows, total = await service.history(session, partner_id, paging.count, paging.offset, channel_id=channel,
                                        **filters.as_kwargs())
    return HistoryPage.of(rows, total, paging.offset)


def history_csv(db: Database, partner_id: str, filters: HistoryFilterParams, channel: str | None,
                filename: str) -> Response:
    stmt = repository.history_query(partner_id, channel_id=channel, **filters.as_kwargs())

    async def batch(session: AsyncSession, after: Any, size: int) -> list[Any]:
        return await repository.history_batch(session, stmt, after, size)
    return csv_response(rows_in_batches(db, HISTORY_CSV_COLUMNS, batch, lambda e: e.id, history_csv_row),
                        filename)


def token_reply(t: ApiToken, partner_name: str | None = None) -> TokenInfo:
    """A token without its secret; ``partner`` (in the operator's lists) only when named."""
    fields = auth.token_fields(t)
    if partner_name:
        fields["partner"] = partner_name
    return TokenInfo(**fields)
