"""Helpers of the auto-extend and runway tests: worker rounds at the test clock's times,
run in one event loop with one connection pool (hundreds of rounds stay fast)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from dayledger.autoextend import applying, repository, runway
from dayledger.clock import DAY_MS
from dayledger.db import Database

HOUR_MS = 3_600_000
BATCH = 50


async def one_round(database: Database, now_ms: int) -> int:
    """What the worker's auto-extend jobs do in one round at ``now_ms``: the re-arm, steps
    until a step claims less than a batch, then the runway check. Returns the channels the
    policies took."""
    await database.run(repository.rearm, now_ms)
    taken = 0
    while True:
        n = await database.run(applying.run_due, now_ms, BATCH)
        taken += n
        if n < BATCH:
            break
    await database.run(runway.check, now_ms)
    return taken


def rounds(db_url: str, clock, count: int, every_ms: int) -> None:
    """``count`` rounds, the clock advanced by ``every_ms`` before each."""
    async def main() -> None:
        database = Database(db_url, pool_size=2)
        try:
            for _ in range(count):
                await one_round(database, clock.advance(ms=every_ms))
        finally:
            await database.dispose()
    asyncio.run(main())


def round_now(db_url: str, clock) -> int:
    async def main() -> int:
        database = Database(db_url, pool_size=2)
        try:
            return await one_round(database, clock.now_ms())
        finally:
            await database.dispose()
    return asyncio.run(main())


def next_midnight(ms: int) -> int:
    """The start of the next UTC day (the tests' day 0, so dates are whole days from it)."""
    return (ms // DAY_MS + 1) * DAY_MS


def date_of(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).date().isoformat()
