"""Fixtures shared by every test: a real database (SQLite by default, PostgreSQL when
DAYLEDGER_TEST_DATABASE_URL names one), a real HTTP server on a free port with a clock the
tests move, and helpers to make partners through the operator API."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from dayledger.app import create_app
from dayledger.auth import service as auth
from dayledger.clock import Clock, ManualClock
from dayledger.config import Settings, normalize_database_url
from dayledger.db import Database
from dayledger.ledger import verify
from dayledger.migrations import upgrade

REPO = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).with_name("dayledger")  # the installed console script
# Optional: the published Whapi Partner API document beside the repository, absent in a
# plain clone. Only tests/conformance/test_contract_matches_reference.py reads it.
REFERENCE_SPEC = REPO.parent / "shared" / "reference" / "whapi-partner-openapi.json"
# One TLS context for every test client: building one per httpx.Client costs ~0.1 s.
SSL_CONTEXT = ssl.create_default_context()


def plain_url(url: str) -> str:
    """``sqlite+aiosqlite:///x`` -> ``sqlite:///x``; ``postgresql+asyncpg://`` -> ``postgresql://``:
    the form ``DAYLEDGER_DATABASE_URL`` takes."""
    scheme, _, rest = url.partition("://")
    return f"{scheme.split('+')[0]}://{rest}"


def new_client(base_url: str, token: str | None = None, **headers: str) -> httpx.Client:
    """A plain HTTP client, with ``token`` as its bearer credential if given."""
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.Client(base_url=base_url, timeout=30, verify=SSL_CONTEXT, headers=headers)


def check_error(r: httpx.Response, status: int, *, message: str | None = None) -> dict:
    """``r`` answers ``status`` in the one error shape; returns the error object.
    ``message``, if given, must appear in the message or the details."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"code", "message", "details"}, err
    assert err["code"] == status, err
    assert isinstance(err["message"], str) and err["message"].strip(), err
    assert isinstance(err["details"], str), err
    if message is not None:
        assert message.lower() in (err["message"] + " " + err["details"]).lower(), err
    return err


def pytest_report_header(config):
    return f"dayledger database: {'postgresql' if os.environ.get('DAYLEDGER_TEST_DATABASE_URL') else 'sqlite'}"


@pytest.fixture(scope="session")
def db_url(tmp_path_factory) -> str:
    """A migrated database for this run (the runner creates a fresh PostgreSQL one)."""
    url = os.environ.get("DAYLEDGER_TEST_DATABASE_URL")
    url = normalize_database_url(url) if url else f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def is_postgres(db_url) -> bool:
    return db_url.startswith("postgresql")


@pytest.fixture(scope="session")
def settings(db_url, tmp_path_factory) -> Settings:
    # Webhook receivers of the tests listen on 127.0.0.1, which is refused otherwise.
    return Settings(database_url=db_url, data_dir=tmp_path_factory.mktemp("data"), db_pool_size=20,
                    webhook_allow_private=True)


@pytest.fixture(scope="session")
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(autouse=True)
def _reset_clock(clock):
    clock.set(Clock().now_ms())
    yield


def run_async(coro_fn: Callable, *args):
    return asyncio.run(coro_fn(*args))


class DB:
    """Direct database access for tests (a separate engine from the server's)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def run(self, fn: Callable, *args):
        async def main():
            db = Database(self.url, pool_size=2)
            try:
                return await db.run(fn, *args)
            finally:
                await db.dispose()
        return asyncio.run(main())

    def scalar(self, sql: str, **params):
        from sqlalchemy import text

        async def fn(session):
            return (await session.execute(text(sql), params)).scalar()
        return self.run(fn)

    def rows(self, sql: str, **params):
        from sqlalchemy import text

        async def fn(session):
            return [tuple(r) for r in (await session.execute(text(sql), params)).all()]
        return self.run(fn)

    def verify(self) -> list[str]:
        return self.run(verify)


@pytest.fixture(scope="session")
def db(db_url) -> DB:
    return DB(db_url)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, app, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.app = app
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                                    access_log=False, lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="session")
def app(settings, clock):
    return create_app(settings, clock=clock)


@pytest.fixture(scope="session")
def server(app) -> LiveServer:
    live = LiveServer(app, free_port()).start()
    yield live
    live.stop()


@pytest.fixture(scope="session")
def base_url(server) -> str:
    return server.url


@pytest.fixture(scope="session")
def operator_token(db, clock) -> str:
    async def fn(session):
        return (await auth.issue(session, kind="operator", scope="full", now_ms=clock.now_ms(), name="tests")).token
    return db.run(fn)


@pytest.fixture(scope="session")
def gateway_token(db, clock) -> str:
    async def fn(session):
        return (await auth.issue(session, kind="operator", scope="gateway", now_ms=clock.now_ms(), name="gw")).token
    return db.run(fn)


@pytest.fixture
def gateway(base_url, gateway_token):
    """An HTTP client authenticated as the channel runtime (a gateway-scope operator token)."""
    with new_client(base_url, gateway_token) as c:
        yield c


@pytest.fixture(scope="session")
def http(base_url):
    with new_client(base_url) as client:
        yield client


@pytest.fixture(scope="session")
def admin(base_url, operator_token):
    """An HTTP client authenticated as the operator."""
    with new_client(base_url, operator_token) as client:
        yield client


@dataclass
class PartnerHandle:
    name: str
    id: str
    token: str
    project_id: str
    client: httpx.Client

    def get(self, path, **kw):
        return self.client.get(path, **kw)

    def post(self, path, **kw):
        return self.client.post(path, **kw)

    def put(self, path, **kw):
        return self.client.put(path, **kw)

    def patch(self, path, **kw):
        return self.client.patch(path, **kw)

    def delete(self, path, **kw):
        return self.client.delete(path, **kw)

    @property
    def balance(self) -> int:
        r = self.client.get(f"/partners/{self.name}")
        assert r.status_code == 200, r.text
        return r.json()["balance"]


@pytest.fixture
def make_partner(admin, base_url):
    """Create a partner through the operator API; returns a handle with its own client."""
    clients: list[httpx.Client] = []

    def make(*, balance: int = 0, trial: bool = False, **fields) -> PartnerHandle:
        name = fields.pop("name", None) or f"p-{secrets.token_hex(5)}"
        r = admin.post("/admin/partners", json={"name": name, "email": f"{name}@example.com",
                                                "trialEligible": trial, **fields})
        assert r.status_code == 201, r.text
        body = r.json()
        t = admin.post(f"/admin/partners/{name}/tokens", json={"name": "test", "scope": "full"})
        assert t.status_code == 201, t.text
        if balance:
            c = admin.post(f"/admin/partners/{name}/credit", json={"days": balance, "comment": "test funds"})
            assert c.status_code == 200, c.text
        client = new_client(base_url, t.json()["token"])
        clients.append(client)
        return PartnerHandle(name, body["id"], t.json()["token"], body["projectId"], client)

    yield make
    for c in clients:
        c.close()


@pytest.fixture
def insert_channels(db):
    """Insert ``count`` channels of a partner straight into the database (faster than the
    API for thousands, and able to place them in the past); the i-th is created at
    ``created_ms + i``. Returns the inserted rows in creation order."""
    from dayledger import ids
    from dayledger.ledger import Actor, Op
    from dayledger.ledger.channel_time import import_channels

    def make(partner, count: int, *, created_ms: int, active_till_ms: int, mode: str = "live",
             trial_ms: int | None = None, name: str = "bulk") -> list[dict]:
        rows = [dict(id=ids.channel_id(), partner_id=partner.id, project_id=partner.project_id, name=f"{name} {i}",
                     token=ids.channel_token(), api_url="https://gate.example", server=1, mode=mode,
                     stopped=False, expired=False, active_till_ms=active_till_ms, trial_ms=trial_ms,
                     connection_status="AUTH", phone=None, recurrent_payment_id=None,
                     prev_recurrent_payment_id=None, created_ms=created_ms + i, deleted_ms=None)
                for i in range(count)]

        async def load(session):
            # Channels that arrive with time of their own are a ledger import: each gets an
            # ``import`` entry recording its time, so verify accounts for it.
            await import_channels(session, rows, Op(created_ms, Actor("system", "tests")))
        db.run(load)
        return rows
    return make


@pytest.fixture
def assert_ledger_sound(db):
    def check():
        problems = db.verify()
        assert problems == [], problems
    return check


@pytest.fixture
def scratch_db(db_url, tmp_path):
    """A database of its own, migrated, for a test that leaves the ledger broken on purpose
    (entries are append-only: a forged entry cannot be taken back)."""
    from dayledger.migrations import upgrade
    if db_url.startswith("postgresql"):
        import psycopg
        base, name = db_url.rsplit("/", 1)
        scratch = f"{name}_scratch_{tmp_path.name[-8:].lower().replace('-', '_')}"
        admin = base.replace("postgresql+asyncpg", "postgresql") + "/postgres"
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f"DROP DATABASE IF EXISTS {scratch}")
            c.execute(f"CREATE DATABASE {scratch}")
        url = f"{base}/{scratch}"
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'scratch.db'}"
    upgrade(url)
    yield DB(url)
    if db_url.startswith("postgresql"):
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f"DROP DATABASE IF EXISTS {scratch} WITH (FORCE)")


# A real `dayledger serve` process (the crash and group commit tests kill it).
def dayledger_env(db_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAYLEDGER_")}
    env.update(DAYLEDGER_DATABASE_URL=plain_url(db_url), DAYLEDGER_DATA_DIR=str(tmp_path / "data"),
               DAYLEDGER_LOG_LEVEL="warning", **extra)
    return env


class ServerProcess:
    """``dayledger serve --no-worker`` as a child process on a free port."""

    def __init__(self, db_url: str, tmp_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([str(SCRIPT), "serve", "--no-worker", "--port", str(self.port)],
                                     env=dayledger_env(db_url, tmp_path), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, "dayledger serve exited"
            try:
                httpx.get(f"{self.url}/openapi.json", timeout=1)
                return
            except httpx.TransportError:
                assert time.monotonic() < deadline, "dayledger serve did not start"
                time.sleep(0.1)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)


@pytest.fixture
def serve(db_url, tmp_path):
    started: list[ServerProcess] = []

    def start() -> ServerProcess:
        started.append(ServerProcess(db_url, tmp_path))
        return started[-1]

    yield start
    for s in started:
        s.stop()
