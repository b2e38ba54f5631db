"""Where an extend's CPU goes, layer by layer (``--bench layers``).

Serial, in one process, so CPU per operation is measured cleanly (time.process_time):

* ``service``: exactly what ``web.handle`` runs for ``POST /channels/{id}/extend``, minus
  HTTP: ``Database.run`` -> ``auth.authenticate`` -> ``channels.service.extend`` -> JSON;
* ``core_prebuilt``: the same transaction through the same ``Database``/``AsyncSession``,
  but with ``text()`` statements built once and executed with parameters (what a lean
  repository layer would do);
* ``driver``: the same statements straight through the driver (asyncpg / sqlite3);

and, over HTTP against the real server, the cost of the framework alone: a request to an
unknown route (404 through the error handler), which does no database work.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass

from . import ceiling, common, loadgen, seed
from .common import CpuMeter, Server, log
from .extend import ExtendConfig, _pairs, seed_extend


@dataclass
class LayersConfig:
    iterations: int = 1500
    http_seconds: float = 4.0
    sqlite_synchronous: str = "full"  # the run's durability (--sqlite-synchronous), in every layer


async def _timed(db, one, work, n: int) -> tuple[float, float]:
    """CPU and wall seconds per ``db.run(one, token, channel)``, after a warm-up (statement
    caches, prepared statements); disposes of ``db``."""
    for token, channel in work[:50]:
        await db.run(one, token, channel)
    c0, t0 = time.process_time(), time.perf_counter()
    for i in range(n):
        token, channel = work[i % len(work)]
        await db.run(one, token, channel)
    out = (time.process_time() - c0) / n, (time.perf_counter() - t0) / n
    await db.dispose()
    return out


async def _service_loop(url: str, work, n: int, sync: str) -> tuple[float, float]:
    from dayledger.auth.service import authenticate
    from dayledger.channels import service
    from dayledger.channels.schemas import ExtendReply, ExtendRequest
    from dayledger.config import normalize_database_url
    from dayledger.db import Database
    from dayledger.ledger import Op

    db = Database(normalize_database_url(url), pool_size=1, sqlite_synchronous=sync)

    async def one(session, token, channel):
        now = time.time_ns() // 1_000_000
        principal = await authenticate(session, token, now)
        principal.require("channels")
        body = ExtendRequest.model_validate_json(b'{"days":1,"comment":"bench"}')
        done = await service.extend(session, principal.require_partner(), channel, body,
                                    Op(now, principal.actor, None))
        return json.dumps(ExtendReply.of(done).dump(), separators=(",", ":"))

    return await _timed(db, one, work, n)


async def _core_loop(url: str, work, n: int, engine: str, sync: str) -> tuple[float, float]:
    from sqlalchemy import text

    from dayledger.config import normalize_database_url
    from dayledger.db import Database

    db = Database(normalize_database_url(url), pool_size=1, sqlite_synchronous=sync)
    lock = " FOR UPDATE" if engine == "postgres" else ""
    names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"]
    fmt = lambda sql: text(sql.format(*(f":{x}" for x in names)))  # noqa: E731
    auth, get_ch = fmt(ceiling.AUTH), fmt(ceiling.GET_CHANNEL + lock)
    debit, entry, till_sql, event = fmt(ceiling.DEBIT), fmt(ceiling.ENTRY), fmt(ceiling.SET_TILL), fmt(ceiling.EVENT)

    async def one(session, token, channel):
        who = (await session.execute(auth, {"a": hashlib.sha256(token.encode()).hexdigest()})).one()
        partner = who.partner_id
        ch = (await session.execute(get_ch, {"a": channel, "b": partner})).one()
        now = time.time_ns() // 1_000_000
        balance = (await session.execute(debit, {"a": partner, "b": 1})).scalar_one()
        till = max(now, ch.active_till_ms) + seed.DAY_MS
        entry_id = (await session.execute(entry, {"a": partner, "b": now, "c": 1, "d": -1, "e": balance,
                                                  "f": channel, "g": "bench", "h": who.id, "i": till})).scalar_one()
        await session.execute(till_sql, {"a": channel, "b": till})
        await session.execute(event, {"a": partner, "b": channel, "c": ceiling.payload(tuple(ch), till, 1), "d": now})
        return json.dumps({"success": True, "result": True, "activeTill": till, "daysAdded": 1, "balance": balance,
                           "transactionId": entry_id}, separators=(",", ":"))

    return await _timed(db, one, work, n)


def _driver_loop(db: common.BenchDB, work, n: int, sync: str) -> tuple[float, float]:
    spec = {"engine": db.engine, "url": db.url, "path": str(db.path) if db.path else None,
            "clients": [work], "warmup": 0.0, "duration": 0, "quiet": True, "synchronous": sync}
    # Reuse the ceiling's transaction with one client for a fixed count: time it here.
    if db.engine == "sqlite":
        conn_spec = dict(spec, duration=3.0)
        c0 = time.process_time()
        r = ceiling.run_sqlite(conn_spec)
        return (time.process_time() - c0) / max(1, r["tx"]), 3.0 / max(1, r["tx"])
    conn_spec = dict(spec, duration=3.0)
    c0 = time.process_time()
    r = asyncio.run(ceiling.run_pg(conn_spec))
    return (time.process_time() - c0) / max(1, r["tx"]), 3.0 / max(1, r["tx"])


def run(engine: str, cfg: LayersConfig) -> dict:
    db = common.new_db(engine, "layers")
    try:
        common.migrate(db)
        ecfg = ExtendConfig()
        many, hot = seed_extend(db, ecfg)
        work = [pair for client in _pairs(ecfg, many, hot)[0] for pair in client]
        out: dict = {"engine": engine, "iterations": cfg.iterations}
        us = lambda x: round(x * 1e6)  # noqa: E731
        cpu, wall = loadgen.run(_service_loop(db.url, work, cfg.iterations, cfg.sqlite_synchronous))
        out["service_us"] = {"cpu": us(cpu), "wall": us(wall)}
        cpu, wall = loadgen.run(_core_loop(db.url, work, cfg.iterations, engine, cfg.sqlite_synchronous))
        out["core_prebuilt_us"] = {"cpu": us(cpu), "wall": us(wall)}
        cpu, wall = _driver_loop(db, work, cfg.iterations, cfg.sqlite_synchronous)
        out["driver_us"] = {"cpu": us(cpu), "wall": us(wall)}
        out["sqlite_synchronous"] = cfg.sqlite_synchronous if engine == "sqlite" else None
        with Server(db, extra_env={"DAYLEDGER_SQLITE_SYNCHRONOUS": cfg.sqlite_synchronous}) as srv:
            meter = CpuMeter(srv.pid, engine == "postgres")
            reqs = [[loadgen.render("GET", "/no-such-route", "x")] for _ in range(8)]
            stats = loadgen.run(loadgen.closed_loop(srv.port, reqs, cfg.http_seconds, 1.0, meter.start))
            c = meter.stop()
            n = stats.ok + stats.failed
            out["http_404_floor"] = {"rps": round(n / stats.duration), "server_cpu_us_per_request":
                                     us(c["server_cores"] * stats.duration / max(1, n))}
        log(f"  {engine} layers: {out}")
        return out
    finally:
        db.drop()
