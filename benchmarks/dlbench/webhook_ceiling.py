"""The receiver's own ceiling: ``python -m dlbench.webhook_ceiling <port> <streams> <warmup_s> <seconds>``.

What a worker does on the wire and nothing else (no database): ``streams`` concurrent
tasks, each POSTing one endpoint's deliveries one after another (as ``send_run`` does),
through one ``httpx.AsyncClient`` configured like the worker's (``delivery.new_client``),
with bodies built and signed per request by dayledger's own ``delivery.body_of`` and
``signing.headers``. Prints one JSON line: posts counted after the warm-up, per second.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time


async def main(port: int, streams: int, warmup: float, seconds: float) -> dict:
    from dayledger.config import Settings
    from dayledger.webhooks import delivery, signing

    from .webhooks import endpoint_path, endpoint_secret

    settings = Settings(webhook_allow_private=True)
    payload = {"id": "AAAAAA-BAAAA", "mode": "live", "activeTill": 1_800_000_000_000, "stopped": False,
               "expired": False, "projectId": "J" + "0" * 19, "days": 1}
    counts = [0] * streams
    errors = [0] * streams
    measuring = asyncio.Event()
    stop = asyncio.Event()

    async def stream(client, k: int) -> None:
        url, secret = f"http://127.0.0.1:{port}{endpoint_path(k)}", endpoint_secret(k)
        n = 0
        while not stop.is_set():
            n += 1
            body = delivery.body_of("channel.extended", int(time.time() * 1000), payload, f"bench-{k}")
            headers = {**signing.headers(secret, f"evt_c{os.getpid()}_{k}_{n}", int(time.time()), body),
                       "user-agent": delivery.USER_AGENT}
            resp = await client.post(url, content=body, headers=headers)
            if measuring.is_set():
                counts[k] += 1
                errors[k] += resp.status_code != 204

    async with delivery.new_client(settings) as client:
        tasks = [asyncio.create_task(stream(client, k)) for k in range(streams)]
        await asyncio.sleep(warmup)
        measuring.set()
        t0, c0 = time.perf_counter(), sum(os.times()[:2])
        await asyncio.sleep(seconds)
        stop.set()
        wall, cpu = time.perf_counter() - t0, sum(os.times()[:2]) - c0
        await asyncio.gather(*tasks)
    total = sum(counts)
    return {"streams": streams, "posts": total, "errors": sum(errors), "seconds": round(wall, 2),
            "posts_per_s": round(total / wall, 1), "client_cores": round(cpu / wall, 2)}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])))),
          flush=True)
