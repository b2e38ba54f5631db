"""Channel lifecycle rules (SPEC 4.2-4.8) driven through the real server with the test clock:
free trials, extensions, refunds of unused paid days (exact at day boundaries), modes,
sandbox limits, stop/start, expiry, the creation rate limit, local "valid through" dates
and per-channel statements. Every scenario ends with the ledger invariants."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from .conftest import (DAY, MINUTE, check_error, create_channel, extend, extend_ok, get_channel, history,
                       listed_ids, set_mode)


def test_trial_extend_live_then_partial_day_delete_refund(make_partner, clock, assert_ledger_sound):
    p = make_partner(balance=30, trial=True)
    t0 = clock.now_ms()

    ch = create_channel(p, "trial to live")
    assert ch["mode"] == "trial"
    assert ch["creationTS"] == t0
    assert ch["trial"] == ch["activeTill"] == t0 + 5 * DAY  # trialDays defaults to 5
    assert ch["stopped"] is False
    assert ch["billingStatus"] == "Trial" and ch["paidDaysLeft"] == 0
    assert p.balance == 30  # the trial is free
    grant = history(p, ch["id"])
    assert [(e["type"], e["days"], e["balanceDelta"], e["channelDays"]) for e in grant] == [("trial_grant", 5, 0, 5)]

    # Paid days go after the free trial: activeTill = max(now, activeTill) + days.
    r = extend_ok(p, ch["id"], 10, "ten paid days")
    assert r["activeTill"] == t0 + 15 * DAY
    assert r["daysAdded"] == 10 and r["balance"] == 20
    got = get_channel(p, ch["id"])
    assert got["paidDaysLeft"] == 10 and got["billingStatus"] == "Paid" and got["trial"] == t0 + 5 * DAY

    # One day later, going live removes the 4 remaining free days.
    clock.advance(days=1)
    r = set_mode(p, ch["id"], "live")
    assert r.status_code == 200, r.text
    assert r.json()["mode"] == "live" and r.json()["daysReturned"] == 0
    got = get_channel(p, ch["id"])
    assert got["mode"] == "live"
    assert got["activeTill"] == t0 + 11 * DAY
    assert got["trial"] == t0 + 1 * DAY
    assert got["paidDaysLeft"] == 10
    assert p.balance == 20

    # 2.5 days later 7.5 days are left: 7 come back, the current partial day does not.
    clock.advance(days=2.5)
    r = p.delete(f"/channels/{ch['id']}")
    assert r.status_code == 200, r.text
    assert r.json()["success"] is True and r.json()["daysReturned"] == 7 and r.json()["balance"] == 27
    assert p.balance == 27
    check_error(p.get(f"/channels/{ch['id']}"), 404)
    assert ch["id"] not in listed_ids(p)
    assert ch["id"] not in listed_ids(p, "/channels/list/default")
    types = [(e["type"], e["balanceDelta"]) for e in history(p, ch["id"])]
    assert types == [("refund", 7), ("extend", -10), ("trial_grant", 0)]
    assert_ledger_sound()


def test_non_eligible_partner_gets_no_trial_and_runs_once_extended(make_partner, clock, assert_ledger_sound):
    p = make_partner(balance=10, trial=False)
    t0 = clock.now_ms()

    ch = create_channel(p, "no trial")
    assert ch["mode"] == "trial"
    assert ch["activeTill"] == ch["creationTS"] == t0  # not running until days are added
    assert ch["trial"] is None
    assert ch["billingStatus"] == "Unpaid" and ch["daysLeft"] == 0 and ch["validThrough"] is None
    assert [e["type"] for e in history(p, ch["id"])] == []  # no trial_grant
    check_error(p.post(f"/channels/{ch['id']}/start"), 409, message="extend")
    check_error(set_mode(p, ch["id"], "live"), 403, message="extend")
    assert p.balance == 10

    r = extend_ok(p, ch["id"], 3)
    assert r["activeTill"] == t0 + 3 * DAY and r["balance"] == 7
    got = get_channel(p, ch["id"])
    assert got["billingStatus"] == "Paid" and got["paidDaysLeft"] == 3 and got["daysLeft"] == 3
    assert got["trial"] is None and got["mode"] == "trial"

    # trial -> live keeps every paid day (there is no free time to remove).
    assert set_mode(p, ch["id"], "live").status_code == 200
    got = get_channel(p, ch["id"])
    assert got["mode"] == "live" and got["activeTill"] == t0 + 3 * DAY and got["trial"] is None
    assert p.post(f"/channels/{ch['id']}/start").status_code == 200

    # Paid days of a channel that never had a trial are refunded in full.
    r = p.delete(f"/channels/{ch['id']}")
    assert r.json()["daysReturned"] == 3
    assert p.balance == 10
    assert_ledger_sound()


def test_trial_days_follow_the_partner_setting(make_partner, clock, assert_ledger_sound):
    p = make_partner(trial=True, trialDays=2)
    t0 = clock.now_ms()
    ch = create_channel(p)
    assert ch["trial"] == ch["activeTill"] == t0 + 2 * DAY
    entry = history(p, ch["id"])[0]
    assert (entry["type"], entry["days"], entry["balanceDelta"]) == ("trial_grant", 2, 0)
    assert_ledger_sound()


@pytest.mark.parametrize("elapsed_ms, expected", [
    (0, 5),                  # exactly 5 days left -> 5
    (1, 4),                  # 5 days minus 1 ms -> 4
    (2 * DAY, 3),            # exactly 3 days left -> 3
    (2 * DAY + 1, 2),        # 3 days minus 1 ms -> 2
    (5 * DAY - 1, 0),        # 1 ms left -> 0
    (5 * DAY, 0),            # nothing left -> 0
    (7 * DAY, 0),            # long past activeTill: never negative
])
def test_refund_at_exact_day_boundaries(make_partner, clock, elapsed_ms, expected, assert_ledger_sound):
    p = make_partner(balance=5)
    t0 = clock.now_ms()
    ch = create_channel(p)
    extend_ok(p, ch["id"], 5)  # activeTill = t0 + 5 days exactly
    assert p.balance == 0

    clock.set(t0 + elapsed_ms)
    assert get_channel(p, ch["id"])["paidDaysLeft"] == expected
    r = p.delete(f"/channels/{ch['id']}")
    assert r.status_code == 200, r.text
    assert r.json()["daysReturned"] == expected
    assert p.balance == expected
    refunds = history(p, type="refund")
    assert [e["days"] for e in refunds] == ([expected] if expected else [])
    assert_ledger_sound()


@pytest.mark.parametrize("elapsed_ms, expected", [
    (0, 3),                  # during the trial only the 3 paid days come back, never the 5 free ones
    (1, 3),
    (5 * DAY - 1, 3),        # the last millisecond of the trial: still every paid day
    (5 * DAY, 3),            # trial ended exactly now: 3 days left, all paid
    (5 * DAY + 1, 2),        # 3 paid days minus 1 ms
    (7 * DAY + 1, 0),        # less than one paid day left
])
def test_trial_part_is_never_refunded(make_partner, clock, elapsed_ms, expected, assert_ledger_sound):
    p = make_partner(balance=3, trial=True)
    t0 = clock.now_ms()
    ch = create_channel(p)
    assert extend_ok(p, ch["id"], 3)["activeTill"] == t0 + 8 * DAY

    clock.set(t0 + elapsed_ms)
    r = p.delete(f"/channels/{ch['id']}")
    assert r.status_code == 200, r.text
    assert r.json()["daysReturned"] == expected
    assert p.balance == expected
    assert_ledger_sound()


def test_unpaid_trial_channel_refunds_nothing(make_partner, clock, assert_ledger_sound):
    p = make_partner(balance=4, trial=True)
    ch = create_channel(p)
    stop = p.post(f"/channels/{ch['id']}/stop", json={"saveDays": True})
    assert stop.status_code == 200 and stop.json()["daysReturned"] == 0
    assert get_channel(p, ch["id"])["activeTill"] == ch["activeTill"]  # the free time is kept
    assert set_mode(p, ch["id"], "dev").json()["daysReturned"] == 0
    assert p.delete(f"/channels/{ch['id']}").json()["daysReturned"] == 0
    assert p.balance == 4
    assert [e["type"] for e in history(p)] == ["trial_grant", "adjustment"]
    assert_ledger_sound()


def test_stop_with_and_without_save_days(make_partner, clock, assert_ledger_sound):
    p = make_partner(balance=20)
    t0 = clock.now_ms()
    ch = create_channel(p)
    extend_ok(p, ch["id"], 10)
    clock.advance(days=0.5)

    # Without a body (and with saveDays false) stop keeps the paid time.
    r = p.post(f"/channels/{ch['id']}/stop")
    assert r.status_code == 200, r.text
    assert r.json()["daysReturned"] == 0
    got = get_channel(p, ch["id"])
    assert got["stopped"] is True and got["activeTill"] == t0 + 10 * DAY
    assert p.balance == 10
    assert p.post(f"/channels/{ch['id']}/start").status_code == 200
    assert get_channel(p, ch["id"])["stopped"] is False
    r = p.post(f"/channels/{ch['id']}/stop", json={"saveDays": False})
    assert r.json()["daysReturned"] == 0 and p.balance == 10
    assert p.post(f"/channels/{ch['id']}/start").status_code == 200

    # saveDays: 9.5 days are left, 9 come back; the current half day stays on the channel.
    r = p.post(f"/channels/{ch['id']}/stop", json={"saveDays": True})
    assert r.status_code == 200, r.text
    assert r.json()["daysReturned"] == 9
    got = get_channel(p, ch["id"])
    assert got["stopped"] is True and got["activeTill"] == t0 + 1 * DAY and got["paidDaysLeft"] == 0
    assert p.balance == 19
    # A second saveDays stop has nothing more to return.
    assert p.post(f"/channels/{ch['id']}/stop", json={"saveDays": True}).json()["daysReturned"] == 0
    assert p.balance == 19

    # The half day left still allows a start; once it is gone, start needs an extension.
    assert p.post(f"/channels/{ch['id']}/start").status_code == 200
    clock.advance(days=0.5)
    assert p.post(f"/channels/{ch['id']}/stop").status_code == 200
    check_error(p.post(f"/channels/{ch['id']}/start"), 409, message="extend")
    assert get_channel(p, ch["id"])["stopped"] is True
    kinds = [(e["type"], e["balanceDelta"]) for e in history(p, ch["id"])]
    assert kinds == [("refund", 9), ("extend", -10)]
    assert_ledger_sound()


def test_restart_only_emits_an_event(make_partner, partner_state, assert_ledger_sound):
    p = make_partner(balance=2)
    ch = create_channel(p)
    extend_ok(p, ch["id"], 2)
    before = partner_state(p)
    r = p.post(f"/channels/{ch['id']}/restart")
    assert r.status_code == 200 and r.json()["success"] is True
    after = partner_state(p)
    assert after["events"][0][0] == before["events"][0][0] + 1
    assert {k: v for k, v in after.items() if k != "events"} == {k: v for k, v in before.items() if k != "events"}
    assert_ledger_sound()


def test_sandbox_limit(make_partner, assert_ledger_sound):
    p = make_partner(balance=10, trial=True)  # sandboxLimit defaults to 1
    a, b, c = (create_channel(p, name)["id"] for name in "abc")

    assert set_mode(p, a, "dev").status_code == 200
    check_error(set_mode(p, b, "dev"), 403, message="sandbox")
    assert get_channel(p, b)["mode"] == "trial"

    # An archived sandbox does not count toward the limit...
    assert set_mode(p, a, "dev_archive").status_code == 200
    got = get_channel(p, a)
    assert got["mode"] == "dev_archive" and got["stopped"] is True
    assert set_mode(p, b, "dev").status_code == 200
    # ...but bringing it back does.
    check_error(set_mode(p, a, "dev"), 403, message="sandbox")
    assert get_channel(p, a)["mode"] == "dev_archive"
    # A deleted sandbox frees its place.
    assert p.delete(f"/channels/{b}").status_code == 200
    assert set_mode(p, a, "dev").status_code == 200
    check_error(set_mode(p, c, "dev"), 403)

    two = make_partner(sandboxLimit=2)
    ids = [create_channel(two, f"s{i}")["id"] for i in range(3)]
    assert set_mode(two, ids[0], "dev").status_code == 200
    assert set_mode(two, ids[1], "dev").status_code == 200
    check_error(set_mode(two, ids[2], "dev"), 403)

    none = make_partner(sandboxLimit=0)
    only = create_channel(none)["id"]
    check_error(set_mode(none, only, "dev"), 403)
    assert set_mode(none, only, "dev_archive").status_code == 200  # archiving is not limited
    assert_ledger_sound()


def test_mode_transitions(make_partner, clock, expire, assert_ledger_sound):
    p = make_partner(balance=20, trial=True, sandboxLimit=5)
    t0 = clock.now_ms()

    # trial -> live with nothing paid: 403 and nothing changes.
    free = create_channel(p, "free")
    check_error(set_mode(p, free["id"], "live"), 403, message="extend")
    got = get_channel(p, free["id"])
    assert (got["mode"], got["activeTill"], got["trial"]) == ("trial", t0 + 5 * DAY, t0 + 5 * DAY)

    # An empty mode means live (the reference: "if empty - live").
    paid = create_channel(p, "paid")
    extend_ok(p, paid["id"], 2)
    r = p.patch(f"/channels/{paid['id']}/mode", json={})
    assert r.status_code == 200 and r.json()["mode"] == "live"
    assert get_channel(p, paid["id"])["activeTill"] == t0 + 2 * DAY  # the 5 free days are gone

    # The same mode again changes nothing.
    r = set_mode(p, paid["id"], "live")
    assert r.status_code == 200 and r.json()["daysReturned"] == 0
    assert get_channel(p, paid["id"])["activeTill"] == t0 + 2 * DAY

    # live -> trial is refused.
    check_error(set_mode(p, paid["id"], "trial"), 403)
    assert get_channel(p, paid["id"])["mode"] == "live"

    # live -> dev_archive refunds the unused paid days and stops the channel.
    clock.advance(days=0.25)
    r = set_mode(p, paid["id"], "dev_archive")
    assert r.status_code == 200 and r.json()["daysReturned"] == 1
    got = get_channel(p, paid["id"])
    assert got["mode"] == "dev_archive" and got["stopped"] is True and got["paidDaysLeft"] == 0
    check_error(p.post(f"/channels/{paid['id']}/start"), 409)
    check_error(set_mode(p, paid["id"], "live"), 403, message="extend")  # an archive has no paid time

    # trial (with paid days) -> dev refunds exactly the paid days; a sandbox runs for free.
    boxed = create_channel(p, "boxed")
    extend_ok(p, boxed["id"], 4)
    balance = p.balance
    r = set_mode(p, boxed["id"], "dev")
    assert r.status_code == 200 and r.json()["daysReturned"] == 4
    assert p.balance == balance + 4
    got = get_channel(p, boxed["id"])
    assert got["mode"] == "dev" and got["trial"] is None and got["stopped"] is False
    assert got["daysLeft"] is None and got["billingStatus"] == "Sandbox" and got["activeTill"] <= clock.now_ms()
    assert p.post(f"/channels/{boxed['id']}/start").status_code == 200  # dev needs no time

    # dev -> trial gives no new free days: like a new channel of a partner without trials it
    # has no time of its own (activeTill = creationTS), so the worker does not "expire" it,
    # and it needs an extension to run.
    clock.advance(ms=1)
    r = set_mode(p, boxed["id"], "trial")
    assert r.status_code == 200 and r.json()["daysReturned"] == 0
    got = get_channel(p, boxed["id"])
    assert got["mode"] == "trial" and got["trial"] is None and got["activeTill"] == got["creationTS"]
    assert got["billingStatus"] == "Unpaid" and got["validThrough"] is None
    clock.advance(days=1)
    expire(clock.now_ms())
    assert get_channel(p, boxed["id"])["status"] != "expired" and history(p, boxed["id"], type="expire") == []
    check_error(p.post(f"/channels/{boxed['id']}/start"), 409)
    now = clock.now_ms()
    assert extend_ok(p, boxed["id"], 2)["activeTill"] == now + 2 * DAY
    assert get_channel(p, boxed["id"])["paidDaysLeft"] == 2

    # dev -> live needs paid days first, and a sandbox is not extended (it runs free, so paid
    # days on it would run out unused): the way to live is sandbox -> trial -> extend -> live.
    sandbox = create_channel(p, "sandbox")
    assert set_mode(p, sandbox["id"], "dev").status_code == 200
    check_error(set_mode(p, sandbox["id"], "live"), 403, message="switch it to 'trial'")
    assert get_channel(p, sandbox["id"])["mode"] == "dev"
    balance = p.balance
    check_error(extend(p, sandbox["id"], 1), 409, message="sandbox")
    check_error(extend(p, paid["id"], 1), 409, message="dev_archive")
    bulk = {"channels": [{"id": boxed["id"], "days": 1}, {"id": sandbox["id"], "days": 1}], "comment": "c"}
    check_error(p.post("/channels/extend", json=bulk), 409, message=sandbox["id"])
    assert p.balance == balance and get_channel(p, boxed["id"])["paidDaysLeft"] == 2
    assert set_mode(p, paid["id"], "trial").status_code == 200
    extend_ok(p, paid["id"], 1)
    r = set_mode(p, paid["id"], "live")
    assert r.status_code == 200, r.text
    got = get_channel(p, paid["id"])
    assert got["mode"] == "live" and got["stopped"] is False and got["paidDaysLeft"] == 1
    assert_ledger_sound()


def test_expired_channel_stays_listed_and_extend_restarts_it(make_partner, clock, expire, assert_ledger_sound):
    p = make_partner(balance=5, trial=True)
    t0 = clock.now_ms()
    ch = create_channel(p, "expiring")
    unpaid_partner = make_partner()
    never_paid = create_channel(unpaid_partner, "never paid")

    # One millisecond before the end of the trial the channel still runs and is not due.
    clock.set(t0 + 5 * DAY - 1)
    expire(clock.now_ms())
    got = get_channel(p, ch["id"])
    assert got["status"] != "expired" and got["stopped"] is False

    # activeTill is exclusive: at exactly activeTill the channel is due.
    clock.set(t0 + 5 * DAY)
    assert expire(clock.now_ms()) >= 1
    got = get_channel(p, ch["id"])
    assert got["status"] == "expired" and got["stopped"] is True and got["billingStatus"] == "Expired"
    assert got["mode"] == "trial"
    assert ch["id"] in listed_ids(p) and ch["id"] in listed_ids(p, "/channels/list/default")
    assert [c["id"] for c in p.get("/channels/list", params={"state": "expired"}).json()["channels"]] == [ch["id"]]
    assert [(e["type"], e["balanceDelta"]) for e in history(p, ch["id"])] == [("expire", 0), ("trial_grant", 0)]
    check_error(p.post(f"/channels/{ch['id']}/start"), 409, message="extend")
    # Running the job again expires nothing twice.
    expire(clock.now_ms())
    assert len(history(p, type="expire", channel=ch["id"])) == 1

    # A channel that never had any time never ran, so it does not "expire".
    assert get_channel(unpaid_partner, never_paid["id"])["status"] != "expired"

    # Extending an expired channel restarts it from now.
    clock.advance(days=1)
    now = clock.now_ms()
    r = extend_ok(p, ch["id"], 2, "back online")
    assert r["activeTill"] == now + 2 * DAY
    got = get_channel(p, ch["id"])
    assert got["stopped"] is False and got["status"] != "expired" and got["billingStatus"] == "Paid"
    assert p.balance == 3
    assert expire(clock.now_ms()) >= 0 and get_channel(p, ch["id"])["status"] != "expired"

    # Deleting it removes it from the listings.
    assert p.delete(f"/channels/{ch['id']}").json()["daysReturned"] == 2
    assert ch["id"] not in listed_ids(p)
    assert_ledger_sound()


def test_a_channel_stopped_by_hand_does_not_expire_and_extend_keeps_it_stopped(make_partner, clock, expire,
                                                                                  assert_ledger_sound):
    p = make_partner(balance=5)
    ch = create_channel(p, "paused")
    extend_ok(p, ch["id"], 1)
    assert p.post(f"/channels/{ch['id']}/stop").status_code == 200
    clock.advance(days=2)
    expire(clock.now_ms())
    got = get_channel(p, ch["id"])
    assert got["stopped"] is True and got["status"] != "expired" and got["billingStatus"] == "Unpaid"
    assert history(p, ch["id"], type="expire") == []
    # Paying adds time but does not start what the partner stopped; starting does.
    now = clock.now_ms()
    assert extend_ok(p, ch["id"], 2)["activeTill"] == now + 2 * DAY
    got = get_channel(p, ch["id"])
    assert got["stopped"] is True and got["billingStatus"] == "Paid"
    assert p.post(f"/channels/{ch['id']}/start").status_code == 200
    assert get_channel(p, ch["id"])["stopped"] is False
    assert_ledger_sound()


def test_creation_rate_limit(make_partner, clock, partner_state, assert_ledger_sound):
    p = make_partner()
    t0 = clock.now_ms()
    first = [create_channel(p, f"a{i}")["id"] for i in range(10)]
    clock.set(t0 + 20 * MINUTE)
    for i in range(10):
        create_channel(p, f"b{i}")

    before = partner_state(p)
    r = p.put("/channels", json={"name": "one too many", "projectId": "default"})
    check_error(r, 429)
    assert r.headers["retry-after"].isdigit()
    assert int(r.headers["retry-after"]) == 10 * 60  # the oldest creation leaves the window in 10 min
    assert partner_state(p) == before

    # Deleting a channel does not give back a creation.
    assert p.delete(f"/channels/{first[0]}").status_code == 200
    check_error(p.put("/channels", json={"name": "still too many", "projectId": "default"}), 429)

    clock.set(t0 + 29 * MINUTE + 59_000)
    r = p.put("/channels", json={"name": "almost", "projectId": "default"})
    check_error(r, 429)
    assert int(r.headers["retry-after"]) == 1

    # 30 minutes after the first ten, they are out of the window.
    clock.set(t0 + 30 * MINUTE)
    for i in range(10):
        create_channel(p, f"c{i}")
    r = p.put("/channels", json={"name": "full again", "projectId": "default"})
    check_error(r, 429)
    assert int(r.headers["retry-after"]) == 20 * 60
    assert len(listed_ids(p)) == 29
    assert_ledger_sound()


@pytest.mark.parametrize("zone, expected", [
    ("America/New_York", "2030-03-14"),  # activeTill is midnight local time: the 14th is the last day
    ("UTC", "2030-03-15"),               # the same instant is 04:00 UTC on the 15th
])
def test_valid_through_in_partner_time_zone(make_partner, clock, zone, expected, assert_ledger_sound):
    midnight = int(datetime(2030, 3, 15, tzinfo=ZoneInfo("America/New_York")).timestamp() * 1000)
    p = make_partner(balance=10, timezone=zone)

    clock.set(midnight - 3 * DAY)
    exact = create_channel(p, "ends at local midnight")
    assert extend_ok(p, exact["id"], 3)["activeTill"] == midnight
    assert get_channel(p, exact["id"])["validThrough"] == expected

    clock.set(midnight - 3 * DAY + 1)
    later = create_channel(p, "ends one ms after midnight")
    assert extend_ok(p, later["id"], 3)["activeTill"] == midnight + 1
    assert get_channel(p, later["id"])["validThrough"] == "2030-03-15"

    # A trial channel's date is the end of its trial.
    trial = make_partner(trial=True, timezone=zone)
    clock.set(midnight - 5 * DAY)
    assert create_channel(trial)["validThrough"] == expected
    assert_ledger_sound()


def test_channel_history_and_partner_history_types(make_partner, clock, expire, assert_ledger_sound):
    p = make_partner(balance=20, trial=True)
    a = create_channel(p, "a")["id"]
    b = create_channel(p, "b")["id"]
    extend_ok(p, a, 4, "four days for customer 17")
    extend_ok(p, b, 1, "one day")
    clock.advance(days=6)  # a: trial over, 3 paid days left; b: its one paid day just ended
    assert p.delete(f"/channels/{a}").json()["daysReturned"] == 3
    expire(clock.now_ms())
    a_hist = history(p, a)
    assert [(e["type"], e["balanceDelta"], e["channelDays"]) for e in a_hist] == [
        ("refund", 3, -3), ("extend", -4, 4), ("trial_grant", 0, 5)]
    assert all(e["channelId"] == a for e in a_hist)
    assert a_hist[1]["comment"] == "four days for customer 17"
    assert [e["balanceAfter"] for e in a_hist] == [18, 16, 20]
    # A deleted channel keeps its statement; it never shows another channel's entries.
    assert [(e["type"], e["channelId"]) for e in history(p, b)] == [
        ("expire", b), ("extend", b), ("trial_grant", b)]

    all_types = [e["type"] for e in history(p)]
    assert all_types.count("trial_grant") == 2 and all_types.count("extend") == 2
    assert all_types.count("refund") == 1 and all_types.count("expire") == 1 and all_types[-1] == "adjustment"
    for kind in ("trial_grant", "extend", "refund", "adjustment", "expire"):
        entries = history(p, type=kind)
        assert entries and {e["type"] for e in entries} == {kind}
    assert [e["channelId"] for e in history(p, type="extend", channel=b)] == [b]
    r = p.get(f"/channels/{a}/history", params={"count": 1, "offset": 1})
    assert r.json()["total"] == 3 and [e["type"] for e in r.json()["history"]] == ["extend"]
    assert_ledger_sound()


def test_project_default_alias_and_project_deletion_rules(make_partner, assert_ledger_sound):
    p = make_partner()
    projects = p.get("/projects").json()["projects"]
    default = [x for x in projects if x["isDefault"]]
    assert len(default) == 1 and default[0]["id"] == p.project_id

    ch = create_channel(p, "in default", project="default")
    assert ch["projectId"] == p.project_id
    assert listed_ids(p, "/channels/list/default") == [ch["id"]]
    assert listed_ids(p, f"/channels/list/{p.project_id}") == [ch["id"]]
    assert p.get("/projects/default").json()["id"] == p.project_id
    check_error(p.delete("/projects/default"), 409)
    check_error(p.delete(f"/projects/{p.project_id}"), 409)

    r = p.put("/projects", json={"name": "second"})
    assert r.status_code == 200, r.text
    second = r.json()["id"]
    other = create_channel(p, "in second", project=second)
    assert listed_ids(p, f"/channels/list/{second}") == [other["id"]]
    assert other["id"] not in listed_ids(p, "/channels/list/default")
    check_error(p.delete(f"/projects/{second}"), 409, message="channel")
    assert p.get(f"/projects/{second}").status_code == 200

    # Moving the channel to the default project empties the second one, which can then go.
    assert p.patch(f"/channels/{other['id']}", json={"projectId": "default"}).status_code == 200
    assert get_channel(p, other["id"])["projectId"] == p.project_id
    assert p.delete(f"/projects/{second}").status_code == 200
    check_error(p.get(f"/projects/{second}"), 404)
    check_error(p.put("/channels", json={"name": "x", "projectId": second}), 404)
    assert_ledger_sound()
