"""One way to page a list: ``count`` 1-500 (default 100) and ``offset``, as in the
reference API, answered with the page's rows and the total."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Depends, Query
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..ledger.service import ENTRY_TYPES


class PagingParams:
    def __init__(self, count: int = Query(100, ge=1, le=500, description="Count of objects to return"),
                 offset: int = Query(0, ge=0, le=10**9, description="Offset of objects to return")) -> None:
        self.count = count
        self.offset = offset


Paging = Annotated[PagingParams, Depends()]


async def page(session: AsyncSession, stmt: Select, paging: PagingParams, *order_by: Any,
               scalars: bool = True) -> tuple[Sequence[Any], int]:
    """The rows of ``stmt`` in ``order_by`` order for this page, and how many there are in all."""
    total = (await session.execute(select(func.count()).select_from(stmt.order_by(None).subquery()))).scalar_one()
    result = await session.execute(stmt.order_by(*order_by).limit(paging.count).offset(paging.offset))
    rows = result.scalars().all() if scalars else result.all()
    return rows, total


class HistoryFilterParams:
    """Filters of a billing history: the entry ``type`` and a time range in milliseconds
    (``since`` inclusive, ``until`` exclusive)."""

    def __init__(self, type: str | None = Query(None, pattern="^(" + "|".join(sorted(ENTRY_TYPES)) + ")$",
                                                description="only entries of this type"),
                 since: int | None = Query(None, ge=0, le=2**53, description="milliseconds since the epoch"),
                 until: int | None = Query(None, ge=0, le=2**53, description="milliseconds since the epoch")) -> None:
        self.type = type
        self.since_ms = since
        self.until_ms = until

    def as_kwargs(self) -> dict[str, Any]:
        return {"type": self.type, "since_ms": self.since_ms, "until_ms": self.until_ms}


HistoryFilter = Annotated[HistoryFilterParams, Depends()]
