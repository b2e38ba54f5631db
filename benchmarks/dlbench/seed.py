"""Fast seeding with direct SQL, bypassing the API.

Rows mirror what the services write: each partner gets a default project, a full-scope
API token stored as the SHA-256 hex of the secret (as ``auth.service.hash_token``) and one
``adjustment`` ledger entry crediting its whole balance, so ``dayledger verify`` stays
sound. Channels are written with no ledger entries (``verify`` checks balances, not
channel time). PostgreSQL rows go in with COPY (asyncpg), SQLite rows with executemany.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from dayledger.ledger.channel_time import RECORD_UNRECORDED_TIME

from .common import BenchDB

DAY_MS = 86_400_000
ALNUM = string.ascii_letters + string.digits
UPPER = string.ascii_uppercase
UPPER_DIGITS = string.ascii_uppercase + string.digits


def _digits(n: int, alphabet: str, width: int) -> str:
    out = []
    for _ in range(width):
        n, r = divmod(n, len(alphabet))
        out.append(alphabet[r])
    return "".join(reversed(out))


def partner_id(i: int) -> str:
    return "P" + _digits(i, ALNUM, 27)


def project_id(i: int) -> str:
    return "J" + _digits(i, ALNUM, 19)


def channel_id(i: int) -> str:
    """``AAAAAA-XXXXX``: the number in the six letters, a fixed suffix (unique up to 26**6)."""
    return _digits(i, UPPER, 6) + "-B" + _digits(i // 26**6, UPPER_DIGITS, 4)


def raw_token(i: int) -> str:
    return "dlp_" + _digits(i, ALNUM, 40)


def hash_token(raw: str) -> str:  # the same as dayledger.auth.service.hash_token
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass
class SeededPartner:
    index: int
    id: str
    name: str
    token: str
    project_id: str
    channels: list[str] = field(default_factory=list)


PARTNER_COLS = ["id", "name", "email", "balance", "currency", "price_per_month", "trial_eligible", "trial_days",
                "days_limit", "sandbox_limit", "timezone", "status", "settings", "created_ms"]
PROJECT_COLS = ["id", "partner_id", "name", "is_default", "created_ms", "deleted_ms"]
TOKEN_COLS = ["id", "kind", "partner_id", "name", "scope", "token_hash", "prefix", "created_ms", "expires_ms",
              "revoked_ms"]
LEDGER_COLS = ["partner_id", "created_ms", "type", "days", "balance_delta", "balance_after", "channel_id",
               "channel_days", "comment", "amount", "currency", "actor_type", "actor_id", "idempotency_key"]
CHANNEL_COLS = ["id", "partner_id", "project_id", "name", "token", "api_url", "server", "mode", "stopped", "expired",
                "active_till_ms", "trial_ms", "connection_status", "phone", "recurrent_payment_id",
                "prev_recurrent_payment_id", "created_ms", "deleted_ms"]


def partner_rows(partners: list[SeededPartner], balance: int, now_ms: int):
    from decimal import Decimal
    p = [(s.id, s.name, f"{s.name}@bench.invalid", balance, "USD", Decimal("30.0000"), False, 5, 7, 1, "UTC",
          "active", "{}", now_ms) for s in partners]
    j = [(s.project_id, s.id, "Default", True, now_ms, None) for s in partners]
    t = [("tok_" + _digits(s.index, ALNUM, 16), "partner", s.id, "bench", "full", hash_token(s.token),
          s.token[:8], now_ms, None, None) for s in partners]
    e = [(s.id, now_ms, "adjustment", balance, balance, balance, None, 0, "bench seed credit", None, None,
          "operator", "bench", None) for s in partners]
    return p, j, t, e


ActiveTill = Callable[[int], int]


def channel_rows(start: int, count: int, owner: Callable[[int], SeededPartner], active_till: ActiveTill,
                 created_ms: int, mode: str = "live") -> Iterator[tuple]:
    for i in range(start, start + count):
        s = owner(i)
        yield (channel_id(i), s.id, s.project_id, f"channel {i}", "T" + _digits(i, ALNUM, 31),
               "https://gate.whapi.cloud", 1, mode, False, False, active_till(i), None, "AUTH",
               f"{10000000000 + i}", None, None, created_ms, None)


def make_partners(n: int, first: int = 0, prefix: str = "bench") -> list[SeededPartner]:
    return [SeededPartner(i, partner_id(i), f"{prefix}-{i}", raw_token(i), project_id(i))
            for i in range(first, first + n)]


def _sqlite_path(db: BenchDB) -> str:
    assert db.path is not None
    return str(db.path)


def _sqlite_row(row: tuple) -> tuple:
    from decimal import Decimal
    return tuple(str(v) if isinstance(v, Decimal) else (int(v) if isinstance(v, bool) else v) for v in row)


def insert_all(db: BenchDB, partners: list[SeededPartner], balance: int, now_ms: int,
               channels: Iterator[tuple] | None = None) -> None:
    """Partners (with project, token and credit entry) and then the channel rows."""
    p, j, t, e = partner_rows(partners, balance, now_ms)
    tables = [("partners", PARTNER_COLS, p), ("projects", PROJECT_COLS, j), ("api_tokens", TOKEN_COLS, t),
              ("ledger_entries", LEDGER_COLS, e)]
    if db.engine == "postgres":
        asyncio.run(_pg_insert(db, tables, channels))
        return
    conn = sqlite3.connect(_sqlite_path(db))
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        for name, cols, rows in tables:
            conn.executemany(f"INSERT INTO {name} ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})",
                             [_sqlite_row(r) for r in rows])
        if channels is not None:
            sql = (f"INSERT INTO channels ({','.join(CHANNEL_COLS)}) "
                   f"VALUES ({','.join('?' * len(CHANNEL_COLS))})")
            batch = []
            for row in channels:
                batch.append(_sqlite_row(row))
                if len(batch) >= 20000:
                    conn.executemany(sql, batch)
                    batch.clear()
            if batch:
                conn.executemany(sql, batch)
            conn.execute(RECORD_UNRECORDED_TIME)  # the ledger accounts for every channel's time
        conn.commit()
        conn.execute("ANALYZE")
        conn.commit()
    finally:
        conn.close()


async def _pg_insert(db: BenchDB, tables, channels) -> None:
    import asyncpg
    conn = await asyncpg.connect(db.asyncpg_dsn)
    try:
        for name, cols, rows in tables:
            await conn.copy_records_to_table(name, records=rows, columns=cols)
        if channels is not None:
            batch = []
            for row in channels:
                batch.append(row)
                if len(batch) >= 50000:
                    await conn.copy_records_to_table("channels", records=batch, columns=CHANNEL_COLS)
                    batch.clear()
            if batch:
                await conn.copy_records_to_table("channels", records=batch, columns=CHANNEL_COLS)
            await conn.execute(RECORD_UNRECORDED_TIME)  # the ledger accounts for every channel's time
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
