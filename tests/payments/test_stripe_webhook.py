"""POST /stripe/webhook refuses what Stripe did not sign -- a forged signature, another
secret, a stale timestamp, no header, a body changed after signing -- with 400, storing
and crediting nothing; acknowledges and stores an unknown event type as "ignored"; a
redelivery of an event id changes nothing; the operator lists the events received. The
server without Stripe keys answers 503 saying what to set."""

from __future__ import annotations

import json
import secrets
import time

import httpx
import pytest

from conftest import check_error
from tests.payments.conftest import event_body, signature


@pytest.fixture
def pending_topup(make_payer, standin_session):
    """A partner with a pending 30-day top-up and the event object that would pay it."""
    p = make_payer(currency="USD", pricePerMonth="30")
    r = p.post(f"/partners/{p.name}/topups", json={"days": 30})
    assert r.status_code == 201, r.text
    t = r.json()
    obj = standin_session(t["paymentUrl"].rsplit("/", 1)[1])
    obj.update(status="complete", payment_status="paid", payment_intent="pi_test_" + secrets.token_hex(8))
    return p, t, obj


def post(pay_url: str, body: bytes, **headers: str) -> httpx.Response:
    return httpx.post(pay_url + "/stripe/webhook", content=body, timeout=30,
                      headers={"Content-Type": "application/json", **headers})


def test_unsigned_forged_stale_or_altered_events_are_refused_and_change_nothing(pending_topup, pay_url, stripe_env,
                                                                                pay_settings, db,
                                                                                assert_ledger_sound):
    p, t, obj = pending_topup
    secret = stripe_env.webhook_secret
    now = int(time.time())
    stale = now - pay_settings.stripe_webhook_tolerance_seconds - 5
    attempts = {}

    def attempt(name: str, make) -> None:
        event_id = f"evt_bad_{name}_{secrets.token_hex(6)}"
        body = event_body("checkout.session.completed", obj, event_id=event_id)
        attempts[name] = (event_id, make(body))

    attempt("forged", lambda b: post(pay_url, b, **{"Stripe-Signature": f"t={now},v1={'0' * 64}"}))
    attempt("other_secret", lambda b: post(pay_url, b, **{"Stripe-Signature": signature(b, "whsec_other", now)}))
    attempt("stale", lambda b: post(pay_url, b, **{"Stripe-Signature": signature(b, secret, stale)}))
    attempt("future_only_v0", lambda b: post(pay_url, b, **{"Stripe-Signature": f"t={now},v0=abc"}))
    attempt("missing", lambda b: post(pay_url, b))
    attempt("empty", lambda b: post(pay_url, b, **{"Stripe-Signature": ""}))
    attempt("garbage", lambda b: post(pay_url, b, **{"Stripe-Signature": "hello"}))

    def altered(body: bytes) -> httpx.Response:
        header = signature(body, secret, now)
        changed = json.loads(body)
        changed["data"]["object"]["amount_total"] = 1  # signed, then changed on the way
        return post(pay_url, json.dumps(changed).encode(), **{"Stripe-Signature": header})
    attempt("altered", altered)

    for name, (event_id, r) in attempts.items():
        err = check_error(r, 400)
        assert "signature" in (err["message"] + err["details"]).lower(), (name, err)
        assert db.scalar("SELECT count(*) FROM stripe_events WHERE id = :e", e=event_id) == 0, name
    assert "tolerance" in attempts["stale"][1].json()["error"]["details"].lower()
    assert p.balance == 0 and p.get(f"/partners/{p.name}/topups/{t['id']}").json()["status"] == "pending"

    # The same body, properly signed, is what credits: the refusals above were the signatures.
    event_id = "evt_good_" + secrets.token_hex(6)
    body = event_body("checkout.session.completed", obj, event_id=event_id)
    r = post(pay_url, body, **{"Stripe-Signature": signature(body, secret, now)})
    assert r.status_code == 200 and r.json() == {"received": True, "outcome": "credited 30 days"}, r.text
    assert p.balance == 30
    assert_ledger_sound()


def test_a_signed_body_that_is_not_an_event_is_400(pay_url, stripe_env, db):
    now = int(time.time())
    for body in (b"not json", b"[]", json.dumps({"id": "evt_x_shape", "type": "a"}).encode(),
                 json.dumps({"id": "evt_x_shape2", "type": "a", "data": {"object": "no"}}).encode()):
        check_error(post(pay_url, body, **{"Stripe-Signature": signature(body, stripe_env.webhook_secret, now)}), 400,
                    message="malformed event")
    assert db.scalar("SELECT count(*) FROM stripe_events WHERE id LIKE 'evt_x_shape%'") == 0


def test_unknown_types_are_acknowledged_stored_and_listed_and_redeliveries_change_nothing(
        pending_topup, send_event, pay_admin, db, assert_ledger_sound):
    p, t, obj = pending_topup
    event_id = "evt_unknown_" + secrets.token_hex(6)
    r = send_event("customer.tax_id.created", {"id": "txi_1", "object": "tax_id"}, event_id=event_id)
    assert r.status_code == 200 and r.json() == {"received": True, "outcome": "ignored"}, r.text
    assert db.scalar("SELECT outcome FROM stripe_events WHERE id = :e", e=event_id) == "ignored"

    paid_id = "evt_paid_" + secrets.token_hex(6)
    first = send_event("checkout.session.completed", obj, event_id=paid_id)
    assert first.json()["outcome"] == "credited 30 days", first.text
    # A redelivery of the same event id, even with another body, is acknowledged and changes nothing.
    replay = send_event("checkout.session.completed", dict(obj, amount_total=1), event_id=paid_id)
    assert replay.status_code == 200 and replay.json()["outcome"] == "duplicate: already received", replay.text
    assert p.balance == 30
    assert db.scalar("SELECT outcome FROM stripe_events WHERE id = :e", e=paid_id) == "credited 30 days"

    listed = pay_admin.get("/admin/stripe/events", params={"type": "customer.tax_id.created"}).json()
    assert [e["id"] for e in listed["events"]][:1] == [event_id] and listed["events"][0]["outcome"] == "ignored"
    assert listed["events"][0]["processedTS"] is not None and listed["events"][0]["receivedTS"] > 0
    credited = pay_admin.get("/admin/stripe/events", params={"outcome": "credited", "count": 500}).json()
    assert paid_id in {e["id"] for e in credited["events"]}
    assert all(e["outcome"].startswith("credited") for e in credited["events"])
    newest = pay_admin.get("/admin/stripe/events", params={"count": 500}).json()["events"]
    assert [e["receivedTS"] for e in newest] == sorted((e["receivedTS"] for e in newest), reverse=True)
    assert_ledger_sound()


def test_the_operators_lists_are_the_operators(make_payer, pay_admin, pay_url):
    p = make_payer()
    for path in ("/admin/payments", "/admin/stripe/events"):
        check_error(p.get(path), 403, message="operator")
        check_error(httpx.get(pay_url + path), 401)
    for params in ({"kind": "gift"}, {"status": "lost"}, {"flagged": "maybe"}, {"partner": "a b"}, {"count": 0}):
        check_error(pay_admin.get("/admin/payments", params=params), 422)
    check_error(pay_admin.get("/admin/payments", params={"partner": "nobody-here"}), 404)
    for params in ({"type": "Bad Type"}, {"outcome": ""}):
        check_error(pay_admin.get("/admin/stripe/events", params=params), 422)
    assert pay_admin.get("/admin/payments", params={"partner": p.name}).json() == \
        {"payments": [], "count": 0, "offset": 0, "total": 0}


def test_without_stripe_keys_the_webhook_and_buying_answer_503(http, make_partner):
    check_error(http.post("/stripe/webhook", content=b"{}", headers={"Stripe-Signature": "t=1,v1=00"}), 503,
                message="DAYLEDGER_STRIPE_WEBHOOK_SECRET")
    p = make_partner(currency="USD", pricePerMonth="30")
    check_error(p.post(f"/partners/{p.name}/topups", json={"days": 30}), 503, message="DAYLEDGER_STRIPE_SECRET_KEY")
    # Pricing needs no Stripe.
    assert p.get(f"/partners/{p.name}/topups/quote", params={"days": 30}).json()["total"] == "30.00"
