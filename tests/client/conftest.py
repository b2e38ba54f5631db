"""Helpers for the client tests: clients of the test server for a partner, and a real TCP
proxy (asyncio, in a thread) between a client and the server that can drop, delay or
replace answers."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from conftest import free_port
from dayledger.client import AsyncClient, Client, Retries

# Short waits, so a test that retries takes a fraction of a second per retry.
FAST = Retries(max_attempts=6, max_total_seconds=20, base_delay=0.05, max_delay=0.4)


@pytest.fixture
def client_for(base_url):
    """``client_for(partner, **kw)``: a sync Client of the test server with the partner's token."""
    made: list[Client] = []

    def make(partner, url: str | None = None, **kw) -> Client:
        kw.setdefault("retries", FAST)
        c = Client(url or base_url, partner.token, **kw)
        made.append(c)
        return c
    yield make
    for c in made:
        c.close()


@pytest.fixture
def async_client_for(base_url):
    def make(partner, url: str | None = None, **kw) -> AsyncClient:
        kw.setdefault("retries", FAST)
        return AsyncClient(url or base_url, partner.token, **kw)
    return make


@dataclass
class Exchange:
    """One request through the proxy and what became of its answer."""
    method: str
    path: str
    key: str | None
    status: int | None = None
    replayed: bool = False
    fate: str = "forwarded"  # forwarded | dropped | replaced


@dataclass
class Rule:
    """What the proxy does to the answers of requests ``matches`` accepts, ``times`` times:
    ``drop`` (close the client's connection without answering, after the server answered),
    ``delay`` seconds before forwarding (or dropping), or ``replace`` with raw bytes
    (the request never reaches the server)."""
    matches: Callable[[str, str], bool]
    times: int = 1
    drop: bool = False
    delay: float = 0.0
    replace: bytes | None = None
    used: int = 0


@dataclass
class Proxy:
    upstream_port: int
    port: int = field(default_factory=free_port)
    rules: list[Rule] = field(default_factory=list)
    log: list[Exchange] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Proxy:
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def serve() -> None:
            self.server = await asyncio.start_server(self._connection, "127.0.0.1", self.port)
            ready.set()
            async with self.server:
                await self.server.serve_forever()

        self.thread = threading.Thread(target=lambda: self._run(serve), daemon=True)
        self.thread.start()
        assert ready.wait(10), "proxy did not start"
        return self

    def _run(self, serve) -> None:
        try:
            self.loop.run_until_complete(serve())
        except asyncio.CancelledError:
            pass

    def stop(self) -> None:
        def cancel() -> None:
            for task in asyncio.all_tasks(self.loop):
                task.cancel()
        self.loop.call_soon_threadsafe(cancel)
        self.thread.join(10)

    def rule_for(self, method: str, path: str) -> Rule | None:
        for rule in self.rules:
            if rule.used < rule.times and rule.matches(method, path):
                rule.used += 1
                return rule
        return None

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader = up_writer = None
        try:
            while True:
                head, body = await read_message(reader)
                if head is None:
                    return
                method, path = head.split(b" ", 2)[:2]
                ex = Exchange(method.decode(), path.decode().split("?")[0], header(head, b"idempotency-key"))
                self.log.append(ex)
                rule = self.rule_for(ex.method, ex.path)
                if rule is not None and rule.replace is not None:
                    ex.fate, ex.status = "replaced", int(rule.replace.split(b" ", 2)[1])
                    writer.write(rule.replace)
                    await writer.drain()
                    continue
                if up_writer is None:
                    up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
                up_writer.write(head + body)
                await up_writer.drain()
                answer_head, answer_body = await read_message(up_reader)
                assert answer_head is not None, "the server closed the connection"
                ex.status = int(answer_head.split(b" ", 2)[1])
                ex.replayed = header(answer_head, b"idempotent-replayed") == "true"
                if rule is not None and rule.delay:
                    await asyncio.sleep(rule.delay)
                if rule is not None and rule.drop:
                    ex.fate = "dropped"
                    return  # the server answered; the client hears nothing
                writer.write(answer_head + answer_body)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()
            if up_writer is not None:
                up_writer.close()


def header(head: bytes, name: bytes) -> str | None:
    m = re.search(rb"\r\n" + name + rb":\s*([^\r\n]*)", head, re.IGNORECASE)
    return m.group(1).decode() if m else None


async def read_message(reader: asyncio.StreamReader) -> tuple[bytes | None, bytes]:
    """One HTTP/1.1 message with a Content-Length body (what httpx sends and the JSON API
    answers); (None, b"") at the end of the connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None, b""
    length = int(header(head, b"content-length") or 0)
    return head, await reader.readexactly(length) if length else b""


@pytest.fixture
def proxy(server):
    port = int(server.url.rsplit(":", 1)[1])
    p = Proxy(port).start()
    yield p
    p.stop()
