"""Extend throughput end to end (real server subprocess, 32 keep-alive clients), the bulk
extend of 500 channels (serial), and in the same run, on the same seeded database, the
ceilings of the same transaction: raw SQL through the driver (statement by statement and,
on PostgreSQL, in one round trip) and the bare ASGI + driver app under uvicorn (``asgi_ceiling.py``)
driven by the same load generator. Every end-to-end figure gets its ratio to each ceiling."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import time
from collections import Counter
from dataclasses import dataclass

from . import ceiling as ceiling_sql
from . import common, loadgen, profile, seed
from .common import BENCH, PY, RESULTS, AsgiCeilingServer, CpuMeter, Server, log

BODY = b'{"days":1,"comment":"bench"}'


@dataclass
class ExtendConfig:
    clients: int = 32
    partners: int = 100
    channels_per_partner: int = 10
    hot_channels: int = 320
    warmup: float = 3.0
    duration: float = 15.0
    ceiling_duration: float = 10.0
    pg_workers: tuple[int, ...] = (1, 2)  # server processes to try on PostgreSQL
    profile: bool = False
    # Durability of the run: the server gets DAYLEDGER_SQLITE_SYNCHRONOUS / DAYLEDGER_PG_SYNCHRONOUS_COMMIT,
    # every ceiling the same setting.
    sqlite_synchronous: str = "full"
    pg_synchronous_commit: str = "on"
    asgi_workers: tuple[int, ...] | None = None  # processes of the bare ASGI ceiling on PostgreSQL (default: pg_workers)
    asgi_pool: int = 20  # asyncpg connections per bare ASGI process (the app's pool: 10 + 10 overflow)
    bulk_channels: int = 500
    bulk_requests: int = 50


def _pairs(cfg: ExtendConfig, many, hot) -> tuple[list[list[tuple[str, str]]], list[list[tuple[str, str]]]]:
    """Per client, the (token, channel) pairs it cycles through. Consecutive pairs belong to
    different partners, so clients spread over all partners."""
    flat = [(p.token, p.channels[j]) for j in range(cfg.channels_per_partner) for p in many]
    many_w = [flat[c::cfg.clients] for c in range(cfg.clients)]
    hot_w = [[(hot.token, ch) for ch in hot.channels[c::cfg.clients]] for c in range(cfg.clients)]
    return many_w, hot_w


def _render(work: list[list[tuple[str, str]]]) -> list[list[bytes]]:
    return [[loadgen.render("POST", f"/channels/{ch}/extend", tok, BODY) for tok, ch in client] for client in work]


def seed_extend(db: common.BenchDB, cfg: ExtendConfig):
    many, hot, _ = seed_all(db, cfg, bulk_channels=0)
    return many, hot


def seed_all(db: common.BenchDB, cfg: ExtendConfig, bulk_channels: int):
    """100 partners with 10 channels each, the hot partner with 320, and (if asked) one
    partner with ``bulk_channels`` channels for the bulk scenario."""
    now = int(time.time() * 1000)
    many = seed.make_partners(cfg.partners)
    hot = seed.make_partners(1, first=cfg.partners, prefix="hot")[0]
    bulk = seed.make_partners(1, first=cfg.partners + 1, prefix="bulk")[0] if bulk_channels else None
    owners: list[seed.SeededPartner] = []
    for p in many:
        for _ in range(cfg.channels_per_partner):
            p.channels.append(seed.channel_id(len(owners)))
            owners.append(p)
    for _ in range(cfg.hot_channels):
        hot.channels.append(seed.channel_id(len(owners)))
        owners.append(hot)
    for _ in range(bulk_channels):
        bulk.channels.append(seed.channel_id(len(owners)))
        owners.append(bulk)
    rows = seed.channel_rows(0, len(owners), owners.__getitem__, lambda i: now + 30 * seed.DAY_MS,
                             now - 60 * seed.DAY_MS)
    seed.insert_all(db, many + [hot] + ([bulk] if bulk else []), 10**12, now, rows)
    return many, hot, bulk


def closed(srv: Server, work, cfg: ExtendConfig, engine: str, label: str, profile_to=None) -> dict:
    meter = CpuMeter(srv.pid, engine == "postgres")
    spy = {}

    def measuring():
        meter.start()
        if profile_to is not None:
            spy["p"] = profile.start(srv.worker_pids()[0], cfg.duration, profile_to)

    stats = loadgen.run(loadgen.closed_loop(srv.port, _render(work), cfg.duration, cfg.warmup, measuring))
    cpu = meter.stop()
    out = {**stats.summary(), "cpu": cpu}
    if profile_to is not None and spy.get("p") is None:
        out["profile_error"] = "py-spy is not installed: .venv/bin/pip install -e '.[bench]'"
    if spy.get("p") is not None:
        spy["p"].wait(60)
        if profile_to.exists():
            out["profile"] = profile.summarize(profile_to)
            out["profile"]["raw"] = str(profile_to)
        else:
            out["profile_error"] = spy["p"].stderr.read().decode()[-500:]
    log(f"  {engine} {label}: {out['rps']}/s ok, p50 {out['p50_ms']} ms, p99 {out['p99_ms']} ms, "
        f"errors {out['errors']}, cpu {cpu}")
    return out


def opened(srv: Server, work, rate: float, cfg: ExtendConfig, engine: str, label: str) -> dict:
    meter = CpuMeter(srv.pid, engine == "postgres")
    reqs = [r for client in _render(work) for r in client]
    # Interleave so consecutive requests go to different partners (as in the closed loop).
    stats = loadgen.run(loadgen.open_loop(srv.port, reqs, rate, cfg.duration, cfg.warmup, cfg.clients,
                                          meter.start))
    cpu = meter.stop()
    out = {"target_rps": round(rate, 1), **stats.summary(), "cpu": cpu}
    log(f"  {engine} {label} @ {rate:.0f}/s: {out['rps']}/s ok, p50 {out['p50_ms']} ms, p99 {out['p99_ms']} ms, "
        f"errors {out['errors']}")
    return out


def ceiling(db: common.BenchDB, work, cfg: ExtendConfig, label: str, mode: str = "statements") -> dict:
    spec = {"engine": db.engine, "url": db.url, "path": str(db.path) if db.path else None,
            "clients": work, "warmup": min(2.0, cfg.warmup), "duration": cfg.ceiling_duration, "mode": mode,
            "synchronous": cfg.sqlite_synchronous, "synchronous_commit": cfg.pg_synchronous_commit}
    spec_path = RESULTS / "logs" / f"ceiling-{db.name}.json"
    spec_path.parent.mkdir(parents=True, exist_ok=True)
    spec_path.write_text(json.dumps(spec))
    proc = subprocess.Popen([str(PY), "-m", "dlbench.ceiling", str(spec_path)], cwd=BENCH,
                            stdout=subprocess.PIPE, text=True)
    meter = CpuMeter(proc.pid, db.engine == "postgres")
    result = None
    for line in proc.stdout:
        if line.strip() == "measuring":
            meter.start()
        elif line.startswith("{"):
            result = json.loads(line)
            cpu = meter.stop()
            result["cpu"] = {"driver_cores" if k == "server_cores" else k: v for k, v in cpu.items()
                             if k != "loadgen_cores"}
    proc.wait()
    if result is None:
        raise RuntimeError(f"ceiling run failed ({proc.returncode})")
    log(f"  {db.engine} ceiling ({mode}) {label}: {result['tx_per_s']} tx/s, p50 {result['p50_ms']} ms, "
        f"p99 {result['p99_ms']} ms, errors {result['errors']}, {result['durability']}, cpu {result['cpu']}")
    return result


def durability(db: common.BenchDB, cfg: ExtendConfig) -> dict:
    """What the real server runs with. SQLite's synchronous is a per-connection setting that
    another connection cannot read: recorded as configured (the server's environment);
    the journal mode is persistent in the file and read back. PostgreSQL: the server's
    settings read back (SHOW) and what the app sets on its connections."""
    if db.engine == "sqlite":
        conn = sqlite3.connect(str(db.path))
        try:
            journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
        finally:
            conn.close()
        return {"synchronous": cfg.sqlite_synchronous.upper(), "synchronous_from": "DAYLEDGER_SQLITE_SYNCHRONOUS",
                "journal_mode": journal, "label": f"sync={cfg.sqlite_synchronous.upper()}, {journal}"}

    async def show():
        import asyncpg
        conn = await asyncpg.connect(db.url)
        try:
            return await ceiling_sql.pg_durability(conn)
        finally:
            await conn.close()
    server = asyncio.run(show())
    return {"synchronous_commit": cfg.pg_synchronous_commit, "synchronous_commit_from":
            "DAYLEDGER_PG_SYNCHRONOUS_COMMIT", "server_synchronous_commit": server["synchronous_commit"],
            "fsync": server["fsync"], "label": f"sc={cfg.pg_synchronous_commit}, fsync={server['fsync']}"}


def durability_label(d: dict) -> str:
    if "synchronous" in d:
        return f"sync={d['synchronous']}, {d.get('journal_mode')}"
    return f"sc={d.get('synchronous_commit')}, fsync={d.get('fsync')}"


def server_env(cfg: ExtendConfig) -> dict:
    return {"DAYLEDGER_SQLITE_SYNCHRONOUS": cfg.sqlite_synchronous,
            "DAYLEDGER_PG_SYNCHRONOUS_COMMIT": cfg.pg_synchronous_commit}


def bulk(srv: Server, partner: seed.SeededPartner, cfg: ExtendConfig, engine: str, label: str) -> dict:
    """``POST /channels/extend`` of the partner's channels (1 day each) in one request,
    serially on one keep-alive connection: 2 warm-up requests, then ``bulk_requests``."""
    body = json.dumps({"comment": "bench bulk", "channels": [{"id": c, "days": 1} for c in partner.channels]},
                      separators=(",", ":")).encode()
    req = loadgen.render("POST", "/channels/extend", partner.token, body)

    async def go():
        conn = await loadgen.connect(srv.port)
        lat, statuses, samples = [], Counter(), {}
        for i in range(2 + cfg.bulk_requests):
            t0 = time.perf_counter()
            status, reply = await conn.request(req, keep_body=True)
            if i < 2:
                continue
            lat.append(time.perf_counter() - t0)
            statuses[status] += 1
            if status != 200 and status not in samples:
                samples[status] = reply[:300].decode(errors="replace")
        conn.transport.close()
        return lat, statuses, samples

    meter = CpuMeter(srv.pid, engine == "postgres")
    meter.start()
    lat, statuses, samples = loadgen.run(go())
    cpu = meter.stop()
    xs = sorted(lat)
    ms = lambda p: round(xs[min(len(xs) - 1, int(p / 100 * len(xs)))] * 1000, 2) if xs else None  # noqa: E731
    out = {"channels": len(partner.channels), "requests": len(xs), "p50_ms": ms(50), "p99_ms": ms(99),
           "max_ms": round(xs[-1] * 1000, 2) if xs else None, "errors": sum(n for s, n in statuses.items() if s != 200),
           "statuses": {str(k): v for k, v in sorted(statuses.items())}, "cpu": cpu,
           **({"error_samples": samples} if samples else {})}
    log(f"  {engine} {label} bulk of {out['channels']}: p50 {out['p50_ms']} ms, p99 {out['p99_ms']} ms, "
        f"max {out['max_ms']} ms, errors {out['errors']}")
    return out


def asgi_ceilings(db: common.BenchDB, many_w, hot_w, cfg: ExtendConfig, engine: str) -> dict:
    """The bare ASGI + driver app under uvicorn, closed loops of both scenarios (the same
    clients and requests as the real server's): per variant, per process count."""
    variants = ("statements", "one_round_trip") if engine == "postgres" else ("statements",)
    counts = (cfg.asgi_workers or cfg.pg_workers) if engine == "postgres" else (1,)
    out: dict = {}
    for mode in variants:
        out[mode] = {}
        for workers in counts:
            key = f"{workers}proc"
            log(f"extend on {engine}: bare ASGI ceiling ({mode}), {workers} process(es)")
            try:
                with AsgiCeilingServer(db, workers=workers, mode=mode, synchronous=cfg.sqlite_synchronous,
                                       synchronous_commit=cfg.pg_synchronous_commit, pool=cfg.asgi_pool) as srv:
                    r: dict = {"command": f"python -m dlbench.asgi_ceiling --workers {workers}", "mode": mode,
                               "durability": srv.durability()}
                    if engine == "postgres":
                        r["pool_per_process"] = cfg.asgi_pool
                    r["many_partners"] = closed(srv, many_w, cfg, engine, f"ASGI {mode} {key} 100 partners")
                    r["hot_partner"] = closed(srv, hot_w, cfg, engine, f"ASGI {mode} {key} hot partner")
            except Exception as exc:  # noqa: BLE001 - a failed ceiling must not lose the end-to-end figures
                log(f"  bare ASGI ceiling ({mode}, {key}) failed: {exc!r}")
                r = {"error": f"{type(exc).__name__}: {exc}", "mode": mode}
            out[mode][key] = r
    return out


def _guarded(what: str, fn, *args, **kwargs) -> dict:
    """A ceiling's result, or ``{"error": ...}`` (the end-to-end figures are kept either way)."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001
        log(f"  {what} failed: {exc!r}")
        return {"error": f"{type(exc).__name__}: {exc}"}


def _best(runs: dict, scenario: str) -> float | None:
    rates = [r[scenario]["rps"] for r in runs.values() if scenario in r]
    return max(rates) if rates else None


def _tx(result: dict) -> float | None:
    return result.get("tx_per_s")


def _ratio(x: float, of: float | None) -> float | None:
    return round(x / of, 2) if of else None


def verify(db: common.BenchDB) -> str:
    r = subprocess.run([str(common.DAYLEDGER), "verify"], env={**os.environ, "DAYLEDGER_DATABASE_URL": db.url},
                       capture_output=True, text=True)
    return "ok" if r.returncode == 0 else (r.stdout + r.stderr).strip()[-1000:]


def run(engine: str, cfg: ExtendConfig) -> dict:
    db = common.new_db(engine, "extend")
    try:
        common.migrate(db)
        many, hot, bulk_partner = seed_all(db, cfg, cfg.bulk_channels)
        many_w, hot_w = _pairs(cfg, many, hot)
        out: dict = {"engine": engine, "clients": cfg.clients, "partners": cfg.partners,
                     "channels": cfg.partners * cfg.channels_per_partner, "hot_channels": cfg.hot_channels,
                     "duration_s": cfg.duration, "servers": {}}
        worker_counts = cfg.pg_workers if engine == "postgres" else (1,)
        for workers in worker_counts:
            key = f"{workers}proc"
            log(f"extend on {engine}: server with {workers} process(es)")
            with Server(db, workers=workers, extra_env=server_env(cfg)) as srv:
                r: dict = {"command": "dayledger serve --no-worker" if workers == 1 else
                           f"uvicorn dayledger.app:create_app --factory --workers {workers}"}
                r["many_partners"] = closed(srv, many_w, cfg, engine, f"{key} 100 partners")
                r["hot_partner"] = closed(srv, hot_w, cfg, engine, f"{key} hot partner")
                rate = r["many_partners"]["rps"] / 2
                r["half_load"] = opened(srv, many_w, rate, cfg, engine, f"{key} half load")
                if bulk_partner is not None and cfg.bulk_requests:
                    r["bulk"] = _guarded("bulk extend", bulk, srv, bulk_partner, cfg, engine, key)
                if cfg.profile:
                    prof = RESULTS / f"profile-extend-{engine}-{key}-{common.RUN_TAG}.txt"
                    r["profiled_many_partners"] = closed(srv, many_w, cfg, engine, f"{key} profiled", prof)
                out["servers"][key] = r
        out["durability"] = durability(db, cfg)
        log(f"extend on {engine}: server durability {out['durability']}")
        log(f"extend on {engine}: raw-SQL ceiling")
        out["ceiling"] = {"many_partners": _guarded("raw-SQL ceiling", ceiling, db, many_w, cfg, "100 partners"),
                          "hot_partner": _guarded("raw-SQL ceiling", ceiling, db, hot_w, cfg, "hot partner")}
        if engine == "postgres":
            try:
                asyncio.run(ceiling_sql.install_one_round_trip(db.url))
            except Exception as exc:  # noqa: BLE001 - the function's ceilings then fail alone
                log(f"  creating dlbench_extend failed: {exc!r}")
            log(f"extend on {engine}: one-round-trip ceiling (dlbench_extend, asyncpg, no HTTP)")
            out["ceiling_1rt"] = {
                "many_partners": _guarded("one-round-trip ceiling", ceiling, db, many_w, cfg, "100 partners",
                                          "one_round_trip"),
                "hot_partner": _guarded("one-round-trip ceiling", ceiling, db, hot_w, cfg, "hot partner",
                                        "one_round_trip")}
            log(f"extend on {engine}: one-statement ceiling (data-modifying CTEs, asyncpg, no HTTP)")
            out["ceiling_1st"] = {
                "many_partners": _guarded("one-statement ceiling", ceiling, db, many_w, cfg, "100 partners",
                                          "one_statement"),
                "hot_partner": _guarded("one-statement ceiling", ceiling, db, hot_w, cfg, "hot partner",
                                        "one_statement")}
        out["asgi_ceiling"] = asgi_ceilings(db, many_w, hot_w, cfg, engine)
        best = max(out["servers"].values(), key=lambda r: r["many_partners"]["rps"])
        out["best_server"] = [k for k, v in out["servers"].items() if v is best][0]
        out["ceilings_best"] = {}
        for scenario in ("many_partners", "hot_partner"):
            ceilings = {"raw_sql": _tx(out["ceiling"][scenario]),
                        "asgi": _best(out["asgi_ceiling"]["statements"], scenario)}
            if engine == "postgres":
                # One round trip: the better of the function call and the one statement.
                one_rt = [x for x in (_tx(out["ceiling_1rt"][scenario]), _tx(out["ceiling_1st"][scenario])) if x]
                ceilings["one_round_trip"] = max(one_rt) if one_rt else None
                ceilings["asgi_1rt"] = _best(out["asgi_ceiling"]["one_round_trip"], scenario)
            out["ceilings_best"][scenario] = ceilings
            for r in out["servers"].values():
                m = r[scenario]
                m["fraction_of_ceiling"] = _ratio(m["rps"], ceilings["raw_sql"])
                m["of_asgi_ceiling"] = _ratio(m["rps"], ceilings["asgi"])
                if engine == "postgres":
                    m["of_1rt_ceiling"] = _ratio(m["rps"], ceilings["one_round_trip"])
                    m["of_asgi_1rt_ceiling"] = _ratio(m["rps"], ceilings["asgi_1rt"])
        out["verify"] = verify(db)
        log(f"extend on {engine}: dayledger verify: {out['verify']}")
        return out
    finally:
        db.drop()
