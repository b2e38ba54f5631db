"""A minimal HTTP/1.1 keep-alive load generator on raw asyncio (uvloop) protocols.

It runs on the same 2 cores as the server, so it does as little as possible: requests are
pre-rendered bytes, responses are split by Content-Length and never parsed beyond the
status code. Two modes:

* closed loop: N connections, each sends its next request as soon as the previous one
  answered (maximum throughput);
* open loop: requests are *scheduled* at a fixed rate and handed to whichever of the N
  connections is free; latency is measured from the scheduled time, so queueing when
  the server falls behind is counted (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter
from dataclasses import dataclass, field

try:
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None


def new_loop() -> asyncio.AbstractEventLoop:
    return uvloop.new_event_loop() if uvloop else asyncio.new_event_loop()


def render(method: str, path: str, token: str, body: bytes = b"") -> bytes:
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


class Conn(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport = None
        self.buf = bytearray()
        self.waiter: asyncio.Future | None = None
        self.end = -1
        self.status = 0
        self.body_start = 0
        self.keep_body = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.waiter is None:
            return
        if self.end < 0:
            i = self.buf.find(b"\r\n\r\n")
            if i < 0:
                return
            head = bytes(self.buf[:i]).lower()
            self.status = int(head[9:12])
            j = head.find(b"\r\ncontent-length:")
            if j < 0:
                self._fail(RuntimeError("response without Content-Length"))
                return
            k = head.find(b"\r\n", j + 2)
            self.body_start = i + 4
            self.end = self.body_start + int(head[j + 17:k if k > 0 else len(head)])
        if len(self.buf) >= self.end:
            body = bytes(self.buf[self.body_start:self.end]) if self.keep_body else b""
            del self.buf[:self.end]
            self.end = -1
            waiter, self.waiter = self.waiter, None
            waiter.set_result((self.status, body))

    def _fail(self, exc: BaseException) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)
        self.waiter = None

    def connection_lost(self, exc) -> None:
        self.transport = None
        self._fail(ConnectionError(f"connection lost: {exc}"))

    def request(self, data: bytes, keep_body: bool = False) -> asyncio.Future:
        if self.transport is None:
            raise ConnectionError("not connected")
        self.waiter = asyncio.get_running_loop().create_future()
        self.keep_body = keep_body
        self.transport.write(data)
        return self.waiter


async def connect(port: int) -> Conn:
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(Conn, "127.0.0.1", port)
    return conn


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)  # seconds, successes and failures alike
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)  # transport errors
    duration: float = 0.0
    backlog_max: int = 0
    sample_bodies: dict = field(default_factory=dict)

    @property
    def ok(self) -> int:
        return sum(n for s, n in self.statuses.items() if 200 <= s < 300)

    @property
    def failed(self) -> int:
        return sum(n for s, n in self.statuses.items() if not 200 <= s < 300) + sum(self.errors.values())

    def percentile(self, p: float) -> float | None:
        if not self.latencies:
            return None
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]

    def summary(self) -> dict:
        ms = lambda v: None if v is None else round(v * 1000, 2)  # noqa: E731
        return {
            "requests_ok": self.ok, "errors": self.failed, "rps": round(self.ok / self.duration, 1),
            "p50_ms": ms(self.percentile(50)), "p90_ms": ms(self.percentile(90)),
            "p99_ms": ms(self.percentile(99)), "max_ms": ms(max(self.latencies) if self.latencies else None),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "transport_errors": dict(self.errors), "duration_s": round(self.duration, 2),
            **({"backlog_max": self.backlog_max} if self.backlog_max else {}),
            **({"error_samples": self.sample_bodies} if self.sample_bodies else {}),
        }


def _note(stats: Stats, status: int, body: bytes) -> None:
    stats.statuses[status] += 1
    if not 200 <= status < 300 and len(stats.sample_bodies) < 3 and status not in stats.sample_bodies:
        stats.sample_bodies[status] = body[:300].decode(errors="replace")


async def _exchange(conn: Conn, req: bytes, port: int, stats: Stats, counted: bool,
                    since: float) -> tuple[Conn, bool]:
    """Send one request and, if ``counted``, record its latency (from ``since``) and status.
    Returns the connection to use next (a new one after a transport error) and whether
    the request was answered."""
    try:
        status, body = await conn.request(req, keep_body=True)
    except ConnectionError as exc:
        if counted:
            stats.errors[type(exc).__name__] += 1
        return await connect(port), False
    if counted:
        stats.latencies.append(time.perf_counter() - since)
        _note(stats, status, body)
    return conn, True


async def closed_loop(port: int, per_client: list[list[bytes]], duration: float, warmup: float,
                      on_measure_start=None) -> Stats:
    """Each client cycles through its own list of requests for warmup+duration seconds;
    only requests started after the warm-up count."""
    stats = Stats()
    conns = [await connect(port) for _ in per_client]
    t0 = time.perf_counter()
    t_measure = t0 + warmup
    t_end = t_measure + duration
    measuring = asyncio.Event()

    async def marker():
        await asyncio.sleep(warmup)
        if on_measure_start:
            on_measure_start()
        measuring.set()

    async def client(conn: Conn, reqs: list[bytes]):
        i, n = 0, len(reqs)
        clock = time.perf_counter
        while True:
            start = clock()
            if start >= t_end:
                return
            conn, ok = await _exchange(conn, reqs[i % n], port, stats, start >= t_measure, start)
            i += ok

    await asyncio.gather(marker(), *(client(c, r) for c, r in zip(conns, per_client, strict=True)))
    stats.duration = min(time.perf_counter(), t_end) - t_measure
    for c in conns:
        if c.transport:
            c.transport.close()
    return stats


async def open_loop(port: int, reqs: list[bytes], rate: float, duration: float, warmup: float,
                    connections: int, on_measure_start=None) -> Stats:
    """Schedule ``rate`` requests per second; each waits for a free connection. Latency is
    completion time minus scheduled time."""
    stats = Stats()
    conns = [await connect(port) for _ in range(connections)]
    queue: asyncio.Queue = asyncio.Queue()
    t0 = time.perf_counter() + 0.05
    t_measure = t0 + warmup
    t_end = t_measure + duration
    clock = time.perf_counter

    async def ticker():
        sent, started = 0, False
        while True:
            now = clock()
            if not started and now >= t_measure:
                started = True
                if on_measure_start:
                    on_measure_start()
            if now >= t_end:
                break
            due = int((now - t0) * rate) if now > t0 else 0
            while sent < due:
                queue.put_nowait(t0 + sent / rate)
                sent += 1
            stats.backlog_max = max(stats.backlog_max, queue.qsize()) if now >= t_measure else 0
            # Sleep until the next request is due (uvloop's timers have 1 ms resolution:
            # shorter sleeps would spin and steal a core from the server).
            next_due = t0 + sent / rate
            await asyncio.sleep(max(0.001, next_due - clock()))
        for _ in conns:
            queue.put_nowait(None)

    async def worker(conn: Conn, k: int):
        i = k
        n = len(reqs)
        while True:
            scheduled = await queue.get()
            if scheduled is None:
                return
            conn, ok = await _exchange(conn, reqs[i % n], port, stats, scheduled >= t_measure, scheduled)
            if ok:
                i += connections

    await asyncio.gather(ticker(), *(worker(c, k) for k, c in enumerate(conns)))
    stats.duration = duration
    for c in conns:
        if c.transport:
            c.transport.close()
    return stats


def run(coro):
    loop = new_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()
