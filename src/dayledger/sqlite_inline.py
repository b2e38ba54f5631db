"""An aiosqlite-compatible connection that runs sqlite3 calls inline on the event loop.

dayledger gives SQLite exactly one connection, so statements are serial anyway; running
them in place saves aiosqlite's thread hand-off on every call (two context switches and a
GIL transfer per statement), which dominated request latency. SQLite statements on this
schema take microseconds. The trade-off: while another *process* holds SQLite's write lock
(a CLI command during ``serve``), the busy handler waits on the loop for at most
``busy_timeout``. Only COMMIT, which waits for the disk, runs in a thread. SQLAlchemy's
aiosqlite dialect drives this object through its ``async_creator`` hook, so everything
above the driver is unchanged.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any


class _ImmediateQueue:
    """Stands in for aiosqlite's internal queue (used only to set isolation_level)."""

    def put_nowait(self, item: tuple[asyncio.Future, Any]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as exc:  # noqa: BLE001 - handed to the awaiting caller
            future.set_exception(exc)


class InlineCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self._cursor.close()

    @property
    def description(self):
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self):
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Any = None) -> InlineCursor:
        if parameters is None:
            self._cursor.execute(sql)
        else:
            self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, seq: Any) -> InlineCursor:
        self._cursor.executemany(sql, seq)
        return self

    async def fetchone(self):
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None):
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self):
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    def __aiter__(self):
        return self

    async def __anext__(self):
        row = self._cursor.fetchone()
        if row is None:
            raise StopAsyncIteration
        return row


class InlineConnection:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._connection: sqlite3.Connection | None = conn  # SQLAlchemy checks this for "still open"
        self._tx = _ImmediateQueue()

    @property
    def isolation_level(self):
        return self._conn.isolation_level

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def execute(self, sql: str, parameters: Any = None) -> InlineCursor:
        return await self.cursor().execute(sql, parameters)

    async def create_function(self, *args: Any, **kw: Any) -> None:
        self._conn.create_function(*args, **kw)

    async def commit(self) -> None:
        # The one call that waits for the disk (synchronous=FULL syncs the WAL here, about
        # 0.3 ms on this machine's disk): in a thread, so the loop goes on parsing and
        # queueing the next requests meanwhile (group commit gathers them). Nothing else
        # uses the connection until this returns: it is still checked out.
        if self._conn.in_transaction:
            await asyncio.to_thread(self._conn.commit)

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        if self._connection is not None:
            self._conn.close()
            self._connection = None

    def stop(self) -> None:
        if self._connection is not None:
            self._conn.close()
            self._connection = None


def creator(path: str):
    async def connect() -> InlineConnection:
        return InlineConnection(sqlite3.connect(path, check_same_thread=False, timeout=30,
                                                isolation_level=None))
    return connect
