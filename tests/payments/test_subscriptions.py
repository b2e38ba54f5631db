"""Per-channel subscriptions through the Checkout stand-in and localstripe: a paid period
extends the channel by 30 or 365 days and sets it live without touching the balance; a
renewal extends again; one invoice's two events extend once; cancel runs to period end."""

from __future__ import annotations

import time
from decimal import Decimal

import httpx
import pytest

from conftest import check_error

DAY = 86_400_000


def new_channel(p) -> dict:
    r = p.put("/channels", json={"name": "subscribed", "projectId": "default"})
    assert r.status_code == 200, r.text
    return r.json()


def session_of(reply: dict) -> str:
    return reply["paymentUrl"].rsplit("/", 1)[1]


def stripe_subscription(db, sub_id: str) -> str:
    return db.scalar("SELECT stripe_subscription FROM subscriptions WHERE id = :i", i=sub_id)


def channel(p, cid: str) -> dict:
    r = p.get(f"/channels/{cid}")
    assert r.status_code == 200, r.text
    return r.json()


def test_a_monthly_subscription_extends_its_channel_and_renews(make_payer, checkout_complete, standin_session,
                                                               send_event, stripe_env, db, wait, assert_ledger_sound):
    p = make_payer(balance=7)
    ch = new_channel(p)
    r = p.post(f"/channels/{ch['id']}/subscription", json={"interval": "month"})
    assert r.status_code == 201, r.text
    sub = r.json()
    assert (sub["status"], sub["daysPerPeriod"], sub["total"], sub["currency"]) == ("pending", 30, "30.00", "USD")
    meta = standin_session(session_of(sub))
    assert meta["mode"] == "subscription" and meta["metadata"]["subscription_id"] == sub["id"]

    started = int(time.time() * 1000) - 60_000
    checkout_complete(session_of(sub))  # localstripe creates the subscription and pays its first invoice
    paid = wait(lambda: channel(p, ch["id"])["activeTill"] > started + 29 * DAY and channel(p, ch["id"]))
    assert paid["mode"] == "live"
    assert p.balance == 7  # the balance is untouched
    assert p.get(f"/channels/{ch['id']}/subscription").json()["status"] == "active"
    till = paid["activeTill"]

    stripe_id = stripe_subscription(db, sub["id"])
    renewal = {"id": "in_renewal_" + sub["id"], "object": "invoice", "subscription": stripe_id,
               "amount_paid": 3000, "currency": "usd", "charge": "ch_renewal_" + sub["id"]}
    r = send_event("invoice.paid", renewal)
    assert r.status_code == 200 and "extended by 30 days" in r.json()["outcome"], r.text
    assert channel(p, ch["id"])["activeTill"] == till + 30 * DAY
    r = send_event("invoice.payment_succeeded", renewal)  # the same invoice's other event
    assert r.json()["outcome"] == "already credited"
    assert channel(p, ch["id"])["activeTill"] == till + 30 * DAY
    assert p.balance == 7
    entries = db.rows("SELECT type, channel_days, balance_delta FROM ledger_entries WHERE channel_id = :c "
                      "AND type = 'subscription'", c=ch["id"])
    assert entries == [("subscription", 30, 0), ("subscription", 30, 0)]

    r = p.delete(f"/channels/{ch['id']}/subscription")
    assert r.status_code == 200 and r.json()["status"] == "canceling", r.text
    assert stripe_env.stripe.v1.subscriptions.retrieve(stripe_id).cancel_at_period_end is True
    check_error(p.delete(f"/channels/{ch['id']}/subscription"), 409)
    r = send_event("customer.subscription.deleted", {"id": stripe_id, "object": "subscription", "status": "canceled"})
    assert r.status_code == 200
    assert p.get(f"/channels/{ch['id']}/subscription").json()["status"] == "canceled"
    assert channel(p, ch["id"])["activeTill"] == till + 30 * DAY  # the channel keeps what was paid
    assert_ledger_sound()


def test_a_yearly_subscription_takes_365_days_at_the_annual_discount(make_payer, pay_admin, send_event, db, clock,
                                                                     assert_ledger_sound):
    p = make_payer(trial=True)
    r = pay_admin.patch(f"/admin/partners/{p.name}", json={"annualDiscountPercent": "15"})
    assert r.status_code == 200, r.text
    ch = new_channel(p)
    assert ch["mode"] == "trial"
    sub = p.post(f"/channels/{ch['id']}/subscription", json={"interval": "year"}).json()
    assert (sub["daysPerPeriod"], sub["discountPercent"], sub["total"]) == (365, "15", "310.25")
    # Stripe's invoice for the first year, before the Checkout completion reaches dayledger:
    # found through the subscription's metadata.
    stripe_id = "sub_year_" + sub["id"]
    db.scalar("UPDATE subscriptions SET stripe_subscription = :s WHERE id = :i RETURNING id", s=stripe_id,
              i=sub["id"])
    now = clock.now_ms()  # the server's clock (a manual one in tests)
    r = send_event("invoice.paid", {"id": "in_year_" + sub["id"], "object": "invoice", "subscription": stripe_id,
                                    "amount_paid": 31025, "currency": "usd"})
    assert "extended by 365 days" in r.json()["outcome"], r.text
    shown = channel(p, ch["id"])
    # The free trial ends as a switch to live ends it: a year from now, not from the trial's end.
    assert shown["mode"] == "live" and shown["activeTill"] == now + 365 * DAY
    assert p.balance == 0
    # The period's payment shows the year's price as quoted: 365 days, less 15 %.
    rows = db.rows("SELECT days, subtotal, discount_percent, discount, total FROM payments "
                   "WHERE subscription_id = :s", s=sub["id"])
    assert [tuple(str(Decimal(v).normalize()) for v in row) for row in rows] == [
        ("365", "365", "15", "54.75", "310.25")], rows
    assert_ledger_sound()


def test_a_period_paid_short_is_flagged_and_extends_nothing(make_payer, send_event, db, assert_ledger_sound):
    p = make_payer()
    ch = new_channel(p)
    sub = p.post(f"/channels/{ch['id']}/subscription", json={"interval": "month"}).json()
    db.scalar("UPDATE subscriptions SET stripe_subscription = :s WHERE id = :i RETURNING id",
              s="sub_short_" + sub["id"], i=sub["id"])
    before = channel(p, ch["id"])["activeTill"]
    r = send_event("invoice.paid", {"id": "in_short_" + sub["id"], "subscription": "sub_short_" + sub["id"],
                                    "amount_paid": 100, "currency": "usd"})
    assert r.json()["outcome"].startswith("flagged: amount 100"), r.text
    assert channel(p, ch["id"])["activeTill"] == before
    assert_ledger_sound()


def test_subscriptions_refuse_sandboxes_duplicates_and_others_channels(make_payer, base_url):
    p, other = make_payer(), make_payer()
    ch = new_channel(p)
    check_error(other.post(f"/channels/{ch['id']}/subscription", json={"interval": "month"}), 404)
    check_error(other.get(f"/channels/{ch['id']}/subscription"), 404)
    check_error(p.get(f"/channels/{ch['id']}/subscription"), 404)  # none yet
    for bad in ({"interval": "week"}, {}, {"interval": "month", "x": 1}, {"interval": 30}):
        check_error(p.post(f"/channels/{ch['id']}/subscription", json=bad), 422)
    assert p.post(f"/channels/{ch['id']}/subscription", json={"interval": "month"}).status_code == 201
    check_error(p.post(f"/channels/{ch['id']}/subscription", json={"interval": "year"}), 409)
    r = p.delete(f"/channels/{ch['id']}/subscription")  # a pending one ends at once
    assert r.status_code == 200 and r.json()["status"] == "canceled", r.text
    sandbox = new_channel(p)["id"]
    r = p.patch(f"/channels/{sandbox}/mode", json={"mode": "dev"})
    assert r.status_code == 200, r.text
    check_error(p.post(f"/channels/{sandbox}/subscription", json={"interval": "month"}), 409,
                message="sandbox")


@pytest.mark.parametrize("method", ["post", "delete"])
def test_without_stripe_the_subscription_routes_say_what_to_set(make_partner, method):
    p = make_partner()
    cid = new_channel(p)["id"]
    r = getattr(p.client, method)(f"/channels/{cid}/subscription",
                                  **({"json": {"interval": "month"}} if method == "post" else {}))
    check_error(r, 503 if method == "post" else 404)


def test_an_invoice_in_the_current_api_shape_pays_its_period(make_payer, send_event, db, assert_ledger_sound):
    """Since API version 2025-03-31 an invoice names its subscription (and that
    subscription's metadata) under ``parent.subscription_details`` and its PaymentIntent
    under ``payments``; nothing at the top level. Found without asking Stripe (the id below
    is unknown to it), credited once, and a refund of its PaymentIntent finds the period."""
    p = make_payer(balance=1)
    ch = new_channel(p)
    sub = p.post(f"/channels/{ch['id']}/subscription", json={"interval": "month"}).json()
    stripe_id, intent, end = "sub_current_" + sub["id"], "pi_current_" + sub["id"], int(time.time()) + 30 * 86_400
    invoice = {"id": "in_current_" + sub["id"], "object": "invoice", "amount_paid": 3000, "currency": "usd",
               "parent": {"type": "subscription_details", "subscription_details": {
                   "subscription": stripe_id,
                   "metadata": {"subscription_id": sub["id"], "channel_id": ch["id"], "partner_id": p.id}}},
               "payments": {"data": [{"payment": {"type": "payment_intent", "payment_intent": intent}}]},
               "lines": {"data": [{"period": {"start": end - 30 * 86_400, "end": end}}]}}
    before = channel(p, ch["id"])["activeTill"]
    r = send_event("invoice.paid", invoice)
    assert r.status_code == 200 and "extended by 30 days" in r.json()["outcome"], r.text
    assert send_event("invoice.payment_succeeded", invoice).json()["outcome"] == "already credited"
    shown = p.get(f"/channels/{ch['id']}/subscription").json()
    assert (shown["status"], shown["currentPeriodEnd"]) == ("active", end * 1000)
    assert stripe_subscription(db, sub["id"]) == stripe_id
    assert channel(p, ch["id"])["activeTill"] > before + 29 * DAY

    r = send_event("charge.refunded", {"id": "ch_current_" + sub["id"], "object": "charge", "payment_intent": intent,
                                       "amount": 3000, "amount_refunded": 3000})
    assert r.json()["outcome"].startswith("refund: 30 days taken back"), r.text
    assert p.balance == 1
    assert_ledger_sound()


def test_an_expired_checkout_ends_a_pending_subscription_and_frees_the_channel(make_payer, standin_session,
                                                                               send_event):
    p = make_payer()
    ch = new_channel(p)
    sub = p.post(f"/channels/{ch['id']}/subscription", json={"interval": "month"}).json()
    # A Checkout page nobody pays expires after a day; Stripe says so.
    session = {**standin_session(session_of(sub)), "status": "expired"}
    r = send_event("checkout.session.expired", session)
    assert r.json()["outcome"] == f"subscription {sub['id']} expired", r.text
    assert p.get(f"/channels/{ch['id']}/subscription").json()["status"] == "expired"
    assert send_event("checkout.session.expired", session).json()["outcome"] == "ignored: subscription is expired"
    again = p.post(f"/channels/{ch['id']}/subscription", json={"interval": "year"})
    assert again.status_code == 201, again.text


@pytest.fixture
def events_held(stripe_env, pay_url):
    """The stand-in keeps its Checkout events to itself (Stripe's event is late)."""
    def configure(url):
        r = httpx.post(f"{stripe_env.standin_url}/_standin/config", json={"webhook_url": url})
        assert r.status_code == 200, r.text
    configure(None)
    yield
    configure(pay_url + "/stripe/webhook")


def expire_in_stripe(stripe_env, session_id: str) -> None:
    r = httpx.post(f"{stripe_env.standin_url}/v1/checkout/sessions/{session_id}/expire",
                   headers={"Authorization": f"Bearer {stripe_env.secret_key}"})
    assert r.status_code == 200, r.text


def test_cancel_finds_out_what_became_of_the_checkout_when_its_event_is_late(make_payer, checkout_complete,
                                                                            standin_session, stripe_env, events_held):
    p = make_payer()
    paid, lapsed = new_channel(p), new_channel(p)
    sub = p.post(f"/channels/{paid['id']}/subscription", json={"interval": "month"}).json()
    checkout_complete(session_of(sub))  # paid in Stripe; dayledger has not heard yet
    r = p.delete(f"/channels/{paid['id']}/subscription")
    assert r.status_code == 200 and r.json()["status"] == "canceling", r.text  # the started one ends at period end
    stripe_id = standin_session(session_of(sub))["subscription"]
    assert stripe_env.stripe.v1.subscriptions.retrieve(stripe_id).cancel_at_period_end is True

    other = p.post(f"/channels/{lapsed['id']}/subscription", json={"interval": "month"}).json()
    expire_in_stripe(stripe_env, session_of(other))  # the page expired; its event never came
    r = p.delete(f"/channels/{lapsed['id']}/subscription")
    assert r.status_code == 200 and r.json()["status"] == "canceled", r.text


def test_a_period_paid_before_the_checkout_event_arrives_is_found_through_stripe(make_payer, checkout_complete, db,
                                                                                  standin_session, wait, events_held,
                                                                                  assert_ledger_sound):
    """localstripe's own invoice.payment_succeeded comes first: dayledger reads the Stripe
    subscription's metadata to find whose period it is."""
    p = make_payer(balance=4)
    ch = new_channel(p)
    sub = p.post(f"/channels/{ch['id']}/subscription", json={"interval": "month"}).json()
    checkout_complete(session_of(sub))
    before = channel(p, ch["id"])["activeTill"]
    wait(lambda: channel(p, ch["id"])["activeTill"] >= before + 30 * DAY)
    shown = p.get(f"/channels/{ch['id']}/subscription").json()
    assert shown["status"] == "active" and shown["currentPeriodEnd"] is not None
    assert stripe_subscription(db, sub["id"]) == standin_session(session_of(sub))["subscription"]
    assert p.balance == 4
    assert_ledger_sound()


def test_invoices_of_subscriptions_that_are_not_ours_are_acknowledged(send_event, db):
    """A subscription Stripe does not know (404) or one without our metadata: nothing to
    credit, and Stripe is not asked to retry forever."""
    before = db.scalar("SELECT count(*) FROM payments WHERE kind = 'subscription'")
    r = send_event("invoice.paid", {"id": "in_elsewhere", "object": "invoice", "subscription": "sub_nowhere",
                                    "amount_paid": 3000, "currency": "usd"})
    assert r.status_code == 200 and r.json()["outcome"] == "ignored: not a channel subscription", r.text
    assert db.scalar("SELECT count(*) FROM payments WHERE kind = 'subscription'") == before


def test_deleting_a_subscribed_channel_ends_its_stripe_subscription(make_payer, checkout_complete, stripe_env, db,
                                                                    run_worker, wait, assert_ledger_sound):
    p = make_payer()
    ch = new_channel(p)
    sub = p.post(f"/channels/{ch['id']}/subscription", json={"interval": "month"}).json()
    checkout_complete(session_of(sub))
    wait(lambda: channel(p, ch["id"])["mode"] == "live")
    stripe_id = stripe_subscription(db, sub["id"])
    assert run_worker()["subscriptionsEnded"] == 0  # a running channel keeps its subscription
    r = p.delete(f"/channels/{ch['id']}")
    assert r.status_code == 200, r.text
    assert run_worker()["subscriptionsEnded"] == 1
    assert stripe_env.stripe.v1.subscriptions.retrieve(stripe_id).status == "canceled"
    assert db.scalar("SELECT status FROM subscriptions WHERE id = :i", i=sub["id"]) == "canceled"
    assert run_worker()["subscriptionsEnded"] == 0
    assert_ledger_sound()
