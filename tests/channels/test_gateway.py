"""Gateway API (SPEC 5): the operator's channel runtime introspects a channel token (may it
run now, in which mode, with which limits) and reports connection status and phone. Only
operator tokens with scope gateway (or full) may use it."""

from __future__ import annotations

import httpx
import pytest

from .conftest import DAY, check_error, create_channel, extend_ok, get_channel, set_mode

LIMITED = {"messagesPerDay": 150, "chatsPerMonth": 5, "apiRequestsPerMonth": 1000}


def introspect(gateway, token: str) -> dict:
    r = gateway.post("/gateway/introspect", json={"token": token})
    assert r.status_code == 200, r.text
    return r.json()


def test_introspect_trial_live_and_sandbox(make_partner, gateway, clock):
    p = make_partner(balance=10, trial=True, sandboxLimit=2)
    ch = create_channel(p, "trial")
    got = introspect(gateway, ch["token"])
    assert got["channelId"] == ch["id"] and got["partnerId"] == p.id and got["projectId"] == p.project_id
    assert got["mayRun"] is True and got["mode"] == "trial" and got["limits"] == LIMITED
    assert got["activeTill"] == ch["activeTill"]

    extend_ok(p, ch["id"], 2)
    assert set_mode(p, ch["id"], "live").status_code == 200
    got = introspect(gateway, ch["token"])
    assert got["mode"] == "live" and got["mayRun"] is True and got["limits"] is None

    box = create_channel(p, "sandbox")
    assert set_mode(p, box["id"], "dev").status_code == 200
    clock.advance(days=30)  # a sandbox never runs out
    got = introspect(gateway, box["token"])
    assert got["mode"] == "dev" and got["mayRun"] is True and got["limits"] == LIMITED
    assert set_mode(p, box["id"], "dev_archive").status_code == 200
    got = introspect(gateway, box["token"])
    assert got["mode"] == "dev_archive" and got["mayRun"] is False and got["limits"] == LIMITED


def test_may_run_follows_time_expiry_stop_and_delete(make_partner, gateway, clock, expire):
    p = make_partner(balance=10)
    t0 = clock.now_ms()
    unpaid = create_channel(p, "unpaid")
    assert introspect(gateway, unpaid["token"])["mayRun"] is False  # no trial: not running until extended

    ch = create_channel(p, "paid")
    extend_ok(p, ch["id"], 1)
    assert introspect(gateway, ch["token"])["mayRun"] is True

    # activeTill is exclusive: the last millisecond runs, activeTill itself does not (even before the job).
    clock.set(t0 + DAY - 1)
    assert introspect(gateway, ch["token"])["mayRun"] is True
    clock.set(t0 + DAY)
    assert introspect(gateway, ch["token"])["mayRun"] is False
    expire(clock.now_ms())
    got = introspect(gateway, ch["token"])
    assert got["mayRun"] is False and got["expired"] is True and got["stopped"] is True and got["status"] == "expired"

    extend_ok(p, ch["id"], 2)
    got = introspect(gateway, ch["token"])
    assert got["mayRun"] is True and got["expired"] is False

    assert p.post(f"/channels/{ch['id']}/stop").status_code == 200
    assert introspect(gateway, ch["token"])["mayRun"] is False
    assert p.post(f"/channels/{ch['id']}/start").status_code == 200
    assert introspect(gateway, ch["token"])["mayRun"] is True

    assert p.delete(f"/channels/{ch['id']}").status_code == 200
    check_error(gateway.post("/gateway/introspect", json={"token": ch["token"]}), 404)
    check_error(gateway.post("/gateway/introspect", json={"token": "x" * 32}), 404)


def test_report_status_shows_on_the_channel(make_partner, gateway, clock, expire):
    p = make_partner(trial=True)
    ch = create_channel(p)
    assert ch["status"] == "INIT" and ch["phone"] == ""

    r = gateway.post(f"/gateway/channels/{ch['id']}/status", json={"status": "AUTH", "phone": "14155550123"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "AUTH" and r.json()["phone"] == "14155550123"
    got = get_channel(p, ch["id"])
    assert got["status"] == "AUTH" and got["phone"] == "14155550123"
    listed = p.get("/channels/list", params={"status": "AUTH"}).json()["channels"]
    assert [c["id"] for c in listed] == [ch["id"]]

    # Status without phone keeps the phone.
    assert gateway.post(f"/gateway/channels/{ch['id']}/status", json={"status": "QR"}).status_code == 200
    got = get_channel(p, ch["id"])
    assert got["status"] == "QR" and got["phone"] == "14155550123"
    assert introspect(gateway, ch["token"])["status"] == "QR"

    # An expired channel shows "expired" whatever the gateway last said.
    clock.advance(days=5)
    expire(clock.now_ms())
    assert get_channel(p, ch["id"])["status"] == "expired"

    other = make_partner(trial=True)
    deleted = create_channel(other)
    assert other.delete(f"/channels/{deleted['id']}").status_code == 200
    check_error(gateway.post(f"/gateway/channels/{deleted['id']}/status", json={"status": "AUTH"}), 404)
    check_error(gateway.post("/gateway/channels/QQQQQQ-00000/status", json={"status": "AUTH"}), 404)


@pytest.mark.parametrize("body", [
    {"status": "ONLINE"}, {"status": "auth"}, {"status": ""}, {}, {"status": "AUTH", "phone": "12ab"},
    {"status": "AUTH", "phone": "+14155550123"}, {"status": 1},
])
def test_bad_status_report_is_422_and_changes_nothing(body, make_partner, gateway, channel_row):
    p = make_partner(trial=True)
    ch = create_channel(p)
    before = channel_row(ch["id"])
    check_error(gateway.post(f"/gateway/channels/{ch['id']}/status", json=body), 422)
    assert channel_row(ch["id"]) == before


def test_bad_introspect_body_is_422(gateway):
    for body in ({}, {"token": ""}, {"token": "x" * 65}, {"token": 5}):
        check_error(gateway.post("/gateway/introspect", json=body), 422)


def test_only_gateway_or_full_operator_tokens(make_partner, base_url, admin, token_with_scope, channel_row):
    p = make_partner(trial=True)
    ch = create_channel(p)
    before = channel_row(ch["id"])
    for scope in ("full", "read", "channels"):
        token = p.token if scope == "full" else token_with_scope(p, scope)
        with httpx.Client(base_url=base_url, timeout=30, headers={"Authorization": f"Bearer {token}"}) as c:
            check_error(c.post("/gateway/introspect", json={"token": ch["token"]}), 403)
            check_error(c.post(f"/gateway/channels/{ch['id']}/status", json={"status": "AUTH"}), 403)
    with httpx.Client(base_url=base_url, timeout=30) as anon:
        check_error(anon.post("/gateway/introspect", json={"token": ch["token"]}), 401)
    assert channel_row(ch["id"]) == before
    # The operator's full token may do what the gateway does.
    assert admin.post("/gateway/introspect", json={"token": ch["token"]}).json()["channelId"] == ch["id"]
