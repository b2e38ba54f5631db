"""Idempotency keys (SPEC 4.9): a repeat replays the first answer and changes nothing;
the same key with another request is refused; concurrent duplicates have one effect;
failures store nothing; keys are scoped to their owner and kept at least 72 hours."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter

import httpx

from dayledger import idempotency
from dayledger.auth import service as auth

from .conftest import check_error, new_client

HOUR_MS = 3_600_000


def new_key() -> str:
    return f"key-{secrets.token_hex(8)}"


def keyed(client, path: str, body, key: str, **kw) -> httpx.Response:
    return client.post(path, json=body, headers={"Idempotency-Key": key}, **kw)


def stored_keys(db, key: str) -> int:
    return db.scalar("SELECT COUNT(*) FROM idempotency_keys WHERE key = :k", k=key)


def test_same_key_same_body_replays_the_first_answer(admin, make_partner, ledger_state, db, assert_ledger_sound):
    p = make_partner(balance=10)
    key, body = new_key(), {"days": 3, "comment": "monthly fee"}
    first = keyed(admin, f"/admin/partners/{p.name}/debit", body, key)
    assert first.status_code == 200, first.text
    assert "idempotent-replayed" not in first.headers
    assert first.json()["balance"] == 7
    after_first = ledger_state(p)
    assert after_first == (7, 2)

    for _ in range(3):
        again = keyed(admin, f"/admin/partners/{p.name}/debit", body, key)
        assert again.status_code == first.status_code
        assert again.headers["idempotent-replayed"] == "true"
        assert again.content == first.content
        assert again.json()["transactionId"] == first.json()["transactionId"]

    # The same JSON written differently (key order, spacing) is the same request.
    respelled = admin.post(f"/admin/partners/{p.name}/debit", content='{ "comment": "monthly fee",  "days": 3 }',
                           headers={"Idempotency-Key": key, "Content-Type": "application/json"})
    assert respelled.status_code == 200 and respelled.headers["idempotent-replayed"] == "true"
    assert respelled.content == first.content

    assert ledger_state(p) == after_first
    history = p.get(f"/partners/{p.name}/history").json()
    assert history["total"] == 2
    assert history["history"][0]["idempotencyKey"] == key  # the entry records the key it came with
    assert stored_keys(db, key) == 1
    assert_ledger_sound()


def test_same_key_other_request_is_refused_and_changes_nothing(admin, make_partner, ledger_state):
    p = make_partner(balance=10)
    key = new_key()
    assert keyed(admin, f"/admin/partners/{p.name}/debit", {"days": 1, "comment": "a"}, key).status_code == 200
    before = ledger_state(p)

    for path, body in [
        (f"/admin/partners/{p.name}/debit", {"days": 2, "comment": "a"}),   # other days
        (f"/admin/partners/{p.name}/debit", {"days": 1, "comment": "b"}),   # other comment
        (f"/admin/partners/{p.name}/credit", {"days": 1, "comment": "a"}),  # other route, same body
    ]:
        r = keyed(admin, path, body, key)
        check_error(r, 422, message="different request")
        assert "idempotent-replayed" not in r.headers

    assert ledger_state(p) == before
    assert p.balance == 9


def test_concurrent_duplicates_have_exactly_one_effect(base_url, operator_token, make_partner, ledger_state,
                                                       assert_ledger_sound):
    p = make_partner(balance=50)
    key, body = new_key(), {"days": 5, "comment": "same request twenty times"}

    async def fire() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=20, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits,
                                     headers={"Authorization": f"Bearer {operator_token}",
                                              "Idempotency-Key": key}) as client:
            return await asyncio.gather(*[client.post(f"/admin/partners/{p.name}/debit", json=body)
                                          for _ in range(20)])

    responses = asyncio.run(fire())
    originals = [r for r in responses if r.status_code == 200 and "idempotent-replayed" not in r.headers]
    replays = [r for r in responses if r.status_code == 200 and r.headers.get("idempotent-replayed") == "true"]
    in_progress = [r for r in responses if r.status_code == 409]
    assert len(originals) == 1, Counter(r.status_code for r in responses)
    assert len(originals) + len(replays) + len(in_progress) == 20, [r.text for r in responses]
    for r in replays:
        assert r.content == originals[0].content
    for r in in_progress:
        check_error(r, 409, message="in progress")
    assert ledger_state(p) == (45, 2)

    # Once the first has finished, every repeat is a replay.
    with new_client(base_url, operator_token) as client:
        late = keyed(client, f"/admin/partners/{p.name}/debit", body, key)
    assert late.status_code == 200 and late.headers["idempotent-replayed"] == "true"
    assert late.content == originals[0].content
    assert ledger_state(p) == (45, 2)
    assert_ledger_sound()


def test_a_failed_request_stores_nothing_so_its_key_can_be_retried(admin, make_partner, ledger_state, db,
                                                                  assert_ledger_sound):
    p = make_partner(balance=2)
    key, body = new_key(), {"days": 5, "comment": "too much for now"}
    r = keyed(admin, f"/admin/partners/{p.name}/debit", body, key)
    check_error(r, 402)
    assert stored_keys(db, key) == 0
    assert ledger_state(p) == (2, 1)

    again = keyed(admin, f"/admin/partners/{p.name}/debit", body, key)  # still short: a fresh 402, not a replay
    check_error(again, 402)
    assert "idempotent-replayed" not in again.headers

    assert admin.post(f"/admin/partners/{p.name}/credit", json={"days": 10, "comment": "top-up"}).status_code == 200
    ok = keyed(admin, f"/admin/partners/{p.name}/debit", body, key)
    assert ok.status_code == 200, ok.text
    assert "idempotent-replayed" not in ok.headers
    assert ok.json()["balance"] == 7
    replay = keyed(admin, f"/admin/partners/{p.name}/debit", body, key)
    assert replay.headers["idempotent-replayed"] == "true" and replay.content == ok.content
    assert ledger_state(p) == (7, 3)
    assert stored_keys(db, key) == 1
    assert_ledger_sound()


def test_invalid_bodies_store_nothing(admin, make_partner, ledger_state, db):
    p = make_partner(balance=5)
    key = new_key()
    check_error(keyed(admin, f"/admin/partners/{p.name}/debit", {"days": 0, "comment": "x"}, key), 422)
    check_error(keyed(admin, f"/admin/partners/nobody-{secrets.token_hex(3)}/debit",
                      {"days": 1, "comment": "x"}, key), 404)
    assert stored_keys(db, key) == 0
    assert keyed(admin, f"/admin/partners/{p.name}/debit", {"days": 1, "comment": "x"}, key).status_code == 200
    assert ledger_state(p) == (4, 2)


def test_keys_are_scoped_to_their_owner(admin, base_url, make_partner, ledger_state, db, clock):
    a, b = make_partner(), make_partner()
    key, body = new_key(), {"name": "ci", "scope": "read"}
    ra = keyed(a.client, f"/partners/{a.name}/tokens", body, key)
    rb = keyed(b.client, f"/partners/{b.name}/tokens", body, key)
    assert ra.status_code == rb.status_code == 201, (ra.text, rb.text)
    assert "idempotent-replayed" not in ra.headers and "idempotent-replayed" not in rb.headers
    assert ra.json()["id"] != rb.json()["id"]
    # Each partner's repeat replays its own answer, never the other's.
    ra2 = keyed(a.client, f"/partners/{a.name}/tokens", body, key)
    assert ra2.status_code == 201 and ra2.headers["idempotent-replayed"] == "true"
    assert ra2.json()["id"] == ra.json()["id"]
    assert len(a.get(f"/partners/{a.name}/tokens").json()["tokens"]) == 2  # the fixture's and one "ci"

    # The operator using the same key is a third, independent owner.
    c = make_partner(balance=1)
    r = keyed(admin, f"/admin/partners/{c.name}/credit", {"days": 4, "comment": "x"}, key)
    assert r.status_code == 200 and "idempotent-replayed" not in r.headers
    assert ledger_state(c) == (5, 2)

    # A second operator token is a separate owner too: its use of the key is a new request.
    other = db.run(lambda s: auth.issue(s, kind="operator", scope="full", now_ms=clock.now_ms(), name="2nd"))
    with new_client(base_url, other.token) as client:
        r2 = keyed(client, f"/admin/partners/{c.name}/credit", {"days": 4, "comment": "x"}, key)
    assert r2.status_code == 200 and "idempotent-replayed" not in r2.headers
    assert ledger_state(c) == (9, 3)


def test_key_length_is_checked(admin, make_partner, ledger_state):
    p = make_partner(balance=5)
    body = {"days": 1, "comment": "x"}
    for bad in ("k" * 256, "k" * 1000, ""):
        check_error(keyed(admin, f"/admin/partners/{p.name}/debit", body, bad), 422, message="Idempotency-Key")
    assert ledger_state(p) == (5, 1)
    longest = "k" * 200 + secrets.token_hex(27) + "z"  # exactly 255 characters
    assert len(longest) == 255
    r = keyed(admin, f"/admin/partners/{p.name}/debit", body, longest)
    assert r.status_code == 200, r.text
    assert keyed(admin, f"/admin/partners/{p.name}/debit", body, longest).headers["idempotent-replayed"] == "true"
    assert ledger_state(p) == (4, 2)


def test_keys_are_kept_72_hours_and_purge_removes_only_older_ones(admin, make_partner, ledger_state, db, clock):
    p = make_partner(balance=100)
    path, body = f"/admin/partners/{p.name}/credit", {"days": 1, "comment": "daily"}
    old, recent, fresh = new_key(), new_key(), new_key()
    t0 = clock.now_ms()
    first_old = keyed(admin, path, body, old)
    clock.advance(seconds=9 * 3600)
    first_recent = keyed(admin, path, body, recent)
    clock.advance(seconds=71 * 3600)  # now t0 + 80 h: "recent" is 71 h old
    keyed(admin, path, body, fresh)
    assert ledger_state(p) == (103, 4)

    # Without a purge even the 80-hour-old key still replays.
    assert keyed(admin, path, body, old).headers.get("idempotent-replayed") == "true"

    cutoff = clock.now_ms() - 72 * HOUR_MS
    assert cutoff == t0 + 8 * HOUR_MS
    removed = db.run(idempotency.purge, cutoff)
    assert removed >= 1
    assert (stored_keys(db, old), stored_keys(db, recent), stored_keys(db, fresh)) == (0, 1, 1)
    assert db.scalar("SELECT COUNT(*) FROM idempotency_keys WHERE created_ms < :c", c=cutoff) == 0

    r = keyed(admin, path, body, recent)
    assert r.headers.get("idempotent-replayed") == "true" and r.content == first_recent.content
    # The forgotten key is a new request again.
    r = keyed(admin, path, body, old)
    assert r.status_code == 200 and "idempotent-replayed" not in r.headers
    assert r.json()["transactionId"] != first_old.json()["transactionId"]
    assert ledger_state(p) == (104, 5)
