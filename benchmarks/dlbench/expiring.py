"""The expiring-notice scan at scale: N channels of 1,000 partners (the partners' default
``expiring_notice_days``, 3), one in ``due_every`` ending within the notice window (1 to
71 hours from now), the others 4 to 60 days from now (so about half of them lie within
the 30 days the scan's index range covers and are rejected by the partner's 3 days). 1
and 2 worker processes call ``notify_expiring`` (the worker job ``expiringNotified``)
until it returns 0; then the steady state, a step and a whole worker round when nothing
is due. Seeding as the expiry benchmark's (``seed.channel_rows``, copied per run).

Checked: exactly the due channels got one ``channel.expiring`` event each and remember
the end they were told about; no other channel got one.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import time
from dataclasses import dataclass

from . import common, expiry, seed
from .common import BENCH, PY, CpuMeter, log

HOUR_MS = 3_600_000
NOTICE_DAYS = 3  # the partners' default expiring_notice_days
WINDOW_DAYS = 30  # channels/repository.py MAX_EXPIRING_NOTICE_DAYS: the scan's index range


@dataclass
class ExpiringConfig:
    channels: int = 1_000_000
    due_every: int = 20  # channel i ends within the notice window when i % due_every == 0
    partners: int = 1000
    batch_size: int = 5000  # the default DAYLEDGER_EXPIRY_BATCH_SIZE (the job's batch)
    workers: tuple[int, ...] = (1, 2)
    idle_steps: int = 5
    idle_rounds: int = 3
    timeout: float = 300.0

    @property
    def due(self) -> int:
        return len(range(0, self.channels, self.due_every))


def seed_template(engine: str, cfg: ExpiringConfig) -> tuple[common.BenchDB, int]:
    db = common.new_db(engine, "expiring_tpl")
    with common.dropped_on_error(db):
        common.migrate(db)
        now = int(time.time() * 1000)
        partners = seed.make_partners(cfg.partners)
        t = time.perf_counter()

        def till(i: int) -> int:
            if i % cfg.due_every == 0:
                return now + (1 + i % 71) * HOUR_MS  # ends within 1 to 71 hours: due
            return now + (NOTICE_DAYS + 1 + i % 57) * seed.DAY_MS  # 4 to 60 days: not yet

        rows = seed.channel_rows(0, cfg.channels, lambda i: partners[i % cfg.partners], till, now - 60 * seed.DAY_MS)
        seed.insert_all(db, partners, 1000, now, rows)
        log(f"expiring on {engine}: seeded {cfg.channels:,} channels ({cfg.due:,} due) in {time.perf_counter() - t:.1f} s")
        return db, now


def _send(procs, line: str = "go\n") -> None:
    for p in procs:
        p.stdin.write(line)
        p.stdin.flush()


def run_workers(db: common.BenchDB, now: int, cfg: ExpiringConfig, workers: int) -> dict:
    procs = [subprocess.Popen([str(PY), "-m", "dlbench.expiring_worker", db.url, str(now), str(cfg.batch_size),
                               str(cfg.idle_steps if i == 0 else 0), str(cfg.idle_rounds if i == 0 else 0)],
                              cwd=BENCH, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for i in range(workers)]
    try:
        for p in procs:
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError("expiring worker did not start")
        meter = CpuMeter(None, db.engine == "postgres")
        meter.start()
        t0 = time.perf_counter()
        _send(procs)
        scans = [json.loads(p.stdout.readline()) for p in procs]
        wall = time.perf_counter() - t0
        cpu = meter.stop()
        _send(procs)
        out, _ = procs[0].communicate(timeout=cfg.timeout)
        idle = json.loads(out.strip().splitlines()[-1])
        for p in procs[1:]:
            p.communicate(timeout=30)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return {"workers": workers, "seconds": round(wall, 2), "per_worker": scans,
            "notified": sum(s["notified"] for s in scans), "channels_per_s": round(cfg.due / wall, 1),
            "cpu": {k: v for k, v in cpu.items() if k != "loadgen_cores"}, "idle": idle}


def check(db: common.BenchDB, now: int, cfg: ExpiringConfig) -> dict:
    horizon = now + NOTICE_DAYS * seed.DAY_MS
    queries = {
        "events": "SELECT count(*) FROM events WHERE type = 'channel.expiring'",
        "channels_with_event": "SELECT count(DISTINCT channel_id) FROM events WHERE type = 'channel.expiring'",
        "events_for_channels_not_due": (
            "SELECT count(*) FROM events e JOIN channels c ON c.id = e.channel_id "
            f"WHERE e.type = 'channel.expiring' AND c.active_till_ms > {horizon}"),
        "due_channels": f"SELECT count(*) FROM channels WHERE active_till_ms > {now} AND active_till_ms <= {horizon}",
        "marked_channels": "SELECT count(*) FROM channels WHERE expiring_notified_till_ms = active_till_ms",
        "in_scan_range": (f"SELECT count(*) FROM channels WHERE active_till_ms > {now} "
                          f"AND active_till_ms <= {now + WINDOW_DAYS * seed.DAY_MS}"),
    }
    if db.engine == "sqlite":
        conn = sqlite3.connect(db.path)
        try:
            out = {k: conn.execute(q).fetchone()[0] for k, q in queries.items()}
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
    out["exact"] = (out["events"] == cfg.due and out["channels_with_event"] == cfg.due
                    and out["due_channels"] == cfg.due and out["marked_channels"] == cfg.due
                    and out["events_for_channels_not_due"] == 0)
    return out


def run(engine: str, cfg: ExpiringConfig) -> dict:
    tpl, now = seed_template(engine, cfg)
    out: dict = {"engine": engine, "channels": cfg.channels, "due": cfg.due, "partners": cfg.partners,
                 "batch_size": cfg.batch_size, "runs": {}}
    try:
        for workers in cfg.workers:
            db = expiry.copy_db(engine, tpl, f"expiring_w{workers}")
            try:
                log(f"expiring on {engine}: {workers} worker process(es)")
                r = run_workers(db, now, cfg, workers)
                r["check"] = check(db, now, cfg)
                i = r["idle"]
                log(f"  {engine} expiring {workers} worker(s): {r['seconds']} s, {r['notified']:,} notified, "
                    f"exact={r['check']['exact']}; idle step {i['idle_step_s_median']} s "
                    f"(cpu {i['idle_step_cpu_s_median']} s), idle round {i['idle_round_s_median']} s; "
                    f"{r['per_worker']}")
                out["runs"][f"{workers}_workers"] = r
            finally:
                db.drop()
    finally:
        tpl.drop()
    return out
