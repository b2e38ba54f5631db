"""Group commit (db.GroupCommit): extensions that arrive together share one transaction and
one flush, and each still gets its own answer or its own error. Through the real HTTP
server on the test database (SQLite or PostgreSQL); the SIGKILL case runs a real
``dayledger serve`` process."""

from __future__ import annotations

import asyncio
import secrets
import time

from dayledger.db import Database, GroupCommit
from dayledger.errors import InsufficientBalance

from conftest import new_client
from test_crash import funded_partner, start_clients

from .conftest import DAY, check_error, create_channel
from .test_concurrency import extend_request, send_all


def test_200_extends_against_120_days_give_exactly_120_each_its_own_entry(app, base_url, make_partner, db,
                                                                          assert_ledger_sound):
    group = app.state.services.db.group
    assert group is not None, "group commit is on by default"
    groups_before, members_before = group.groups, group.members
    p = make_partner(balance=120)
    ids = [create_channel(p, f"c{i}")["id"] for i in range(8)]
    requests = [extend_request(ids[i % len(ids)], comment=f"extend {i}") for i in range(200)]

    responses = send_all(base_url, p.token, requests)

    ok = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code != 200]
    assert len(ok) == 120 and len(refused) == 80
    for r in refused:
        check_error(r, 402, message="insufficient balance")
    # Each answer is its own ledger entry: its id, its channel, the balance after it.
    entries = {row[0]: row[1:] for row in db.rows(
        "SELECT e.id, e.channel_id, e.balance_after, e.active_till_after_ms, e.comment FROM ledger_entries e "
        "WHERE e.partner_id = :p AND e.type = 'extend'", p=p.id)}
    assert len(entries) == 120
    seen = set()
    for (_, path, body), r in zip(requests, responses, strict=True):
        if r.status_code != 200:
            continue
        got = r.json()
        channel_id, balance_after, till_after, comment = entries[got["transactionId"]]
        assert path == f"/channels/{channel_id}/extend" and comment == body["comment"]
        assert (got["balance"], got["activeTill"], got["daysAdded"]) == (balance_after, till_after, 1)
        seen.add(got["transactionId"])
    assert len(seen) == 120
    assert sorted(balance for _, balance, _, _ in entries.values()) == list(range(120))
    assert p.client.get(f"/partners/{p.name}").json()["balance"] == 0
    # The 200 requests really shared transactions.
    assert group.members - members_before >= 200
    assert group.groups - groups_before < group.members - members_before
    assert_ledger_sound()


def test_a_refused_member_undoes_only_its_own_writes(app, base_url, make_partner, db, assert_ledger_sound):
    """One bulk asking for more than the whole balance (33 > 30) among single extensions that
    fit (20 days): the bulk is refused whole, its channels untouched; every single
    extension lands, whatever the order they arrive in."""
    p = make_partner(balance=30)
    ids = [create_channel(p, f"c{i}")["id"] for i in range(6)]
    before = {cid: p.client.get(f"/channels/{cid}").json()["activeTill"] for cid in ids}
    big = ("POST", "/channels/extend", {"comment": "too much",
                                          "channels": [{"id": cid, "days": 11} for cid in ids[3:]]})
    singles = [extend_request(ids[i % 3], days=1, comment=f"s{i}") for i in range(20)]
    requests = singles[:10] + [big] + singles[10:]

    responses = send_all(base_url, p.token, requests)

    statuses = [r.status_code for r in responses]
    assert statuses == [200] * 10 + [402] + [200] * 10, statuses
    check_error(responses[10], 402, message="nothing was extended")
    for cid in ids[3:]:
        assert p.client.get(f"/channels/{cid}").json()["activeTill"] == before[cid]
        assert db.scalar("SELECT COUNT(*) FROM ledger_entries WHERE channel_id = :c AND type = 'extend'", c=cid) == 0
    assert p.client.get(f"/partners/{p.name}").json()["balance"] == 10
    assert_ledger_sound()


def test_group_commit_hands_each_member_its_result_after_one_commit(db_url):
    """In process, without HTTP: members queued together run in one transaction; a member
    that raises gets its exception, the others their results, and nothing of the failed
    member is committed."""
    async def scenario() -> None:
        database = Database(db_url, pool_size=2)
        try:
            group = database.group
            assert isinstance(group, GroupCommit)
            marker = f"gc-{secrets.token_hex(4)}"

            async def write(session, n: int):
                from sqlalchemy import text
                await session.execute(text("INSERT INTO idempotency_keys (scope, key, request_hash, status_code, "
                                           "response_body, created_ms) VALUES (:s, :k, 'h', 200, '{}', 0)"),
                                      {"s": marker, "k": str(n)})
                if n % 5 == 0:
                    raise InsufficientBalance("insufficient balance", f"member {n}")
                return n

            results = await asyncio.gather(*(group.run(write, n) for n in range(1, 41)), return_exceptions=True)
            for n, result in enumerate(results, start=1):
                if n % 5 == 0:
                    assert isinstance(result, InsufficientBalance) and result.details == f"member {n}"
                else:
                    assert result == n
            assert group.groups < 40  # they shared transactions

            async def stored(session):
                from sqlalchemy import text
                return sorted(int(k) for k in (await session.execute(
                    text("SELECT key FROM idempotency_keys WHERE scope = :s"), {"s": marker})).scalars())
            assert await database.run(stored) == [n for n in range(1, 41) if n % 5]
        finally:
            await database.dispose()
    asyncio.run(scenario())


def test_server_killed_during_groups_loses_no_acknowledged_extend(serve, operator_token, db, assert_ledger_sound):
    """32 clients keep groups forming; SIGKILL mid-load. Every answered extend is on disk
    (its entry and its key), nothing unanswered is half there, and retrying every request
    with its key on a new server applies each exactly once."""
    first = serve()
    name = f"gc-crash-{secrets.token_hex(4)}"
    token = funded_partner(first.url, operator_token, name, 5_000)
    with new_client(first.url, token) as p:
        channels = [p.put("/channels", json={"name": f"c{i}", "projectId": "default"}).json()["id"] for i in range(8)]
    work = [(f"{name}-{i}", channels[i % len(channels)]) for i in range(1_500)]
    threads, answered, lost = start_clients(first.url, token, work, n=32)
    deadline = time.monotonic() + 120
    while len(answered) < 300:
        assert time.monotonic() < deadline and first.proc.poll() is None, "the load did not start"
        time.sleep(0.005)
    with new_client(first.url) as c:
        metrics = c.get("/metrics").text
    first.kill()
    for t in threads:
        t.join(60)
    transactions = _metric(metrics, "dayledger_group_commit_transactions_total")
    members = _metric(metrics, "dayledger_group_commit_members_total")
    assert members > transactions > 0, (members, transactions)  # groups were forming when it was killed
    assert lost, "the server was killed before any request was left unanswered"
    assert {r.status_code for r in answered.values()} == {200}

    per_key = dict(db.rows("SELECT idempotency_key, COUNT(*) FROM ledger_entries WHERE type = 'extend' "
                           "AND idempotency_key LIKE :k GROUP BY idempotency_key", k=f"{name}-%"))
    assert set(per_key.values()) <= {1}
    assert set(answered) <= set(per_key)
    assert_ledger_sound()

    second = serve()
    threads, retried, lost = start_clients(second.url, token, work, n=32)
    for t in threads:
        t.join(180)
    assert not lost and {r.status_code for r in retried.values()} == {200}
    for key, r in answered.items():
        assert retried[key].headers.get("idempotent-replayed") == "true" and retried[key].json() == r.json()
    per_key = dict(db.rows("SELECT idempotency_key, COUNT(*) FROM ledger_entries WHERE type = 'extend' "
                           "AND idempotency_key LIKE :k GROUP BY idempotency_key", k=f"{name}-%"))
    assert per_key == {key: 1 for key, _ in work}
    with new_client(second.url, token) as c:
        assert c.get(f"/partners/{name}").json()["balance"] == 5_000 - len(work)
        for cid in channels:
            got = c.get(f"/channels/{cid}").json()
            assert (got["activeTill"] - got["creationTS"]) // DAY == sum(1 for _, ch in work if ch == cid)
    assert_ledger_sound()


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")
