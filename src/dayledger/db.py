"""Engines and the unit of work: one request or task = one transaction, retried on
serialization failures and deadlocks (PostgreSQL) or a busy database (SQLite)."""

from __future__ import annotations

import asyncio
import random
import zlib
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from .config import Settings

T = TypeVar("T")
RETRYABLE_SQLSTATES = {"40001", "40P01"}
MAX_ATTEMPTS = 8


# Durability (SPEC: an acknowledged write is on disk). SQLite in WAL mode with
# synchronous=NORMAL may lose the last commits if the machine (not the process) goes
# down; FULL syncs the WAL at every commit. PostgreSQL's synchronous_commit=on waits for
# the WAL flush (and, with synchronous_standby_names set, for the standby) before a commit
# returns. Both are set on every connection, whatever the server's own default.
SQLITE_SYNCHRONOUS = ("full", "extra", "normal")
# "server": send nothing and take the server's (or pooler's) setting, for a pooler that
# refuses startup parameters it does not know.
PG_SYNCHRONOUS_COMMIT = ("on", "remote_apply", "remote_write", "local", "off", "server")


def make_engine(url: str, pool_size: int = 10, *, sqlite_synchronous: str = "full",
                pg_synchronous_commit: str = "on") -> AsyncEngine:
    if sqlite_synchronous not in SQLITE_SYNCHRONOUS:
        raise ValueError(f"sqlite_synchronous must be one of {', '.join(SQLITE_SYNCHRONOUS)}")
    if pg_synchronous_commit not in PG_SYNCHRONOUS_COMMIT:
        raise ValueError(f"pg_synchronous_commit must be one of {', '.join(PG_SYNCHRONOUS_COMMIT)}")
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
            cur.execute(f"PRAGMA synchronous={sqlite_synchronous.upper()}")
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
    settings = {} if pg_synchronous_commit == "server" else {"synchronous_commit": pg_synchronous_commit}
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False,
                               connect_args={"server_settings": settings})


def is_retryable(exc: DBAPIError) -> bool:
    orig = exc.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if state in RETRYABLE_SQLSTATES:
        return True
    return "database is locked" in str(orig)


# What a group member will lock: a function that locks, in one global order, what all the
# members of a group will lock, given their keys; and this member's key.
Prelock = tuple[Callable[..., Awaitable[None]], Any]


class _Member(NamedTuple):
    fn: Callable[..., Awaitable[Any]]
    args: tuple
    future: asyncio.Future
    prelock: Prelock | None


class _MemberFailed(Exception):
    """A member of a group failed with the group's transaction shared: run it again with a
    savepoint per member."""


class GroupCommit:
    """Group commit: units of work that arrive while a transaction is being written share
    the next one, and so its single commit (one disk flush) and its locks.

    Each member still gets its own result or its own failure. A group first runs without
    savepoints; if a member raises, the whole transaction is rolled back and the group
    runs again with a savepoint around each member, so the failure undoes only that
    member's writes (a 402 for one never fails its neighbours). A retryable database error
    (deadlock, serialization, a busy SQLite file) retries the whole group. Results are
    handed out only after the commit returned: an answer is never sent for a write that
    is not on disk. Members must be safe to run again (as ``Database.run`` requires).

    Work is spread over ``lanes`` by a key (the caller's token: one partner's work stays
    in one lane), one group at a time per lane: groups in different lanes touch different
    partners and run side by side without waiting for each other's locks, while one
    partner's requests still share transactions. SQLite has one lane (one connection).
    """

    def __init__(self, db: Database, *, max_batch: int, lanes: int) -> None:
        self.db = db
        self.max_batch = max_batch
        self.lanes = lanes
        self._pending: list[deque[_Member]] = [deque() for _ in range(lanes)]
        self._running = [False] * lanes
        self.groups = 0  # transactions committed (for tests and metrics)
        self.members = 0

    async def run(self, fn: Callable[..., Awaitable[T]], *args: Any, prelock: Prelock | None = None,
                  lane_key: str = "") -> T:
        """``fn(session, *args)`` in the next group of the lane of ``lane_key``. ``prelock``:
        what the member will lock, as ``(lock, key)``; on PostgreSQL a group of several
        first calls each ``lock`` once with the keys of all its members, so that it takes
        its row locks in one global order before any member runs. Without that, two groups
        running at once (two processes, or one partner's two tokens in two lanes) could
        each hold a row the other's next member needs: a deadlock, which PostgreSQL only
        breaks after deadlock_timeout (1 s)."""
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        lane = zlib.crc32(lane_key.encode()) % self.lanes
        self._pending[lane].append(_Member(fn, args, future, prelock))
        if not self._running[lane]:
            self._running[lane] = True
            asyncio.create_task(self._drain(lane))
        return await future

    async def _drain(self, lane: int) -> None:
        pending = self._pending[lane]
        try:
            while pending:
                group = [pending.popleft() for _ in range(min(self.max_batch, len(pending)))]
                group = [m for m in group if not m.future.cancelled()]
                if group:
                    await self._commit(group)
        finally:
            self._running[lane] = False

    async def _commit(self, group: list[_Member]) -> None:
        alone = len(group) == 1  # a failure is simply the transaction's: no savepoint needed
        savepoints = False
        attempt = 0
        while True:
            attempt += 1
            outcomes: list[tuple[bool, Any]] = []
            try:
                async with self.db.sessions() as session, session.begin():
                    if not alone and not self.db.is_sqlite:  # SQLite: one connection, nobody to deadlock with
                        await self._prelock(session, group)
                    for member in group:
                        outcomes.append(await self._member(session, member.fn, member.args, alone=alone,
                                                           savepoints=savepoints))
            except _MemberFailed:
                savepoints = True
                continue
            except DBAPIError as exc:
                if attempt < MAX_ATTEMPTS and is_retryable(exc):
                    await asyncio.sleep(random.uniform(0, 0.005 * 2**attempt))
                    continue
                if not alone and not savepoints:  # whose was it? a savepoint per member tells
                    savepoints = True
                    continue
                self._settle(group, [(False, exc)] * len(group))
                return
            except Exception as exc:  # noqa: BLE001 - alone: the member's own failure
                self._settle(group, [(False, exc)] * len(group))
                return
            except BaseException as exc:  # cancelled (shutdown) or worse: nobody is left waiting
                self._settle(group, [(False, exc)] * len(group))
                raise
            self.groups += 1
            self.members += len(group)
            self._settle(group, outcomes)
            return

    @staticmethod
    async def _member(session: Any, fn: Callable[..., Awaitable[Any]], args: tuple, *, alone: bool,
                      savepoints: bool) -> tuple[bool, Any]:
        if alone:
            return True, await fn(session, *args)
        if not savepoints:
            try:
                return True, await fn(session, *args)
            except DBAPIError:
                raise
            except Exception as exc:
                raise _MemberFailed from exc
        try:
            async with session.begin_nested():
                return True, await fn(session, *args)
        except DBAPIError as exc:
            if is_retryable(exc):
                raise
            return False, exc
        except Exception as exc:  # noqa: BLE001 - this member's own failure, handed to it
            return False, exc

    @staticmethod
    async def _prelock(session: Any, group: list[_Member]) -> None:
        keys: dict[Callable[..., Awaitable[None]], list[Any]] = {}
        for member in group:
            if member.prelock is not None:
                keys.setdefault(member.prelock[0], []).append(member.prelock[1])
        for lock, found in keys.items():
            await lock(session, found)

    @staticmethod
    def _settle(group: list[_Member], outcomes: list[tuple[bool, Any]]) -> None:
        for member, (ok, value) in zip(group, outcomes, strict=True):
            future = member.future
            if future.done():
                continue
            if isinstance(value, asyncio.CancelledError):
                future.cancel()
            elif ok:
                future.set_result(value)
            else:
                future.set_exception(value)


class Database:
    def __init__(self, url: str, pool_size: int = 10, *, sqlite_synchronous: str = "full",
                 pg_synchronous_commit: str = "on", group_commit: bool = True, group_max: int = 100,
                 group_lanes: int = 2) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size, sqlite_synchronous=sqlite_synchronous,
                                  pg_synchronous_commit=pg_synchronous_commit)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one connection: one group at a time.
        self.group = GroupCommit(self, max_batch=group_max, lanes=1 if self.is_sqlite else max(1, group_lanes)) \
            if group_commit else None

    @classmethod
    def of(cls, settings: Settings, url: str | None = None, pool_size: int | None = None) -> Database:
        """The database of ``settings`` (or ``url``), with its durability settings."""
        return cls(url or settings.sqlalchemy_url(), settings.db_pool_size if pool_size is None else pool_size,
                   sqlite_synchronous=settings.sqlite_synchronous,
                   pg_synchronous_commit=settings.pg_synchronous_commit, group_commit=settings.group_commit,
                   group_max=settings.group_commit_max, group_lanes=settings.group_commit_lanes)

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

    async def run_grouped(self, fn: Callable[..., Awaitable[T]], *args: Any, prelock: Prelock | None = None,
                          lane_key: str = "") -> T:
        """``run``, sharing a transaction with other grouped work that arrives meanwhile
        (``GroupCommit.run``); without group commit, ``run``."""
        if self.group is None:
            return await self.run(fn, *args)
        return await self.group.run(fn, *args, prelock=prelock, lane_key=lane_key)

    async def dispose(self) -> None:
        await self.engine.dispose()
