"""The bare ASGI + driver ceiling: what one uvicorn process can answer for
``POST /channels/{id}/extend`` when the handler is nothing but the transaction.

A raw ASGI app (no FastAPI, no Pydantic, no SQLAlchemy) under uvicorn, started the way
``dayledger serve`` starts the real app (``uvicorn.run`` with a factory, ``access_log=False``,
uvicorn's default ``loop``/``http`` = ``auto``: uvloop and httptools when installed, as
they are in the venv). Each request: the body parsed with ``json.loads``, the bearer token
hashed (SHA-256), then the same transaction as a real extend through the bare driver
(``ceiling.extend_sqlite`` / ``extend_pg`` / ``extend_pg_1rt``: token lookup, channel lock
and update, outbox row, guarded debit, ledger entry, commit), and a JSON reply shaped like
``ExtendReply``.

* SQLite: one ``sqlite3`` connection with the app's pragmas and ``synchronous`` as the run
  asks, called inline on the event loop (as ``dayledger.sqlite_inline`` does): every
  request's transaction runs to its commit without yielding, so they are serial;
* PostgreSQL: an asyncpg pool (``DLBENCH_ASGI_POOL`` connections per process, by default
  20, the app's 10 + 10 overflow), ``synchronous_commit`` as the run asks; statement by
  statement (``DLBENCH_ASGI_MODE=statements``) or one call of ``dlbench_extend`` per
  request (``one_round_trip``).

``GET`` of any path answers the durability read back from the app's own connection.

Configured by the environment (``DLBENCH_ASGI_ENGINE``, ``DLBENCH_ASGI_URL``,
``DLBENCH_ASGI_PATH``, ``DLBENCH_ASGI_SYNCHRONOUS``, ``DLBENCH_ASGI_SYNCHRONOUS_COMMIT``,
``DLBENCH_ASGI_MODE``, ``DLBENCH_ASGI_POOL``); started as
``python -m dlbench.asgi_ceiling --port P [--workers N]`` (``common.AsgiCeilingServer``).
"""

from __future__ import annotations

import argparse
import json
import os

from . import ceiling

JSON_HEADERS = [(b"content-type", b"application/json")]


def _answer(status: int, body: dict):
    data = json.dumps(body, separators=(",", ":")).encode()
    return ({"type": "http.response.start", "status": status,
             "headers": JSON_HEADERS + [(b"content-length", str(len(data)).encode())]},
            {"type": "http.response.body", "body": data})


class App:
    def __init__(self) -> None:
        env = os.environ
        self.engine = env.get("DLBENCH_ASGI_ENGINE", "sqlite")
        self.url = env.get("DLBENCH_ASGI_URL", "")
        self.path = env.get("DLBENCH_ASGI_PATH", "")
        self.synchronous = env.get("DLBENCH_ASGI_SYNCHRONOUS", "full")
        self.synchronous_commit = env.get("DLBENCH_ASGI_SYNCHRONOUS_COMMIT", "on")
        self.mode = env.get("DLBENCH_ASGI_MODE", "statements")
        self.pool_size = int(env.get("DLBENCH_ASGI_POOL", "20"))
        self.conn = None
        self.pool = None
        self.durability: dict = {}

    async def startup(self) -> None:
        if self.engine == "sqlite":
            self.conn = ceiling.sqlite_connect(self.path, self.synchronous)
            self.durability = ceiling.sqlite_durability(self.conn)
            return
        import asyncpg
        self.pool = await asyncpg.create_pool(self.url, min_size=self.pool_size, max_size=self.pool_size,
                                              server_settings={"synchronous_commit": self.synchronous_commit})
        async with self.pool.acquire() as conn:
            self.durability = await ceiling.pg_durability(conn)
        self.durability["mode"] = self.mode

    async def shutdown(self) -> None:
        if self.conn is not None:
            self.conn.close()
        if self.pool is not None:
            await self.pool.close()

    async def extend(self, token: str, channel: str, days: int, comment: str) -> tuple[int, dict]:
        hashed = ceiling.token_hash(token)
        if self.conn is not None:
            return ceiling.extend_sqlite(self.conn, hashed, channel, days, comment)
        one = ceiling.PG_MODES[self.mode]
        async with self.pool.acquire() as conn:
            return await one(conn, hashed, channel, days, comment)

    async def __call__(self, scope, receive, send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await self.startup()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await self.shutdown()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if kind != "http":
            return
        status, reply = await self.handle(scope, receive)
        start, body = _answer(status, reply)
        await send(start)
        await send(body)

    async def handle(self, scope, receive) -> tuple[int, dict]:
        method, path = scope["method"], scope["path"]
        if method == "GET":
            return 200, {"ceiling": "bare ASGI", **self.durability}
        if method != "POST" or not path.startswith("/channels/") or not path.endswith("/extend"):
            return 404, {"error": "no such route"}
        channel = path[len("/channels/"):-len("/extend")]
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        token = ""
        for name, value in scope["headers"]:
            if name == b"authorization":
                token = value.decode()
                break
        if not token.startswith("Bearer "):
            return 401, {"error": "unauthorized"}
        try:
            data = json.loads(body)
            days, comment = data["days"], data["comment"]
        except (ValueError, KeyError, TypeError):
            return 422, {"error": "invalid body"}
        if type(days) is not int or not 1 <= days <= 36_500 or type(comment) is not str:
            return 422, {"error": "invalid body"}
        return await self.extend(token[7:], channel, days, comment)


def create_app() -> App:
    return App()


def main() -> None:
    import uvicorn
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    # As dayledger serve: uvicorn.run with a factory, defaults for loop and http (auto).
    uvicorn.run("dlbench.asgi_ceiling:create_app", factory=True, host="127.0.0.1", port=args.port,
                workers=args.workers, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
