"""Saved cards and auto-recharge end to end through localstripe: a card saved through a
Checkout Session in setup mode (the local stand-in), a rule "below X buy Y", the worker
charging the card off-session once per crossing, and localstripe's own signed
payment_intent.succeeded crediting the days once. A declined card records the failure and
is not charged again in a loop; concurrent workers charge once; a worker that lost
Stripe's answer or its event settles the charge later. assert_ledger_sound() closes every
scenario."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from conftest import check_error, free_port, new_client
from dayledger.context import Services
from dayledger.db import Database
from dayledger.idempotency import InFlight
from dayledger.worker import run_once

GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000341"  # attaches, but every charge is declined
CHARGED = "autorechargesCharged"
REARMED = "autorechargesRearmed"


def save_card(p, checkout_complete, card: str = GOOD_CARD) -> dict:
    """Save a card as a partner does: the setup session, paid in the stand-in; the card."""
    r = p.post(f"/partners/{p.name}/payment-methods")
    assert r.status_code == 201, r.text
    checkout_complete(r.json()["sessionId"], card=card)
    cards = p.get(f"/partners/{p.name}/payment-methods").json()["paymentMethods"]
    assert cards and cards[0]["last4"] == card[-4:], cards
    return cards[0]


def set_rule(p, **body) -> dict:
    r = p.put(f"/partners/{p.name}/autorecharge", json={"enabled": True, **body})
    assert r.status_code == 200, r.text
    return r.json()


def rule_of(p) -> dict:
    r = p.get(f"/partners/{p.name}/autorecharge")
    assert r.status_code == 200, r.text
    return r.json()


def debit(pay_admin, p, days: int) -> None:
    r = pay_admin.post(f"/admin/partners/{p.name}/debit", json={"days": days, "comment": "spent"})
    assert r.status_code == 200, r.text


def credit(pay_admin, p, days: int) -> None:
    r = pay_admin.post(f"/admin/partners/{p.name}/credit", json={"days": days, "comment": "bought elsewhere"})
    assert r.status_code == 200, r.text


def customer_of(db, p) -> str:
    return db.scalar("SELECT stripe_customer_id FROM partners WHERE id = :p", p=p.id)


def intents_of(stripe_env, customer: str) -> list:
    """Every PaymentIntent localstripe holds for the customer, oldest first."""
    listed = stripe_env.stripe.v1.payment_intents.list(params={"limit": 100}).auto_paging_iter()
    return [pi for pi in listed if pi.customer == customer]


def topups_of(p) -> list[dict]:
    return p.get(f"/partners/{p.name}/topups").json()["topups"]


def credits_of(db, payment_id: str) -> list[tuple]:
    return db.rows("SELECT type, days FROM ledger_entries WHERE payment_id = :p", p=payment_id)


def run_worker_with(settings, clock) -> dict[str, int]:
    """Every worker job once with ``settings`` (a worker configured differently)."""
    async def main():
        db = Database(settings.sqlalchemy_url(), pool_size=2)
        try:
            return await run_once(Services(settings=settings, db=db, clock=clock, in_flight=InFlight()))
        finally:
            await db.dispose()
    return asyncio.run(main())


def test_a_saved_card_is_charged_once_per_crossing_and_the_webhook_credits_once(
        make_payer, pay_admin, standin_session, checkout_complete, send_event, stripe_env, run_worker, db, wait,
        clock, assert_ledger_sound):
    p = make_payer(currency="USD", pricePerMonth="30", balance=20)
    assert p.get(f"/partners/{p.name}/payment-methods").json() == {"paymentMethods": []}
    check_error(p.get(f"/partners/{p.name}/autorecharge"), 404)

    # Saving a card: a setup session for the partner's Stripe customer, paid in the stand-in.
    r = p.post(f"/partners/{p.name}/payment-methods")
    assert r.status_code == 201, r.text
    setup = r.json()
    assert set(setup) == {"setupUrl", "sessionId"}
    assert setup["setupUrl"] == f"{stripe_env.standin_url}/pay/{setup['sessionId']}"
    s = standin_session(setup["sessionId"])
    assert s["mode"] == "setup" and s["metadata"] == {"partner_id": p.id, "purpose": "save_card"}
    assert s["customer"] == customer_of(db, p) and s["success_url"].endswith("/dashboard/payment-methods")
    assert p.get(f"/partners/{p.name}/payment-methods").json() == {"paymentMethods": []}  # not finished yet
    done = checkout_complete(setup["sessionId"])
    cards = p.get(f"/partners/{p.name}/payment-methods").json()["paymentMethods"]
    seti = stripe_env.stripe.v1.setup_intents.retrieve(done["setup_intent"])
    assert cards == [{"id": seti.payment_method, "brand": "visa", "last4": "4242", "expMonth": 12,
                      "expYear": 2034, "createdTS": clock.now_ms(), "default": True}], cards
    card = cards[0]
    # A redelivered completion finds the card stored.
    again = send_event("checkout.session.completed", done)
    assert again.json()["outcome"] == f"already saved: {card['id']}", again.text
    assert len(p.get(f"/partners/{p.name}/payment-methods").json()["paymentMethods"]) == 1

    rule = set_rule(p, belowDays=10, buyDays=30)
    assert rule == {"belowDays": 10, "buyDays": 30, "enabled": True, "armed": True, "paymentMethodId": None,
                    "quote": {"days": 30, "unitPrice": "30.00", "subtotal": "30.00", "discountPercent": "0",
                              "discount": "0.00", "total": "30.00", "currency": "USD"},
                    "lastPaymentId": None, "lastFailure": None, "updatedTS": clock.now_ms()}
    assert rule_of(p) == rule
    customer = customer_of(db, p)

    # At or above the threshold nothing is charged.
    assert run_worker()[CHARGED] == 0 and p.balance == 20
    debit(pay_admin, p, 10)
    assert run_worker()[CHARGED] == 0 and intents_of(stripe_env, customer) == []

    # Below it: one off-session charge of the quoted price to the saved card.
    debit(pay_admin, p, 5)
    assert run_worker()[CHARGED] == 1
    intents = intents_of(stripe_env, customer)
    assert len(intents) == 1, intents
    pi = intents[0]
    [topup] = topups_of(p)
    assert (pi.amount, pi.currency, pi.payment_method, pi.status) == (3000, "usd", card["id"], "succeeded")
    assert pi.metadata.to_dict() == {"topup_id": topup["id"], "partner_id": p.id, "purpose": "autorecharge"}
    assert topup["source"] == "autorecharge" and topup["days"] == 30 and topup["total"] == "30.00"
    shown = rule_of(p)
    assert shown["armed"] is False and shown["lastPaymentId"] == topup["id"] and shown["lastFailure"] is None
    # The same crossing never charges twice, whether or not Stripe's event has come yet.
    assert run_worker()[CHARGED] == 0

    # localstripe's own signed payment_intent.succeeded credits the 30 days, once.
    wait(lambda: p.balance == 35)
    wait(lambda: db.scalar("SELECT outcome FROM stripe_events WHERE type = 'payment_intent.succeeded' "
                           "AND CAST(payload AS TEXT) LIKE :pi", pi=f"%{pi.id}%") == "credited 30 days")
    paid = p.get(f"/partners/{p.name}/topups/{topup['id']}").json()
    assert paid["status"] == "paid" and paid["paidTS"] is not None and paid["flag"] is None
    listed = pay_admin.get("/admin/payments", params={"partner": p.name}).json()["payments"]
    assert [(x["id"], x["stripePaymentIntent"], x["status"]) for x in listed] == [(topup["id"], pi.id, "paid")]
    event = {**pi.to_dict(), "amount_received": 3000}
    assert send_event("payment_intent.succeeded", event).json()["outcome"] == "already credited"
    assert credits_of(db, topup["id"]) == [("topup", 30)] and p.balance == 35

    # Back above the threshold, the rule is armed again; the next crossing charges again.
    done = run_worker()
    assert (done[CHARGED], done[REARMED]) == (0, 1) and rule_of(p)["armed"] is True
    assert len(intents_of(stripe_env, customer)) == 1
    debit(pay_admin, p, 30)
    assert p.balance == 5 and run_worker()[CHARGED] == 1
    assert len(intents_of(stripe_env, customer)) == 2
    wait(lambda: p.balance == 35)
    assert [t["status"] for t in topups_of(p)] == ["paid", "paid"]
    assert run_worker()[CHARGED] == 0 and len(intents_of(stripe_env, customer)) == 2
    history = p.get(f"/partners/{p.name}/history", params={"type": "topup"}).json()["history"]
    assert sorted(h["paymentId"] for h in history) == sorted(t["id"] for t in topups_of(p))
    # The partner was told of each payment.
    assert db.scalar("SELECT count(*) FROM events WHERE partner_id = :p AND type = 'topup.paid'", p=p.id) == 2
    assert_ledger_sound()


def test_a_declined_card_records_the_failure_and_is_not_charged_again(
        make_payer, pay_admin, checkout_complete, stripe_env, run_worker, db, wait, clock, assert_ledger_sound):
    p = make_payer(currency="EUR", pricePerMonth="45", balance=3)
    bad = save_card(p, checkout_complete, DECLINED_CARD)
    set_rule(p, belowDays=10, buyDays=60)
    customer = customer_of(db, p)

    assert run_worker()[CHARGED] == 1
    [attempt] = intents_of(stripe_env, customer)
    assert attempt.payment_method == bad["id"] and attempt.amount == 9000 and attempt.status != "succeeded"
    rule = rule_of(p)
    [topup] = topups_of(p)
    assert rule["armed"] is False and rule["lastPaymentId"] == topup["id"]
    assert rule["lastFailure"]["code"] == "card_declined" and rule["lastFailure"]["message"]
    assert rule["lastFailure"]["time"] == clock.now_ms()
    assert topup["status"] == "failed" and topup["paidTS"] is None and p.balance == 3
    assert db.scalar("SELECT failure FROM payments WHERE id = :p", p=topup["id"]) is not None
    # localstripe's payment_intent.payment_failed finds the failure recorded.
    wait(lambda: db.scalar("SELECT outcome FROM stripe_events WHERE type = 'payment_intent.payment_failed' "
                           "AND CAST(payload AS TEXT) LIKE :pi", pi=f"%{attempt.id}%") == "ignored: top-up is failed")
    events = db.rows("SELECT type FROM events WHERE partner_id = :p AND type LIKE 'autorecharge.%'", p=p.id)
    assert events == [("autorecharge.failed",)]

    # No loop: the balance is still below the threshold, and nothing is tried again.
    for _ in range(3):
        clock.advance(seconds=3600)
        assert run_worker()[CHARGED] == 0
    assert len(intents_of(stripe_env, customer)) == 1 and p.balance == 3
    assert rule_of(p)["lastFailure"] == rule["lastFailure"]

    # A working card and the rule set again: armed, the failure cleared, charged once.
    clock.advance(seconds=1)
    good = save_card(p, checkout_complete, GOOD_CARD)
    assert [c["default"] for c in p.get(f"/partners/{p.name}/payment-methods").json()["paymentMethods"]] == \
        [True, False]
    again = set_rule(p, belowDays=10, buyDays=60)
    assert again["armed"] is True and again["lastFailure"] is None
    assert run_worker()[CHARGED] == 1
    intents = intents_of(stripe_env, customer)
    assert len(intents) == 2 and intents[1].payment_method == good["id"]
    wait(lambda: p.balance == 63)
    assert [t["status"] for t in topups_of(p)] == ["paid", "failed"]
    assert rule_of(p)["lastFailure"] is None
    assert_ledger_sound()


def test_a_rule_may_name_its_card_and_removing_a_card_detaches_it(
        make_payer, pay_admin, checkout_complete, stripe_env, run_worker, db, clock, assert_ledger_sound):
    p = make_payer(currency="USD", pricePerMonth="30", balance=50)
    first = save_card(p, checkout_complete)
    clock.advance(seconds=1)
    second = save_card(p, checkout_complete)
    rule = set_rule(p, belowDays=10, buyDays=30, paymentMethodId=first["id"])
    assert rule["paymentMethodId"] == first["id"]
    cards = p.get(f"/partners/{p.name}/payment-methods").json()["paymentMethods"]
    assert [(c["id"], c["default"]) for c in cards] == [(second["id"], False), (first["id"], True)]

    # Removing the named card detaches it in Stripe; the rule falls back to the newest card.
    r = p.delete(f"/partners/{p.name}/payment-methods/{first['id']}")
    assert r.status_code == 200 and r.json()["id"] == first["id"], r.text
    assert stripe_env.stripe.v1.payment_methods.retrieve(first["id"]).customer is None
    assert rule_of(p)["paymentMethodId"] is None
    cards = p.get(f"/partners/{p.name}/payment-methods").json()["paymentMethods"]
    assert [(c["id"], c["default"]) for c in cards] == [(second["id"], True)]
    check_error(p.delete(f"/partners/{p.name}/payment-methods/{first['id']}"), 404)

    # With no card left, a due rule records why it could not charge (once), and charges nothing.
    assert p.delete(f"/partners/{p.name}/payment-methods/{second['id']}").status_code == 200
    assert p.get(f"/partners/{p.name}/payment-methods").json() == {"paymentMethods": []}
    debit(pay_admin, p, 45)
    assert run_worker()[CHARGED] == 0 and run_worker()[CHARGED] == 0
    shown = rule_of(p)
    assert shown["armed"] is False and shown["lastFailure"]["code"] == "no_card", shown
    assert topups_of(p) == [] and intents_of(stripe_env, customer_of(db, p)) == [] and p.balance == 5
    assert db.scalar("SELECT count(*) FROM events WHERE partner_id = :p AND type = 'autorecharge.failed'",
                     p=p.id) == 1
    # Setting the rule again needs a card now.
    check_error(p.put(f"/partners/{p.name}/autorecharge", json={"belowDays": 10, "buyDays": 30, "enabled": True}),
                409, message="save a card")
    assert rule_of(p) == shown
    assert_ledger_sound()
