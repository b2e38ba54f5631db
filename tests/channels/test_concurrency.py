"""Channel money under concurrency (SPEC 4.1, 4.3, 4.5, 4.8): many requests at the same
moment through the real HTTP server, and several expiry workers on PostgreSQL. Afterwards
the balance, every channel's time, the entries and the ledger invariants must add up."""

from __future__ import annotations

import asyncio
import os
import random
from collections import Counter

import httpx
import pytest
from sqlalchemy import text

from dayledger.channels.tasks import expire_due
from dayledger.db import Database

from .conftest import DAY, check_error, create_channel, expire_all, extend_ok, get_channel, history


async def _send_all(base_url: str, token: str, requests: list[tuple[str, str, dict | None]]) -> list[httpx.Response]:
    """Send every (method, path, body) at the same moment, each on its own connection."""
    limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        start = asyncio.Event()

        async def one(method: str, path: str, body: dict | None) -> httpx.Response:
            await start.wait()
            return await client.request(method, path, json=body)

        tasks = [asyncio.create_task(one(*req)) for req in requests]
        await asyncio.sleep(0)
        start.set()
        return await asyncio.gather(*tasks)


def send_all(base_url, token, requests):
    return asyncio.run(_send_all(base_url, token, requests))


def extend_request(channel_id: str, days: int = 1, comment: str = "concurrent"):
    return ("POST", f"/channels/{channel_id}/extend", {"days": days, "comment": comment})


def count_entries(db, partner_id: str, type: str) -> int:
    return db.scalar("SELECT COUNT(*) FROM ledger_entries WHERE partner_id = :p AND type = :t", p=partner_id, t=type)


@pytest.mark.parametrize("channels", [1, 4])
def test_hundred_concurrent_extends_against_sixty_days(channels, base_url, make_partner, clock, db,
                                                       assert_ledger_sound):
    p = make_partner(balance=60)
    t0 = clock.now_ms()
    ids = [create_channel(p, f"c{i}")["id"] for i in range(channels)]
    requests = [extend_request(ids[i % channels], comment=f"extend {i}") for i in range(100)]

    responses = send_all(base_url, p.token, requests)

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 60, 402: 40}, (statuses, [r.text for r in responses if r.status_code not in (200, 402)])
    for r in responses:
        if r.status_code == 402:
            check_error(r, 402, message="insufficient balance")
    # Every success saw its own balance: 59, 58, ... 0.
    assert sorted(r.json()["balance"] for r in responses if r.status_code == 200) == list(range(60))
    assert p.balance == 0
    # Each channel gained exactly one day per successful extension (all started at t0 = now).
    won = Counter(path for (_, path, _), r in zip(requests, responses) if r.status_code == 200)
    for cid in ids:
        assert get_channel(p, cid)["activeTill"] == t0 + won[f"/channels/{cid}/extend"] * DAY
    assert count_entries(db, p.id, "extend") == 60
    assert_ledger_sound()


def test_bulk_extend_is_all_or_nothing(make_partner, clock, partner_state, assert_ledger_sound):
    p = make_partner(balance=10)
    t0 = clock.now_ms()
    a, b, c = (create_channel(p, n)["id"] for n in "abc")
    total_before = p.get(f"/partners/{p.name}/history").json()["total"]
    before = partner_state(p)

    r = p.post("/channels/extend", json={"channels": [{"id": a, "days": 4}, {"id": b, "days": 4},
                                                      {"id": c, "days": 3}], "comment": "eleven"})
    check_error(r, 402, message="insufficient balance")
    assert partner_state(p) == before
    assert p.get(f"/partners/{p.name}/history").json()["total"] == total_before
    assert p.balance == 10 and all(get_channel(p, x)["activeTill"] == t0 for x in (a, b, c))

    # One unknown channel: nothing moves either.
    r = p.post("/channels/extend", json={"channels": [{"id": a, "days": 1}, {"id": "ZZZZZZ-00000", "days": 1}],
                                         "comment": "unknown"})
    check_error(r, 404)
    assert partner_state(p) == before

    r = p.post("/channels/extend", json={"channels": [{"id": c, "days": 2}, {"id": a, "days": 4},
                                                      {"id": b, "days": 4}], "comment": "exactly ten"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["days"] == 10 and body["balance"] == 0
    assert {x["id"]: x["activeTill"] for x in body["channels"]} == {a: t0 + 4 * DAY, b: t0 + 4 * DAY,
                                                                   c: t0 + 2 * DAY}
    assert [get_channel(p, x)["activeTill"] for x in (a, b, c)] == [t0 + 4 * DAY, t0 + 4 * DAY, t0 + 2 * DAY]
    extends = history(p, type="extend")
    assert len(extends) == 3 and {e["comment"] for e in extends} == {"exactly ten"}
    assert p.balance == 0
    assert_ledger_sound()


def test_concurrent_bulk_extends_never_split(base_url, make_partner, clock, db, assert_ledger_sound):
    """Ten bulk extensions of the same three channels (listed in different orders) against
    ten days: each needs three, so exactly three succeed and each channel gains three days."""
    p = make_partner(balance=10)
    t0 = clock.now_ms()
    ids = [create_channel(p, n)["id"] for n in "xyz"]
    rng = random.Random(11)
    requests = []
    for i in range(10):
        order = ids[:]
        rng.shuffle(order)
        requests.append(("POST", "/channels/extend",
                         {"channels": [{"id": x, "days": 1} for x in order], "comment": f"bulk {i}"}))

    responses = send_all(base_url, p.token, requests)

    assert Counter(r.status_code for r in responses) == {200: 3, 402: 7}, [r.text for r in responses]
    assert p.balance == 1
    assert [get_channel(p, x)["activeTill"] for x in ids] == [t0 + 3 * DAY] * 3
    assert count_entries(db, p.id, "extend") == 9
    assert_ledger_sound()


def test_concurrent_delete_and_extend_never_lose_days(base_url, make_partner, clock, db, assert_ledger_sound):
    """Each of ten channels (4.5 paid days left) gets a delete and an extend of 3 at once.
    Extend first: -3 then the delete returns 7; delete first: the extend is 404 and the
    delete returns 4. Either way the partner ends 4 days up per channel."""
    p = make_partner(balance=100)
    ids = [create_channel(p, f"c{i}")["id"] for i in range(10)]
    for cid in ids:
        extend_ok(p, cid, 5)
    assert p.balance == 50
    clock.advance(days=0.5)

    requests = []
    for cid in ids:
        requests += [("DELETE", f"/channels/{cid}", None), extend_request(cid, 3),
                     extend_request(cid, 3)]
    random.Random(5).shuffle(requests)
    responses = send_all(base_url, p.token, requests)

    returned = extended = 0
    for (method, path, _), r in zip(requests, responses):
        if method == "DELETE":
            assert r.status_code == 200, r.text
            returned += r.json()["daysReturned"]
        else:
            assert r.status_code in (200, 404), r.text
            extended += 3 if r.status_code == 200 else 0
            if r.status_code == 404:
                check_error(r, 404)
    assert returned - extended == 40
    assert p.balance == 50 + returned - extended == 90
    assert p.get("/channels/list").json()["total"] == 0
    # The channels' time ledger also nets out: what was added minus what came back.
    net = db.scalar("SELECT SUM(channel_days) FROM ledger_entries WHERE partner_id = :p AND type IN ('extend', 'refund')",
                    p=p.id)
    assert net == 50 + extended - returned == 10  # the day running at deletion stays with each channel
    assert_ledger_sound()


@pytest.mark.skipif(not os.environ.get("DAYLEDGER_TEST_DATABASE_URL"),
                    reason="several expiry workers in parallel need PostgreSQL (SQLite has one writer)")
def test_concurrent_expiry_workers_expire_each_channel_once(db_url, make_partner, clock, db, assert_ledger_sound):
    partners = [make_partner(balance=20, trial=True, trialDays=1) for _ in range(3)]
    mine: dict[str, str] = {}
    for p in partners:
        for i in range(15):
            mine[create_channel(p, f"w{i}")["id"]] = p.id
        extend_ok(p, next(cid for cid, pid in mine.items() if pid == p.id), 1)  # one channel ends a day later
    clock.advance(days=3)
    now = clock.now_ms()

    workers = 6

    async def worker(database: Database, barrier: asyncio.Barrier) -> tuple[int, int]:
        """(channels expired in the first batch, in all); the first batch waits at the barrier
        with its transaction open, so all six first batches claim channels at once."""
        waited = False

        async def first_batch(session) -> int:
            nonlocal waited
            await session.execute(text("SELECT 1"))  # the transaction is open on the server now
            if not waited:  # a retry after a serialization failure must not wait a second time
                waited = True
                async with asyncio.timeout(30):
                    await barrier.wait()
            return await expire_due(session, now, 4)

        first = await database.run(first_batch)
        return first, first + await expire_all(database, now, 4)

    async def main() -> list[tuple[int, int]]:
        databases = [Database(db_url, pool_size=2) for _ in range(workers)]
        barrier = asyncio.Barrier(workers)
        try:
            return await asyncio.gather(*(worker(d, barrier) for d in databases))
        finally:
            for d in databases:
                await d.dispose()

    results = asyncio.run(main())
    assert sum(total for _, total in results) >= len(mine)
    # The workers overlapped: at least two of the simultaneous first batches expired channels
    # (SKIP LOCKED shares the due rows out instead of one worker taking them all).
    assert sum(1 for first, _ in results if first > 0) >= 2, results

    per_channel = dict(db.rows(
        "SELECT channel_id, COUNT(*) FROM ledger_entries WHERE type = 'expire' AND partner_id IN (:a, :b, :c) "
        "GROUP BY channel_id", a=partners[0].id, b=partners[1].id, c=partners[2].id))
    assert per_channel == {cid: 1 for cid in mine}
    events = dict(db.rows(
        "SELECT channel_id, COUNT(*) FROM events WHERE type = 'channel.expired' AND partner_id IN (:a, :b, :c) "
        "GROUP BY channel_id", a=partners[0].id, b=partners[1].id, c=partners[2].id))
    assert events == {cid: 1 for cid in mine}
    stored = dict(db.rows("SELECT id, expired FROM channels WHERE partner_id IN (:a, :b, :c)",
                          a=partners[0].id, b=partners[1].id, c=partners[2].id))
    assert stored == {cid: True for cid in mine}
    assert_ledger_sound()


def test_concurrent_creations_respect_the_rate_limit(base_url, make_partner, db):
    p = make_partner()
    requests = [("PUT", "/channels", {"name": f"burst {i}", "projectId": "default"}) for i in range(30)]
    responses = send_all(base_url, p.token, requests)
    assert Counter(r.status_code for r in responses) == {200: 20, 429: 10}, [r.text for r in responses]
    for r in responses:
        if r.status_code == 429:
            check_error(r, 429)
            assert int(r.headers["retry-after"]) >= 1
    assert db.scalar("SELECT COUNT(*) FROM channels WHERE partner_id = :p", p=p.id) == 20


def test_concurrent_switches_to_sandbox_respect_the_limit(base_url, make_partner, db, assert_ledger_sound):
    p = make_partner(balance=10, sandboxLimit=2)
    ids = [create_channel(p, f"s{i}")["id"] for i in range(8)]
    for cid in ids:
        extend_ok(p, cid, 1)
    responses = send_all(base_url, p.token, [("PATCH", f"/channels/{cid}/mode", {"mode": "dev"}) for cid in ids])
    assert Counter(r.status_code for r in responses) == {200: 2, 403: 6}, [r.text for r in responses]
    assert db.scalar("SELECT COUNT(*) FROM channels WHERE partner_id = :p AND mode = 'dev'", p=p.id) == 2
    # The two sandboxes got their paid day back; the others kept theirs.
    assert p.balance == 2 + 2
    assert_ledger_sound()


def test_concurrent_refunds_of_one_channel_happen_once(base_url, make_partner, clock, assert_ledger_sound):
    """Stops with saveDays, switches to sandbox and a delete of the same channel at once:
    its 6 unused paid days come back exactly once, whoever wins."""
    p = make_partner(balance=10, sandboxLimit=5)
    cid = create_channel(p)["id"]
    extend_ok(p, cid, 7)
    clock.advance(days=0.5)
    requests = ([("POST", f"/channels/{cid}/stop", {"saveDays": True})] * 6
                + [("PATCH", f"/channels/{cid}/mode", {"mode": "dev"})] * 3 + [("DELETE", f"/channels/{cid}", None)])
    random.Random(3).shuffle(requests)
    responses = send_all(base_url, p.token, requests)
    returned = 0
    for r in responses:
        assert r.status_code in (200, 404), r.text
        if r.status_code == 200:
            returned += r.json()["daysReturned"]
    assert returned == 6
    assert p.balance == 3 + 6
    assert_ledger_sound()


def test_expiry_racing_extensions_never_leaves_a_paid_channel_stopped(base_url, db_url, make_partner, clock, db,
                                                                      assert_ledger_sound):
    """Channels due right now get an extension while expiry workers run. Whichever wins,
    every channel ends running until now + 2 days, and expired at most once."""
    p = make_partner(balance=100, trial=True, trialDays=1)
    ids = [create_channel(p, f"r{i}")["id"] for i in range(12)]
    clock.advance(days=1)
    now = clock.now_ms()

    async def main():
        databases = [Database(db_url, pool_size=1) for _ in range(3)]
        try:
            return await asyncio.gather(
                _send_all(base_url, p.token, [extend_request(cid, 2, "rescue") for cid in ids]),
                *(expire_all(d, now, 2) for d in databases))
        finally:
            for d in databases:
                await d.dispose()

    responses, *_ = asyncio.run(main())
    assert [r.status_code for r in responses] == [200] * len(ids), [r.text for r in responses]
    for cid in ids:
        got = get_channel(p, cid)
        assert got["activeTill"] == now + 2 * DAY, got
        assert got["stopped"] is False and got["status"] != "expired", got
    expires = dict(db.rows("SELECT channel_id, COUNT(*) FROM ledger_entries WHERE partner_id = :p AND type = 'expire' "
                           "GROUP BY channel_id", p=p.id))
    assert all(n == 1 for n in expires.values()), expires
    assert p.balance == 100 - 2 * len(ids)
    assert_ledger_sound()
