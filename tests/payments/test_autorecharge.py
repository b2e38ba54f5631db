"""Saved cards and auto-recharge end to end through localstripe: a card saved through a
Checkout Session in setup mode (the local stand-in), a rule "below X buy Y", the worker
charging the card off-session once per crossing, and localstripe's own signed
payment_intent.succeeded crediting the days once. A declined card records the failure and
is not charged again in a loop; concurrent workers charge once; a worker that lost
Stripe's answer or its event settles the charge later. assert_ledger_sound() closes every
scenario."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import text

from conftest import check_error, free_port, new_client
from dayledger.context import Services
from dayledger.db import Database
from dayledger.idempotency import InFlight
from dayledger.worker import run_once

GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000341"  # attaches, but every charge is declined
CHARGED = "autorechargesCharged"


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


async def _insert_card(session, pm_id: str, partner_id: str, created_ms: int) -> None:
    """A saved card as if stored earlier (one Stripe does not know)."""
    await session.execute(text("INSERT INTO payment_methods (id, partner_id, brand, last4, created_ms) "
                               "VALUES (:id, :p, 'visa', '0000', :t)"), {"id": pm_id, "p": partner_id, "t": created_ms})


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
    run_worker()
    assert p.balance == 20 and intents_of(stripe_env, customer) == []
    debit(pay_admin, p, 10)
    run_worker()
    assert intents_of(stripe_env, customer) == []

    # Below it: one off-session charge of the quoted price to the saved card.
    debit(pay_admin, p, 5)
    run_worker()
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
    run_worker()
    assert len(intents_of(stripe_env, customer)) == 1 and len(topups_of(p)) == 1

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
    run_worker()
    assert rule_of(p)["armed"] is True
    assert len(intents_of(stripe_env, customer)) == 1
    debit(pay_admin, p, 30)
    assert p.balance == 5
    run_worker()
    assert len(intents_of(stripe_env, customer)) == 2
    wait(lambda: p.balance == 35)
    assert [t["status"] for t in topups_of(p)] == ["paid", "paid"]
    run_worker()
    assert len(intents_of(stripe_env, customer)) == 2
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

    run_worker()
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
        run_worker()
    assert len(intents_of(stripe_env, customer)) == 1 and p.balance == 3
    assert rule_of(p)["lastFailure"] == rule["lastFailure"]

    # A working card and the rule set again: armed, the failure cleared, charged once.
    clock.advance(seconds=1)
    good = save_card(p, checkout_complete, GOOD_CARD)
    assert [c["default"] for c in p.get(f"/partners/{p.name}/payment-methods").json()["paymentMethods"]] == \
        [True, False]
    again = set_rule(p, belowDays=10, buyDays=60)
    assert again["armed"] is True and again["lastFailure"] is None
    run_worker()
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

    # A card Stripe no longer has (removed in its dashboard) is forgotten all the same.
    gone = "pm_" + secrets.token_hex(8)
    db.run(_insert_card, gone, p.id, clock.now_ms() - 1)
    assert [c["id"] for c in p.get(f"/partners/{p.name}/payment-methods").json()["paymentMethods"]] == \
        [second["id"], gone]
    r = p.delete(f"/partners/{p.name}/payment-methods/{gone}")
    assert r.status_code == 200 and r.json()["id"] == gone, r.text

    # With no card left, a due rule records why it could not charge (once), and charges nothing.
    assert p.delete(f"/partners/{p.name}/payment-methods/{second['id']}").status_code == 200
    assert p.get(f"/partners/{p.name}/payment-methods").json() == {"paymentMethods": []}
    debit(pay_admin, p, 45)
    run_worker()
    run_worker()
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


def ready(p, checkout_complete, *, below: int = 10, buy: int = 30, card: str = GOOD_CARD) -> dict:
    """A partner with a saved card and an armed rule; the card."""
    saved = save_card(p, checkout_complete, card)
    set_rule(p, belowDays=below, buyDays=buy)
    return saved


def test_concurrent_workers_charge_each_crossing_once(make_payer, checkout_complete, stripe_env, pay_settings, clock,
                                                      db, wait, assert_ledger_sound):
    payers = [make_payer(currency="USD", pricePerMonth="30", balance=2) for _ in range(4)]
    for p in payers:
        ready(p, checkout_complete)
    start = threading.Barrier(3)

    def work(_):
        start.wait()
        return run_worker_with(pay_settings, clock)[CHARGED]
    with ThreadPoolExecutor(3) as pool:
        charged = list(pool.map(work, range(3)))
    assert sum(charged) >= 4, charged
    for p in payers:  # each rule taken by exactly one worker
        intents = intents_of(stripe_env, customer_of(db, p))
        assert len(intents) == 1 and len(topups_of(p)) == 1, (p.name, intents)
        wait(lambda p=p: p.balance == 32)
        assert [t["status"] for t in topups_of(p)] == ["paid"]
    assert_ledger_sound()


def test_bad_requests_change_nothing(make_payer, make_partner, pay_admin, pay_url, checkout_complete, stripe_env,
                                     assert_ledger_sound):
    # The server without Stripe keys says what to set; reading works.
    q = make_partner(currency="USD", pricePerMonth="30")
    check_error(q.post(f"/partners/{q.name}/payment-methods"), 503, message="DAYLEDGER_STRIPE_SECRET_KEY")
    check_error(q.put(f"/partners/{q.name}/autorecharge", json={"belowDays": 5, "buyDays": 30, "enabled": True}),
                503, message="DAYLEDGER_STRIPE_SECRET_KEY")
    check_error(q.delete(f"/partners/{q.name}/payment-methods/pm_{'A' * 14}"), 503)
    assert q.get(f"/partners/{q.name}/payment-methods").json() == {"paymentMethods": []}
    check_error(q.get(f"/partners/{q.name}/autorecharge"), 404)
    check_error(q.delete(f"/partners/{q.name}/autorecharge"), 404)

    p = make_payer(currency="USD", pricePerMonth="30", balance=40)
    check_error(p.put(f"/partners/{p.name}/autorecharge", json={"belowDays": 5, "buyDays": 30, "enabled": True}),
                409, message="save a card")
    check_error(p.get(f"/partners/{p.name}/autorecharge"), 404)
    mine = save_card(p, checkout_complete)
    rule = set_rule(p, belowDays=5, buyDays=30)
    for body in ({}, {"belowDays": 5, "buyDays": 30}, {"belowDays": 0, "buyDays": 30, "enabled": True},
                 {"belowDays": 5, "buyDays": 0, "enabled": True}, {"belowDays": 5, "buyDays": 1_000_001, "enabled": True},
                 {"belowDays": 1_000_001, "buyDays": 5, "enabled": True}, {"belowDays": -1, "buyDays": 5, "enabled": True},
                 {"belowDays": "5", "buyDays": 30, "enabled": True}, {"belowDays": 5.0, "buyDays": 30, "enabled": True},
                 {"belowDays": 5, "buyDays": 30, "enabled": "yes"}, {"belowDays": 5, "buyDays": 30, "enabled": 1},
                 {"belowDays": 5, "buyDays": 30, "enabled": True, "extra": 1},
                 {"belowDays": 5, "buyDays": 30, "enabled": True, "paymentMethodId": "card_123"},
                 {"belowDays": None, "buyDays": 30, "enabled": True}, [1, 2]):
        check_error(p.put(f"/partners/{p.name}/autorecharge", json=body), 422)
    check_error(p.put(f"/partners/{p.name}/autorecharge", content=b"{", headers={"Content-Type": "application/json"}),
                422)
    check_error(p.delete(f"/partners/{p.name}/payment-methods/not-a-card"), 422)
    assert rule_of(p) == rule

    # Another partner's card is not found through one's own account; another's account is refused.
    other = make_payer(currency="USD", pricePerMonth="30")
    theirs = save_card(other, checkout_complete)
    check_error(p.delete(f"/partners/{p.name}/payment-methods/{theirs['id']}"), 404)
    check_error(p.put(f"/partners/{p.name}/autorecharge",
                      json={"belowDays": 5, "buyDays": 30, "enabled": True, "paymentMethodId": theirs["id"]}), 404)
    check_error(p.delete(f"/partners/{p.name}/payment-methods/pm_{'Z' * 14}"), 404)
    for call in (lambda: p.get(f"/partners/{other.name}/payment-methods"),
                 lambda: p.post(f"/partners/{other.name}/payment-methods"),
                 lambda: p.delete(f"/partners/{other.name}/payment-methods/{theirs['id']}"),
                 lambda: p.get(f"/partners/{other.name}/autorecharge"),
                 lambda: p.put(f"/partners/{other.name}/autorecharge",
                               json={"belowDays": 5, "buyDays": 30, "enabled": True}),
                 lambda: p.delete(f"/partners/{other.name}/autorecharge")):
        check_error(call(), 403)
    assert [c["id"] for c in other.get(f"/partners/{other.name}/payment-methods").json()["paymentMethods"]] == \
        [theirs["id"]]
    assert stripe_env.stripe.v1.payment_methods.retrieve(theirs["id"]).customer is not None
    assert rule_of(p) == rule and [c["id"] for c in p.get(f"/partners/{p.name}/payment-methods").json()[
        "paymentMethods"]] == [mine["id"]]

    # A read token reads but changes nothing; the operator acts for any partner.
    token = pay_admin.post(f"/admin/partners/{p.name}/tokens", json={"name": "ro", "scope": "read"}).json()["token"]
    with new_client(pay_url, token) as ro:
        assert ro.get(f"/partners/{p.name}/autorecharge").json() == rule
        assert ro.get(f"/partners/{p.name}/payment-methods").status_code == 200
        check_error(ro.put(f"/partners/{p.name}/autorecharge", json={"belowDays": 7, "buyDays": 30, "enabled": True}),
                    403)
        check_error(ro.post(f"/partners/{p.name}/payment-methods"), 403)
        check_error(ro.delete(f"/partners/{p.name}/payment-methods/{mine['id']}"), 403)
        check_error(ro.delete(f"/partners/{p.name}/autorecharge"), 403)
    by_operator = pay_admin.put(f"/partners/{p.name}/autorecharge",
                                json={"belowDays": 7, "buyDays": 60, "enabled": False})
    assert by_operator.status_code == 200 and by_operator.json()["buyDays"] == 60, by_operator.text
    assert pay_admin.get(f"/partners/{p.name}/autorecharge").json() == rule_of(p)
    check_error(pay_admin.get("/partners/nobody-here/autorecharge"), 404)

    # Days that cost nothing cannot be bought.
    free = make_payer(currency="USD", pricePerMonth="0")
    save_card(free, checkout_complete)
    check_error(free.put(f"/partners/{free.name}/autorecharge", json={"belowDays": 5, "buyDays": 30, "enabled": True}),
                409, message="cost nothing")
    check_error(free.get(f"/partners/{free.name}/autorecharge"), 404)

    # Removing the rule answers it once.
    removed = p.delete(f"/partners/{p.name}/autorecharge")
    assert removed.status_code == 200 and removed.json()["buyDays"] == 60, removed.text
    check_error(p.get(f"/partners/{p.name}/autorecharge"), 404)
    check_error(p.delete(f"/partners/{p.name}/autorecharge"), 404)
    assert_ledger_sound()


def test_a_disabled_rule_or_a_suspended_partner_is_not_charged(make_payer, pay_admin, checkout_complete, stripe_env,
                                                               run_worker, db, wait, assert_ledger_sound):
    p = make_payer(currency="USD", pricePerMonth="30", balance=1)
    save_card(p, checkout_complete)
    assert set_rule(p, belowDays=10, buyDays=30, enabled=False)["enabled"] is False
    run_worker()
    assert intents_of(stripe_env, customer_of(db, p)) == []
    assert rule_of(p)["armed"] is True and topups_of(p) == [] and p.balance == 1

    set_rule(p, belowDays=10, buyDays=30, enabled=True)
    assert pay_admin.post(f"/admin/partners/{p.name}/suspend").status_code == 200
    run_worker()
    assert intents_of(stripe_env, customer_of(db, p)) == []
    assert pay_admin.post(f"/admin/partners/{p.name}/resume").status_code == 200
    run_worker()
    assert len(intents_of(stripe_env, customer_of(db, p))) == 1
    wait(lambda: p.balance == 31)
    assert_ledger_sound()


def unreachable(pay_settings):
    """The pay settings, but Stripe does not answer (nothing listens at its address)."""
    return pay_settings.model_copy(update={"stripe_api_base": f"http://127.0.0.1:{free_port()}"})


def test_a_charge_stripe_did_not_answer_is_asked_again_later_and_made_once(
        make_payer, checkout_complete, stripe_env, pay_settings, run_worker, clock, db, wait, assert_ledger_sound):
    p = make_payer(currency="JPY", pricePerMonth="3000", balance=4)
    ready(p, checkout_complete, buy=45)
    customer = customer_of(db, p)
    run_worker_with(unreachable(pay_settings), clock)
    [topup] = topups_of(p)
    assert topup["status"] == "pending" and topup["total"] == "4500" and topup["currency"] == "JPY"
    assert intents_of(stripe_env, customer) == [] and rule_of(p)["lastFailure"] is None
    # In flight: neither the next round nor the rule charges again before the lease runs out.
    clock.advance(seconds=60)
    run_worker()
    assert intents_of(stripe_env, customer) == [] and len(topups_of(p)) == 1
    clock.advance(seconds=600)
    run_worker()
    [pi] = intents_of(stripe_env, customer)
    assert pi.metadata["topup_id"] == topup["id"] and (pi.amount, pi.currency) == (4500, "jpy")
    wait(lambda: p.balance == 49)
    assert [t["status"] for t in topups_of(p)] == ["paid"]
    clock.advance(seconds=3600)
    run_worker()
    assert len(intents_of(stripe_env, customer)) == 1
    assert_ledger_sound()


def test_a_charge_never_answered_within_stripes_key_window_is_not_asked_again(
        make_payer, checkout_complete, stripe_env, pay_settings, run_worker, clock, db, assert_ledger_sound):
    p = make_payer(currency="USD", pricePerMonth="30", balance=0)
    ready(p, checkout_complete, below=1, buy=30)
    run_worker_with(unreachable(pay_settings), clock)
    [topup] = topups_of(p)
    assert topup["status"] == "pending"
    # A day later Stripe may have forgotten the idempotency key: failed, not charged a second time.
    clock.advance(days=1)
    run_worker()
    [failed] = topups_of(p)
    assert failed["status"] == "failed" and intents_of(stripe_env, customer_of(db, p)) == []
    assert rule_of(p)["lastFailure"]["code"] == "not_charged" and p.balance == 0
    assert_ledger_sound()


def test_a_lost_event_is_settled_from_the_payment_intent(make_payer, checkout_complete, stripe_env, pay_url,
                                                         run_worker, clock, db, assert_ledger_sound):
    p = make_payer(currency="EUR", pricePerMonth="30", balance=0)
    ready(p, checkout_complete, below=1, buy=30)
    hooks = f"{stripe_env.localstripe_url}/_config/webhooks/dayledger"
    lost = httpx.post(hooks, data={"url": f"http://127.0.0.1:{free_port()}/stripe/webhook",
                                   "secret": stripe_env.webhook_secret})
    assert lost.status_code == 200, lost.text
    try:
        run_worker()
        [topup] = topups_of(p)
        time.sleep(2)  # localstripe sent payment_intent.succeeded into the void
        assert p.balance == 0
        assert db.scalar("SELECT status FROM payments WHERE id = :t", t=topup["id"]) == "pending"
        intent = db.scalar("SELECT stripe_payment_intent FROM payments WHERE id = :t", t=topup["id"])
        assert intent and stripe_env.stripe.v1.payment_intents.retrieve(intent).status == "succeeded"
        clock.advance(seconds=601)
        run_worker()  # the stale top-up, looked up, not charged again
        assert p.balance == 30 and [t["status"] for t in topups_of(p)] == ["paid"]
        assert len(intents_of(stripe_env, customer_of(db, p))) == 1
        entry = db.rows("SELECT type, days, actor_type, actor_id FROM ledger_entries WHERE payment_id = :t",
                        t=topup["id"])
        assert entry == [("topup", 30, "stripe", intent)]
    finally:
        restored = httpx.post(hooks, data={"url": pay_url + "/stripe/webhook", "secret": stripe_env.webhook_secret})
        assert restored.status_code == 200, restored.text
    assert_ledger_sound()


def test_events_that_are_not_an_autorecharges_are_left_alone_and_mismatches_are_flagged(
        make_payer, checkout_complete, send_event, stripe_env, pay_settings, run_worker, clock, db,
        assert_ledger_sound):
    p = make_payer(currency="USD", pricePerMonth="30", balance=0)
    ready(p, checkout_complete, below=1, buy=30)

    # A Checkout top-up's PaymentIntent carries topup_id too: the top-ups road's, not credited here.
    checkout = p.post(f"/partners/{p.name}/topups", json={"days": 30}).json()
    pi = {"id": "pi_test_" + secrets.token_hex(8), "object": "payment_intent", "amount": 3000, "amount_received": 3000,
          "currency": "usd", "status": "succeeded", "metadata": {"topup_id": checkout["id"], "partner_id": p.id}}
    assert send_event("payment_intent.succeeded", pi).json()["outcome"] == "ignored"
    assert send_event("payment_intent.payment_failed", pi).json()["outcome"] == "ignored"
    assert send_event("payment_intent.succeeded", {**pi, "metadata": {}}).json()["outcome"] == "ignored"
    nobody = {**pi, "metadata": {"topup_id": "top_" + "N" * 20, "purpose": "autorecharge"}}
    assert send_event("payment_intent.succeeded", nobody).json()["outcome"] == f"ignored: no auto-recharge top-up " \
                                                                             f"top_{'N' * 20}"
    # Setup sessions that are not a card saved for this partner's customer.
    setup = {"id": "cs_test_x", "object": "checkout.session", "mode": "setup", "setup_intent": "seti_x",
             "customer": customer_of(db, p), "metadata": {"partner_id": p.id, "purpose": "save_card"}}
    assert send_event("checkout.session.completed", {**setup, "metadata": {}}).json()["outcome"] == "ignored"
    assert send_event("checkout.session.completed", {**setup, "metadata": {"partner_id": "prt_nobody",
                                                                           "purpose": "save_card"}}
                      ).json()["outcome"] == "ignored: no partner 'prt_nobody'"
    assert send_event("checkout.session.completed", {**setup, "customer": "cus_someone_else"}).json()["outcome"] == \
        "ignored: the session is not for the partner's Stripe customer"
    assert len(p.get(f"/partners/{p.name}/payment-methods").json()["paymentMethods"]) == 1
    assert p.get(f"/partners/{p.name}/topups/{checkout['id']}").json()["status"] == "pending" and p.balance == 0

    # An auto-recharge top-up whose charge Stripe did not answer yet: an event with the wrong
    # amount or currency is flagged and credits nothing; the right one credits once.
    run_worker_with(unreachable(pay_settings), clock)
    [topup] = [t for t in topups_of(p) if t["source"] == "autorecharge"]
    ours = {**pi, "id": "pi_test_" + secrets.token_hex(8), "metadata": {"topup_id": topup["id"], "purpose": "autorecharge"}}
    bad = send_event("payment_intent.succeeded", {**ours, "amount_received": 2999}).json()["outcome"]
    assert bad.startswith("flagged: amount 2999 but the payment needs 3000"), bad
    bad = send_event("payment_intent.succeeded", {**ours, "currency": "eur"}).json()["outcome"]
    assert bad.startswith("flagged: currency 'eur'"), bad
    assert p.balance == 0 and credits_of(db, topup["id"]) == []
    assert send_event("payment_intent.succeeded", ours).json()["outcome"] == "credited 30 days"
    assert send_event("payment_intent.succeeded", ours).json()["outcome"] == "already credited"
    stray = "pi_test_" + secrets.token_hex(8)
    other = send_event("payment_intent.succeeded", {**ours, "id": stray}).json()["outcome"]
    assert other.startswith(f"flagged: payment intent '{stray}' is not this top-up's"), other
    assert p.balance == 30 and credits_of(db, topup["id"]) == [("topup", 30)]
    shown = rule_of(p)
    assert shown["lastPaymentId"] == topup["id"] and shown["lastFailure"] is None
    # A failure reported after the payment succeeded changes nothing.
    late = send_event("payment_intent.payment_failed", {**ours, "status": "requires_payment_method"})
    assert late.json()["outcome"] == "ignored: top-up is paid"
    clock.advance(seconds=3600)
    run_worker()  # paid: not stale, nothing to ask again
    assert [t["status"] for t in topups_of(p) if t["source"] == "autorecharge"] == ["paid"]
    assert intents_of(stripe_env, customer_of(db, p)) == []
    assert_ledger_sound()
