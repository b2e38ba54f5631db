"""Engines and the unit of work: one request or task = one transaction, retried on
serialization failures and deadlocks (PostgreSQL) or a busy database (SQLite)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

T = TypeVar("T")
RETRYABLE_SQLSTATES = {"40001", "40P01"}
MAX_ATTEMPTS = 8


def make_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    if url.startswith("sqlite"):
        # One connection: SQLite has one writer anyway, and a single connection makes
        # every transaction serial, so no request ever sees SQLITE_BUSY.
        from sqlalchemy.engine import make_url

        from .sqlite_inline import creator
        path = make_url(url).database or ":memory:"
        engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=300,
                                     async_creator=creator(path))

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn, _record):  # pragma: no cover - runs per connection
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        # The driver runs in autocommit mode and every transaction starts with BEGIN
        # IMMEDIATE: its reads and writes form one unit even against another process
        # (a CLI command while serve runs), instead of pysqlite's deferred implicit BEGIN.
        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn):  # pragma: no cover - runs per transaction
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False)


def is_retryable(exc: DBAPIError) -> bool:
    orig = exc.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if state in RETRYABLE_SQLSTATES:
        return True
    return "database is locked" in str(orig)


class Database:
    def __init__(self, url: str, pool_size: int = 10) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def is_postgres(self) -> bool:
        return self.url.startswith("postgresql")

    async def run(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(session, ...)`` in one transaction and commit it."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                async with self.sessions() as session, session.begin():
                    return await fn(session, *args, **kwargs)
            except DBAPIError as exc:
                if attempt == MAX_ATTEMPTS or not is_retryable(exc):
                    raise
                await asyncio.sleep(random.uniform(0, 0.005 * 2**attempt))
        raise AssertionError("unreachable")

    async def dispose(self) -> None:
        await self.engine.dispose()
