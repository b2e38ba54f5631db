"""A webhook receiver in its own process: ``python -m dlbench.receiver <port> <secrets.json>``.

A bare HTTP/1.1 server on raw asyncio streams (uvloop when installed), kept as cheap as
possible so that it is not what limits delivery: every ``POST`` is answered ``204`` at once
and recorded as (arrival wall-clock time, path, ``webhook-id``). One request in
``VERIFY_EVERY`` (and the first of each path) is verified with ``standardwebhooks`` against
the path's secret from ``secrets.json`` (``{"/ep/0": "whsec_..."}``); verifying every
request would make the receiver the bottleneck. Prints ``ready`` once listening.

Control requests (``GET``): ``/stats`` (counts as JSON), ``/dump`` (every record as JSON),
``/reset`` (forget the records). They are answered with ``Connection: close``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

VERIFY_EVERY = 100
NO_CONTENT = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n"


class State:
    def __init__(self, secrets: dict[str, str]) -> None:
        from standardwebhooks import Webhook
        self.hooks = {path: Webhook(secret) for path, secret in secrets.items()}
        self.reset()

    def reset(self) -> None:
        self.times: list[float] = []
        self.paths: list[str] = []
        self.ids: list[str] = []
        self.verified = 0
        self.bad_signatures: list[str] = []
        self.seen_paths: set[str] = set()
        self.unique: set[tuple[str, str]] = set()

    def stats(self) -> dict:
        return {"received": len(self.ids), "unique": len(self.unique),
                "first": self.times[0] if self.times else None, "last": self.times[-1] if self.times else None,
                "verified": self.verified, "bad_signatures": len(self.bad_signatures),
                "bad_examples": self.bad_signatures[:3]}

    def verify(self, path: str, headers: dict[str, str], body: bytes) -> None:
        hook = self.hooks.get(path)
        if hook is None:
            self.bad_signatures.append(f"{path}: no secret for this path")
            return
        try:
            hook.verify(body, headers, json_parse=False)
            self.verified += 1
        except Exception as exc:  # noqa: BLE001 - any failure is a wrong signature here
            self.bad_signatures.append(f"{path}: {type(exc).__name__}: {exc}")


async def handle(state: State, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            arrived = time.time()
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if line:
                    k, _, v = line.partition(":")
                    headers[k.strip().lower()] = v.strip()
            length = int(headers.get("content-length", "0"))
            try:
                body = await reader.readexactly(length) if length else b""
            except (asyncio.IncompleteReadError, ConnectionError):
                return  # a worker stopped mid-request (at the end of a timed-out drain)
            if method == "POST":
                msg_id = headers.get("webhook-id", "")
                n = len(state.ids)
                state.times.append(arrived)
                state.paths.append(path)
                state.ids.append(msg_id)
                state.unique.add((path, msg_id))
                if n % VERIFY_EVERY == 0 or path not in state.seen_paths:
                    state.seen_paths.add(path)
                    state.verify(path, headers, body)
                writer.write(NO_CONTENT)
                continue
            if path == "/stats":
                out = state.stats()
            elif path == "/dump":
                out = {"times": state.times, "paths": state.paths, "ids": state.ids}
            elif path == "/reset":
                state.reset()
                out = {"ok": True}
            else:
                out = {"error": "not found"}
            data = json.dumps(out).encode()
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n"
                         + f"content-length: {len(data)}\r\n\r\n".encode() + data)
            await writer.drain()
            return
    finally:
        writer.close()


async def main(port: int, secrets_path: str) -> None:
    with open(secrets_path) as f:
        state = State(json.load(f))
    server = await asyncio.start_server(lambda r, w: handle(state, r, w), "127.0.0.1", port, backlog=1024)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    try:
        asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
    except KeyboardInterrupt:
        pass
