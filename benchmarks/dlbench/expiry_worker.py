"""One expiry worker process: ``python -m dlbench.expiry_worker <url> <now_ms> <batch> <tasks>``.

Imports dayledger, prints ``ready``, waits for ``go`` on stdin, then calls
``Database(url).run(expire_due, now_ms, batch_size)`` in a loop until it returns 0 (in
``tasks`` concurrent asyncio tasks), and prints one JSON line with what it did.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time


async def main(url: str, now_ms: int, batch: int, tasks: int) -> dict:
    from dayledger.channels.tasks import expire_due
    from dayledger.config import normalize_database_url
    from dayledger.db import Database

    db = Database(normalize_database_url(url), pool_size=max(1, tasks))
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    t0 = time.perf_counter()
    c0 = sum(os.times()[:2])
    batches: list[tuple[int, float]] = []

    async def loop() -> int:
        done = 0
        while True:
            t = time.perf_counter()
            n = await db.run(expire_due, now_ms, batch)
            batches.append((n, time.perf_counter() - t))
            if n == 0:
                return done
            done += n

    counts = await asyncio.gather(*(loop() for _ in range(tasks)))
    elapsed = time.perf_counter() - t0
    cpu = sum(os.times()[:2]) - c0
    await db.dispose()
    times = sorted(t for n, t in batches if n)
    return {"expired": sum(counts), "batches": len(times), "seconds": round(elapsed, 2),
            "worker_cpu_s": round(cpu, 2),
            "batch_s_median": round(times[len(times) // 2], 3) if times else None,
            "batch_s_max": round(times[-1], 3) if times else None}


if __name__ == "__main__":
    result = asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
    print(json.dumps(result), flush=True)
