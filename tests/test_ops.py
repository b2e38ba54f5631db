"""Operations endpoints against real servers and real databases: /health, /ready (with
the database really unreachable, and with migrations really behind), /metrics (parsed
with prometheus_client's own parsers) and JSON log lines from real processes."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

import httpx
import pytest
from alembic.script import ScriptDirectory
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from conftest import LiveServer, check_error, free_port, new_client, plain_url
from dayledger import __version__
from dayledger.app import create_app
from dayledger.clock import DAY_MS
from dayledger.config import Settings
from dayledger.context import Services
from dayledger.db import Database
from dayledger.idempotency import InFlight
from dayledger.migrations import alembic_config, upgrade
from dayledger.worker import run_once

READY_TIMEOUT = 1.0
# A dead database must be reported within the timeout plus this much (scheduling, HTTP).
SLACK = 1.5
REVISIONS = [rev.revision for rev in reversed(list(ScriptDirectory.from_config(alembic_config("")).walk_revisions()))]
HEAD = REVISIONS[-1]


# ---------------------------------------------------------------------------- helpers

def scrape(client: httpx.Client) -> dict[tuple[str, frozenset], float]:
    """Every sample of GET /metrics as {(sample name, labels): value}; the text must parse."""
    r = client.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain"), r.headers
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def labelled(samples: dict, name: str) -> dict[frozenset, float]:
    return {labels: v for (n, labels), v in samples.items() if n == name}


@contextmanager
def live_app(settings: Settings, **kw) -> Iterator[tuple[LiveServer, httpx.Client]]:
    live = LiveServer(create_app(settings, **kw), free_port()).start()
    try:
        with new_client(live.url) as client:
            yield live, client
    finally:
        live.stop()


def timed_get(client: httpx.Client, path: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    r = client.get(path)
    return r, time.monotonic() - started


class TcpProxy:
    """A TCP forwarder on 127.0.0.1 that the test can break like a network:

    - ``open()``: forwards every connection to the target;
    - ``close()``: refuses new connections (nothing listens) and cuts the open ones;
    - ``stall()``: cuts the open ones, then accepts new connections and never answers,
      like a hung server or a black-holed route (the case only a timeout can bound).
    """

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self.mode = "closed"
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._accepting: threading.Thread | None = None

    def open(self) -> None:
        self._switch("forward")

    def close(self) -> None:
        self._switch("closed")

    def stall(self) -> None:
        self._switch("stall")

    def _switch(self, mode: str) -> None:
        self._stop_listening()
        with self._lock:
            self.mode = mode
            doomed, self._sockets = self._sockets, set()
        for s in doomed:
            _cut(s)
        if mode != "closed":
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(64)
            listener.settimeout(0.05)  # the accept loop notices close() within this
            self._listener = listener
            self._accepting = threading.Thread(target=self._accept, args=(listener,), daemon=True)
            self._accepting.start()

    def _stop_listening(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
            assert self._accepting is not None
            self._accepting.join(5)

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            client.settimeout(None)
            with self._lock:
                self._sockets.add(client)
                mode = self.mode
            if mode == "forward":
                try:
                    upstream = socket.create_connection(self.target, timeout=5)
                    upstream.settimeout(None)
                except OSError:
                    _cut(client)
                    continue
                with self._lock:
                    self._sockets.add(upstream)
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=_pump, args=(a, b), daemon=True).start()
            # "stall": the connection stays open and silent until the next switch.

    def shutdown(self) -> None:
        self.close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    _cut(src)
    _cut(dst)


def _cut(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()


@pytest.fixture
def empty_database_url(db_url, is_postgres, tmp_path) -> Iterator[str]:
    """A database that exists and was never migrated: a new SQLite file, or a new
    PostgreSQL database on the test server (dropped afterwards)."""
    if not is_postgres:
        path = tmp_path / "never-migrated.db"
        import sqlite3
        sqlite3.connect(path).close()
        yield f"sqlite+aiosqlite:///{path}"
        return
    import psycopg
    url = make_url(db_url)
    name = f"{url.database}_ops_{secrets.token_hex(4)}"
    admin_url = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---------------------------------------------------------------------------- /health, /ready

def test_health_answers_without_database_or_token(http):
    r = http.get("/health")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ok", "version": __version__}


def test_ready_on_the_migrated_test_database(http, db, is_postgres):
    r = http.get("/ready")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ready", "database": "postgresql" if is_postgres else "sqlite",
                        "migration": db.scalar("SELECT version_num FROM alembic_version")}
    assert r.json()["migration"] == HEAD


def test_ready_follows_a_sqlite_file_that_goes_away_and_comes_back(tmp_path):
    """SQLite has no network to break. An embedded database becomes unreachable when its
    file goes away under the process: a volume unmounted, a directory moved or deleted by
    mistake. Here the database's directory really is moved away (the server process keeps
    its open file handle, so queries alone would not notice) and moved back."""
    home = tmp_path / "data"
    home.mkdir()
    url = f"sqlite+aiosqlite:///{home / 'dayledger.db'}"
    upgrade(url)
    with live_app(Settings(database_url=url, ready_timeout_seconds=READY_TIMEOUT)) as (_, client):
        assert client.get("/ready").status_code == 200
        home.rename(tmp_path / "moved-away")
        try:
            r, took = timed_get(client, "/ready")
            check_error(r, 503, message="not ready")
            assert r.json()["error"]["details"] == f"database unreachable: database file {home / 'dayledger.db'} is missing"
            assert took < READY_TIMEOUT + SLACK
            assert not home.exists(), "the readiness probe must not create an empty database in its place"
            assert client.get("/health").status_code == 200
            # Metrics still answer, without the database gauges.
            samples = scrape(client)
            assert value(samples, "dayledger_metrics_database_up") == 0
            assert not labelled(samples, "dayledger_outbox_events")
        finally:
            (tmp_path / "moved-away").rename(home)
        r = client.get("/ready")
        assert r.status_code == 200, r.text
        assert value(scrape(client), "dayledger_metrics_database_up") == 1


@pytest.mark.skipif(not os.environ.get("DAYLEDGER_TEST_DATABASE_URL"), reason="needs the PostgreSQL test database")
def test_ready_follows_postgres_through_a_broken_and_a_hung_network(db_url):
    """A second app reaches the test database only through a TCP proxy run here, which is
    closed (connection refused, open connections cut), stalled (connections accepted and
    never answered) and reopened: a real network break, no mock."""
    url = make_url(db_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.open()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    settings = Settings(database_url=proxied, db_pool_size=2, ready_timeout_seconds=READY_TIMEOUT)
    try:
        with live_app(settings) as (_, client):
            r = client.get("/ready")
            assert r.status_code == 200, r.text
            assert r.json()["migration"] == HEAD

            proxy.close()
            r, took = timed_get(client, "/ready")
            err = check_error(r, 503, message="not ready")
            assert err["details"].startswith("database unreachable: "), err
            assert took < READY_TIMEOUT + SLACK, took
            assert client.get("/health").status_code == 200
            assert value(scrape(client), "dayledger_metrics_database_up") == 0

            proxy.open()
            assert client.get("/ready").status_code == 200
            # A break no probe saw: the pooled connection died with the network, and the
            # first probe after the network returns is already ready (it retries once on
            # a fresh connection instead of reporting the dead one).
            proxy.close()
            proxy.open()
            r = client.get("/ready")
            assert r.status_code == 200, r.text

            proxy.stall()
            for _ in range(3):  # repeated probes neither pile up nor take longer
                r, took = timed_get(client, "/ready")
                err = check_error(r, 503, message="not ready")
                assert err["details"] == f"database unreachable: no answer within {READY_TIMEOUT:g} s", err
                assert took < READY_TIMEOUT + SLACK, took
            r, took = timed_get(client, "/metrics")
            assert r.status_code == 200 and took < READY_TIMEOUT + SLACK, (r.status_code, took)

            proxy.open()
            r = client.get("/ready")
            assert r.status_code == 200, r.text
            assert value(scrape(client), "dayledger_metrics_database_up") == 1
    finally:
        proxy.shutdown()


def test_ready_503_until_the_database_is_migrated(empty_database_url):
    with live_app(Settings(database_url=empty_database_url, ready_timeout_seconds=READY_TIMEOUT)) as (_, client):
        err = check_error(client.get("/ready"), 503, message="not ready")
        assert err["details"] == f"migrations behind: db at none, code at {HEAD}; run `dayledger migrate`"

        upgrade(empty_database_url, REVISIONS[0])
        err = check_error(client.get("/ready"), 503, message="not ready")
        assert err["details"] == f"migrations behind: db at {REVISIONS[0]}, code at {HEAD}; run `dayledger migrate`"

        upgrade(empty_database_url)
        r = client.get("/ready")
        assert r.status_code == 200, r.text
        assert r.json()["migration"] == HEAD


# ---------------------------------------------------------------------------- /metrics

def test_requests_are_counted_by_route_template_method_and_status(http, make_partner):
    p = make_partner()
    ids = [f"NOSUCH-{secrets.token_hex(3).upper()}" for _ in range(2)]
    before = scrape(http)
    statuses = {p.get(f"/channels/{i}").status_code for i in ids}
    assert len(statuses) == 1, statuses
    status = str(statuses.pop())
    unknown = f"/no-such-route/{secrets.token_hex(4)}"
    assert http.get(unknown).status_code == 404
    after = scrape(http)

    route = {"route": "/channels/{ChannelID}", "method": "GET"}
    assert value(after, "dayledger_http_requests_total", **route, status=status) - \
        value(before, "dayledger_http_requests_total", **route, status=status) == 2
    assert value(after, "dayledger_http_request_duration_seconds_count", **route) - \
        value(before, "dayledger_http_request_duration_seconds_count", **route) == 2
    unmatched = {"route": "<unmatched>", "method": "GET", "status": "404"}
    assert value(after, "dayledger_http_requests_total", **unmatched) - \
        value(before, "dayledger_http_requests_total", **unmatched) == 1
    # The previous scrape is counted under its own template too.
    assert value(after, "dayledger_http_requests_total", route="/metrics", method="GET", status="200") >= 1
    # No raw path, so no id, ever becomes a label value.
    routes = {dict(labels)["route"] for labels in labelled(after, "dayledger_http_requests_total")}
    assert not any(i in r for r in routes for i in [*ids, unknown]), routes


def test_ledger_entry_gauge_equals_the_database(http, make_partner, db):
    make_partner(balance=30)
    samples = scrape(http)
    in_db = dict(db.rows("SELECT type, count(*) FROM ledger_entries GROUP BY type"))
    assert in_db.get("adjustment", 0) >= 1
    gauge = {dict(labels)["type"]: v for labels, v in labelled(samples, "dayledger_ledger_entries").items()}
    assert gauge == {kind: float(n) for kind, n in in_db.items()}
    assert value(samples, "dayledger_outbox_events") == db.scalar("SELECT count(*) FROM events")
    assert value(samples, "dayledger_metrics_database_up") == 1


def test_a_worker_run_counts_its_jobs_and_clears_the_expiry_lag(http, make_partner, insert_channels, settings,
                                                                  db_url, clock):
    p = make_partner()
    now = clock.now_ms()
    overdue_ms = 2 * 3_600_000
    insert_channels(p, 3, created_ms=now - 10 * DAY_MS, active_till_ms=now - overdue_ms, name="lagging")
    before = scrape(http)
    assert value(before, "dayledger_expiry_due_channels") >= 3
    assert value(before, "dayledger_expiry_lag_seconds") >= overdue_ms / 1000

    async def one_round() -> dict[str, int]:
        svc = Services(settings=settings, db=Database(db_url, 2), clock=clock, in_flight=InFlight())
        try:
            return await run_once(svc)
        finally:
            await svc.db.dispose()
    done = asyncio.run(one_round())
    assert done["expired"] >= 3, done

    after = scrape(http)
    for job, items in done.items():
        assert value(after, "dayledger_worker_job_runs_total", job=job) - \
            value(before, "dayledger_worker_job_runs_total", job=job) == 1, job
        assert value(after, "dayledger_worker_job_items_total", job=job) - \
            value(before, "dayledger_worker_job_items_total", job=job) == items, job
        assert value(after, "dayledger_worker_job_seconds_total", job=job) > \
            value(before, "dayledger_worker_job_seconds_total", job=job), job
    assert value(after, "dayledger_expiry_due_channels") == 0
    assert value(after, "dayledger_expiry_lag_seconds") == 0


def test_metrics_speak_openmetrics_when_asked(http):
    r = http.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/openmetrics-text"), r.headers
    names = {family.name for family in parse_openmetrics(r.text)}
    assert {"dayledger_http_requests", "dayledger_ledger_entries", "dayledger_outbox_events",
            "dayledger_worker_job_runs", "dayledger_expiry_lag_seconds"} <= names, names


def test_metrics_token_when_configured(settings):
    token = secrets.token_urlsafe(16)
    with live_app(settings.model_copy(update={"metrics_token": token})) as (_, client):
        r = client.get("/metrics")
        check_error(r, 401, message="metrics token required")
        assert r.headers["www-authenticate"].startswith("Bearer")
        check_error(client.get("/metrics", headers={"Authorization": "Bearer nope"}), 401,
                    message="wrong metrics token")
        r = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        assert list(text_string_to_metric_families(r.text))
        # The probes stay open: load balancers do not carry the metrics token.
        assert client.get("/health").status_code == 200
        assert client.get("/ready").status_code == 200


def test_operations_routes_are_tagged_and_need_no_token(http):
    paths = http.get("/openapi.json").json()["paths"]
    for path in ("/health", "/ready", "/metrics"):
        operation = paths[path]["get"]
        assert operation["tags"] == ["Operations"], operation
        assert not operation.get("security"), operation
        assert not any(p["in"] == "header" for p in operation.get("parameters", [])), operation


# ---------------------------------------------------------------------------- JSON log lines

LOGGING_SCRIPT = """
import logging
from dayledger.ops.logging import configure_logging
configure_logging({level!r}, {fmt!r})
log = logging.getLogger("dayledger.test")
log.info("hello %s", "world")
log.debug("below the level")
log.log(5, "a trace line")
logging.getLogger("sqlalchemy.engine").info("libraries only from WARNING up")
logging.getLogger("uvicorn.error").info("Started server process")
try:
    1 / 0
except ZeroDivisionError:
    logging.getLogger("dayledger.worker").exception("worker round failed\\nsecond line")
"""


def log_lines(level: str, fmt: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", LOGGING_SCRIPT.format(level=level, fmt=fmt)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    return done.stderr.splitlines()


def test_json_log_lines_are_one_object_per_line():
    lines = log_lines("info", "json")
    records = [json.loads(line) for line in lines]
    assert [(r["level"], r["logger"], r["message"]) for r in records] == [
        ("INFO", "dayledger.test", "hello world"),
        ("INFO", "uvicorn.error", "Started server process"),
        ("ERROR", "dayledger.worker", "worker round failed\nsecond line"),
    ]
    for r in records:
        stamp = datetime.fromisoformat(r["time"])
        assert r["time"].endswith("Z") and stamp.utcoffset() == timezone.utc.utcoffset(None)
        assert abs((datetime.now(timezone.utc) - stamp).total_seconds()) < 60
    assert [set(r) for r in records[:2]] == [{"time", "level", "logger", "message"}] * 2
    assert records[2]["exc_info"].startswith("Traceback (most recent call last):")
    assert records[2]["exc_info"].rstrip().endswith("ZeroDivisionError: division by zero")


def test_trace_level_and_text_format():
    records = [json.loads(line) for line in log_lines("trace", "json")]
    assert ("TRACE", "a trace line") in [(r["level"], r["message"]) for r in records]
    assert ("DEBUG", "below the level") in [(r["level"], r["message"]) for r in records]

    lines = log_lines("info", "text")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO dayledger\.test: hello world", lines[0]), lines
    assert "Traceback (most recent call last):" in lines  # text keeps tracebacks on their own lines


def test_a_real_server_logs_json_lines(db_url, tmp_path):
    """uvicorn given ``logging_config(...)`` as its log_config (what ``dayledger serve``
    is to pass) writes its own lines as JSON too."""
    port = free_port()
    code = ("import uvicorn; from dayledger.ops.logging import logging_config; "
            f"uvicorn.run('dayledger.app:create_app_from_env', factory=True, host='127.0.0.1', port={port}, "
            "log_level='info', log_config=logging_config('info', 'json'))")
    env = {**os.environ, "DAYLEDGER_DATABASE_URL": plain_url(db_url), "DAYLEDGER_RUN_WORKER": "false"}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    records = [json.loads(line) for line in stderr.splitlines()]
    messages = [(r["logger"], r["message"]) for r in records]
    assert ("uvicorn.error", "Application startup complete.") in messages, messages
    assert all(set(r) >= {"time", "level", "logger", "message"} for r in records)

