"""The async client under concurrency: 100 extensions at once against a balance of 60 days."""

from __future__ import annotations

import asyncio

from dayledger.client import InsufficientBalance


def test_100_concurrent_extends_against_60_days(make_partner, async_client_for, client_for, db,
                                                assert_ledger_sound):
    p = make_partner(balance=60)
    setup = client_for(p)
    channels = [setup.channels.create(f"c{i}").id for i in range(10)]

    async def main():
        async with async_client_for(p) as c:
            calls = [c.channels.extend(channels[i % 10], 1, f"concurrent {i}") for i in range(100)]
            return await asyncio.gather(*calls, return_exceptions=True)

    results = asyncio.run(main())
    ok = [r for r in results if not isinstance(r, BaseException)]
    short = [r for r in results if isinstance(r, InsufficientBalance)]
    assert len(ok) == 60 and len(short) == 40, [r for r in results if isinstance(r, BaseException)
                                                 and not isinstance(r, InsufficientBalance)][:3]
    assert all(e.code == 402 and e.message == "insufficient balance" for e in short)
    assert sorted(r.balance for r in ok) == list(range(60))  # each success saw its own balance
    assert setup.partner.balance() == 0
    assert db.scalar("SELECT COUNT(*) FROM ledger_entries WHERE partner_id = :p AND type = 'extend'", p=p.id) == 60
    # Every channel holds exactly the days its successes added.
    added = {cid: 0 for cid in channels}
    for r, i in zip(results, range(100), strict=True):
        if not isinstance(r, BaseException):
            added[channels[i % 10]] += 1
    for cid in channels:
        assert db.scalar("SELECT COALESCE(SUM(channel_days), 0) FROM ledger_entries WHERE channel_id = :c "
                         "AND type = 'extend'", c=cid) == added[cid]
    assert_ledger_sound()
