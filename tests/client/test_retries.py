"""Safe retries through a real TCP proxy between the client and the test server: a keyed
extension whose answer is lost is sent again with the same key and debits once; 5xx and
timeouts are retried; a 429 waits what Retry-After says."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from dayledger.client import (NO_RETRIES, Client, ConnectionFailed, InsufficientBalance, RateLimited, Retries,
                              ServerError)
from dayledger.client._core import in_progress

from .conftest import Rule

UNAVAILABLE = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/html\r\ncontent-length: 22\r\n\r\n"
               b"<h1>upstream down</h1>")


def is_extend(method: str, path: str) -> bool:
    return method == "POST" and path.endswith("/extend")


def extend_entries(db, partner) -> list[tuple]:
    return db.rows("SELECT id, channel_id, balance_delta, idempotency_key FROM ledger_entries "
                   "WHERE partner_id = :p AND type = 'extend' ORDER BY id", p=partner.id)


def test_a_lost_answer_of_an_extension_is_retried_with_its_key_and_debits_once(
        make_partner, client_for, proxy, db, assert_ledger_sound):
    p = make_partner(balance=10)
    direct = client_for(p)
    ch = direct.channels.create("retried")
    proxy.rules.append(Rule(is_extend, drop=True))
    c = client_for(p, url=proxy.url)

    done = c.channels.extend(ch.id, 3, "lost once")

    extends = [e for e in proxy.log if e.method == "POST" and e.path.endswith("/extend")]
    assert [(e.fate, e.status, e.replayed) for e in extends] == [("dropped", 200, False), ("forwarded", 200, True)]
    assert extends[0].key and extends[0].key == extends[1].key  # the same key on the retry
    assert (done.daysAdded, done.balance) == (3, 7)
    assert direct.partner.balance() == 7  # debited once
    entries = extend_entries(db, p)
    assert len(entries) == 1 and entries[0][2] == -3 and entries[0][3] == extends[0].key
    assert direct.channels.get(ch.id).activeTill == done.activeTill
    assert_ledger_sound()


def test_a_caller_given_key_is_sent_and_a_second_call_with_it_changes_nothing(make_partner, client_for, db):
    p = make_partner(balance=10)
    c = client_for(p)
    ch = c.channels.create("keyed")
    first = c.channels.extend(ch.id, 2, "mine", idempotency_key="order-1234")
    again = c.channels.extend(ch.id, 2, "mine", idempotency_key="order-1234")
    assert again == first and c.partner.balance() == 8
    assert [e[3] for e in extend_entries(db, p)] == ["order-1234"]


def test_an_answer_later_than_the_timeout_is_asked_again_and_debits_once(make_partner, client_for, proxy, db,
                                                                          assert_ledger_sound):
    p = make_partner(balance=10)
    ch = client_for(p).channels.create("slow")
    proxy.rules.append(Rule(is_extend, delay=1.5))  # the server has answered; the client gives up at 0.5 s
    c = client_for(p, url=proxy.url, timeout=httpx.Timeout(5, read=0.5))
    done = c.channels.extend(ch.id, 4, "slow answer")
    extends = [e for e in proxy.log if is_extend(e.method, e.path)]
    assert len(extends) == 2 and extends[0].key == extends[1].key and extends[1].replayed
    assert done.balance == 6 and client_for(p).partner.balance() == 6
    assert len(extend_entries(db, p)) == 1
    assert_ledger_sound()


def test_5xx_answers_are_retried_then_raised_as_server_error(make_partner, client_for, proxy):
    p = make_partner(balance=10)
    ch = client_for(p).channels.create("flaky")
    proxy.rules.append(Rule(is_extend, times=2, replace=UNAVAILABLE))
    done = client_for(p, url=proxy.url).channels.extend(ch.id, 1, "after two 503s")
    assert [e.fate for e in proxy.log if is_extend(e.method, e.path)] == ["replaced", "replaced", "forwarded"]
    assert done.balance == 9

    proxy.rules.append(Rule(lambda m, path: m == "GET", times=10, replace=UNAVAILABLE))
    with pytest.raises(ServerError) as caught:
        client_for(p, url=proxy.url, retries=Retries(max_attempts=3, base_delay=0.01)).channels.get(ch.id)
    assert caught.value.code == 503 and caught.value.message == "Service Unavailable"
    assert "upstream down" in caught.value.details
    with pytest.raises(ServerError):
        client_for(p, url=proxy.url, retries=NO_RETRIES).channels.get(ch.id)
    gets = [e for e in proxy.log if e.method == "GET"]
    assert len(gets) == 4  # three attempts, then one without retries


def test_no_answer_at_all_raises_connection_failed_with_the_key_to_send_again(make_partner, client_for, proxy, db):
    p = make_partner(balance=10)
    ch = client_for(p).channels.create("unreachable")
    proxy.rules.append(Rule(is_extend, times=3, drop=True))
    c = client_for(p, url=proxy.url, retries=Retries(max_attempts=3, base_delay=0.01))
    with pytest.raises(ConnectionFailed) as caught:
        c.channels.extend(ch.id, 5, "never heard")
    key = caught.value.idempotency_key
    assert key and caught.value.code == 0
    assert client_for(p).partner.balance() == 5  # the first attempt went through; the repeats replayed it
    # Sending again with the key tells the outcome without a second debit.
    done = client_for(p).channels.extend(ch.id, 5, "never heard", idempotency_key=key)
    assert done.balance == 5 and len(extend_entries(db, p)) == 1


def test_a_refusal_is_not_retried(make_partner, client_for, proxy):
    p = make_partner(balance=1)
    ch = client_for(p).channels.create("short")
    with pytest.raises(InsufficientBalance):
        client_for(p, url=proxy.url).channels.extend(ch.id, 2, "too many")
    assert len([e for e in proxy.log if is_extend(e.method, e.path)]) == 1


def make_twenty(p, c: Client) -> None:
    for i in range(20):
        c.channels.create(f"c{i}")


def test_429_waits_what_retry_after_says(make_partner, client_for, clock):
    """The channel creation limit (20 per 30 minutes) answers 429 with Retry-After; the
    client waits that long and the creation goes through once the window has moved on."""
    p = make_partner()
    c = client_for(p)
    make_twenty(p, c)
    clock.advance(ms=30 * 60 * 1000 - 2_000)  # the oldest creation leaves the window in 2 s
    mover = threading.Timer(1.0, lambda: clock.advance(ms=3_000))
    mover.start()
    started = time.monotonic()
    ch = c.channels.create("after waiting")
    waited = time.monotonic() - started
    mover.join()
    assert ch.name == "after waiting"
    assert waited >= 2.0  # the whole Retry-After, not a short backoff
    assert c.channels.list().total == 21


def test_429_asking_more_than_max_retry_after_raises_rate_limited_at_once(make_partner, client_for):
    p = make_partner()
    c = client_for(p, retries=Retries(max_retry_after=10))
    make_twenty(p, c)
    started = time.monotonic()
    with pytest.raises(RateLimited) as caught:
        c.channels.create("too soon")
    assert time.monotonic() - started < 2
    e = caught.value
    assert e.code == 429 and e.message == "too many channels created"
    assert e.retry_after is not None and 1790 <= e.retry_after <= 1800
    assert f"retry in {int(e.retry_after)} s" in e.details


def conflict(message: str) -> httpx.Response:
    return httpx.Response(409, json={"error": {"code": 409, "message": message, "details": ""}})


def test_the_retry_policy():
    """Which answers are retried and how long the waits are (the policy alone)."""
    r = Retries(max_attempts=4, max_total_seconds=10, base_delay=1, max_delay=3, max_retry_after=30)
    assert in_progress(conflict("request in progress")) and not in_progress(conflict("no time left"))
    assert r.after_answer(1, 0, conflict("request in progress")) is not None
    assert r.after_answer(1, 0, conflict("no time left")) is None
    assert r.after_answer(1, 0, httpx.Response(402)) is None
    assert r.after_answer(1, 0, httpx.Response(501)) is None
    assert 0.5 <= r.after_answer(1, 0, httpx.Response(502)) <= 1
    assert 1 <= r.after_answer(2, 0, httpx.Response(500)) <= 2
    assert 1.5 <= r.after_answer(3, 0, httpx.Response(500)) <= 3  # capped at max_delay
    assert r.after_answer(4, 0, httpx.Response(500)) is None  # max_attempts
    assert r.after_answer(1, 9.9, httpx.Response(500)) is None  # max_total_seconds
    assert r.after_answer(1, 0, httpx.Response(429, headers={"Retry-After": "7"})) == 7
    assert r.after_answer(1, 0, httpx.Response(429, headers={"Retry-After": "31"})) is None
    assert r.after_error(1, 0, httpx.ConnectError("refused")) is not None
    assert r.after_error(1, 0, httpx.ReadTimeout("slow")) is not None
    assert r.after_error(1, 0, httpx.RemoteProtocolError("closed")) is not None
    assert r.after_error(1, 0, httpx.UnsupportedProtocol("ftp")) is None
    assert r.after_error(1, 0, ValueError("bug")) is None
    assert len({round(r.backoff(3), 6) for _ in range(20)}) > 1  # jitter


class HeldLock:
    """The partner's row (PostgreSQL) or the whole SQLite file (a write lock) held by a
    connection of the test, so a server request that debits waits until ``release``."""

    def __init__(self, db_url: str, partner_id: str) -> None:
        if db_url.startswith("postgresql"):
            import psycopg
            self.conn = psycopg.connect(db_url.replace("postgresql+asyncpg", "postgresql"))
            self.conn.execute("SELECT 1 FROM partners WHERE id = %s FOR UPDATE", (partner_id,))
        else:
            import sqlite3
            self.conn = sqlite3.connect(db_url.split("///", 1)[1], isolation_level=None)
            self.conn.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.conn.rollback()
        self.conn.close()


def test_409_request_in_progress_is_waited_out_and_answers_the_first_outcome(
        make_partner, client_for, proxy, db, db_url, assert_ledger_sound):
    """Two calls with one key: the second arrives while the first waits for a lock on the
    server, hears 409 "request in progress", waits and gets the first call's answer."""
    p = make_partner(balance=10)
    ch = client_for(p).channels.create("contended")
    patient = Retries(max_attempts=30, max_total_seconds=30, base_delay=0.1, max_delay=0.3)
    results: dict[str, object] = {}

    def call(name: str) -> None:
        c = Client(proxy.url, p.token, retries=patient)
        try:
            results[name] = c.channels.extend(ch.id, 2, "once", idempotency_key="in-progress-1")
        finally:
            c.close()

    lock = HeldLock(db_url, p.id)
    try:
        first = threading.Thread(target=call, args=("first",))
        first.start()
        deadline = time.monotonic() + 10
        while not any(is_extend(e.method, e.path) for e in proxy.log) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # the first is on the server now, waiting for the lock
        second = threading.Thread(target=call, args=("second",))
        second.start()
        time.sleep(0.8)
    finally:
        lock.release()
    first.join(30)
    second.join(30)
    statuses = [e.status for e in proxy.log if is_extend(e.method, e.path)]
    assert 409 in statuses, statuses
    assert results["first"] == results["second"]
    assert [e.replayed for e in proxy.log if is_extend(e.method, e.path) and e.status == 200] == [False, True]
    assert client_for(p).partner.balance() == 8 and len(extend_entries(db, p)) == 1
    assert_ledger_sound()
