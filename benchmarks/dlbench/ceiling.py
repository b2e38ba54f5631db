"""The raw-SQL ceiling: dayledger's extend transaction run straight through the driver,
without HTTP, FastAPI or SQLAlchemy. Run as its own process (so its CPU is measured
apart): ``python -m dlbench.ceiling <spec.json>``; prints ``measuring`` when the warm-up
ends and one JSON line of results at the end.

The transaction mirrors what ``POST /channels/{id}/extend`` executes (see
channels/service.py and ledger/service.py), in the app's order:

1. the token lookup of ``auth.service.authenticate`` (SHA-256 of the bearer token);
2. ``SELECT`` the channel row ``FOR UPDATE`` (PostgreSQL);
3. ``UPDATE channels SET active_till_ms = ...``;
4. ``INSERT INTO events`` (the ``channel.extended`` outbox row);
5. the guarded ``UPDATE partners SET balance = balance - :d WHERE id = :p AND balance >= :d RETURNING balance``
   (the partner row is locked last, as in the app);
6. ``INSERT INTO ledger_entries ... RETURNING id``;
7. ``COMMIT``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import sys
import time

DAY_MS = 86_400_000
AUTH = ("SELECT t.id, t.kind, t.scope, t.partner_id, t.expires_ms, t.revoked_ms, p.name, p.status "
        "FROM api_tokens t LEFT JOIN partners p ON p.id = t.partner_id WHERE t.token_hash = {0}")
CHANNEL_COLS = ("id, partner_id, project_id, name, token, api_url, server, mode, stopped, expired, active_till_ms, "
                "trial_ms, connection_status, phone, recurrent_payment_id, prev_recurrent_payment_id, created_ms, "
                "deleted_ms")
GET_CHANNEL = "SELECT " + CHANNEL_COLS + " FROM channels WHERE id = {0} AND partner_id = {1} AND deleted_ms IS NULL"
DEBIT = "UPDATE partners SET balance = balance - {1} WHERE id = {0} AND balance >= {1} RETURNING balance"
ENTRY = ("INSERT INTO ledger_entries (partner_id, created_ms, type, days, balance_delta, balance_after, channel_id, "
         "channel_days, comment, amount, currency, actor_type, actor_id, idempotency_key, active_till_after_ms) "
         "VALUES ({0}, {1}, 'extend', {2}, {3}, {4}, {5}, {2}, {6}, NULL, NULL, 'token', {7}, NULL, {8}) RETURNING id")
SET_TILL = "UPDATE channels SET active_till_ms = {1} WHERE id = {0}"
EVENT = ("INSERT INTO events (partner_id, type, channel_id, payload, created_ms) "
         "VALUES ({0}, 'channel.extended', {1}, {2}, {3})")


class Rollback(Exception):
    pass


def pg(sql: str) -> str:
    return sql.format(*(f"${i}" for i in range(1, 10)))


def lite(sql: str) -> str:
    return sql.format(*(f"?{i}" for i in range(1, 10)))


def payload(ch, till: int, days: int) -> str:
    return json.dumps({"id": ch[0], "mode": ch[7], "activeTill": till, "stopped": ch[8], "expired": ch[9],
                       "projectId": ch[2], "days": days})


async def run_pg(spec: dict) -> dict:
    import asyncpg
    try:
        import uvloop
        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    sql_auth, sql_ch, sql_debit = pg(AUTH), pg(GET_CHANNEL) + " FOR UPDATE", pg(DEBIT)
    sql_entry, sql_till, sql_event = pg(ENTRY), pg(SET_TILL), pg(EVENT)
    clients = spec["clients"]
    conns = [await asyncpg.connect(spec["url"]) for _ in clients]
    lat: list[float] = []
    errors = {"insufficient": 0, "not_found": 0, "other": 0}
    t_measure = time.perf_counter() + spec["warmup"]
    t_end = t_measure + spec["duration"]
    days = 1

    async def client(conn, work):
        i, n = 0, len(work)
        while True:
            start = time.perf_counter()
            if start >= t_end:
                return
            token, channel = work[i % n]
            i += 1
            try:
                async with conn.transaction():
                    who = await conn.fetchrow(sql_auth, hashlib.sha256(token.encode()).hexdigest())
                    partner = who["partner_id"]
                    ch = await conn.fetchrow(sql_ch, channel, partner)
                    if ch is None:
                        errors["not_found"] += 1
                        continue
                    now = time.time_ns() // 1_000_000
                    till = max(now, ch["active_till_ms"]) + days * DAY_MS
                    await conn.execute(sql_till, channel, till)
                    await conn.execute(sql_event, partner, channel, payload(tuple(ch.values()), till, days), now)
                    balance = await conn.fetchval(sql_debit, partner, days)
                    if balance is None:
                        errors["insufficient"] += 1
                        raise Rollback
                    await conn.fetchval(sql_entry, partner, now, days, -days, balance, channel, "bench", who["id"],
                                        till)
            except Rollback:
                continue
            except asyncpg.PostgresError:
                errors["other"] += 1
                continue
            if start >= t_measure:
                lat.append(time.perf_counter() - start)

    async def marker():
        await asyncio.sleep(spec["warmup"])
        if not spec.get("quiet"):
            print("measuring", flush=True)

    await asyncio.gather(marker(), *(client(c, w) for c, w in zip(conns, clients)))
    for c in conns:
        await c.close()
    return summarize(lat, spec["duration"], errors)


def run_sqlite(spec: dict) -> dict:
    conn = sqlite3.connect(spec["path"], isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000"):
        conn.execute(f"PRAGMA {pragma}")
    sql_auth, sql_ch, sql_debit = lite(AUTH), lite(GET_CHANNEL), lite(DEBIT)
    sql_entry, sql_till, sql_event = lite(ENTRY), lite(SET_TILL), lite(EVENT)
    work = [w for client in spec["clients"] for w in client]  # one connection: serial anyway
    lat: list[float] = []
    errors = {"insufficient": 0, "not_found": 0, "other": 0}
    t_measure = time.perf_counter() + spec["warmup"]
    t_end = t_measure + spec["duration"]
    announced = False
    days, i, n = 1, 0, len(work)
    while True:
        start = time.perf_counter()
        if start >= t_end:
            break
        if not announced and start >= t_measure and not spec.get("quiet"):
            print("measuring", flush=True)
            announced = True
        token, channel = work[i % n]
        i += 1
        conn.execute("BEGIN")
        try:
            who = conn.execute(sql_auth, (hashlib.sha256(token.encode()).hexdigest(),)).fetchone()
            partner = who[3]
            ch = conn.execute(sql_ch, (channel, partner)).fetchone()
            if ch is None:
                errors["not_found"] += 1
                conn.execute("ROLLBACK")
                continue
            now = time.time_ns() // 1_000_000
            till = max(now, ch[10]) + days * DAY_MS
            conn.execute(sql_till, (channel, till))
            conn.execute(sql_event, (partner, channel, payload(ch, till, days), now))
            row = conn.execute(sql_debit, (partner, days)).fetchone()
            if row is None:
                errors["insufficient"] += 1
                conn.execute("ROLLBACK")
                continue
            conn.execute(sql_entry, (partner, now, days, -days, row[0], channel, "bench", who[0], till)).fetchone()
            conn.execute("COMMIT")
        except sqlite3.Error:
            errors["other"] += 1
            conn.execute("ROLLBACK")
            continue
        if start >= t_measure:
            lat.append(time.perf_counter() - start)
    conn.close()
    return summarize(lat, spec["duration"], errors)


def summarize(lat: list[float], duration: float, errors: dict) -> dict:
    xs = sorted(lat)
    pct = lambda p: round(xs[min(len(xs) - 1, int(p / 100 * len(xs)))] * 1000, 2) if xs else None  # noqa: E731
    return {"tx": len(xs), "tx_per_s": round(len(xs) / duration, 1), "p50_ms": pct(50), "p99_ms": pct(99),
            "errors": errors}


def main() -> None:
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    if spec["engine"] == "postgres":
        result = asyncio.run(run_pg(spec))
    else:
        result = run_sqlite(spec)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
