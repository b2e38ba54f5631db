"""Query parameters of lists: ``count`` 1-500 (default 100) and ``offset``, as in the
reference API; the filters of a billing history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query

from ..ledger.service import ENTRY_TYPES


class PagingParams:
    def __init__(self, count: int = Query(100, ge=1, le=500, description="Count of objects to return"),
                 offset: int = Query(0, ge=0, le=10**9, description="Offset of objects to return")) -> None:
        self.count = count
        self.offset = offset


Paging = Annotated[PagingParams, Depends()]


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
