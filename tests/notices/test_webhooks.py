"""Webhook endpoints and their delivery (SPEC 7): a real local receiver verifies every
delivery with the ``standardwebhooks`` package; the worker's webhook jobs run in this
process against the test database, with the test clock for retry times."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from conftest import LiveServer, check_error, free_port
from dayledger.app import create_app
from dayledger.context import Services
from dayledger.db import Database
from dayledger.events import EVENT_TYPES, emit
from dayledger.idempotency import InFlight
from dayledger.webhooks import tasks as webhook_tasks
from dayledger.worker import run_job
from notices.receiver import Receiver

MINUTE = 60_000


@pytest.fixture
def receiver():
    started: list[Receiver] = []

    def start() -> Receiver:
        started.append(Receiver().start())
        return started[-1]
    yield start
    for r in started:
        r.stop()


@pytest.fixture
def deliver(db_url, settings, clock):
    """One worker round of the webhook jobs (fan-out, then send); short timeouts."""
    def run(**overrides: Any) -> dict[str, int]:
        s = settings.model_copy(update={"webhook_connect_timeout_seconds": 1.0, "webhook_read_timeout_seconds": 0.5,
                                        "webhook_run_seconds": 5.0, **overrides})

        async def main() -> dict[str, int]:
            db = Database(db_url, 4)
            try:
                svc = Services(settings=s, db=db, clock=clock, in_flight=InFlight())
                now = clock.now_ms()
                return {job.name: await run_job(svc, job, now) for job in webhook_tasks.JOBS}
            finally:
                await db.dispose()
        return asyncio.run(main())
    return run


def add_endpoint(client, owner_path: str, rcv: Receiver, events: list[str] | None = None) -> dict:
    r = client.post(owner_path, json={"url": rcv.url, **({"events": events} if events else {}),
                                      "description": "test receiver"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["secret"].startswith("whsec_")
    rcv.secret = body["secret"]
    return body


def new_channel(p) -> str:
    r = p.put("/channels", json={"name": "hooked", "projectId": "default"})
    assert r.status_code == 200, r.text
    return r.json()["id"]


def test_endpoints_are_managed_and_the_secret_is_shown_once(make_partner, receiver):
    p, other = make_partner(), make_partner()
    rcv = receiver()
    hooks = f"/partners/{p.name}/webhooks"
    created = add_endpoint(p, hooks, rcv, ["channel.created", "days"])
    assert created["events"] == ["channel.created", "days"] and created["enabled"] is True
    assert created["partner"] == p.name and created["source"] == "api"

    listed = p.get(hooks).json()["endpoints"]
    assert [e["id"] for e in listed] == [created["id"]] and "secret" not in listed[0]
    one = p.get(f"{hooks}/{created['id']}").json()
    assert "secret" not in one and one["url"] == rcv.url

    r = p.patch(f"{hooks}/{created['id']}", json={"events": ["*"], "description": "all"})
    assert r.status_code == 200 and r.json()["events"] == ["*"] and r.json()["description"] == "all"
    rotated = p.post(f"{hooks}/{created['id']}/secret").json()["secret"]
    assert rotated.startswith("whsec_") and rotated != created["secret"]

    # Another partner's endpoint is not found under its own name, and its name is not ours.
    check_error(other.get(f"/partners/{other.name}/webhooks/{created['id']}"), 404)
    check_error(other.patch(f"/partners/{other.name}/webhooks/{created['id']}", json={"enabled": False}), 404)
    check_error(other.delete(f"/partners/{other.name}/webhooks/{created['id']}"), 404)
    check_error(other.get(hooks), 403)
    assert p.get(f"{hooks}/{created['id']}").json()["enabled"] is True

    r = p.delete(f"{hooks}/{created['id']}")
    assert r.status_code == 200 and r.json()["id"] == created["id"]
    check_error(p.get(f"{hooks}/{created['id']}"), 404)
    assert p.get(hooks).json()["endpoints"] == []


@pytest.mark.parametrize("body, fragment", [
    ({"url": "ftp://example.com/x"}, "http"),
    ({"url": "not a url"}, "url"),
    ({"url": "http://127.0.0.1/x", "events": ["nope"]}, "unknown event type"),
    ({"url": "http://127.0.0.1/x", "events": ["*", "days"]}, "stands alone"),
    ({"url": "http://127.0.0.1/x", "events": []}, "events"),
    ({"url": "http://127.0.0.1/x", "events": "days"}, "events"),
    ({"url": 5}, "url"),
    ({"events": ["days"]}, "url"),
    ({"url": "http://127.0.0.1/x", "secret": "mine"}, "secret"),
    ({"url": "http://127.0.0.1/" + "x" * 2000}, "url"),
])
def test_bad_endpoints_are_refused_and_change_nothing(make_partner, body, fragment):
    p = make_partner()
    check_error(p.post(f"/partners/{p.name}/webhooks", json=body), 422, message=fragment)
    assert p.get(f"/partners/{p.name}/webhooks").json()["endpoints"] == []


@pytest.fixture(scope="module")
def strict_server(settings, clock):
    """A second server with the production default: private addresses refused."""
    app = create_app(settings.model_copy(update={"webhook_allow_private": False}), clock=clock)
    server = LiveServer(app, free_port()).start()
    yield server
    server.stop()


@pytest.mark.parametrize("url", ["http://127.0.0.1:9000/hook", "http://localhost/hook", "http://10.0.0.8/hook",
                                 "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data",
                                 "http://[::1]/hook", "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/",
                                 "https://no-such-host.invalid/hook"])
def test_private_addresses_are_refused_at_registration(strict_server, make_partner, url):
    import httpx
    p = make_partner()
    with httpx.Client(base_url=strict_server.url, headers={"Authorization": f"Bearer {p.token}"}) as c:
        check_error(c.post(f"/partners/{p.name}/webhooks", json={"url": url}), 422, message="webhook URL refused")
        # ... and in the reference settings shape too.
        check_error(c.patch(f"/partners/{p.name}/settings", json={"webhooks": [{"url": url}]}), 422)
        assert c.get(f"/partners/{p.name}/settings").json().get("webhooks") in (None, [])
        assert c.get(f"/partners/{p.name}/webhooks").json()["endpoints"] == []


def test_a_private_address_is_refused_again_when_sent_to(make_partner, receiver, deliver):
    p = make_partner()
    rcv = receiver()
    ep = add_endpoint(p, f"/partners/{p.name}/webhooks", rcv)
    new_channel(p)
    deliver(webhook_allow_private=False)  # e.g. the name now resolves to a private address
    assert rcv.received == []
    log = p.get(f"/partners/{p.name}/webhooks/{ep['id']}/deliveries").json()["deliveries"]
    assert log[0]["status"] == "pending" and log[0]["attemptLog"][0]["statusCode"] is None
    assert "refused" in log[0]["attemptLog"][0]["error"]


def test_every_event_type_arrives_signed(make_partner, receiver, deliver, db, clock):
    p = make_partner(balance=10, daysLimit=8)
    rcv = receiver()
    add_endpoint(p, f"/partners/{p.name}/webhooks", rcv)
    # Real changes through the API...
    cid = new_channel(p)
    assert p.post(f"/channels/{cid}/extend", json={"days": 3, "comment": "hooked"}).status_code == 200  # days
    assert p.patch(f"/channels/{cid}/mode", json={"mode": "live"}).status_code in (200, 409)
    assert p.post(f"/channels/{cid}/restart").status_code in (200, 404, 409)
    assert p.delete(f"/channels/{cid}").status_code == 200
    # ... and one of every other type, as their producers write them (tested where they are).
    caused = set(t for (t,) in db.rows("SELECT type FROM events WHERE partner_id = :p", p=p.id))
    rest = sorted(set(EVENT_TYPES) - caused)

    async def write(session):
        for t in rest:
            await emit(session, partner_id=p.id, type=t, now_ms=clock.now_ms(), payload={"sample": t})
    db.run(write)
    deliver()
    assert rcv.forged == []
    got = rcv.accepted()
    assert {r.type for r in got} == set(EVENT_TYPES)
    assert all(r.data["partner"] == p.name for r in got)
    assert all(r.msg_id.startswith("evt_") and r.timestamp.endswith("Z") for r in got)
    assert [int(i[4:]) for i in rcv.ids()] == sorted(int(i[4:]) for i in rcv.ids())  # in order
    assert len(set(rcv.ids())) == len(got)
    extended = next(r for r in got if r.type == "channel.extended")
    assert extended.data["id"] == cid and extended.data["days"] == 3


def test_a_failing_receiver_gets_each_event_once_in_order_after_it_recovers(make_partner, receiver, deliver,
                                                                             clock):
    p = make_partner(balance=100)
    rcv = receiver()
    ep = add_endpoint(p, f"/partners/{p.name}/webhooks", rcv, ["channel.created", "channel.extended"])
    cid = new_channel(p)
    for i in range(5):
        assert p.post(f"/channels/{cid}/extend", json={"days": 1, "comment": f"n{i}"}).status_code == 200
    # 500, 503, a stall past the read timeout, then the receiver is down (refused).
    rcv.plan = [500, 503, 2.0]
    for _ in range(3):
        deliver()
        clock.advance(ms=60 * MINUTE)
    assert rcv.ids() == []
    rcv.stop()
    deliver()
    clock.advance(ms=60 * MINUTE)
    log = p.get(f"/partners/{p.name}/webhooks/{ep['id']}/deliveries").json()
    head = log["deliveries"][-1]  # the oldest: the only one tried, the rest wait behind it
    assert head["type"] == "channel.created" and head["status"] == "pending" and head["attempts"] == 4
    codes = [a["statusCode"] for a in head["attemptLog"]]
    assert codes[:2] == [500, 503] and codes[2:] == [None, None]
    assert "no answer" in head["attemptLog"][2]["error"] or "timed out" in head["attemptLog"][2]["error"]
    assert "ConnectError" in head["attemptLog"][3]["error"]
    assert all(d["attempts"] == 0 for d in log["deliveries"][:-1])

    # Back up: each event once (deduplicated by webhook-id), in order.
    rcv.start()
    deliver()
    assert rcv.forged == []
    assert len(rcv.ids()) == 6 == len(set(rcv.ids()))
    assert [r.type for r in rcv.accepted()] == ["channel.created"] + ["channel.extended"] * 5
    assert [int(i[4:]) for i in rcv.ids()] == sorted(int(i[4:]) for i in rcv.ids())
    assert rcv.accepted()[0].msg_id == f"evt_{head['eventId'][4:]}"
    deliver()
    assert len(rcv.ids()) == 6
    statuses = {d["status"] for d in p.get(f"/partners/{p.name}/webhooks/{ep['id']}/deliveries").json()["deliveries"]}
    assert statuses == {"succeeded"}


def test_backoff_waits_grow_and_the_endpoint_is_disabled_after_the_retry_period(make_partner, receiver, deliver,
                                                                                clock):
    p = make_partner()
    rcv = receiver()
    rcv.default = 500
    ep = add_endpoint(p, f"/partners/{p.name}/webhooks", rcv, ["channel.created"])
    new_channel(p)
    waits = []
    for _ in range(30):
        deliver()
        d = p.get(f"/partners/{p.name}/webhooks/{ep['id']}/deliveries").json()["deliveries"][0]
        if d["status"] != "pending":
            break
        waits.append(d["nextAttemptTS"] - clock.now_ms())
        clock.advance(ms=waits[-1])
    assert d["status"] == "disabled"
    assert 4_000 <= waits[0] <= 6_000  # 5 s ± 20 %
    assert all(b > a for a, b in zip(waits[:8], waits[1:8]))  # growing (×3, jitter ±20 %)
    assert max(waits) <= 12 * 3600 * 1000 * 1.2
    assert 66 * 3600 * 1000 <= sum(waits) <= 90 * 3600 * 1000  # about three days
    got = p.get(f"/partners/{p.name}/webhooks/{ep['id']}").json()
    assert got["enabled"] is False and "72 hours" in got["disabledReason"]


def test_410_disables_the_endpoint_and_enabling_sends_what_waited(make_partner, receiver, deliver):
    p = make_partner(balance=10)
    rcv = receiver()
    ep = add_endpoint(p, f"/partners/{p.name}/webhooks", rcv, ["channel.created", "channel.extended"])
    cid = new_channel(p)
    rcv.plan = [410]
    deliver()
    got = p.get(f"/partners/{p.name}/webhooks/{ep['id']}").json()
    assert got["enabled"] is False and "410" in got["disabledReason"]
    assert p.post(f"/channels/{cid}/extend", json={"days": 1, "comment": "while gone"}).status_code == 200
    deliver()
    assert rcv.ids() == []  # nothing is sent to a disabled endpoint
    log = p.get(f"/partners/{p.name}/webhooks/{ep['id']}/deliveries").json()["deliveries"]
    assert [d["status"] for d in log] == ["disabled", "disabled"]
    check_error(p.post(f"/partners/{p.name}/webhooks/{ep['id']}/test"), 409)

    r = p.patch(f"/partners/{p.name}/webhooks/{ep['id']}", json={"enabled": True})
    assert r.status_code == 200 and r.json()["enabled"] is True and r.json()["disabledReason"] is None
    deliver()
    assert [r.type for r in rcv.accepted()] == ["channel.created", "channel.extended"]


def test_deliveries_are_logged_and_a_resend_keeps_the_webhook_id(make_partner, receiver, deliver):
    p = make_partner()
    rcv = receiver()
    rcv.default, rcv.body = 200, b"ok " + b"x" * 5000
    ep = add_endpoint(p, f"/partners/{p.name}/webhooks", rcv, ["channel.created"])
    new_channel(p)
    deliver()
    base = f"/partners/{p.name}/webhooks/{ep['id']}/deliveries"
    page = p.get(base).json()
    assert page["total"] == 1 and page["count"] == 1
    d = page["deliveries"][0]
    assert d["status"] == "succeeded" and d["attempts"] == 1 and d["nextAttemptTS"] is None
    attempt = d["attemptLog"][0]
    assert attempt["statusCode"] == 200 and attempt["latencyMs"] >= 0
    assert attempt["response"].startswith("ok ") and len(attempt["response"]) == 2000  # truncated

    r = p.post(f"{base}/{d['id']}/resend")
    assert r.status_code == 200 and r.json()["status"] == "pending"
    deliver()
    assert rcv.ids() == [d["eventId"], d["eventId"]]  # the same webhook-id
    again = p.get(base).json()["deliveries"][0]
    assert again["status"] == "succeeded" and again["attempts"] == 2 and len(again["attemptLog"]) == 2
    assert p.get(base, params={"status": "pending"}).json()["total"] == 0
    check_error(p.post(f"{base}/999999999/resend"), 404)
    check_error(p.get(base, params={"status": "lost"}), 422)


def test_a_test_event_goes_to_that_endpoint_only(make_partner, receiver, deliver):
    p = make_partner()
    one, two = receiver(), receiver()
    ep = add_endpoint(p, f"/partners/{p.name}/webhooks", one)
    add_endpoint(p, f"/partners/{p.name}/webhooks", two)
    r = p.post(f"/partners/{p.name}/webhooks/{ep['id']}/test")
    assert r.status_code == 202, r.text
    deliver()
    assert [x.type for x in one.accepted()] == ["webhook.test"] and two.received == []
    assert one.ids() == [r.json()["eventId"]]
    check_error(p.post(f"/partners/{p.name}/webhooks/we_{'A' * 20}/test"), 404)


def test_the_operator_hears_every_partners_events(admin, make_partner, receiver, deliver):
    rcv = receiver()
    ep = add_endpoint(admin, "/admin/webhooks", rcv, ["channel.created"])
    try:
        assert ep["partner"] is None
        a, b = make_partner(), make_partner()
        ca, cb = new_channel(a), new_channel(b)
        deliver()
        mine = [r for r in rcv.accepted() if r.data.get("partner") in (a.name, b.name)]
        assert [(r.data["partner"], r.data["id"]) for r in mine] == [(a.name, ca), (b.name, cb)]
        assert admin.get("/admin/webhooks").json()["endpoints"][-1]["id"] == ep["id"]
        check_error(a.get("/admin/webhooks"), 403)
        check_error(a.post("/admin/webhooks", json={"url": rcv.url}), 403)
    finally:
        assert admin.delete(f"/admin/webhooks/{ep['id']}").status_code == 200


def test_settings_webhooks_get_the_same_signed_bodies(make_partner, receiver, deliver):
    p = make_partner(balance=10)
    body_rcv, path_rcv = receiver(), receiver()
    r = p.patch(f"/partners/{p.name}/settings", json={"days_limit": 8, "webhooks": [
        {"url": body_rcv.url}, {"url": path_rcv.url, "mode": "path", "events": [{"type": "days", "method": "post"}]}]})
    assert r.status_code == 200, r.text
    endpoints = p.get(f"/partners/{p.name}/webhooks").json()["endpoints"]
    assert {e["source"] for e in endpoints} == {"settings"} and {e["url"] for e in endpoints} == {
        body_rcv.url, path_rcv.url + "/days"}
    for e in endpoints:  # the settings show no secret; rotating one reveals it
        secret = p.post(f"/partners/{p.name}/webhooks/{e['id']}/secret").json()["secret"]
        (body_rcv if e["url"] == body_rcv.url else path_rcv).secret = secret
        check_error(p.delete(f"/partners/{p.name}/webhooks/{e['id']}"), 409)
        check_error(p.patch(f"/partners/{p.name}/webhooks/{e['id']}", json={"url": body_rcv.url}), 409)

    cid = new_channel(p)
    assert p.post(f"/channels/{cid}/extend", json={"days": 3, "comment": "below"}).status_code == 200
    deliver()
    for rcv in (body_rcv, path_rcv):
        assert rcv.forged == [] and [x.type for x in rcv.accepted()] == ["days"]
        assert rcv.accepted()[0].data == {"balance": 7, "daysLimit": 8, "partner": p.name}
    assert path_rcv.accepted()[0].path == "/hooks/days"

    # Saving the list again keeps unchanged URLs (same endpoint, secret and log); dropping removes.
    keep = next(e["id"] for e in endpoints if e["url"] == body_rcv.url)
    assert p.patch(f"/partners/{p.name}/settings", json={"webhooks": [{"url": body_rcv.url}]}).status_code == 200
    assert [e["id"] for e in p.get(f"/partners/{p.name}/webhooks").json()["endpoints"]] == [keep]
    assert p.patch(f"/partners/{p.name}/settings", json={"webhooks": []}).status_code == 200
    assert p.get(f"/partners/{p.name}/webhooks").json()["endpoints"] == []


def test_the_delivery_log_forgets_delivered_deliveries_after_the_retention(make_partner, receiver, deliver, clock,
                                                                           db_url, settings):
    from dayledger.webhooks.delivery import purge
    p = make_partner()
    rcv, down = receiver(), receiver()
    ep = add_endpoint(p, f"/partners/{p.name}/webhooks", rcv, ["channel.created"])
    waiting = add_endpoint(p, f"/partners/{p.name}/webhooks", down, ["channel.created"])
    down.stop()
    new_channel(p)
    deliver()
    clock.advance(ms=31 * 86_400_000)

    async def main():
        db = Database(db_url, 2)
        try:
            return await db.run(purge, clock.now_ms(), 30, 1000)
        finally:
            await db.dispose()
    assert asyncio.run(main()) >= 1
    assert p.get(f"/partners/{p.name}/webhooks/{ep['id']}/deliveries").json()["total"] == 0
    kept = p.get(f"/partners/{p.name}/webhooks/{waiting['id']}/deliveries").json()
    assert kept["total"] == 1 and kept["deliveries"][0]["status"] in ("pending", "disabled")
