"""One expiring-notice worker process:
``python -m dlbench.expiring_worker <url> <now_ms> <batch> <idle_steps> <idle_rounds>``.

Imports dayledger, prints ``ready``, waits for ``go`` on stdin, then:

1. **scan**: ``Database(url).run(notify_expiring, now_ms, batch)`` in a loop until it
   returns 0 (the worker job ``expiringNotified``'s step);
2. waits for ``go`` again (the other workers' scans are done), then **idle**: the same
   step ``idle_steps`` more times, each finding nothing (the cost every worker round pays
   for this job), then one worker round that handles the events the scan wrote (webhook
   fan-out, notices), and ``idle_rounds`` whole worker rounds (``worker.run_once``: every
   job of every domain, nothing due).

Prints one JSON line after each part.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time


def cpu() -> float:
    return sum(os.times()[:2])


async def main(url: str, now_ms: int, batch: int, idle_steps: int, idle_rounds: int) -> None:
    from dayledger.channels.repository import notify_expiring
    from dayledger.clock import Clock
    from dayledger.config import Settings, normalize_database_url
    from dayledger.context import Services
    from dayledger.db import Database
    from dayledger.idempotency import InFlight
    from dayledger.worker import run_once

    db = Database(normalize_database_url(url), pool_size=1)
    readline = asyncio.get_running_loop().run_in_executor
    print("ready", flush=True)
    await readline(None, sys.stdin.readline)
    t0, c0 = time.perf_counter(), cpu()
    steps: list[tuple[int, float]] = []
    while True:
        t = time.perf_counter()
        n = await db.run(notify_expiring, now_ms, batch)
        steps.append((n, time.perf_counter() - t))
        if n == 0:
            break
    busy = sorted(s for n, s in steps if n)
    print(json.dumps({"notified": sum(n for n, _ in steps), "steps": len(steps),
                      "seconds": round(time.perf_counter() - t0, 2), "worker_cpu_s": round(cpu() - c0, 2),
                      "step_s_median": round(busy[len(busy) // 2], 3) if busy else None,
                      "step_s_max": round(busy[-1], 3) if busy else None,
                      "last_empty_step_s": round(steps[-1][1], 3)}), flush=True)

    await readline(None, sys.stdin.readline)
    idle, idle_cpu = [], []
    for _ in range(idle_steps):
        t, c = time.perf_counter(), cpu()
        n = await db.run(notify_expiring, now_ms, batch)
        idle.append(time.perf_counter() - t)
        idle_cpu.append(cpu() - c)
        if n:
            raise RuntimeError(f"an idle step notified {n} channels")
    # Whole worker rounds with the real clock (a few seconds after now_ms: still nothing due).
    svc = Services(settings=Settings(database_url=url), db=db, clock=Clock(), in_flight=InFlight())
    rounds, round_cpu, jobs, settled = [], [], {}, {}
    if idle_rounds:  # first the rest of the scan's work: the new events' webhook fan-out and notices
        settled = await run_once(svc)
    for _ in range(idle_rounds):
        t, c = time.perf_counter(), cpu()
        jobs = await run_once(svc)
        rounds.append(time.perf_counter() - t)
        round_cpu.append(cpu() - c)
    await db.dispose()
    med = lambda xs: round(sorted(xs)[len(xs) // 2], 4) if xs else None  # noqa: E731
    print(json.dumps({"idle_step_s_median": med(idle), "idle_step_s_min": round(min(idle), 4) if idle else None,
                      "idle_step_cpu_s_median": med(idle_cpu), "idle_round_s_median": med(rounds),
                      "idle_round_cpu_s_median": med(round_cpu), "idle_round_jobs": jobs,
                      "settling_round_jobs": settled}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])))
