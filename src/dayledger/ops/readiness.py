"""Readiness: the database answers, within a bounded time, and its schema is at the
migration head this code was built for."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from ..db import Database
from ..migrations import alembic_config
from . import repository

T = TypeVar("T")


class Unreachable(Exception):
    """The database did not answer (in time)."""


@dataclass(frozen=True)
class Readiness:
    ready: bool
    details: str  # what is wrong, or the revision the database is at
    revision: str = ""


@lru_cache(maxsize=1)
def code_heads() -> tuple[str, ...]:
    """The head revision(s) of the migrations shipped with this code."""
    script = ScriptDirectory.from_config(alembic_config(""))
    return tuple(sorted(script.get_heads()))


def _known_revision(revision: str) -> bool:
    script = ScriptDirectory.from_config(alembic_config(""))
    try:
        return script.get_revision(revision) is not None
    except Exception:  # noqa: BLE001 - alembic raises several kinds for an unknown id
        return False


async def within(seconds: float, work: Callable[[], Awaitable[T]]) -> T:
    """``work()``'s result, or ``Unreachable`` after ``seconds``. The work runs as its own
    task that is cancelled, not awaited, on timeout: cleaning up a connection to a hung
    server can itself hang, and the caller must answer on time whatever happens."""
    task = asyncio.ensure_future(work())
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        # Nobody awaits the task any more; retrieve its outcome so asyncio does not warn.
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        raise Unreachable(f"no answer within {seconds:g} s")
    return task.result()


def sqlite_file_problem(db: Database) -> str | None:
    """Why the SQLite file cannot be used, or None. Checked before any query: the pool's
    open connection keeps reading a file that was moved or deleted, and a new connection
    would silently create an empty file in its place."""
    path = make_url(db.url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    if not os.path.isfile(path):
        return f"database file {path} is missing"
    if not os.access(path, os.R_OK | os.W_OK):
        return f"database file {path} is not readable and writable"
    return None


async def _read_revisions(db: Database) -> tuple[str, ...]:
    try:
        return await db.run(repository.current_revisions)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        # A pooled connection broke since its last use (the server restarted, the network
        # dropped it); SQLAlchemy has discarded it. One try on a fresh connection tells
        # whether the database is back, so readiness returns on the first probe after it.
        return await db.run(repository.current_revisions)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    # SQLAlchemy appends a documentation link and the statement; the first line is the cause.
    return f"{type(exc).__name__}: {first}"[:300] if first else type(exc).__name__


async def check(db: Database, timeout: float) -> Readiness:
    """Never raises and never takes (much) longer than ``timeout`` seconds."""
    if db.is_sqlite and (problem := sqlite_file_problem(db)):
        return Readiness(False, f"database unreachable: {problem}")
    try:
        revisions = await within(timeout, lambda: _read_revisions(db))
    except Unreachable as exc:
        return Readiness(False, f"database unreachable: {exc}")
    except Exception as exc:  # noqa: BLE001 - any failure to talk to the database means not ready
        return Readiness(False, f"database unreachable: {_one_line(exc)}")
    code = code_heads()
    current = ", ".join(sorted(revisions)) or "none"
    if tuple(sorted(revisions)) == code:
        return Readiness(True, "ready", current)
    wanted = ", ".join(code)
    if all(_known_revision(r) for r in revisions):
        return Readiness(False, f"migrations behind: db at {current}, code at {wanted}; run `dayledger migrate`",
                         current)
    return Readiness(False, f"migrations unknown to this code: db at {current}, code at {wanted}; the database was "
                            "migrated by a newer dayledger", current)
