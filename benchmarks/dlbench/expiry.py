"""Expiry at scale: N channels of which a tenth are due, expired by 1 and by 2 concurrent
worker processes calling ``dayledger.channels.tasks.expire_due`` in a loop.

The database is seeded once and copied for each run (``CREATE DATABASE ... TEMPLATE`` on
PostgreSQL, a file copy on SQLite), so every run starts from the same state. After each
run: exactly the due channels are expired, each has exactly one ``expire`` ledger entry,
and the ledger invariants hold.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass

from . import common, seed
from .common import BENCH, PY, CpuMeter, log
from .extend import verify as dayledger_verify

HOUR_MS = 3_600_000


@dataclass
class ExpiryConfig:
    channels: int = 1_000_000
    due_every: int = 10  # channel i is due when i % due_every == 0
    partners: int = 1000
    batch_size: int = 5000  # the default DAYLEDGER_EXPIRY_BATCH_SIZE
    workers: tuple[int, ...] = (1, 2)
    timeout: float = 240.0

    @property
    def due(self) -> int:
        return len(range(0, self.channels, self.due_every))


def seed_template(engine: str, cfg: ExpiryConfig) -> tuple[common.BenchDB, int]:
    db = common.new_db(engine, "expiry_tpl")
    with common.dropped_on_error(db):
        common.migrate(db)
        now = int(time.time() * 1000)
        partners = seed.make_partners(cfg.partners)
        t = time.perf_counter()

        def till(i: int) -> int:
            if i % cfg.due_every == 0:
                return now - (1 + i % 97) * HOUR_MS  # ran out 1 to 97 hours ago
            return now + (1 + i % 30) * seed.DAY_MS

        rows = seed.channel_rows(0, cfg.channels, lambda i: partners[i % cfg.partners], till,
                                 now - 60 * seed.DAY_MS)
        seed.insert_all(db, partners, 1000, now, rows)
        log(f"expiry on {engine}: seeded {cfg.channels:,} channels ({cfg.due:,} due) in {time.perf_counter() - t:.1f} s")
        return db, now


def copy_db(engine: str, tpl: common.BenchDB, label: str) -> common.BenchDB:
    if engine == "postgres":
        return common.new_db(engine, label, template=tpl.name)
    db = common.new_db(engine, label)
    src = sqlite3.connect(tpl.path)
    src.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    src.close()
    shutil.copyfile(tpl.path, db.path)
    return db


def run_workers(db: common.BenchDB, now: int, cfg: ExpiryConfig, workers: int) -> dict:
    procs = [subprocess.Popen([str(PY), "-m", "dlbench.expiry_worker", db.url, str(now), str(cfg.batch_size), "1"],
                              cwd=BENCH, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for _ in range(workers)]
    for p in procs:
        if p.stdout.readline().strip() != "ready":
            raise RuntimeError("expiry worker did not start")
    meter = CpuMeter(None, db.engine == "postgres")
    meter.start()
    t0 = time.perf_counter()
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    results, timed_out = [], False
    for p in procs:
        remaining = max(1.0, cfg.timeout - (time.perf_counter() - t0))
        try:
            out, _ = p.communicate(timeout=remaining)
            results.append(json.loads(out.strip().splitlines()[-1]))
        except subprocess.TimeoutExpired:
            timed_out = True
            p.kill()
            p.communicate()
            results.append({"expired": None, "error": f"killed after {cfg.timeout:.0f} s"})
        except (ValueError, IndexError):
            results.append({"expired": None, "error": f"worker exited {p.returncode}"})
    wall = time.perf_counter() - t0
    cpu = meter.stop()
    return {"workers": workers, "seconds": round(wall, 2), "timed_out": timed_out,
            "per_worker": results, "cpu": {k: v for k, v in cpu.items() if k != "loadgen_cores"},
            "channels_per_s": round(cfg.due / wall, 1)}


def check(db: common.BenchDB, now: int, cfg: ExpiryConfig) -> dict:
    queries = {
        "expired_channels": "SELECT count(*) FROM channels WHERE expired",
        "wrongly_expired": f"SELECT count(*) FROM channels WHERE expired AND active_till_ms > {now}",
        "due_not_expired": f"SELECT count(*) FROM channels WHERE NOT expired AND active_till_ms <= {now}",
        "expire_entries": "SELECT count(*) FROM ledger_entries WHERE type = 'expire'",
        "channels_with_not_one_entry": (
            "SELECT count(*) FROM channels c WHERE c.expired AND (SELECT count(*) FROM ledger_entries e "
            "WHERE e.channel_id = c.id AND e.type = 'expire') <> 1"),
        "expired_events": "SELECT count(*) FROM events WHERE type = 'channel.expired'",
    }
    if db.engine == "sqlite":
        conn = sqlite3.connect(db.path)
        try:
            out = {k: conn.execute(q.replace("WHERE expired", "WHERE expired = 1")
                                   .replace("c.expired", "c.expired = 1")
                                   .replace("NOT expired", "expired = 0")).fetchone()[0]
                   for k, q in queries.items()}
        finally:
            conn.close()
    else:
        async def go():
            import asyncpg
            conn = await asyncpg.connect(db.url)
            try:
                return {k: await conn.fetchval(q) for k, q in queries.items()}
            finally:
                await conn.close()
        out = asyncio.run(go())
    out["exact"] = (out["expired_channels"] == cfg.due and out["wrongly_expired"] == 0
                    and out["due_not_expired"] == 0 and out["expire_entries"] == cfg.due
                    and out["channels_with_not_one_entry"] == 0)
    out["verify"] = dayledger_verify(db)
    return out


def run(engine: str, cfg: ExpiryConfig) -> dict:
    tpl, now = seed_template(engine, cfg)
    out: dict = {"engine": engine, "channels": cfg.channels, "due": cfg.due, "partners": cfg.partners,
                 "batch_size": cfg.batch_size, "runs": {}}
    try:
        for workers in cfg.workers:
            db = copy_db(engine, tpl, f"expiry_w{workers}")
            try:
                log(f"expiry on {engine}: {workers} worker process(es)")
                r = run_workers(db, now, cfg, workers)
                r["check"] = check(db, now, cfg)
                log(f"  {engine} expiry {workers} worker(s): {r['seconds']} s, exact={r['check']['exact']}, "
                    f"verify={r['check']['verify']}, {r['per_worker']}")
                out["runs"][f"{workers}_workers"] = r
            finally:
                db.drop()
    finally:
        tpl.drop()
    return out
