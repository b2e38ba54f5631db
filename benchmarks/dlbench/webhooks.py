"""Webhook delivery: throughput of real ``dayledger worker`` processes to a local receiver,
and the lag from an event's commit to its arrival at a steady load.

Processes: the receiver (``receiver.py``: raw asyncio, answers 204, records arrival time
and ``webhook-id``, verifies a sample of signatures), 1 or 2 ``dayledger worker``
processes (``DAYLEDGER_WEBHOOK_ALLOW_PRIVATE=true``), and for the lag a producer
(``webhook_producer.py``) committing events through ``dayledger.events.emit``.

* **Ceiling**: the receiver's throughput with a bare httpx client (``webhook_ceiling.py``)
  posting the same signed bodies with no database, measured right before each drain in
  the drain's shape: 1 stream for 1 endpoint (its events go one after another, whatever
  the workers), ``webhook_concurrency`` streams (16 endpoints at a time) from as many
  client processes as workers for 100 endpoints.
* **Drain**: the workers run idle (interval 0.1 s) on a database with the endpoints; then
  N events are committed in one transaction (1 endpoint: all one partner's; 100
  endpoints: N/100 for each of 100 partners, one endpoint each). Rate = N / (last
  arrival - commit). Checked: every delivery ``succeeded``, each event arrived (duplicates
  counted), in order per endpoint, sampled signatures valid.
* **Lag**: the workers run with an interval of 0.1 s or the default 5 s while the producer
  commits events at half the drain rate measured just before (same engine, same
  endpoints, 1 worker) for a fixed time; lag = arrival - commit, p50/p99/max.
* **Steps**: in this process, a backlog's delivery steps (``delivery.claim``, ``send``,
  ``record``) timed apart, wall and CPU per step: where a worker's time goes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from . import common, expiry, profile, seed
from .common import BENCH, DAYLEDGER, PY, RESULTS, RUN_TAG, log

MAX_ENDPOINTS = 100


@dataclass
class WebhookConfig:
    events: int = 20_000
    endpoint_counts: tuple[int, ...] = (1, 100)
    workers: tuple[int, ...] = (1, 2)
    drain_interval: float = 0.1
    lag_intervals: tuple[float, ...] = (0.1, 5.0)
    lag_endpoints: int = 100
    lag_seconds: float = 30.0
    lag_warmup: float = 2.0  # events committed in the first seconds are not counted
    ceiling_warmup: float = 1.0
    ceiling_seconds: float = 4.0
    concurrency: int = 16  # DAYLEDGER_WEBHOOK_CONCURRENCY (the default)
    timeout: float = 300.0
    split_events: int = 4000  # the backlog whose claim / send / record steps are timed apart
    profile: bool = False  # sample the (first) worker with py-spy during each drain


def endpoint_path(k: int) -> str:
    return f"/ep/{k}"


def endpoint_secret(k: int) -> str:
    """A fixed secret per endpoint number, so the receiver knows them before any database exists."""
    return "whsec_" + base64.b64encode(hashlib.sha256(f"dlbench-endpoint-{k}".encode()).digest()).decode()


def endpoint_id(k: int) -> str:
    return f"we_bench{k:012d}"


# ---------------------------------------------------------------- processes

class Receiver:
    def __init__(self) -> None:
        self.port = common.free_port()
        secrets = {endpoint_path(k): endpoint_secret(k) for k in range(MAX_ENDPOINTS)}
        self.secrets_path = Path(f"/tmp/dlbench/receiver-secrets-{RUN_TAG}.json")
        self.secrets_path.parent.mkdir(parents=True, exist_ok=True)
        self.secrets_path.write_text(json.dumps(secrets))
        self.proc = subprocess.Popen([str(PY), "-m", "dlbench.receiver", str(self.port), str(self.secrets_path)],
                                     cwd=BENCH, stdout=subprocess.PIPE, text=True, start_new_session=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("receiver did not start")

    def get(self, what: str) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/{what}", timeout=60) as r:
            return json.loads(r.read())

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)  # nothing to save; SIGINT may not stop serve_forever
            self.proc.wait(10)
        self.secrets_path.unlink(missing_ok=True)


def start_workers(db: common.BenchDB, n: int, interval: float, concurrency: int) -> list[subprocess.Popen]:
    env = {**os.environ, "DAYLEDGER_DATABASE_URL": db.url, "DAYLEDGER_LOG_LEVEL": "warning",
           "DAYLEDGER_DATA_DIR": f"/tmp/dlbench/data-{RUN_TAG}", "DAYLEDGER_WEBHOOK_ALLOW_PRIVATE": "true",
           "DAYLEDGER_WORKER_INTERVAL_SECONDS": str(interval), "DAYLEDGER_WEBHOOK_CONCURRENCY": str(concurrency)}
    (RESULTS / "logs").mkdir(parents=True, exist_ok=True)
    procs = []
    for i in range(n):
        logf = open(RESULTS / "logs" / f"worker-{db.name}-{i}.log", "wb")
        procs.append(subprocess.Popen([str(DAYLEDGER), "worker"], env=env, stdout=logf, stderr=subprocess.STDOUT,
                                      start_new_session=True))
    return procs


def stop_workers(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGINT)
    for p in procs:
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(5)


class RoleMeter:
    """CPU per wall second of named groups of processes, PostgreSQL, and everything else."""

    def __init__(self, roles: dict[str, list[int]], postgres: bool) -> None:
        self.roles, self.postgres = roles, postgres

    def _read(self) -> dict:
        busy, _ = common.machine_busy_seconds()
        t = os.times()
        r = {"wall": time.perf_counter(), "busy": busy, "self": t.user + t.system}
        for role, pids in self.roles.items():
            r[role] = sum(common.proc_cpu_seconds(p) for pid in pids for p in common.tree_pids(pid))
        if self.postgres:
            r["postgres"] = common.postgres_cpu_seconds()[0]
        return r

    def start(self) -> None:
        self.a = self._read()

    def stop(self, reported: dict[str, float] | None = None) -> dict:
        """``reported``: CPU seconds of roles whose processes have exited (they say theirs)."""
        b = self._read()
        wall = b["wall"] - self.a["wall"]
        out = {f"{k}_cores": round((b[k] - self.a[k]) / wall, 2) for k in [*self.roles, "postgres"] if k in b}
        out |= {f"{k}_cores": round(v / wall, 2) for k, v in (reported or {}).items()}
        busy = (b["busy"] - self.a["busy"]) / wall
        mine = sum(out.values()) + (b["self"] - self.a["self"]) / wall
        out["other_cores"] = round(max(0.0, busy - mine), 2)
        return out


# ---------------------------------------------------------------- databases

def seed_endpoints(engine: str, endpoints: int, port: int) -> tuple[common.BenchDB, list[seed.SeededPartner]]:
    db = common.new_db(engine, f"webhooks_tpl{endpoints}")
    with common.dropped_on_error(db):
        common.migrate(db)
        now = int(time.time() * 1000)
        partners = seed.make_partners(endpoints)
        seed.insert_all(db, partners, 1000, now)
        rows = [(endpoint_id(k), p.id, f"http://127.0.0.1:{port}{endpoint_path(k)}", '["*"]', "", endpoint_secret(k),
                 True, "api", None, now, now) for k, p in enumerate(partners)]
        cols = ["id", "partner_id", "url", "events", "description", "secret", "enabled", "source", "disabled_reason",
                "created_ms", "updated_ms"]
        _insert(db, "webhook_endpoints", cols, rows)
        return db, partners


def copy_db(engine: str, tpl: common.BenchDB, label: str) -> common.BenchDB:
    """A copy of the template. PostgreSQL: with ``plan_cache_mode = force_custom_plan`` for
    every session of that database. This server runs with autovacuum off, so the tables are
    never analyzed while a run fills them; a worker's cached generic plan of the claim's
    head query, made while ``webhook_deliveries`` was nearly empty, then stays in use and
    takes 20-45 s per claim once 20,000 deliveries are pending (README: findings). Custom
    plans are made per execution from the tables' current sizes, as after an autovacuum
    ANALYZE on a normally configured server."""
    db = expiry.copy_db(engine, tpl, label)
    if engine == "postgres":
        asyncio.run(common.pg_admin(f'ALTER DATABASE "{db.name}" SET plan_cache_mode = force_custom_plan'))
    return db


def event_rows(partners: list[seed.SeededPartner], n: int, now: int, first_seq: int = 0) -> list[tuple]:
    out = []
    for i in range(n):
        k = i % len(partners)
        ch = seed.channel_id(k)
        payload = {"id": ch, "mode": "live", "activeTill": now + 30 * seed.DAY_MS, "stopped": False,
                   "expired": False, "projectId": partners[k].project_id, "days": 1, "seq": first_seq + i}
        out.append((partners[k].id, "channel.extended", ch, json.dumps(payload), now))
    return out


EVENT_COLS = ["partner_id", "type", "channel_id", "payload", "created_ms"]


def _insert(db: common.BenchDB, table: str, cols: list[str], rows: list[tuple]) -> float:
    """Insert in one transaction; the wall-clock time of the commit."""
    if db.engine == "postgres":
        async def go() -> float:
            import asyncpg
            conn = await asyncpg.connect(db.url)
            try:
                async with conn.transaction():
                    await conn.copy_records_to_table(table, records=rows, columns=cols)
                return time.time()
            finally:
                await conn.close()
        return asyncio.run(go())
    conn = sqlite3.connect(db.path, timeout=60)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(f"INSERT INTO {table} ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})",
                         [tuple(int(v) if isinstance(v, bool) else v for v in r) for r in rows])
        conn.commit()
        return time.time()
    finally:
        conn.close()


def query(db: common.BenchDB, queries: dict[str, str]) -> dict:
    if db.engine == "sqlite":
        conn = sqlite3.connect(db.path, timeout=60)
        try:
            return {k: conn.execute(q).fetchall() for k, q in queries.items()}
        finally:
            conn.close()

    async def go():
        import asyncpg
        conn = await asyncpg.connect(db.url)
        try:
            return {k: [tuple(r) for r in await conn.fetch(q)] for k, q in queries.items()}
        finally:
            await conn.close()
    return asyncio.run(go())


def seq_by_event(db: common.BenchDB) -> dict[str, int]:
    """``webhook-id`` (evt_<id>) -> the seq the event was committed with."""
    rows = query(db, {"e": "SELECT id, payload FROM events WHERE type = 'channel.extended'"})["e"]
    out = {}
    for eid, payload in rows:
        seq = json.loads(payload).get("seq") if isinstance(payload, str) else payload.get("seq")
        if seq is not None and seq >= 0:
            out[f"evt_{eid}"] = seq
    return out


def delivery_check(db: common.BenchDB, expected: int) -> dict:
    r = query(db, {"status": "SELECT status, count(*) FROM webhook_deliveries GROUP BY status ORDER BY status",
                   "attempts": "SELECT count(*) FROM webhook_attempts",
                   "failed_attempts": "SELECT count(*) FROM webhook_attempts WHERE status_code IS NULL "
                                      "OR status_code < 200 OR status_code >= 300"})
    status = {s: n for s, n in r["status"]}
    return {"deliveries": status, "attempts": r["attempts"][0][0], "failed_attempts": r["failed_attempts"][0][0],
            "all_succeeded": status.get("succeeded", 0) == expected and sum(status.values()) == expected}


def arrivals_check(dump: dict) -> dict:
    """Duplicates and order per endpoint (event ids must rise along each path)."""
    seen, last, dups, out_of_order = set(), {}, 0, 0
    for path, msg in zip(dump["paths"], dump["ids"], strict=True):
        if (path, msg) in seen:
            dups += 1
            continue
        seen.add((path, msg))
        n = int(msg.removeprefix("evt_"))
        if n < last.get(path, -1):
            out_of_order += 1
        last[path] = n
    return {"unique": len(seen), "duplicates": dups, "out_of_order": out_of_order}


def wait_for(receiver: Receiver, expected: int, timeout: float, procs: list[subprocess.Popen]) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        s = receiver.get("stats")
        if s["unique"] >= expected or time.monotonic() > deadline:
            return s
        if any(p.poll() is not None for p in procs):
            raise RuntimeError(f"a worker exited with {[p.returncode for p in procs]}; see {RESULTS / 'logs'}")
        time.sleep(0.05)


def warm_up(db: common.BenchDB, partners, receiver: Receiver, procs: list[subprocess.Popen]) -> None:
    """One event (seq -1), waited for: the workers are up and idling. Then a second more
    (a second worker may start a little later) and the receiver forgets it."""
    _insert(db, "events", EVENT_COLS, event_rows(partners[:1], 1, int(time.time() * 1000), first_seq=-1))
    if wait_for(receiver, 1, 60, procs)["unique"] < 1:
        raise RuntimeError("the warm-up event never arrived")
    time.sleep(1.0)
    receiver.get("reset")


def recorded(db: common.BenchDB, expected: int, timeout: float = 30.0) -> None:
    """Wait until the workers have recorded what arrived (they record after sending)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not delivery_check(db, expected)["all_succeeded"]:
        time.sleep(0.1)


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


# ---------------------------------------------------------------- the three measurements

def ceiling(receiver: Receiver, streams: int, processes: int, cfg: WebhookConfig) -> dict:
    receiver.get("reset")
    rp = receiver.proc.pid
    procs = [subprocess.Popen([str(PY), "-m", "dlbench.webhook_ceiling", str(receiver.port), str(streams),
                               str(cfg.ceiling_warmup), str(cfg.ceiling_seconds)], cwd=BENCH,
                              stdout=subprocess.PIPE, text=True) for _ in range(processes)]
    time.sleep(cfg.ceiling_warmup + 0.2)
    meter = RoleMeter({"receiver": [rp]}, postgres=False)
    meter.start()
    outs = [json.loads(p.communicate(timeout=60)[0].strip().splitlines()[-1]) for p in procs]
    cpu = meter.stop({"client": sum(o["client_cores"] * o["seconds"] for o in outs)})
    stats = receiver.get("stats")
    r = {"streams": streams, "processes": processes, "posts_per_s": round(sum(o["posts_per_s"] for o in outs), 1),
         "errors": sum(o["errors"] for o in outs), "bad_signatures": stats["bad_signatures"],
         "verified": stats["verified"], "cpu": cpu}
    log(f"  webhook ceiling {streams} stream(s) x {processes} process(es): {r['posts_per_s']}/s, cpu {cpu}")
    return r


def drain(engine: str, tpl: common.BenchDB, partners, receiver: Receiver, workers: int, cfg: WebhookConfig) -> dict:
    db = copy_db(engine, tpl, f"webhooks_d{len(partners)}_w{workers}")
    prof_path = RESULTS / "logs" / f"pyspy-{db.name}.txt"
    try:
        receiver.get("reset")
        procs = start_workers(db, workers, cfg.drain_interval, cfg.concurrency)
        try:
            warm_up(db, partners, receiver, procs)
            rows = event_rows(partners, cfg.events, int(time.time() * 1000))
            meter = RoleMeter({"worker": [p.pid for p in procs], "receiver": [receiver.proc.pid]},
                              postgres=engine == "postgres")
            meter.start()
            spy = profile.start(procs[0].pid, cfg.timeout, prof_path) if cfg.profile else None
            committed = _insert(db, "events", EVENT_COLS, rows)
            stats = wait_for(receiver, cfg.events, cfg.timeout, procs)
            cpu = meter.stop()
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(30)
            recorded(db, cfg.events + 1)
        finally:
            stop_workers(procs)
        dump = receiver.get("dump")
        seconds = (stats["last"] - committed) if stats["last"] else None
        r = {"endpoints": len(partners), "workers": workers, "events": cfg.events,
             "delivered": stats["unique"], "timed_out": stats["unique"] < cfg.events,
             "seconds": round(seconds, 2) if seconds else None,
             "events_per_s": round(stats["unique"] / seconds, 1) if seconds else None,
             "first_arrival_s": round(stats["first"] - committed, 3) if stats["first"] else None,
             "steady_events_per_s": (round((stats["unique"] - 1) / (stats["last"] - stats["first"]), 1)
                                     if stats["unique"] > 1 else None),
             "signatures": {"verified": stats["verified"], "bad": stats["bad_signatures"],
                            "examples": stats["bad_examples"]},
             "arrivals": arrivals_check(dump), "check": delivery_check(db, cfg.events + 1), "cpu": cpu}
        r["ok"] = (not r["timed_out"] and r["check"]["all_succeeded"] and r["arrivals"]["out_of_order"] == 0
                   and stats["bad_signatures"] == 0)
        if cfg.profile and prof_path.exists():
            r["profile"] = profile.summarize(prof_path)
            r["profile"]["raw"] = str(prof_path.relative_to(BENCH))
        log(f"  {engine} drain {len(partners)} endpoint(s), {workers} worker(s): {r['events_per_s']}/s "
            f"({r['seconds']} s, first after {r['first_arrival_s']} s), ok={r['ok']}, cpu {cpu}")
        return r
    finally:
        db.drop()


def lag(engine: str, tpl: common.BenchDB, partners, receiver: Receiver, workers: int, interval: float,
        rate: float, cfg: WebhookConfig) -> dict:
    db = copy_db(engine, tpl, f"webhooks_l{workers}_{int(interval * 10)}")
    try:
        receiver.get("reset")
        procs = start_workers(db, workers, interval, cfg.concurrency)
        producer = subprocess.Popen([str(PY), "-m", "dlbench.webhook_producer", db.url, str(rate),
                                     str(cfg.lag_seconds), str(len(partners))], cwd=BENCH, stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True)
        try:
            if producer.stdout.readline().strip() != "ready":
                raise RuntimeError("producer did not start")
            warm_up(db, partners, receiver, procs)
            meter = RoleMeter({"worker": [p.pid for p in procs], "receiver": [receiver.proc.pid]},
                              postgres=engine == "postgres")
            meter.start()
            producer.stdin.write("go\n")
            producer.stdin.flush()
            out, _ = producer.communicate(timeout=cfg.lag_seconds * 3 + 60)
            prod = json.loads(out.strip().splitlines()[-1])
            cpu = meter.stop({"producer": prod["producer_cpu_s"]})
            expected = prod["events"]  # the two warm-up events (seq -1) arrived before the reset
            stats = wait_for(receiver, expected, interval + 60, procs)
            recorded(db, expected + 2)
        finally:
            if producer.poll() is None:
                producer.kill()
            stop_workers(procs)
        dump = receiver.get("dump")
        seqs = seq_by_event(db)
        commits = prod["commits"]
        counted_from = prod["started"] + cfg.lag_warmup
        lags, seen = [], set()
        for t, msg in zip(dump["times"], dump["ids"], strict=True):
            seq = seqs.get(msg)
            if seq is None or msg in seen:
                continue
            seen.add(msg)
            if commits[seq] >= counted_from:
                lags.append((t - commits[seq]) * 1000)
        r = {"endpoints": len(partners), "workers": workers, "interval_s": interval, "target_rate": round(rate, 1),
             "rate": prod["rate"], "late_starts": prod["late_starts"], "events": prod["events"],
             "delivered": len(seen), "counted": len(lags), "timed_out": stats["unique"] < expected,
             "p50_ms": round(pct(lags, 50), 1) if lags else None, "p99_ms": round(pct(lags, 99), 1) if lags else None,
             "max_ms": round(max(lags), 1) if lags else None,
             "signatures": {"verified": stats["verified"], "bad": stats["bad_signatures"]},
             "arrivals": arrivals_check(dump), "check": delivery_check(db, expected + 2), "cpu": cpu}
        r["ok"] = (not r["timed_out"] and r["check"]["all_succeeded"] and r["arrivals"]["out_of_order"] == 0
                   and stats["bad_signatures"] == 0)
        log(f"  {engine} lag {len(partners)} endpoints, {workers} worker(s), interval {interval} s, "
            f"{r['rate']}/s: p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, max {r['max_ms']} ms, ok={r['ok']}, cpu {cpu}")
        return r
    finally:
        db.drop()


async def _split(url: str, concurrency: int) -> dict:
    from dayledger.clock import Clock
    from dayledger.config import Settings, normalize_database_url
    from dayledger.db import Database
    from dayledger.webhooks import delivery

    settings = Settings(database_url=url, webhook_allow_private=True, webhook_concurrency=concurrency)
    db, clock = Database(normalize_database_url(url)), Clock()
    batch = settings.webhook_batch_size
    try:
        while await db.run(delivery.fan_out, clock.now_ms(), batch) == batch:
            pass
        wall = {"claim": 0.0, "send": 0.0, "record": 0.0}
        cpu = dict(wall)
        steps = delivered = 0
        while True:
            marks = [(time.perf_counter(), sum(os.times()[:2]))]
            runs = await db.run(delivery.claim, clock.now_ms(), settings)
            marks.append((time.perf_counter(), sum(os.times()[:2])))
            if not runs:
                break
            outcomes = await delivery.send(runs, settings, clock.now_ms)
            marks.append((time.perf_counter(), sum(os.times()[:2])))
            await db.run(delivery.record, outcomes, clock.now_ms(), settings)
            marks.append((time.perf_counter(), sum(os.times()[:2])))
            for i, part in enumerate(("claim", "send", "record")):
                wall[part] += marks[i + 1][0] - marks[i][0]
                cpu[part] += marks[i + 1][1] - marks[i][1]
            steps += 1
            delivered += len(outcomes)
    finally:
        await db.dispose()
    out: dict = {"steps": steps, "delivered": delivered, "per_step": round(delivered / max(1, steps), 1),
                 "events_per_s": round(delivered / max(1e-9, sum(wall.values())), 1)}
    for part in wall:
        out[f"{part}_ms"] = round(wall[part] / max(1, steps) * 1000, 1)
        out[f"{part}_cpu_ms"] = round(cpu[part] / max(1, steps) * 1000, 1)
    out["send_cpu_ms_per_post"] = round(cpu["send"] / max(1, delivered) * 1000, 2)
    return out


def split(engine: str, tpl: common.BenchDB, partners, receiver: Receiver, events: int, cfg: WebhookConfig) -> dict:
    """In this process, no worker loop: the claim / send / record steps of a backlog, timed
    apart (wall and CPU per step of up to ``webhook_batch_size`` deliveries)."""
    db = copy_db(engine, tpl, f"webhooks_s{len(partners)}")
    try:
        receiver.get("reset")
        _insert(db, "events", EVENT_COLS, event_rows(partners, events, int(time.time() * 1000)))
        r = asyncio.run(_split(db.url, cfg.concurrency))
        r["endpoints"] = len(partners)
        log(f"  {engine} steps, {len(partners)} endpoint(s): {r}")
        return r
    finally:
        db.drop()


def run(engine: str, cfg: WebhookConfig) -> dict:
    receiver = Receiver()
    out: dict = {"engine": engine, "events": cfg.events, "concurrency": cfg.concurrency,
                 "drain_interval_s": cfg.drain_interval, "ceiling": {}, "drain": {}, "lag": {}}
    templates: dict[int, tuple] = {}
    try:
        for n in sorted(set(cfg.endpoint_counts) | {cfg.lag_endpoints}):
            templates[n] = seed_endpoints(engine, n, receiver.port)
        for n in cfg.endpoint_counts:
            for workers in cfg.workers:
                # The ceiling of the same shape, measured right before the drain (the load of other
                # processes on this machine changes from one minute to the next). One endpoint's events
                # go one after another whatever the workers: its ceiling is one stream.
                streams, processes = (1, 1) if n == 1 else (min(n, cfg.concurrency), workers)
                key = f"{streams}x{processes}_before_{n}ep_{workers}w"
                log(f"webhooks on {engine}: ceiling, {streams} stream(s) x {processes} process(es)")
                c = out["ceiling"][key] = ceiling(receiver, streams, processes, cfg)
                log(f"webhooks on {engine}: drain of {cfg.events:,} events, {n} endpoint(s), {workers} worker(s)")
                r = drain(engine, *templates[n], receiver, workers, cfg)
                r["ceiling"] = c["posts_per_s"]
                r["of_ceiling"] = round(r["events_per_s"] / c["posts_per_s"], 2) if r["events_per_s"] else None
                out["drain"][f"{n}ep_{workers}w"] = r
        out["steps"] = {}
        for n in cfg.endpoint_counts:
            log(f"webhooks on {engine}: claim / send / record timed apart, {n} endpoint(s)")
            out["steps"][f"{n}ep"] = split(engine, *templates[n], receiver, cfg.split_events, cfg)
        n = cfg.lag_endpoints
        base = out["drain"].get(f"{n}ep_1w", {}).get("events_per_s")
        if not base:
            raise RuntimeError("no drain rate to derive the lag load from")
        for interval in cfg.lag_intervals:
            log(f"webhooks on {engine}: lag at {base / 2:.0f} events/s, {n} endpoints, 1 worker, interval {interval} s")
            out["lag"][f"{n}ep_1w_{interval}s"] = lag(engine, *templates[n], receiver, 1, interval, base / 2, cfg)
        return out
    finally:
        receiver.stop()
        for db, _ in templates.values():
            db.drop()
