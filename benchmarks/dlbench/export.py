"""``GET /channels/export.csv`` end to end: the time to download every row, and the
server's resident memory sampled from /proc/<pid>/status during the download, for two
sizes (memory should not grow with the row count). Each size gets a fresh server
process, warmed up with a small export first. While the big file downloads, a second
client asks for one channel every 50 ms to show what the export does to other requests.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass

from . import common, loadgen, seed
from .common import Server, log


@dataclass
class ExportConfig:
    sizes: tuple[int, ...] = (20_000, 100_000)
    sample_interval: float = 0.01
    timeout: float = 120.0


class RssSampler(threading.Thread):
    def __init__(self, pid: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples: list[int] = []
        self.stop_flag = threading.Event()

    def run(self) -> None:
        while not self.stop_flag.is_set():
            self.samples.append(common.rss_kib(self.pid)[0])
            time.sleep(self.interval)

    def stop(self) -> list[int]:
        self.stop_flag.set()
        self.join()
        return self.samples


def dechunk(body: bytes) -> tuple[bytes, bool]:
    """The decoded body, and whether it ended properly (a zero-size last chunk)."""
    out, i = bytearray(), 0
    while True:
        j = body.find(b"\r\n", i)
        if j < 0:
            return bytes(out), False
        size = int(body[i:j].split(b";")[0], 16)
        if size == 0:
            return bytes(out), True
        out += body[j + 2:j + 2 + size]
        i = j + 2 + size + 2


async def download(port: int, path: str, token: str) -> dict:
    t0 = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**20)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                 f"Connection: close\r\n\r\n".encode())
    await writer.drain()
    first = None
    chunks = []
    while True:
        data = await reader.read(2**18)
        if not data:
            break
        if first is None:
            first = time.perf_counter()
        chunks.append(data)
    total = time.perf_counter() - t0
    writer.close()
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head[9:12])
    complete = True
    if b"transfer-encoding: chunked" in head.lower():
        body, complete = dechunk(body)
    return {"status": status, "complete": complete, "seconds": round(total, 3), "ttfb_ms": round((first - t0) * 1000, 1) if first else None,
            "bytes": len(body), "rows": max(0, body.count(b"\n") - 1)}


async def side_traffic(port: int, token: str, channel: str, stop: asyncio.Event) -> list[float]:
    conn = await loadgen.connect(port)
    req = loadgen.render("GET", f"/channels/{channel}", token)
    lat = []
    while not stop.is_set():
        t = time.perf_counter()
        await conn.request(req)
        lat.append(time.perf_counter() - t)
        await asyncio.sleep(0.05)
    conn.transport.close()
    return lat


async def measured_download(port: int, token: str, side_token: str, side_channel: str) -> tuple[dict, list[float]]:
    stop = asyncio.Event()
    side = asyncio.create_task(side_traffic(port, side_token, side_channel, stop))
    result = await download(port, "/channels/export.csv", token)
    stop.set()
    return result, await side


def run(engine: str, cfg: ExportConfig) -> dict:
    db = common.new_db(engine, "export")
    out: dict = {"engine": engine, "sizes": {}}
    try:
        common.migrate(db)
        now = int(time.time() * 1000)
        partners = seed.make_partners(len(cfg.sizes) + 1)
        small = partners[-1]
        owners: list[seed.SeededPartner] = []
        for p, n in zip(partners, cfg.sizes, strict=False):
            owners += [p] * n
        owners += [small] * 10
        small.channels = [seed.channel_id(len(owners) - 10 + k) for k in range(10)]
        t = time.perf_counter()
        seed.insert_all(db, partners, 1000, now, seed.channel_rows(
            0, len(owners), owners.__getitem__, lambda i: now + (i % 60 - 10) * seed.DAY_MS, now - 90 * seed.DAY_MS))
        log(f"export on {engine}: seeded {len(owners):,} channels in {time.perf_counter() - t:.1f} s")
        for p, n in zip(partners, cfg.sizes, strict=False):
            with Server(db) as srv:
                warm = loadgen.run(download(srv.port, "/channels/export.csv", small.token))
                if warm["rows"] != 10:
                    raise RuntimeError(f"warm-up export failed: {warm}")
                rss0, _ = common.rss_kib(srv.pid)
                sampler = RssSampler(srv.pid, cfg.sample_interval)
                sampler.start()
                result, side = loadgen.run(measured_download(srv.port, p.token, small.token, small.channels[0]))
                samples = sampler.stop()
                rss1, hwm = common.rss_kib(srv.pid)
            side.sort()
            r = {**result, "rows_expected": n, "rss_before_mib": round(rss0 / 1024, 1),
                 "rss_peak_mib": round(max(samples + [rss1]) / 1024, 1),
                 "rss_growth_mib": round((max(samples + [rss1]) - rss0) / 1024, 1),
                 "rss_after_mib": round(rss1 / 1024, 1), "vm_hwm_mib": round(hwm / 1024, 1),
                 "rss_samples": len(samples), "rows_per_s": round(result["rows"] / result["seconds"]),
                 "side_requests": len(side),
                 "side_p50_ms": round(side[len(side) // 2] * 1000, 1) if side else None,
                 "side_max_ms": round(side[-1] * 1000, 1) if side else None}
            log(f"  {engine} export {n:,} rows: {r['seconds']} s, {r['rows']:,} rows, RSS {r['rss_before_mib']} -> "
                f"peak {r['rss_peak_mib']} MiB (+{r['rss_growth_mib']}), other requests p50 {r['side_p50_ms']} ms "
                f"max {r['side_max_ms']} ms")
            if not r["complete"] or r["rows"] != n:
                r["error"] = (f"got {r['rows']:,} of {n:,} rows" + ("" if r["complete"] else
                              ", the stream ended without its last chunk (server error mid-stream; see "
                              f"{srv.log_path.relative_to(common.BENCH)})"))
                log(f"  {engine} export {n:,} rows: ERROR {r['error']}")
            out["sizes"][str(n)] = r
        return out
    finally:
        db.drop()
