"""The raw-SQL ceilings: dayledger's extend transaction run straight through the driver,
without HTTP, FastAPI or SQLAlchemy. Run as its own process (so its CPU is measured
apart): ``python -m dlbench.ceiling <spec.json>``; prints ``measuring`` when the warm-up
ends and one JSON line of results at the end.

``mode: "statements"`` (the default) mirrors what ``POST /channels/{id}/extend`` executes,
statement by statement, in the app's order:

1. the token lookup of ``auth.service.authenticate`` (SHA-256 of the bearer token);
2. ``SELECT`` the channel row ``FOR UPDATE`` (PostgreSQL);
3. ``UPDATE channels SET active_till_ms = ...``;
4. ``INSERT INTO events`` (the ``channel.extended`` outbox row);
5. the guarded ``UPDATE partners SET balance = balance - :d WHERE id = :p AND balance >= :d RETURNING balance``
   (the partner row is locked last, as in the app);
6. ``INSERT INTO ledger_entries ... RETURNING id``;
7. ``COMMIT``.

``mode: "one_round_trip"`` (PostgreSQL): the same seven steps as one call of the plpgsql
function ``dlbench_extend`` (``ONE_RT_FUNCTION``, created in the benchmark's database by
``install_one_round_trip``), autocommit: one round trip per extend, token lookup included.
``mode: "one_statement"``: the same as one statement of data-modifying CTEs (``ONE_STATEMENT``).

``extend_sqlite`` / ``extend_pg`` / ``extend_pg_1rt`` are one extend each; the bare ASGI
ceiling (``asgi_ceiling.py``) answers its requests with the same functions.
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

# The same transaction as one function call (PostgreSQL): token lookup and checks, channel
# lock, channel update, outbox row, guarded debit (partner row locked last), ledger entry.
# A refused debit raises (SQLSTATE DL402), which rolls the call's statement back.
ONE_RT_FUNCTION = """
CREATE OR REPLACE FUNCTION dlbench_extend(p_hash text, p_channel text, p_days bigint, p_comment text, p_now bigint,
                                          OUT status int, OUT active_till bigint, OUT balance bigint,
                                          OUT entry_id bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
    tok record;
    ch record;
BEGIN
    SELECT t.id, t.partner_id, t.expires_ms, t.revoked_ms, p.status AS partner_status INTO tok
      FROM api_tokens t LEFT JOIN partners p ON p.id = t.partner_id WHERE t.token_hash = p_hash;
    IF NOT FOUND OR tok.revoked_ms IS NOT NULL OR (tok.expires_ms IS NOT NULL AND tok.expires_ms <= p_now) THEN
        status := 401;
        RETURN;
    END IF;
    SELECT c.id, c.project_id, c.mode, c.stopped, c.expired, c.active_till_ms INTO ch FROM channels c
     WHERE c.id = p_channel AND c.partner_id = tok.partner_id AND c.deleted_ms IS NULL FOR UPDATE;
    IF NOT FOUND THEN
        status := 404;
        RETURN;
    END IF;
    active_till := greatest(p_now, ch.active_till_ms) + p_days * 86400000;
    UPDATE channels SET active_till_ms = active_till WHERE id = p_channel;
    INSERT INTO events (partner_id, type, channel_id, payload, created_ms)
    VALUES (tok.partner_id, 'channel.extended', p_channel,
            json_build_object('id', ch.id, 'mode', ch.mode, 'activeTill', active_till, 'stopped', ch.stopped,
                              'expired', ch.expired, 'projectId', ch.project_id, 'days', p_days), p_now);
    UPDATE partners p SET balance = p.balance - p_days WHERE p.id = tok.partner_id AND p.balance >= p_days
    RETURNING p.balance INTO balance;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'insufficient balance' USING ERRCODE = 'DL402';
    END IF;
    INSERT INTO ledger_entries (partner_id, created_ms, type, days, balance_delta, balance_after, channel_id,
                                channel_days, comment, amount, currency, actor_type, actor_id, idempotency_key,
                                active_till_after_ms)
    VALUES (tok.partner_id, p_now, 'extend', p_days, -p_days, balance, p_channel, p_days, p_comment, NULL, NULL,
            'token', tok.id, NULL, active_till)
    RETURNING id INTO entry_id;
    status := 200;
END
$fn$
"""
ONE_RT_CALL = "SELECT status, active_till, balance, entry_id FROM dlbench_extend($1, $2, $3, $4, $5)"

# The same transaction as one statement of data-modifying CTEs (PostgreSQL, autocommit):
# the channel locked and its new time computed, the guarded debit, then the channel's
# update, the outbox row and the ledger entry only where the debit happened (a refused
# debit writes nothing). Answers (token id, new time, balance, entry id): a NULL says 401,
# 404 or 402, in that order.
ONE_STATEMENT = """
WITH tok AS (
    SELECT t.id, t.partner_id FROM api_tokens t JOIN partners p ON p.id = t.partner_id
     WHERE t.token_hash = $1::text AND t.revoked_ms IS NULL AND (t.expires_ms IS NULL OR t.expires_ms > $5::bigint)
       AND p.status = 'active'),
ch AS (
    SELECT c.id, c.partner_id, c.project_id, c.mode, c.stopped, c.expired,
           greatest($5::bigint, c.active_till_ms) + $3::bigint * 86400000 AS till
      FROM channels c JOIN tok ON c.partner_id = tok.partner_id
     WHERE c.id = $2::text AND c.deleted_ms IS NULL FOR UPDATE OF c),
debit AS (
    UPDATE partners p SET balance = p.balance - $3::bigint FROM ch
     WHERE p.id = ch.partner_id AND p.balance >= $3::bigint RETURNING p.balance),
upd AS (
    UPDATE channels c SET active_till_ms = ch.till FROM ch, debit WHERE c.id = ch.id RETURNING c.id),
ev AS (
    INSERT INTO events (partner_id, type, channel_id, payload, created_ms)
    SELECT ch.partner_id, 'channel.extended', ch.id,
           json_build_object('id', ch.id, 'mode', ch.mode, 'activeTill', ch.till, 'stopped', ch.stopped,
                             'expired', ch.expired, 'projectId', ch.project_id, 'days', $3::bigint), $5::bigint
      FROM ch, debit RETURNING id),
entry AS (
    INSERT INTO ledger_entries (partner_id, created_ms, type, days, balance_delta, balance_after, channel_id,
                                channel_days, comment, amount, currency, actor_type, actor_id, idempotency_key,
                                active_till_after_ms)
    SELECT ch.partner_id, $5::bigint, 'extend', $3::bigint, -$3::bigint, debit.balance, ch.id, $3::bigint, $4::text,
           NULL, NULL, 'token', tok.id, NULL, ch.till
      FROM ch, debit, tok RETURNING id)
SELECT (SELECT id FROM tok) AS token_id, (SELECT till FROM ch) AS till, (SELECT balance FROM debit) AS balance,
       (SELECT id FROM entry) AS entry_id
"""
SQLITE_SYNC_NAMES = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


class Rollback(Exception):
    pass


def pg(sql: str) -> str:
    return sql.format(*(f"${i}" for i in range(1, 10)))


def lite(sql: str) -> str:
    return sql.format(*(f"?{i}" for i in range(1, 10)))


SQL_PG = {"auth": pg(AUTH), "channel": pg(GET_CHANNEL) + " FOR UPDATE", "debit": pg(DEBIT), "entry": pg(ENTRY),
          "till": pg(SET_TILL), "event": pg(EVENT)}
SQL_LITE = {"auth": lite(AUTH), "channel": lite(GET_CHANNEL), "debit": lite(DEBIT), "entry": lite(ENTRY),
            "till": lite(SET_TILL), "event": lite(EVENT)}


def payload(ch, till: int, days: int) -> str:
    return json.dumps({"id": ch[0], "mode": ch[7], "activeTill": till, "stopped": ch[8], "expired": ch[9],
                       "projectId": ch[2], "days": days})


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _refused(who, now: int) -> bool:
    """The checks of ``authenticate`` (token revoked or expired; partner not active)."""
    return (who is None or who[5] is not None or (who[4] is not None and who[4] <= now)
            or who[3] is None or who[7] != "active")


def _reply(till: int, days: int, balance: int, entry_id: int) -> dict:
    return {"success": True, "result": True, "activeTill": till, "daysAdded": days, "balance": balance,
            "transactionId": entry_id}


# ---------------------------------------------------------------- one extend

def sqlite_connect(path: str, synchronous: str = "full") -> sqlite3.Connection:
    """One connection with the app's pragmas (db.make_engine), autocommit, ``synchronous`` as asked."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in ("journal_mode=WAL", f"synchronous={synchronous.upper()}", "foreign_keys=ON", "busy_timeout=30000"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def sqlite_durability(conn: sqlite3.Connection) -> dict:
    """Read back from the connection itself."""
    sync = conn.execute("PRAGMA synchronous").fetchone()[0]
    return {"synchronous": SQLITE_SYNC_NAMES.get(sync, str(sync)),
            "journal_mode": conn.execute("PRAGMA journal_mode").fetchone()[0]}


async def pg_durability(conn) -> dict:
    return {"synchronous_commit": await conn.fetchval("SHOW synchronous_commit"),
            "fsync": await conn.fetchval("SHOW fsync")}


def extend_sqlite(conn: sqlite3.Connection, hashed: str, channel: str, days: int, comment: str) -> tuple[int, dict]:
    """One extend as one transaction on ``conn`` (statement by statement): (HTTP status, reply)."""
    q = SQL_LITE
    conn.execute("BEGIN IMMEDIATE")
    try:
        now = time.time_ns() // 1_000_000
        who = conn.execute(q["auth"], (hashed,)).fetchone()
        if _refused(who, now):
            conn.execute("ROLLBACK")
            return 401, {"error": "unauthorized"}
        partner = who[3]
        ch = conn.execute(q["channel"], (channel, partner)).fetchone()
        if ch is None:
            conn.execute("ROLLBACK")
            return 404, {"error": "channel not found"}
        till = max(now, ch[10]) + days * DAY_MS
        conn.execute(q["till"], (channel, till))
        conn.execute(q["event"], (partner, channel, payload(ch, till, days), now))
        row = conn.execute(q["debit"], (partner, days)).fetchone()
        if row is None:
            conn.execute("ROLLBACK")
            return 402, {"error": "insufficient balance"}
        entry_id = conn.execute(q["entry"], (partner, now, days, -days, row[0], channel, comment, who[0],
                                             till)).fetchone()[0]
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return 200, _reply(till, days, row[0], entry_id)


async def extend_pg(conn, hashed: str, channel: str, days: int, comment: str) -> tuple[int, dict]:
    """One extend as one transaction on ``conn`` (asyncpg, statement by statement)."""
    q = SQL_PG
    try:
        async with conn.transaction():
            now = time.time_ns() // 1_000_000
            who = await conn.fetchrow(q["auth"], hashed)
            if _refused(who, now):
                raise Rollback(401, {"error": "unauthorized"})
            partner = who["partner_id"]
            ch = await conn.fetchrow(q["channel"], channel, partner)
            if ch is None:
                raise Rollback(404, {"error": "channel not found"})
            till = max(now, ch["active_till_ms"]) + days * DAY_MS
            await conn.execute(q["till"], channel, till)
            await conn.execute(q["event"], partner, channel, payload(tuple(ch.values()), till, days), now)
            balance = await conn.fetchval(q["debit"], partner, days)
            if balance is None:
                raise Rollback(402, {"error": "insufficient balance"})
            entry_id = await conn.fetchval(q["entry"], partner, now, days, -days, balance, channel, comment,
                                           who["id"], till)
    except Rollback as refused:
        return refused.args
    return 200, _reply(till, days, balance, entry_id)


async def extend_pg_1rt(conn, hashed: str, channel: str, days: int, comment: str) -> tuple[int, dict]:
    """One extend in one round trip: one call of ``dlbench_extend`` (autocommit)."""
    import asyncpg
    try:
        row = await conn.fetchrow(ONE_RT_CALL, hashed, channel, days, comment, time.time_ns() // 1_000_000)
    except asyncpg.PostgresError as exc:
        if getattr(exc, "sqlstate", None) == "DL402":
            return 402, {"error": "insufficient balance"}
        raise
    if row["status"] != 200:
        return row["status"], {"error": "unauthorized" if row["status"] == 401 else "channel not found"}
    return 200, _reply(row["active_till"], days, row["balance"], row["entry_id"])


async def extend_pg_1st(conn, hashed: str, channel: str, days: int, comment: str) -> tuple[int, dict]:
    """One extend as one statement (``ONE_STATEMENT``, autocommit)."""
    row = await conn.fetchrow(ONE_STATEMENT, hashed, channel, days, comment, time.time_ns() // 1_000_000)
    if row["token_id"] is None:
        return 401, {"error": "unauthorized"}
    if row["till"] is None:
        return 404, {"error": "channel not found"}
    if row["balance"] is None:
        return 402, {"error": "insufficient balance"}
    return 200, _reply(row["till"], days, row["balance"], row["entry_id"])


PG_MODES = {"statements": extend_pg, "one_round_trip": extend_pg_1rt, "one_statement": extend_pg_1st}


async def install_one_round_trip(dsn: str) -> None:
    """Create ``dlbench_extend`` in the benchmark's database."""
    import asyncpg
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(ONE_RT_FUNCTION)
    finally:
        await conn.close()


# ---------------------------------------------------------------- the ceiling loops

def _count(errors: dict, status: int) -> None:
    errors[{402: "insufficient", 404: "not_found"}.get(status, "other")] += 1


async def run_pg(spec: dict) -> dict:
    import asyncpg
    try:
        import uvloop
        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    one = PG_MODES[spec.get("mode", "statements")]
    settings = {"synchronous_commit": spec.get("synchronous_commit", "on")}
    clients = spec["clients"]
    conns = [await asyncpg.connect(spec["url"], server_settings=settings) for _ in clients]
    durability = await pg_durability(conns[0])
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
                status, _ = await one(conn, token_hash(token), channel, days, "bench")
            except asyncpg.PostgresError:
                errors["other"] += 1
                continue
            if status != 200:
                _count(errors, status)
                continue
            if start >= t_measure:
                lat.append(time.perf_counter() - start)

    async def marker():
        await asyncio.sleep(spec["warmup"])
        if not spec.get("quiet"):
            print("measuring", flush=True)

    await asyncio.gather(marker(), *(client(c, w) for c, w in zip(conns, clients, strict=True)))
    for c in conns:
        await c.close()
    return {**summarize(lat, spec["duration"], errors), "mode": spec.get("mode", "statements"),
            "connections": len(conns), "durability": durability}


def run_sqlite(spec: dict) -> dict:
    conn = sqlite_connect(spec["path"], spec.get("synchronous", "full"))
    durability = sqlite_durability(conn)
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
        try:
            status, _ = extend_sqlite(conn, token_hash(token), channel, days, "bench")
        except sqlite3.Error:
            errors["other"] += 1
            continue
        if status != 200:
            _count(errors, status)
            continue
        if start >= t_measure:
            lat.append(time.perf_counter() - start)
    conn.close()
    return {**summarize(lat, spec["duration"], errors), "mode": "statements", "connections": 1,
            "durability": durability}


def summarize(lat: list[float], duration: float, errors: dict) -> dict:
    xs = sorted(lat)
    pct = lambda p: round(xs[min(len(xs) - 1, int(p / 100 * len(xs)))] * 1000, 2) if xs else None  # noqa: E731
    return {"tx": len(xs), "tx_per_s": round(len(xs) / duration, 1) if duration else 0.0, "p50_ms": pct(50),
            "p99_ms": pct(99), "errors": errors}


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
