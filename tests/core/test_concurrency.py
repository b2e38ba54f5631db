"""Balance never goes below zero, whatever the concurrency (SPEC 4.1): many requests at
once through the real HTTP server, then the stored balance, the entries and the ledger
invariants are checked."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import httpx

from .conftest import check_error


async def _send_all(base_url: str, token: str, requests: list[tuple[str, dict]]) -> list[httpx.Response]:
    """Send every (path, body) at the same moment, each on its own connection."""
    limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        start = asyncio.Event()

        async def one(path: str, body: dict) -> httpx.Response:
            await start.wait()
            return await client.post(path, json=body)

        tasks = [asyncio.create_task(one(path, body)) for path, body in requests]
        await asyncio.sleep(0)
        start.set()
        return await asyncio.gather(*tasks)


def send_all(base_url, token, requests):
    return asyncio.run(_send_all(base_url, token, requests))


def test_fifty_concurrent_debits_against_ten_days(base_url, operator_token, make_partner, ledger_state,
                                                  assert_ledger_sound):
    p = make_partner(balance=10)
    path = f"/admin/partners/{p.name}/debit"
    responses = send_all(base_url, operator_token,
                         [(path, {"days": 1, "comment": f"concurrent debit {i}"}) for i in range(50)])

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 10, 402: 40}, statuses
    for r in responses:
        if r.status_code == 402:
            check_error(r, 402, message="insufficient balance")
    # Each success saw a distinct balance: 9, 8, ... 0 (no two debits read the same balance).
    assert sorted(r.json()["balance"] for r in responses if r.status_code == 200) == list(range(10))
    assert p.balance == 0
    assert ledger_state(p) == (0, 1 + 10)  # the initial credit and ten debits; no entry for a 402
    assert_ledger_sound()


def test_concurrent_debits_larger_than_one_day(base_url, operator_token, make_partner, ledger_state,
                                               assert_ledger_sound):
    """Debits of 3 against 10: exactly three fit, whatever their order; 1 day stays."""
    p = make_partner(balance=10)
    path = f"/admin/partners/{p.name}/debit"
    responses = send_all(base_url, operator_token, [(path, {"days": 3, "comment": "three"}) for _ in range(20)])
    assert Counter(r.status_code for r in responses) == {200: 3, 402: 17}
    assert ledger_state(p) == (1, 4)
    assert_ledger_sound()


def test_concurrent_credits_and_debits_mixed(base_url, operator_token, make_partner, ledger_state,
                                             assert_ledger_sound):
    """Credits and debits interleaved; the debits total less than the starting balance, so
    every request must succeed and the final balance is exact."""
    rng = random.Random(20261121)
    p = make_partner(balance=100)
    requests, expected = [], 100
    for i in range(60):
        days = rng.randint(1, 4)
        if i % 2:
            requests.append((f"/admin/partners/{p.name}/credit", {"days": days, "comment": f"credit {i}"}))
            expected += days
        else:
            requests.append((f"/admin/partners/{p.name}/debit", {"days": days, "comment": f"debit {i}"}))
            expected -= days
    rng.shuffle(requests)

    responses = send_all(base_url, operator_token, requests)

    assert [r.status_code for r in responses] == [200] * len(requests), [r.text for r in responses
                                                                          if r.status_code != 200]
    assert p.balance == expected
    assert ledger_state(p) == (expected, 1 + len(requests))
    assert_ledger_sound()


def test_concurrent_mixed_near_zero_never_overdraws(base_url, operator_token, make_partner, db,
                                                    ledger_state, assert_ledger_sound):
    """Debits that may or may not fit depending on order: whichever succeed, the balance is
    the start plus credits minus successful debits, and never negative in any entry."""
    p = make_partner(balance=5)
    requests = [(f"/admin/partners/{p.name}/debit", {"days": 2, "comment": "d"}) for _ in range(30)]
    requests += [(f"/admin/partners/{p.name}/credit", {"days": 1, "comment": "c"}) for _ in range(10)]
    random.Random(7).shuffle(requests)

    responses = send_all(base_url, operator_token, requests)

    ok_debits = sum(1 for (path, _), r in zip(requests, responses) if path.endswith("/debit") and r.status_code == 200)
    failed = [r for r in responses if r.status_code != 200]
    assert all(r.status_code == 402 for r in failed), [r.text for r in failed]
    for (path, _), r in zip(requests, responses):
        if path.endswith("/credit"):
            assert r.status_code == 200, r.text
    expected = 5 + 10 - 2 * ok_debits
    assert expected >= 0 and ok_debits >= 2  # the first two debits always fit the 5 days
    assert ledger_state(p) == (expected, 1 + 10 + ok_debits)
    assert db.scalar("SELECT MIN(balance_after) FROM ledger_entries WHERE partner_id = :id", id=p.id) >= 0
    assert_ledger_sound()
