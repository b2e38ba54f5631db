"""dayledger benchmarks: one entry point (``make bench``).

    .venv/bin/python benchmarks/run.py                     # everything, SQLite and PostgreSQL (~10 min)
    .venv/bin/python benchmarks/run.py --quick             # smoke run (~5 min)
    .venv/bin/python benchmarks/run.py --quick --engine sqlite --bench extend --sqlite-synchronous normal
    .venv/bin/python benchmarks/run.py --engine postgres --bench extend --profile

Prints the figures as tables and writes them as JSON (and Markdown) to
benchmarks/results/. See benchmarks/README.md for what each benchmark measures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dlbench import common, expiring, expiry, export, extend, layers, webhooks  # noqa: E402
from dlbench.common import RESULTS, log  # noqa: E402

BENCHES = ("extend", "expiry", "export", "layers", "webhooks", "expiring")
# Issue 11's targets (durable: SQLite synchronous=FULL, PostgreSQL synchronous_commit on).
TARGETS = {"extend_sqlite": 2000, "extend_postgres": 1500, "hot_sqlite": 1500, "hot_postgres": 1000,
           "half_load_p99_ms": 25, "of_asgi_ceiling": 0.4, "bulk_ms": 100, "expiry_s": 60, "export_s": 5}


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", choices=("sqlite", "postgres", "both"), default="both")
    ap.add_argument("--bench", action="append", choices=BENCHES,
                    help="run only this benchmark (repeatable; default: all)")
    ap.add_argument("--quick", action="store_true", help="small, short smoke run (< 2 minutes)")
    ap.add_argument("--duration", type=float, help="seconds measured per extend phase (default 15, quick 4)")
    ap.add_argument("--clients", type=int, default=32, help="concurrent keep-alive clients (default 32)")
    ap.add_argument("--pg-workers", default=None,
                    help="server process counts to try on PostgreSQL, comma-separated (default 1,2; quick 1)")
    ap.add_argument("--sqlite-synchronous", choices=("full", "extra", "normal"), default="full",
                    help="durability of the SQLite runs: the server's DAYLEDGER_SQLITE_SYNCHRONOUS and the ceilings' "
                         "PRAGMA synchronous (default full)")
    ap.add_argument("--pg-synchronous-commit", choices=("on", "remote_apply", "remote_write", "local", "off"),
                    default="on", help="durability of the PostgreSQL runs: the server's "
                                       "DAYLEDGER_PG_SYNCHRONOUS_COMMIT and the ceilings' synchronous_commit (default on)")
    ap.add_argument("--asgi-workers", default=None,
                    help="process counts of the bare ASGI ceiling on PostgreSQL, comma-separated "
                         "(default: those of --pg-workers); SQLite: 1")
    ap.add_argument("--bulk-requests", type=int,
                    help="bulk extends of 500 channels, one after another (default 50; quick 10; 0: none)")
    ap.add_argument("--expiry-channels", type=int, help="channels seeded for expiry (default 1,000,000)")
    ap.add_argument("--expiry-sqlite", action="store_true",
                    help="also run the expiry benchmark on SQLite (it is a PostgreSQL benchmark)")
    ap.add_argument("--expiring-sqlite", action="store_true",
                    help="also run the expiring-notice scan on SQLite (it is a PostgreSQL benchmark)")
    ap.add_argument("--webhook-events", type=int, help="events per webhook drain (default 20,000; quick 2,000)")
    ap.add_argument("--profile", action="store_true",
                    help="add a py-spy-profiled extend phase per server, and sample the first webhook worker "
                         "during each drain (needs the 'bench' extra)")
    ap.add_argument("--output", type=Path, help="JSON file to write (default results/bench-<time>.json)")
    return ap.parse_args(argv)


def configs(args):
    q = args.quick
    ext = extend.ExtendConfig(clients=args.clients, warmup=1.0 if q else 3.0,
                              duration=args.duration or (4.0 if q else 15.0),
                              ceiling_duration=3.0 if q else 10.0, profile=args.profile)
    workers = args.pg_workers or ("1" if q else "1,2")
    ext.pg_workers = tuple(int(x) for x in workers.split(","))
    if args.asgi_workers:
        ext.asgi_workers = tuple(int(x) for x in args.asgi_workers.split(","))
    ext.sqlite_synchronous, ext.pg_synchronous_commit = args.sqlite_synchronous, args.pg_synchronous_commit
    ext.bulk_requests = args.bulk_requests if args.bulk_requests is not None else (10 if q else 50)
    exp = expiry.ExpiryConfig(channels=args.expiry_channels or (100_000 if q else 1_000_000),
                              partners=100 if q else 1000)
    exo = export.ExportConfig(sizes=(4_000, 20_000) if q else (20_000, 100_000))
    whk = webhooks.WebhookConfig(events=args.webhook_events or (2_000 if q else 20_000),
                                 workers=(1,) if q else (1, 2), lag_intervals=(0.1,) if q else (0.1, 5.0),
                                 lag_seconds=8.0 if q else 30.0, ceiling_seconds=2.0 if q else 4.0,
                                 split_events=1000 if q else 4000,
                                 profile=args.profile)
    eng = expiring.ExpiringConfig(channels=100_000 if q else 1_000_000, partners=100 if q else 1000,
                                  workers=(1,) if q else (1, 2))
    return ext, exp, exo, whk, eng


# ---------------------------------------------------------------- reporting

def _fit(row: list, n: int) -> list:
    """A row of exactly ``n`` cells (an error row may be shorter than its table)."""
    return (list(row) + [""] * n)[:n]


def table(title: str, header: list[str], rows: list[list]) -> str:
    rows = [_fit(r, len(header)) for r in rows]
    cells = [[str(h) for h in header]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = lambda r: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))  # noqa: E731
    out = [f"\n{title}", line(cells[0]), line(["-" * w for w in widths])] + [line(r) for r in cells[1:]]
    return "\n".join(out)


def markdown(title: str, header: list[str], rows: list[list]) -> str:
    out = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join("" if c is None else str(c) for c in _fit(r, len(header))) + " |" for r in rows]
    return "\n".join(out) + "\n"


def report(results: dict) -> tuple[str, str]:
    text, md = [], []

    def emit(title, header, rows):
        text.append(table(title, header, rows))
        md.append(markdown(title, header, rows))

    report_extend(results, emit)
    exp_rows = []
    for engine, r in results.get("expiry", {}).items():
        if "error" in r:
            exp_rows.append([engine, "ERROR", r["error"][:80]] + [""] * 5)
            continue
        for run in r["runs"].values():
            c = run["check"]
            exp_rows.append([engine, f"{r['channels']:,} / {r['due']:,}", run["workers"], run["seconds"],
                             run["channels_per_s"], c["expired_channels"], c["exact"], c["verify"]])
    if exp_rows:
        emit("Expiry (expire_due in a loop until 0)",
             ["engine", "channels / due", "workers", "seconds", "expired/s", "expired", "exact", "verify"], exp_rows)
    exo_rows = []
    for engine, r in results.get("export", {}).items():
        if "error" in r:
            exo_rows.append([engine, "ERROR", r["error"][:80]] + [""] * 6)
            continue
        for n, s in r["sizes"].items():
            result = "ok" if "error" not in s else ("INCOMPLETE" if not s["complete"] else "WRONG ROW COUNT")
            exo_rows.append([engine, f"{int(n):,}", s["seconds"], f"{s['rows']:,}", s["ttfb_ms"], s["rss_before_mib"],
                             s["rss_peak_mib"], s["rss_growth_mib"], s["side_max_ms"], result])
    if exo_rows:
        emit("GET /channels/export.csv",
             ["engine", "channels", "seconds", "rows received", "TTFB ms", "RSS before MiB", "RSS peak MiB",
              "RSS growth MiB", "other req max ms", "result"], exo_rows)
    lay_rows = []
    for engine, r in results.get("layers", {}).items():
        if "error" in r:
            continue
        lay_rows.append([engine, r["http_404_floor"]["server_cpu_us_per_request"], r["service_us"]["cpu"],
                         r["service_us"]["wall"], r["core_prebuilt_us"]["cpu"], r["core_prebuilt_us"]["wall"],
                         r["driver_us"]["cpu"], r["driver_us"]["wall"]])
    if lay_rows:
        emit("Layers: CPU (and wall) microseconds per extend, serial, in process",
             ["engine", "HTTP 404 floor (server CPU)", "service CPU", "service wall", "prebuilt Core CPU",
              "prebuilt Core wall", "driver CPU", "driver wall"], lay_rows)
    report_webhooks(results, emit)
    report_expiring(results, emit)
    tgt = results.get("targets", [])
    if tgt:
        emit("Targets", ["target", "measured", "met"], [[t["target"], t["measured"], t["met"]] for t in tgt])
    return "\n".join(text), "\n".join(md)


SCENARIOS = (("many_partners", "100 partners"), ("hot_partner", "1 hot partner"))


def report_extend(results: dict, emit) -> None:
    ext_rows, ceil_rows, asgi_rows, bulk_rows = [], [], [], []
    for engine, r in results.get("extend", {}).items():
        if "error" in r:
            ext_rows.append([engine, "ERROR", r["error"][:60]] + [""] * 13)
            continue
        dur = extend.durability_label(r.get("durability", {}))
        for key, s in r["servers"].items():
            for scenario, label in SCENARIOS:
                m = s[scenario]
                ext_rows.append([engine, key, label, dur, m["rps"], m["p50_ms"], m["p99_ms"], m["errors"],
                                 m.get("of_asgi_ceiling"), m.get("of_asgi_1rt_ceiling", ""),
                                 m.get("fraction_of_ceiling"), m.get("of_1rt_ceiling", ""),
                                 m["cpu"].get("server_cores"), m["cpu"].get("postgres_cores", ""),
                                 m["cpu"]["loadgen_cores"], m["cpu"].get("other_cores")])
            h = s["half_load"]
            ext_rows.append([engine, key, f"open loop @ {h['target_rps']}/s", dur, h["rps"], h["p50_ms"],
                             h["p99_ms"], h["errors"], "", "", "", "", h["cpu"].get("server_cores"),
                             h["cpu"].get("postgres_cores", ""), h["cpu"]["loadgen_cores"], h["cpu"].get("other_cores")])
            b = s.get("bulk")
            if b and "error" in b:
                bulk_rows.append([engine, key, dur, "ERROR", b["error"][:60]] + [""] * 8)
            elif b:
                ok = b["p99_ms"] is not None and b["p99_ms"] < TARGETS["bulk_ms"] and not b["errors"]
                bulk_rows.append([engine, key, dur, b["channels"], b["requests"], b["p50_ms"], b["p99_ms"],
                                  b["max_ms"], b["errors"], "yes" if ok else "NO", b["cpu"].get("server_cores"),
                                  b["cpu"].get("postgres_cores", ""), b["cpu"].get("other_cores")])
        for name, kind in (("ceiling", "statements"), ("ceiling_1rt", "one round trip: function dlbench_extend"),
                           ("ceiling_1st", "one round trip: one statement (CTEs)")):
            for scenario, label in SCENARIOS:
                c = r.get(name, {}).get(scenario)
                if c is None:
                    continue
                if "error" in c:
                    ceil_rows.append([engine, kind, label, "ERROR", c["error"][:60]] + [""] * 7)
                    continue
                ceil_rows.append([engine, kind, label, extend.durability_label(c.get("durability", {})),
                                  c.get("connections"), c["tx_per_s"], c["p50_ms"], c["p99_ms"],
                                  sum(c["errors"].values()), c["cpu"].get("driver_cores"),
                                  c["cpu"].get("postgres_cores", ""), c["cpu"].get("other_cores")])
        for mode, runs in r.get("asgi_ceiling", {}).items():
            for key, a in runs.items():
                if "error" in a:
                    asgi_rows.append([engine, mode.replace("_", " "), key, "ERROR", a["error"][:60]] + [""] * 9)
                    continue
                adur = extend.durability_label(a.get("durability", {}))
                for scenario, label in SCENARIOS:
                    m = a[scenario]
                    asgi_rows.append([engine, "statements" if mode == "statements" else "one round trip", key,
                                      label, adur, a.get("pool_per_process", 1), m["rps"], m["p50_ms"], m["p99_ms"],
                                      m["errors"], m["cpu"].get("server_cores"), m["cpu"].get("postgres_cores", ""),
                                      m["cpu"]["loadgen_cores"], m["cpu"].get("other_cores")])
    if ext_rows:
        emit("Extend, end to end (POST /channels/{id}/extend, 32 keep-alive clients)",
             ["engine", "server", "load", "durability", "extends/s", "p50 ms", "p99 ms", "errors", "of ASGI",
              "of ASGI 1RT", "of raw SQL", "of 1RT", "server cores", "pg cores", "loadgen cores", "other cores"],
             ext_rows)
    if bulk_rows:
        emit(f"Bulk extend (POST /channels/extend, one request after another; target < {TARGETS['bulk_ms']} ms)",
             ["engine", "server", "durability", "channels per request", "requests", "p50 ms", "p99 ms", "max ms",
              "errors", "p99 < target", "server cores", "pg cores", "other cores"], bulk_rows)
    if asgi_rows:
        emit("Bare ASGI + driver ceiling (raw ASGI app under uvicorn, same transaction, same load generator)",
             ["engine", "transaction", "server", "load", "durability", "connections per process", "extends/s",
              "p50 ms", "p99 ms", "errors", "server cores", "pg cores", "loadgen cores", "other cores"], asgi_rows)
    if ceil_rows:
        emit("Raw-SQL ceilings (same transaction through the driver, no HTTP)",
             ["engine", "transaction", "load", "durability", "connections", "tx/s", "p50 ms", "p99 ms", "errors",
              "driver cores", "pg cores", "other cores"], ceil_rows)


def report_webhooks(results: dict, emit) -> None:
    ceil_rows, drain_rows, lag_rows = [], [], []
    for engine, r in results.get("webhooks", {}).items():
        if "error" in r:
            drain_rows.append([engine, "ERROR", r["error"][:80]] + [""] * 13)
            continue
        for key, c in r["ceiling"].items():
            ceil_rows.append([engine, key.split("_before_")[-1].replace("ep_", " endpoint(s), ").replace("w", " worker(s)"),
                              c["streams"], c["processes"], c["posts_per_s"], c["errors"] + c["bad_signatures"],
                              c["cpu"].get("client_cores"), c["cpu"].get("receiver_cores"), c["cpu"].get("other_cores")])
        for d in r["drain"].values():
            cpu = d["cpu"]
            drain_rows.append([engine, d["endpoints"], d["workers"], f"{d['delivered']:,} / {d['events']:,}",
                               d["seconds"], d["events_per_s"], d["first_arrival_s"], d["of_ceiling"],
                               d["arrivals"]["duplicates"], d["arrivals"]["out_of_order"],
                               "ok" if d["ok"] else "FAILED", cpu.get("worker_cores"), cpu.get("postgres_cores", ""),
                               cpu.get("receiver_cores"), cpu.get("other_cores")])
        for x in r["lag"].values():
            cpu = x["cpu"]
            lag_rows.append([engine, x["endpoints"], x["workers"], x["interval_s"], f"{x['rate']} ({x['target_rate']})",
                             x["counted"], x["p50_ms"], x["p99_ms"], x["max_ms"], "ok" if x["ok"] else "FAILED",
                             cpu.get("worker_cores"), cpu.get("postgres_cores", ""), cpu.get("producer_cores"),
                             cpu.get("other_cores")])
    split_rows = []
    for engine, r in results.get("webhooks", {}).items():
        for x in r.get("steps", {}).values():
            split_rows.append([engine, x["endpoints"], x["per_step"], x["claim_ms"], x["claim_cpu_ms"], x["send_ms"],
                               x["send_cpu_ms"], x["record_ms"], x["record_cpu_ms"], x["send_cpu_ms_per_post"],
                               x["events_per_s"]])
    if ceil_rows:
        emit("Webhook receiver ceiling (bare httpx client posting signed bodies, no database; right before each drain)",
             ["engine", "before the drain of", "streams", "client processes", "posts/s", "errors", "client cores", "receiver cores",
              "other cores"], ceil_rows)
    if drain_rows:
        emit("Webhook delivery: backlog drain (dayledger worker processes, interval 0.1 s)",
             ["engine", "endpoints", "workers", "delivered", "seconds", "events/s", "first arrival s", "of ceiling",
              "duplicates", "out of order", "result", "worker cores", "pg cores", "receiver cores", "other cores"],
             drain_rows)
    if lag_rows:
        emit("Webhook lag at load (commit to arrival, producer at half the drain rate)",
             ["engine", "endpoints", "workers", "interval s", "events/s (target)", "events counted", "p50 ms",
              "p99 ms", "max ms", "result", "worker cores", "pg cores", "producer cores", "other cores"], lag_rows)
    if split_rows:
        emit("Webhook delivery steps timed apart (in process, ms per step: wall and CPU)",
             ["engine", "endpoints", "deliveries per step", "claim ms", "claim CPU", "send ms", "send CPU",
              "record ms", "record CPU", "send CPU ms per POST", "events/s"], split_rows)


def report_expiring(results: dict, emit) -> None:
    rows = []
    for engine, r in results.get("expiring", {}).items():
        if "error" in r:
            rows.append([engine, "ERROR", r["error"][:80]] + [""] * 9)
            continue
        for run in r["runs"].values():
            c, i = run["check"], run["idle"]
            # The meter does not know the worker processes: their CPU (which they report) is not "other".
            workers = round(sum(w["worker_cpu_s"] for w in run["per_worker"]) / run["seconds"], 2)
            other = round(max(0.0, run["cpu"].get("other_cores", 0.0) - workers), 2)
            rows.append([engine, f"{r['channels']:,} / {r['due']:,}", f"{c['in_scan_range']:,}", run["workers"],
                         run["seconds"], run["channels_per_s"], f"{run['notified']:,}", c["exact"],
                         i.get("idle_step_s_median"), i.get("idle_round_s_median"), i.get("idle_round_cpu_s_median"),
                         workers, run["cpu"].get("postgres_cores", ""), other])
    if rows:
        emit("Expiring notices (notify_expiring in a loop until 0, then rounds with nothing due)",
             ["engine", "channels / due", "in 30-day range", "workers", "seconds", "notified/s", "notified", "exact",
              "idle step s", "idle round s", "idle round worker CPU s", "worker cores", "pg cores", "other cores"],
             rows)


def targets(results: dict) -> list[dict]:
    out = []

    def add(name, measured, met):
        out.append({"target": name, "measured": measured, "met": "yes" if met else "NO"})

    for engine, r in results.get("extend", {}).items():
        if "error" in r:
            add(f"extend on {engine}", r["error"][:60], False)
            continue
        dur = extend.durability_label(r.get("durability", {}))
        best = r["servers"][r["best_server"]]
        need = TARGETS[f"extend_{engine}"]
        rps = best["many_partners"]["rps"]
        add(f"{engine}: >= {need:,} extends/s, 100 partners ({dur})", f"{rps}/s ({r['best_server']}), "
            f"{rps / need:.0%} of target", rps >= need)
        need_hot = TARGETS[f"hot_{engine}"]
        hot_key, hot_s = max(r["servers"].items(), key=lambda kv: kv[1]["hot_partner"]["rps"])
        hot = hot_s["hot_partner"]["rps"]
        add(f"{engine}: >= {need_hot:,} extends/s, one hot partner ({dur})",
            f"{hot}/s ({hot_key}), {hot / need_hot:.0%} of target", hot >= need_hot)
        p99 = best["half_load"]["p99_ms"]
        add(f"{engine}: p99 < {TARGETS['half_load_p99_ms']} ms at half load",
            f"{p99} ms at {best['half_load']['target_rps']}/s", p99 is not None and p99 < TARGETS["half_load_p99_ms"])
        for scenario, label in SCENARIOS:
            s = best if scenario == "many_partners" else hot_s
            frac = s[scenario].get("of_asgi_ceiling")
            asgi = r["ceilings_best"][scenario]["asgi"]
            add(f"{engine}: >= {TARGETS['of_asgi_ceiling']} of the bare ASGI + driver ceiling, {label}",
                f"{frac} of {asgi}/s", frac is not None and frac >= TARGETS["of_asgi_ceiling"])
            if engine == "postgres":  # the stricter reading: the bare app with the extend in one round trip
                frac = s[scenario].get("of_asgi_1rt_ceiling")
                asgi = r["ceilings_best"][scenario]["asgi_1rt"]
                add(f"{engine}: >= {TARGETS['of_asgi_ceiling']} of the bare ASGI + one-round-trip ceiling, {label}",
                    f"{frac} of {asgi}/s", frac is not None and frac >= TARGETS["of_asgi_ceiling"])
        for key, s in r["servers"].items():
            b = s.get("bulk")
            if b and "error" in b:
                add(f"{engine}: bulk extend ({key})", b["error"][:60], False)
            elif b:
                add(f"{engine}: bulk extend of {b['channels']} channels < {TARGETS['bulk_ms']} ms ({key})",
                    f"p50 {b['p50_ms']} ms, p99 {b['p99_ms']} ms, max {b['max_ms']} ms, errors {b['errors']}",
                    b["p99_ms"] is not None and b["p99_ms"] < TARGETS["bulk_ms"] and not b["errors"])
    for engine, r in results.get("expiry", {}).items():
        if "error" in r:
            add(f"expiry on {engine}", r["error"][:60], False)
            continue
        for run in r["runs"].values():
            add(f"{engine}: expiry of {r['due']:,} due in {r['channels']:,} < 60 s ({run['workers']} worker(s))",
                f"{run['seconds']} s, exact={run['check']['exact']}",
                run["seconds"] < 60 and run["check"]["exact"] and not run["timed_out"])
    for engine, r in results.get("export", {}).items():
        if "error" in r:
            add(f"export on {engine}", r["error"][:60], False)
            continue
        n = max(r["sizes"], key=int)
        s = r["sizes"][n]
        add(f"{engine}: export of {int(n):,} channels < 5 s", f"{s['seconds']} s, {s['rows']:,} rows"
            + ("" if "error" not in s else " (INCOMPLETE)"), s["seconds"] < 5 and "error" not in s)
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    engines = ["sqlite", "postgres"] if args.engine == "both" else [args.engine]
    if "postgres" in engines and not common.pg_available():
        log(f"PostgreSQL is not reachable at {common.PG_ADMIN}; skipping it")
        engines.remove("postgres")
    benches = args.bench or list(BENCHES)
    ext_cfg, exp_cfg, exo_cfg, whk_cfg, eng_cfg = configs(args)
    started = time.time()
    results: dict = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
                     "quick": args.quick, "machine": common.machine_info(), "src": common.src_state(),
                     "args": vars(args) | {"output": None}, "loadavg_at_start": os.getloadavg()}
    if os.getloadavg()[0] > 0.7:
        log(f"WARNING: the machine is busy (load average {os.getloadavg()[0]:.2f}); figures will be low and noisy")
    for bench in benches:
        results[bench] = {}
        for engine in engines:
            if bench == "expiry" and engine == "sqlite" and not (args.expiry_sqlite or args.engine == "sqlite"):
                continue
            if bench == "expiring" and engine == "sqlite" and not (args.expiring_sqlite or args.engine == "sqlite"):
                continue
            try:
                if bench == "extend":
                    results[bench][engine] = extend.run(engine, ext_cfg)
                elif bench == "expiry":
                    results[bench][engine] = expiry.run(engine, exp_cfg)
                elif bench == "export":
                    results[bench][engine] = export.run(engine, exo_cfg)
                elif bench == "webhooks":
                    results[bench][engine] = webhooks.run(engine, whk_cfg)
                elif bench == "expiring":
                    results[bench][engine] = expiring.run(engine, eng_cfg)
                else:
                    results[bench][engine] = layers.run(engine, layers.LayersConfig(
                        iterations=300 if args.quick else 1500, http_seconds=2.0 if args.quick else 4.0,
                        sqlite_synchronous=args.sqlite_synchronous))
            except Exception as exc:  # noqa: BLE001 - one failing benchmark must not lose the others
                traceback.print_exc()
                results[bench][engine] = {"error": f"{type(exc).__name__}: {exc}"}
    results["targets"] = targets(results)
    results["elapsed_s"] = round(time.time() - started, 1)
    text, md = report(results)
    m = results["machine"]
    print(f"\ndayledger benchmarks ({'quick' if args.quick else 'full'}) - {m['nproc']} cores, {m['cpu']}, "
          f"{m['mem_gib']} GiB, Python {m['python']}, SQLite {m['sqlite']}, PostgreSQL {m['postgres']}; "
          f"src {results['src']['head']}{' + uncommitted changes' if results['src']['dirty'] else ''} "
          f"(dayledger imported from {results['src'].get('dayledger_imported_from') or '?'}); "
          f"load average at start {results['loadavg_at_start'][0]:.2f}")
    durable = {engine: extend.durability_label(r["durability"]) for engine, r in results.get("extend", {}).items()
               if "durability" in r}
    if durable:
        print("durability: " + "; ".join(f"{engine} {d}" for engine, d in durable.items()))
    print(text)
    print(f"\ntotal {results['elapsed_s']} s")
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(started))
    path = args.output or RESULTS / f"bench-{stamp}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps(results, indent=1))
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=1))
    (RESULTS / "latest.md").write_text(md)
    print(f"results: {path} (and results/latest.json, results/latest.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
