"""Auto-extend policies applied by the worker's rounds over 60 simulated days (the test
clock moves 6 hours a round): the exact days each policy debits, ``until`` and
``budgetDays`` respected, a project's default and a channel's own policy, sandboxes and
stopped channels left alone, one ``autoextend.failed`` per shortfall, a cycle whose
bookkeeping was lost never debited twice; ``verify`` passes after each."""

from __future__ import annotations

import pytest

from dayledger.clock import DAY_MS

from .autoextend_support import HOUR_MS, date_of, next_midnight, round_now, rounds

ROUNDS_60_DAYS = 240  # 60 days of rounds every 6 hours


@pytest.fixture
def day0(clock) -> int:
    """The tests' day 0: a UTC midnight, so ``until`` dates are whole days from it."""
    clock.set(next_midnight(clock.now_ms()))
    return clock.now_ms()


def paid_channel(p, days: int = 1, project: str = "default") -> str:
    """A channel of a partner without trials, extended by hand: ``days`` of paid time from now."""
    cid = p.put("/channels", json={"name": "ax", "projectId": project}).json()["id"]
    r = p.post(f"/channels/{cid}/extend", json={"days": days, "comment": "first days by hand"})
    assert r.status_code == 200, r.text
    return cid


def policy(p, cid: str, **body) -> dict:
    r = p.put(f"/channels/{cid}/autoextend", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def auto_entries(db, cid: str) -> list[tuple]:
    return db.rows("SELECT days, comment, idempotency_key, created_ms FROM ledger_entries WHERE channel_id = :c "
                   "AND type = 'extend' AND actor_id = 'autoextend' ORDER BY id", c=cid)


def test_daily_five_day_and_monthly_policies_over_60_days(make_partner, db, db_url, clock, day0,
                                                           assert_ledger_sound):
    p = make_partner(balance=1000)
    daily, five, monthly = paid_channel(p), paid_channel(p), paid_channel(p)
    catching_up = paid_channel(p)  # L = 2 on a channel with 1 day left
    until20 = paid_channel(p)
    budget12 = paid_channel(p)
    paused = paid_channel(p)
    ax_daily = policy(p, daily, belowDays=1, extendDays=1)["id"]
    policy(p, five, belowDays=1, extendDays=5)
    policy(p, monthly, belowDays=1, extendDays=30)
    policy(p, catching_up, belowDays=2, extendDays=1)
    policy(p, until20, belowDays=1, extendDays=1, until=date_of(day0 + 20 * DAY_MS))
    policy(p, budget12, belowDays=1, extendDays=5, budgetDays=12)
    policy(p, paused, belowDays=1, extendDays=1, paused=True)
    assert p.balance == 1000 - 7  # the first day of each, by hand

    rounds(db_url, clock, ROUNDS_60_DAYS, 6 * HOUR_MS)

    # Every channel starts with activeTill = day 1 and the rounds run at 0.25, 0.5, ..., 60 days.
    # - daily (L=1, K=1): due when activeTill - t < 1 day: at t = 0.25, 1.25, ..., 59.25: 60 times.
    # - five (L=1, K=5): activeTill 6, 11, ...: at t = 0.25 + 5k <= 60, k = 0..11: 12 × 5 = 60 days.
    # - monthly (L=1, K=30): at t = 0.25 (to day 31) and 30.25 (to day 61): 2 × 30 = 60 days.
    # - catching_up (L=2, K=1): t = 0.25 (0.75 left, to day 2) and 0.5 (1.5 left, to day 3), one
    #   extension a round; then 1.25 + k <= 60, k = 0..58: 2 + 59 = 61 days.
    # - until20 (daily, through day 20's date, i.e. before t = 21): t = 0.25 + k < 21, k = 0..20: 21 days.
    # - budget12 (K=5, budget 12): two extensions (10 days); a third would pass the budget.
    # - paused: nothing.
    expected = {daily: 60, five: 60, monthly: 60, catching_up: 61, until20: 21, budget12: 10, paused: 0}
    for cid, days in expected.items():
        assert sum(e[0] for e in auto_entries(db, cid)) == days, cid
    assert [len(auto_entries(db, cid)) for cid in (daily, five, monthly, budget12)] == [60, 12, 2, 2]
    assert p.balance == 1000 - 7 - sum(expected.values())

    # The entries are the ordinary extension's, commented and keyed by policy and cycle.
    first, last = auto_entries(db, daily)[0], auto_entries(db, daily)[-1]
    assert first[:3] == (1, f"auto-extend policy {ax_daily} cycle 1", f"autoextend:{ax_daily}:{daily}:1")
    assert first[3] == day0 + 6 * HOUR_MS
    assert last[1] == f"auto-extend policy {ax_daily} cycle 60"
    events = db.rows("SELECT COUNT(*) FROM events WHERE channel_id = :c AND type = 'channel.extended'", c=daily)
    assert events == [(61,)]  # the first day by hand, and 60 by the policy
    got = p.get(f"/channels/{daily}").json()
    assert got["activeTill"] == day0 + 61 * DAY_MS

    shown = p.get(f"/channels/{daily}/autoextend").json()
    assert shown["spentDays"] == 60 and shown["cycles"] == 60 and shown["state"] == "active"
    assert shown["lastExtendedTS"] == day0 + 59 * DAY_MS + 6 * HOUR_MS
    assert p.get(f"/channels/{until20}/autoextend").json()["state"] == "ended"
    b = p.get(f"/channels/{budget12}/autoextend").json()
    assert (b["state"], b["spentDays"], b["budgetLeftDays"]) == ("spent", 10, 2)
    assert p.get(f"/channels/{paused}/autoextend").json()["spentDays"] == 0
    assert_ledger_sound()


def test_a_project_default_covers_its_channels_and_a_channels_own_policy_wins(make_partner, db, db_url, clock,
                                                                             day0, assert_ledger_sound):
    p = make_partner(balance=500)
    project = p.put("/projects", json={"name": "auto"}).json()["id"]
    covered = [paid_channel(p, project=project) for _ in range(3)]
    own_paused = paid_channel(p, project=project)
    elsewhere = paid_channel(p)  # the default project: no policy
    sandbox = p.put("/channels", json={"name": "sb", "projectId": project}).json()["id"]
    assert p.patch(f"/channels/{sandbox}/mode", json={"mode": "dev"}).status_code == 200
    stopped = paid_channel(p, days=1, project=project)
    assert p.post(f"/channels/{stopped}/stop", json={}).status_code == 200
    r = p.put(f"/projects/{project}/autoextend", json={"belowDays": 1, "extendDays": 5})
    assert r.status_code == 200, r.text
    policy(p, own_paused, belowDays=1, extendDays=1, paused=True)

    rounds(db_url, clock, 40, 6 * HOUR_MS)  # 10 days: t = 0.25 and 5.25 extend, to day 11

    for cid in covered:
        assert sum(e[0] for e in auto_entries(db, cid)) == 10
    for cid in (own_paused, elsewhere, sandbox, stopped):
        assert auto_entries(db, cid) == [], cid
    shown = p.get(f"/projects/{project}/autoextend").json()
    assert shown["spentDays"] == 30  # one budget for all its channels
    assert p.balance == 500 - 6 - 30
    assert_ledger_sound()


def test_a_short_balance_fails_once_per_shortfall_and_extends_once_credited(make_partner, admin, db, db_url,
                                                                           clock, day0, assert_ledger_sound):
    p = make_partner(balance=8)
    cids = [paid_channel(p) for _ in range(2)]  # balance 6
    r = p.put("/projects/default/autoextend", json={"belowDays": 1, "extendDays": 5})
    ax = r.json()["id"]

    def failed() -> list[dict]:
        return [row[0] for row in db.rows("SELECT payload FROM events WHERE partner_id = :p "
                                          "AND type = 'autoextend.failed' ORDER BY id", p=p.id)]

    clock.advance(ms=6 * HOUR_MS)
    round_now(db_url, clock)  # the first channel takes 5 days (balance 1); the second is short
    assert sorted(sum(e[0] for e in auto_entries(db, c)) for c in cids) == [0, 5]
    short = next(c for c in cids if not auto_entries(db, c))
    events = failed()
    assert len(events) == 1
    payload = events[0] if isinstance(events[0], dict) else __import__("json").loads(events[0])
    assert payload["policyId"] == ax and payload["channelId"] == short and payload["days"] == 5
    assert payload["balance"] == 1 and payload["cycle"] == 1 and payload["scope"] == "project"
    shown = p.get(f"/channels/{short}/autoextend").json()
    assert shown["lastFailure"]["code"] == "insufficient_balance" and shown["lastFailure"]["channelId"] == short

    for _ in range(3):  # tried again every round, told once
        clock.advance(ms=HOUR_MS)
        round_now(db_url, clock)
    assert len(failed()) == 1 and auto_entries(db, short) == []

    assert admin.post(f"/admin/partners/{p.name}/credit", json={"days": 4, "comment": "top up"}).status_code == 200
    clock.advance(ms=HOUR_MS)
    round_now(db_url, clock)  # extended as soon as the balance allows
    assert sum(e[0] for e in auto_entries(db, short)) == 5
    assert p.balance == 0
    assert p.get(f"/channels/{short}/autoextend").json()["lastFailure"] is None

    # A new shortfall (the next cycle) is a new notice.
    rounds(db_url, clock, 24, 6 * HOUR_MS)
    assert len(failed()) == 2
    assert_ledger_sound()


def test_a_cycle_whose_bookkeeping_was_lost_is_not_debited_again(make_partner, db, db_url, clock, day0,
                                                                 assert_ledger_sound):
    """The crash between the debit and the bookkeeping, at the idempotency level: the cycle
    count and spent days are set back as if their write had been lost after the entry
    (they are written in the debit's transaction, so only a forced edit can do this). The
    next rounds find cycle 1's key in the ledger, count it and do not debit it again."""
    p = make_partner(balance=20)
    cid = paid_channel(p)
    ax = policy(p, cid, belowDays=3, extendDays=1)["id"]  # 1 day left: due every round until 3 left
    clock.advance(ms=HOUR_MS)
    round_now(db_url, clock)
    assert len(auto_entries(db, cid)) == 1

    async def forget(session):
        from sqlalchemy import text
        await session.execute(text("UPDATE autoextend_cycles SET cycles = 0, tried_ms = NULL WHERE policy_id = :a"),
                              {"a": ax})
        await session.execute(text("UPDATE autoextend_policies SET spent_days = 0 WHERE id = :a"), {"a": ax})
    db.run(forget)
    assert db.verify() != []  # the books disagree with the ledger now

    clock.advance(ms=HOUR_MS)
    round_now(db_url, clock)  # finds cycle 1 made: counts it (cycles, spentDays), debits nothing
    assert [e[2] for e in auto_entries(db, cid)] == [f"autoextend:{ax}:{cid}:1"]
    assert p.balance == 20 - 1 - 1
    clock.advance(ms=HOUR_MS)
    round_now(db_url, clock)  # cycle 2, once
    assert [e[2] for e in auto_entries(db, cid)] == [f"autoextend:{ax}:{cid}:1", f"autoextend:{ax}:{cid}:2"]
    assert p.get(f"/channels/{cid}/autoextend").json()["spentDays"] == 2  # cycle 1 counted back in
    assert_ledger_sound()



def test_a_channel_a_running_policy_covers_is_not_told_it_is_expiring(make_partner, db, db_url, clock, day0):
    """channel.expiring would tell a daily policy's channel every day, while the policy
    extends it. Paused, or failing on a short balance, the channel is told as usual."""
    from dayledger.channels.repository import notify_expiring

    p = make_partner(balance=4)
    covered, paused, alone = paid_channel(p), paid_channel(p), paid_channel(p)  # balance 1
    policy(p, covered, belowDays=1, extendDays=2)
    policy(p, paused, belowDays=1, extendDays=1, paused=True)

    def told() -> set[str]:
        return {r[0] for r in db.rows("SELECT channel_id FROM events WHERE partner_id = :p "
                                      "AND type = 'channel.expiring'", p=p.id)}

    db.run(notify_expiring, clock.now_ms(), 100)
    assert told() == {paused, alone}
    clock.advance(ms=6 * HOUR_MS)
    round_now(db_url, clock)  # 18 hours left; the balance (1) cannot pay 2 days: the policy is failing
    assert auto_entries(db, covered) == []
    db.run(notify_expiring, clock.now_ms(), 100)
    assert told() == {covered, paused, alone}


def test_a_clients_idempotency_key_cannot_take_a_cycles_key(make_partner, db, db_url, clock, day0,
                                                            assert_ledger_sound):
    """The ledger's uniqueness of cycle keys covers only the worker's own entries: a client
    sending the next cycle's key on a manual extension neither fails nor stops the cycle."""
    p = make_partner(balance=10)
    cid = paid_channel(p)
    ax = policy(p, cid, belowDays=1, extendDays=1)["id"]
    forged = f"autoextend:{ax}:{cid}:1"
    r = p.post(f"/channels/{cid}/extend", json={"days": 1, "comment": "by hand"}, headers={"Idempotency-Key": forged})
    assert r.status_code == 200, r.text
    clock.advance(days=1, ms=6 * HOUR_MS)  # 18 hours left
    round_now(db_url, clock)
    assert [e[2] for e in auto_entries(db, cid)] == [forged]  # the worker's cycle 1, besides the client's entry
    assert p.get(f"/channels/{cid}/autoextend").json()["cycles"] == 1
    assert p.balance == 10 - 3
    assert_ledger_sound()



def test_a_shortfall_ends_when_the_balance_can_pay_again_even_without_an_extension(
        make_partner, admin, db, db_url, clock, day0, assert_ledger_sound):
    p = make_partner(balance=12)
    a, b = paid_channel(p, days=1), paid_channel(p, days=5)  # balance 6
    assert p.put("/projects/default/autoextend", json={"belowDays": 1, "extendDays": 10}).status_code == 200

    def failed() -> int:
        return db.scalar("SELECT COUNT(*) FROM events WHERE partner_id = :p AND type = 'autoextend.failed'", p=p.id)

    clock.advance(ms=6 * HOUR_MS)
    round_now(db_url, clock)  # a: 18 hours left, 6 < 10: the first shortfall
    assert failed() == 1
    assert p.post(f"/channels/{a}/stop", json={}).status_code == 200  # the partner lets it go
    assert admin.post(f"/admin/partners/{p.name}/credit", json={"days": 10, "comment": "in"}).status_code == 200
    clock.advance(ms=HOUR_MS)
    round_now(db_url, clock)  # 16 days: the shortfall is over, though nothing was due to extend
    assert admin.post(f"/admin/partners/{p.name}/debit", json={"days": 10, "comment": "out"}).status_code == 200
    clock.advance(days=4)  # b: less than a day left, 6 < 10: a new shortfall, told
    round_now(db_url, clock)
    assert failed() == 2
    assert auto_entries(db, a) == auto_entries(db, b) == []
    assert_ledger_sound()
