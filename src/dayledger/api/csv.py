"""The one CSV streamer of the API: rows read in keyset-paged batches, each batch in a
short transaction of its own, so a long download by a slow reader never holds a database
connection (on SQLite's single connection, other requests run between two batches)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from fastapi.responses import Response, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import Database
from . import csvsafe

BATCH = 2000  # rows per read transaction

# For routes that stream CSV: the plain Response class has no media type of its own, so
# the declared errors stay JSON while the 200 is documented as text/csv.
CSV_REPLY: dict[str, Any] = {"response_class": Response, "responses": {200: {
    "description": "CSV, streamed", "content": {"text/csv": {"schema": {"type": "string"}}}}}}

Batch = Callable[[AsyncSession, Any, int], Awaitable[Sequence[Any]]]


async def rows_in_batches(db: Database, header: list[str], batch: Batch, key: Callable[[Any], Any],
                          row: Callable[[Any], list[Any]], size: int = BATCH) -> AsyncIterator[str]:
    """``header``, then ``row(r)`` for every r of ``batch(session, after, size)`` called with
    ``after`` = ``key`` of the last row of the previous batch (None first), until a batch
    comes back short. Every cell goes through ``csvsafe`` (no formulas, no control characters)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    after = None
    while True:
        rows = await db.run(batch, after, size)
        writer.writerows(csvsafe.row(row(r)) for r in rows)
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
        if len(rows) < size:
            return
        after = key(rows[-1])


def csv_response(chunks: AsyncIterator[str], filename: str) -> StreamingResponse:
    return StreamingResponse(chunks, media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})
