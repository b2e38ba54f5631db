"""One way to read a page of a list: its rows in order and how many there are in all."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession


async def page(session: AsyncSession, stmt: Select, count: int, offset: int, *order_by: Any,
               scalars: bool = True) -> tuple[list[Any], int]:
    """The rows of ``stmt`` in ``order_by`` order from ``offset`` (at most ``count``), and
    the number of rows ``stmt`` has in all."""
    total = (await session.execute(select(func.count()).select_from(stmt.order_by(None).subquery()))).scalar_one()
    result = await session.execute(stmt.order_by(*order_by).limit(count).offset(offset))
    rows: Sequence[Any] = result.scalars().all() if scalars else result.all()
    return list(rows), total
