"""The runway on the partner profile: runwayDays = floor(balance ÷ channels.burning), the
running trial or live channels the balance pays for (paid time, or an active auto-extend
policy), and runwayUntil; ``runway.low`` once per fall below the partner's
runwayNoticeDays, re-armed when the runway is back at or above it."""

from __future__ import annotations

import json

from dayledger.clock import DAY_MS

from .autoextend_support import HOUR_MS, date_of, round_now


def paid_channel(p, days: int = 1) -> str:
    cid = p.put("/channels", json={"name": "rw", "projectId": "default"}).json()["id"]
    assert p.post(f"/channels/{cid}/extend", json={"days": days, "comment": "by hand"}).status_code == 200
    return cid


def profile(p) -> dict:
    r = p.get(f"/partners/{p.name}")
    assert r.status_code == 200, r.text
    return r.json()


def test_runway_counts_channels_the_balance_pays_for(make_partner, clock):
    p = make_partner(balance=102, trial=True)
    got = profile(p)
    assert (got["runwayDays"], got["runwayUntil"], got["channels"]["burning"]) == (None, None, 0)

    # Trial channels (5 free days each): nothing burns while they have no paid time.
    free = [p.put("/channels", json={"name": f"t{i}", "projectId": "default"}).json()["id"] for i in range(3)]
    assert profile(p)["runwayDays"] is None

    # Paid time after the trial: burns one day a day (renewed by hand or by a policy).
    assert p.post(f"/channels/{free[0]}/extend", json={"days": 2, "comment": "queued"}).status_code == 200
    # An active policy on a channel still in its free trial: it will pay when the trial ends.
    assert p.put(f"/channels/{free[1]}/autoextend", json={"belowDays": 1, "extendDays": 30}).status_code == 200
    # A paused policy pays nothing.
    assert p.put(f"/channels/{free[2]}/autoextend",
                 json={"belowDays": 1, "extendDays": 1, "paused": True}).status_code == 200
    # A sandbox and a stopped channel burn nothing.
    sandbox = p.put("/channels", json={"name": "sb", "projectId": "default"}).json()["id"]
    assert p.patch(f"/channels/{sandbox}/mode", json={"mode": "dev"}).status_code == 200
    stopped = paid_channel(p)
    assert p.post(f"/channels/{stopped}/stop", json={}).status_code == 200

    got = profile(p)
    assert got["balance"] == 102 - 2 - 1 and got["channels"]["burning"] == 2
    assert got["runwayDays"] == 99 // 2 == 49
    assert got["runwayUntil"] == date_of(clock.now_ms() + 49 * DAY_MS)

    # A project's default covers the free channels without their own policy.
    assert p.put("/projects/default/autoextend", json={"belowDays": 1, "extendDays": 1}).status_code == 200
    got = profile(p)  # free[2]'s own paused policy wins: still not burning; the stopped one neither
    assert got["channels"]["burning"] == 2
    assert p.delete(f"/channels/{free[2]}/autoextend").status_code == 200
    got = profile(p)
    assert got["channels"]["burning"] == 3 and got["runwayDays"] == 33
    assert got["runwayUntil"] == date_of(clock.now_ms() + 33 * DAY_MS)


def test_runway_low_once_per_fall_and_rearmed(make_partner, admin, db, db_url, clock):
    p = make_partner(balance=42)
    for _ in range(2):
        paid_channel(p)
    r = p.put(f"/partners/{p.name}/notices", json={"runwayNoticeDays": 10})
    assert r.status_code == 200, r.text

    def lows() -> list[dict]:
        rows = db.rows("SELECT payload FROM events WHERE partner_id = :p AND type = 'runway.low' ORDER BY id",
                       p=p.id)
        return [row[0] if isinstance(row[0], dict) else json.loads(row[0]) for row in rows]

    def round_() -> None:
        clock.advance(ms=HOUR_MS)
        round_now(db_url, clock)

    def move(days: int, how: str) -> None:
        r = admin.post(f"/admin/partners/{p.name}/{how}", json={"days": days, "comment": "test"})
        assert r.status_code == 200, r.text

    round_()
    assert lows() == [] and profile(p)["runwayDays"] == 20  # 40 ÷ 2
    move(21, "debit")  # 19 ÷ 2 = 9 < 10
    round_()
    assert lows() == [{"runwayDays": 9, "runwayUntil": date_of(clock.now_ms() + 9 * DAY_MS),
                       "runwayNoticeDays": 10, "balance": 19, "burnPerDay": 2}]
    move(5, "debit")
    round_()
    round_()
    assert len(lows()) == 1  # still the same fall

    move(6, "credit")  # 20 ÷ 2 = 10: back at the threshold, re-armed (no notice)
    round_()
    assert len(lows()) == 1
    assert db.scalar("SELECT runway_alerted FROM partners WHERE id = :p", p=p.id) in (False, 0)
    move(1, "debit")  # 19 ÷ 2 = 9: a second fall
    round_()
    assert len(lows()) == 2 and lows()[1]["runwayDays"] == 9

    # Turned off: re-armed, and no notice whatever the runway.
    assert p.put(f"/partners/{p.name}/notices", json={"runwayNoticeDays": None}).status_code == 200
    round_()
    assert db.scalar("SELECT runway_alerted FROM partners WHERE id = :p", p=p.id) in (False, 0)
    move(19, "debit")
    round_()
    assert len(lows()) == 2


def test_a_partner_with_nothing_burning_is_never_low(make_partner, db, db_url, clock):
    p = make_partner(balance=0)
    assert p.put(f"/partners/{p.name}/notices", json={"runwayNoticeDays": 5}).status_code == 200
    clock.advance(ms=HOUR_MS)
    round_now(db_url, clock)
    assert db.rows("SELECT id FROM events WHERE partner_id = :p AND type = 'runway.low'", p=p.id) == []
