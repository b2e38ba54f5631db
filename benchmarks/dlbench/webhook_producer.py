"""Commits events at a fixed rate: ``python -m dlbench.webhook_producer <url> <rate> <seconds> <partners>``.

Each event is ``dayledger.events.emit`` in its own transaction (``Database.run``), for
partner ``k % partners`` of the seeded ones, scheduled at ``t0 + k / rate`` (open loop:
a late commit does not delay the schedule of the next ones, they just start at once).
The payload carries ``seq``; the commit time recorded for ``seq`` is the wall clock when
``Database.run`` returned (the commit done). Prints ``ready``, waits for ``go`` on stdin,
and prints one JSON line at the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time


async def main(url: str, rate: float, seconds: float, partners: int) -> dict:
    from dayledger.config import normalize_database_url
    from dayledger.db import Database
    from dayledger.events import emit

    from .seed import channel_id, partner_id, project_id

    db = Database(normalize_database_url(url), pool_size=4)
    owners = [partner_id(i) for i in range(partners)]

    async def one(session, seq: int, now_ms: int) -> None:
        k = seq % partners
        await emit(session, partner_id=owners[k], type="channel.extended", channel_id=channel_id(k), now_ms=now_ms,
                   payload={"id": channel_id(k), "mode": "live", "activeTill": now_ms + 30 * 86_400_000,
                            "stopped": False, "expired": False, "projectId": project_id(k), "days": 1, "seq": seq})

    await db.run(one, -1, int(time.time() * 1000))  # connect and warm up (seq -1 is not counted)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    total = int(rate * seconds)
    commits: list[float] = [0.0] * total
    late = 0
    t0, c0 = time.perf_counter(), sum(os.times()[:2])
    wall0 = time.time()
    pending: set[asyncio.Task] = set()

    async def commit(seq: int) -> None:
        await db.run(one, seq, int(time.time() * 1000))
        commits[seq] = time.time()

    for seq in range(total):
        delay = t0 + seq / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.01:
            late += 1
        task = asyncio.create_task(commit(seq))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.gather(*pending)
    wall = time.perf_counter() - t0
    cpu = sum(os.times()[:2]) - c0
    await db.dispose()
    return {"events": total, "seconds": round(wall, 2), "rate": round(total / wall, 1), "late_starts": late,
            "producer_cpu_s": round(cpu, 2), "started": wall0, "commits": commits}


if __name__ == "__main__":
    out = asyncio.run(main(sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])))
    print(json.dumps(out), flush=True)
