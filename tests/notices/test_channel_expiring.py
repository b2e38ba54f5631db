"""SPEC 7: ``channel.expiring`` N days (default 3) before a channel's time ends, once per
channel per paid period: an extension that moves the end makes the next approach told again."""

from __future__ import annotations

from dayledger.channels.repository import notify_expiring
from dayledger.clock import DAY_MS

HOUR_MS = 3_600_000


def expiring(db, partner) -> list[tuple]:
    return db.rows("SELECT channel_id, created_ms FROM events WHERE partner_id = :p AND type = 'channel.expiring' "
                   "ORDER BY id", p=partner.id)


def drain(db, now_ms: int, batch: int = 100) -> int:
    """What the worker does each round: steps until nothing is due (the database may hold
    other tests' channels, so counts are read from this partner's events)."""
    steps = 0
    while db.run(notify_expiring, now_ms, batch) == batch:
        steps += 1
    return steps + 1


def told(db, partner) -> list:
    return [cid for cid, _ in expiring(db, partner)]


def test_channels_about_to_end_are_told_once_per_period(db, clock, make_partner, insert_channels):
    p = make_partner(balance=10)
    now = clock.now_ms()
    soon = insert_channels(p, 1, created_ms=now - DAY_MS, active_till_ms=now + 2 * DAY_MS)[0]["id"]
    edge = insert_channels(p, 1, created_ms=now - DAY_MS, active_till_ms=now + 3 * DAY_MS)[0]["id"]
    later = insert_channels(p, 1, created_ms=now - DAY_MS, active_till_ms=now + 3 * DAY_MS + HOUR_MS)[0]["id"]
    ended = insert_channels(p, 1, created_ms=now - 2 * DAY_MS, active_till_ms=now - HOUR_MS)[0]["id"]
    sandbox = insert_channels(p, 1, created_ms=now - DAY_MS, active_till_ms=now + DAY_MS, mode="dev")[0]["id"]

    drain(db, now)
    assert sorted(told(db, p)) == sorted([soon, edge])  # not later, ended or the sandbox
    drain(db, now)
    assert sorted(told(db, p)) == sorted([soon, edge])  # told once, whatever the rounds

    clock.advance(ms=2 * HOUR_MS)  # the third channel now ends within 3 days
    drain(db, clock.now_ms())
    assert told(db, p)[2:] == [later]

    # Extending moves the end: a new period, told again when it nears its end.
    r = p.post(f"/channels/{soon}/extend", json={"days": 1, "comment": "one more day"})
    assert r.status_code == 200, r.text
    drain(db, clock.now_ms())
    assert told(db, p)[3:] == [soon]
    assert ended not in told(db, p) and sandbox not in told(db, p)


def test_the_worker_job_runs_the_scan_in_batches(db, clock, make_partner, insert_channels):
    p = make_partner()
    now = clock.now_ms()
    ids = [row["id"] for row in insert_channels(p, 25, created_ms=now - DAY_MS, active_till_ms=now + DAY_MS)]
    assert drain(db, now, batch=10) >= 3
    assert sorted(told(db, p)) == sorted(ids)
