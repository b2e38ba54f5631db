"""Queries of top-ups (payments of kind ``topup``, whatever their source)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import paging
from ..models import Payment


async def one(session: AsyncSession, partner_id: str, topup_id: str) -> Payment | None:
    """The partner's top-up, or None (also when it is another partner's)."""
    stmt = select(Payment).where(Payment.id == topup_id, Payment.partner_id == partner_id, Payment.kind == "topup")
    return (await session.execute(stmt)).scalar_one_or_none()


async def page(session: AsyncSession, partner_id: str, count: int, offset: int, *,
               status: str | None = None) -> tuple[list[Payment], int]:
    """The partner's top-ups, newest first."""
    stmt = select(Payment).where(Payment.partner_id == partner_id, Payment.kind == "topup")
    if status:
        stmt = stmt.where(Payment.status == status)
    return await paging.page(session, stmt, count, offset, Payment.created_ms.desc(), Payment.id.desc())
