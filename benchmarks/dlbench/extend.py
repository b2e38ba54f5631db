"""Extend throughput end to end (real server subprocess, 32 keep-alive clients) and the
raw-SQL ceiling of the same transaction, on one engine."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass

from . import common, loadgen, profile, seed
from .common import BENCH, PY, RESULTS, CpuMeter, Server, log

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
    now = int(time.time() * 1000)
    many = seed.make_partners(cfg.partners)
    hot = seed.make_partners(1, first=cfg.partners, prefix="hot")[0]
    owners: list[seed.SeededPartner] = []
    for p in many:
        for _ in range(cfg.channels_per_partner):
            p.channels.append(seed.channel_id(len(owners)))
            owners.append(p)
    for _ in range(cfg.hot_channels):
        hot.channels.append(seed.channel_id(len(owners)))
        owners.append(hot)
    rows = seed.channel_rows(0, len(owners), owners.__getitem__, lambda i: now + 30 * seed.DAY_MS,
                             now - 60 * seed.DAY_MS)
    seed.insert_all(db, many + [hot], 10**12, now, rows)
    return many, hot


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


def ceiling(db: common.BenchDB, work, cfg: ExtendConfig, label: str) -> dict:
    spec = {"engine": db.engine, "url": db.url, "path": str(db.path) if db.path else None,
            "clients": work, "warmup": min(2.0, cfg.warmup), "duration": cfg.ceiling_duration}
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
    log(f"  {db.engine} ceiling {label}: {result['tx_per_s']} tx/s, p50 {result['p50_ms']} ms, "
        f"p99 {result['p99_ms']} ms, cpu {result['cpu']}")
    return result


def verify(db: common.BenchDB) -> str:
    r = subprocess.run([str(common.DAYLEDGER), "verify"], env={**os.environ, "DAYLEDGER_DATABASE_URL": db.url},
                       capture_output=True, text=True)
    return "ok" if r.returncode == 0 else (r.stdout + r.stderr).strip()[-1000:]


def run(engine: str, cfg: ExtendConfig) -> dict:
    db = common.new_db(engine, "extend")
    try:
        common.migrate(db)
        many, hot = seed_extend(db, cfg)
        many_w, hot_w = _pairs(cfg, many, hot)
        out: dict = {"engine": engine, "clients": cfg.clients, "partners": cfg.partners,
                     "channels": cfg.partners * cfg.channels_per_partner, "hot_channels": cfg.hot_channels,
                     "duration_s": cfg.duration, "servers": {}}
        worker_counts = cfg.pg_workers if engine == "postgres" else (1,)
        for workers in worker_counts:
            key = f"{workers}proc"
            log(f"extend on {engine}: server with {workers} process(es)")
            with Server(db, workers=workers) as srv:
                r: dict = {"command": "dayledger serve --no-worker" if workers == 1 else
                           f"uvicorn dayledger.app:create_app --factory --workers {workers}"}
                r["many_partners"] = closed(srv, many_w, cfg, engine, f"{key} 100 partners")
                r["hot_partner"] = closed(srv, hot_w, cfg, engine, f"{key} hot partner")
                rate = r["many_partners"]["rps"] / 2
                r["half_load"] = opened(srv, many_w, rate, cfg, engine, f"{key} half load")
                if cfg.profile:
                    prof = RESULTS / f"profile-extend-{engine}-{key}-{common.RUN_TAG}.txt"
                    r["profiled_many_partners"] = closed(srv, many_w, cfg, engine, f"{key} profiled", prof)
                out["servers"][key] = r
        log(f"extend on {engine}: raw-SQL ceiling")
        out["ceiling"] = {"many_partners": ceiling(db, many_w, cfg, "100 partners"),
                          "hot_partner": ceiling(db, hot_w, cfg, "hot partner")}
        best = max(out["servers"].values(), key=lambda r: r["many_partners"]["rps"])
        out["best_server"] = [k for k, v in out["servers"].items() if v is best][0]
        for scenario in ("many_partners", "hot_partner"):
            ceil = out["ceiling"][scenario]["tx_per_s"]
            for r in out["servers"].values():
                r[scenario]["fraction_of_ceiling"] = round(r[scenario]["rps"] / ceil, 2) if ceil else None
        out["verify"] = verify(db)
        log(f"extend on {engine}: dayledger verify: {out['verify']}")
        return out
    finally:
        db.drop()
