"""Prebuilt statements straight through the driver, for the hot path.

A ``Prepared`` wraps a Core statement (the one definition of what it does) and compiles it
once per dialect. ``rows`` runs it on the session's own connection, in the session's
transaction, through the driver itself (``sqlite3`` or ``asyncpg``): no SQLAlchemy
execution context, no greenlet hand-off, no ORM. That was about 50 microseconds of CPU
per statement, half of an extension's (benchmarks/README.md). SQLAlchemy's own bind and
result processors are applied, so values look exactly as through ``session.execute``;
driver errors come out as ``DBAPIError`` with the driver's exception as ``orig``, so the
retry rules of ``db.py`` (deadlocks, serialization failures, a busy SQLite file) apply.

Only statements whose parameters are plain bound values may be prepared (no expanding
``IN`` lists): ``Prepared`` refuses the others when it compiles them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ClauseElement


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # parameter names in driver order
    constants: dict[str, Any]  # values the statement carries itself (literals)
    binds: dict[str, Callable[[Any], Any]]  # name -> SQLAlchemy's bind processor
    results: tuple[Callable[[Any], Any] | None, ...]  # per returned column


class Prepared:
    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled: Any = self.statement.compile(dialect=dialect)
        if "POSTCOMPILE" in compiled.string:
            raise ValueError("a prepared statement cannot have expanding parameters")
        names = tuple(compiled.positiontup or ())
        constants = {name: value for name, value in compiled.construct_params(_check=False).items()
                     if value is not None or not compiled.binds[name].required}
        binds = {name: proc for name, proc in (compiled._bind_processors or {}).items() if proc is not None}
        results = tuple(col.type._cached_result_processor(dialect, None) for col in compiled._result_columns)
        done = _Compiled(compiled.string, names, constants, binds, results)
        self._compiled[dialect.name] = done
        return done

    async def rows(self, session: AsyncSession, params: Mapping[str, Any]) -> list[tuple]:
        """Run in the session's transaction; the returned rows as tuples."""
        dialect, driver = await _driver_of(session)
        compiled = self._compiled.get(dialect.name) or self._compile(dialect)
        values = []
        for name in compiled.names:
            value = params[name] if name in params else compiled.constants[name]
            proc = compiled.binds.get(name)
            values.append(proc(value) if proc is not None and value is not None else value)
        try:
            if dialect.name == "sqlite":
                fetched: Sequence[Any] = driver.execute(compiled.sql, values).fetchall()
            else:
                fetched = await driver.fetch(compiled.sql, *values)
        except DBAPIError:
            raise
        except Exception as exc:
            error = _error_class(exc)
            if error is None:
                raise
            raise error(compiled.sql, values, exc) from exc
        procs = compiled.results
        if not any(procs):
            return [tuple(row) for row in fetched]
        return [tuple(p(v) if p is not None else v for p, v in zip(procs, row, strict=True)) for row in fetched]

    async def first(self, session: AsyncSession, params: Mapping[str, Any]) -> tuple | None:
        found = await self.rows(session, params)
        return found[0] if found else None


async def _driver_of(session: AsyncSession) -> tuple[Dialect, Any]:
    """The dialect and the driver's connection under the session's current transaction
    (remembered for that transaction: looking it up costs two greenlet hand-offs). The
    innermost transaction counts: ``session.connection()`` is what emits a savepoint's
    SAVEPOINT, so a savepoint begun since must go through it, or its rollback would not
    undo what ran here."""
    sync = session.sync_session
    transaction = sync.get_nested_transaction() or sync.get_transaction()
    known = session.info.get("prepared.driver")
    if known is not None and transaction is not None and known[0] is transaction:
        return known[1], known[2]
    connection = await session.connection()
    pooled = await connection.get_raw_connection()
    dialect = connection.dialect
    if dialect.name == "sqlite":
        driver: Any = pooled.driver_connection._conn  # type: ignore[union-attr]  # sqlite_inline: sqlite3 itself
    else:
        adapted: Any = pooled.dbapi_connection
        if adapted._transaction is None:  # SQLAlchemy defers asyncpg's BEGIN to the first statement
            await adapted._start_transaction()
        driver = pooled.driver_connection
    session.info["prepared.driver"] = (sync.get_nested_transaction() or sync.get_transaction(), dialect, driver)
    return dialect, driver


def _error_class(exc: Exception) -> type[DBAPIError] | None:
    """The SQLAlchemy exception SQLAlchemy would raise for this driver error (an
    IntegrityError for a unique violation, which callers catch), or None: not the driver's."""
    import sqlite3

    import asyncpg
    if isinstance(exc, sqlite3.IntegrityError | asyncpg.IntegrityConstraintViolationError):
        return IntegrityError
    if isinstance(exc, sqlite3.OperationalError):
        return OperationalError
    if isinstance(exc, sqlite3.Error | asyncpg.PostgresError | asyncpg.InterfaceError):
        return DBAPIError
    return None
