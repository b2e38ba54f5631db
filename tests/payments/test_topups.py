"""Self-service top-ups end to end: a top-up created through the API opens a Checkout
Session (the local stand-in, in front of localstripe) carrying the top-up's id; paying it
credits the days exactly once, however often and in whatever order Stripe's events
arrive; an amount that does not match credits nothing and is flagged for the operator; an
expired session marks the top-up expired. assert_ledger_sound() closes every scenario."""

from __future__ import annotations

import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from conftest import check_error, new_client
from payments.conftest import wait_for


def create(p, **body) -> dict:
    r = p.post(f"/partners/{p.name}/topups", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def session_id(topup: dict) -> str:
    return topup["paymentUrl"].rsplit("/", 1)[1]


def paid_session(standin_session, topup: dict, **changes) -> dict:
    """The top-up's Checkout Session as Stripe reports it once paid (the event's object),
    without paying it in the stand-in (so no event has been sent yet)."""
    obj = standin_session(session_id(topup))
    obj.update(status="complete", payment_status="paid", payment_intent="pi_test_" + secrets.token_hex(8))
    obj.update(changes)
    return obj


def topup_credits(db, topup_id: str) -> list[tuple]:
    return db.rows("SELECT type, days, balance_delta FROM ledger_entries WHERE payment_id = :p", p=topup_id)


def test_a_topup_paid_through_checkout_credits_its_days_once(make_payer, admin, pay_admin, standin_session,
                                                             checkout_complete, send_event, stripe_env, db, wait,
                                                             assert_ledger_sound):
    p = make_payer(currency="USD", pricePerMonth="45.50")
    t = create(p, days=31)
    assert t["id"].startswith("top_") and t["status"] == "pending" and t["source"] == "checkout"
    assert (t["days"], t["channels"], t["unitPrice"], t["subtotal"], t["discountPercent"], t["discount"],
            t["total"], t["currency"]) == (31, None, "45.50", "47.02", "0", "0.00", "47.02", "USD")
    assert t["paidTS"] is None and t["flag"] is None and t["createdTS"] > 0
    assert t["paymentUrl"].startswith(stripe_env.standin_url + "/pay/cs_test_")

    # The session dayledger created: one line of exactly the total, the top-up's id on it.
    s = standin_session(session_id(t))
    assert s["mode"] == "payment" and s["client_reference_id"] == t["id"] and s["amount_total"] == 4702
    assert s["metadata"] == {"topup_id": t["id"], "partner_id": p.id} and s["currency"] == "usd"
    assert s["success_url"].endswith(f"/dashboard/topup?topup={t['id']}")
    customer = stripe_env.stripe.v1.customers.retrieve(s["customer"])
    assert customer.metadata["partner_id"] == p.id
    assert p.balance == 0 and p.get(f"/partners/{p.name}/topups/{t['id']}").json()["status"] == "pending"

    done = checkout_complete(s["id"])  # the stand-in has delivered checkout.session.completed when it returns
    assert p.balance == 31
    shown = p.get(f"/partners/{p.name}/topups/{t['id']}").json()
    assert shown["status"] == "paid" and shown["paidTS"] is not None and shown["flag"] is None
    intent = stripe_env.stripe.v1.payment_intents.retrieve(done["payment_intent"])
    assert intent.metadata["topup_id"] == t["id"] and intent.amount == 4702
    history = p.get(f"/partners/{p.name}/history", params={"type": "topup"}).json()["history"]
    assert len(history) == 1 and history[0]["paymentId"] == t["id"], history

    # The same completion again (Stripe retries with a new event id too), and localstripe's own
    # payment_intent.succeeded for the session's PaymentIntent: nothing more is credited.
    again = send_event("checkout.session.completed", done)
    assert again.status_code == 200 and again.json()["outcome"] == "already credited", again.text
    wait(lambda: db.scalar("SELECT count(*) FROM stripe_events WHERE type = 'payment_intent.succeeded' "
                           "AND CAST(payload AS TEXT) LIKE :pi", pi=f"%{done['payment_intent']}%"))
    assert p.balance == 31 and topup_credits(db, t["id"]) == [("topup", 31, 31)]
    listed = pay_admin.get("/admin/payments", params={"partner": p.name}).json()
    assert listed["total"] == 1 and listed["payments"][0]["stripePaymentIntent"] == done["payment_intent"]
    assert listed["payments"][0]["stripeCheckoutSession"] == s["id"] and listed["payments"][0]["status"] == "paid"
    assert_ledger_sound()


def test_channels_buy_thirty_days_each_and_jpy_is_charged_in_yen(make_payer, standin_session, checkout_complete,
                                                                  assert_ledger_sound):
    p = make_payer(currency="JPY", pricePerMonth="1000")
    t = create(p, channels=3)
    assert (t["days"], t["channels"], t["total"], t["currency"]) == (90, 3, "3000", "JPY")
    s = standin_session(session_id(t))
    assert s["amount_total"] == 3000 and s["currency"] == "jpy"  # yen have no minor unit: not 300000
    odd = create(p, days=31)
    assert standin_session(session_id(odd))["amount_total"] == 1033 and odd["total"] == "1033"
    checkout_complete(s["id"])
    checkout_complete(session_id(odd))
    assert p.balance == 121
    assert_ledger_sound()


def test_the_same_event_five_times_at_once_credits_once(make_payer, standin_session, send_event, db,
                                                         assert_ledger_sound):
    p = make_payer(currency="EUR", pricePerMonth="19.99")
    t = create(p, days=45)
    obj = paid_session(standin_session, t)
    event_id = "evt_test_" + secrets.token_hex(12)
    start = threading.Barrier(5)

    def deliver(_):
        start.wait()
        return send_event("checkout.session.completed", obj, event_id=event_id)
    with ThreadPoolExecutor(5) as pool:
        replies = list(pool.map(deliver, range(5)))
    assert [r.status_code for r in replies] == [200] * 5, [r.text for r in replies]
    outcomes = sorted(r.json()["outcome"] for r in replies)
    assert outcomes == ["credited 45 days"] + ["duplicate: already received"] * 4, outcomes
    assert p.balance == 45 and topup_credits(db, t["id"]) == [("topup", 45, 45)]
    assert db.scalar("SELECT count(*) FROM stripe_events WHERE id = :e", e=event_id) == 1
    assert_ledger_sound()


def test_completed_and_async_succeeded_for_one_session_credit_once(make_payer, standin_session, send_event, db,
                                                                   assert_ledger_sound):
    p = make_payer(currency="USD", pricePerMonth="30")
    t = create(p, days=60)
    obj = paid_session(standin_session, t)
    start = threading.Barrier(2)

    def deliver(kind):
        start.wait()
        return send_event(kind, obj)
    with ThreadPoolExecutor(2) as pool:
        replies = list(pool.map(deliver, ["checkout.session.completed", "checkout.session.async_payment_succeeded"]))
    outcomes = sorted(r.json()["outcome"] for r in replies)
    assert outcomes == ["already credited", "credited 60 days"], [r.text for r in replies]
    assert p.balance == 60 and topup_credits(db, t["id"]) == [("topup", 60, 60)]
    # Out of order afterwards: an expiry or a failure of a paid top-up changes nothing.
    for kind in ("checkout.session.expired", "checkout.session.async_payment_failed"):
        r = send_event(kind, obj)
        assert r.status_code == 200 and r.json()["outcome"] == "ignored: top-up is paid", r.text
    assert p.get(f"/partners/{p.name}/topups/{t['id']}").json()["status"] == "paid" and p.balance == 60
    assert_ledger_sound()


def test_an_asynchronous_payment_waits_then_succeeds_or_fails(make_payer, standin_session, send_event,
                                                              assert_ledger_sound):
    p = make_payer(currency="USD", pricePerMonth="30")
    later, never = create(p, days=10), create(p, days=20)
    for t in (later, never):
        obj = paid_session(standin_session, t, payment_status="unpaid")
        r = send_event("checkout.session.completed", obj)
        assert r.status_code == 200 and r.json()["outcome"] == "awaiting asynchronous payment", r.text
    assert p.balance == 0
    r = send_event("checkout.session.async_payment_succeeded", paid_session(standin_session, later))
    assert r.json()["outcome"] == "credited 10 days", r.text
    r = send_event("checkout.session.async_payment_failed",
                   paid_session(standin_session, never, payment_status="unpaid"))
    assert r.json()["outcome"] == "failed", r.text
    assert p.balance == 10
    shown = {t["id"]: t["status"] for t in p.get(f"/partners/{p.name}/topups").json()["topups"]}
    assert shown == {later["id"]: "paid", never["id"]: "failed"}
    assert_ledger_sound()


def test_a_mismatched_amount_or_currency_credits_nothing_and_is_flagged(make_payer, pay_admin, standin_session,
                                                                        send_event, db, assert_ledger_sound):
    p = make_payer(currency="USD", pricePerMonth="30")
    short, foreign = create(p, days=30), create(p, days=31)
    r = send_event("checkout.session.completed", paid_session(standin_session, short, amount_total=2999))
    assert r.status_code == 200 and r.json()["outcome"].startswith("flagged: amount 2999"), r.text
    r = send_event("checkout.session.completed", paid_session(standin_session, foreign, currency="eur"))
    assert r.status_code == 200 and r.json()["outcome"].startswith("flagged: currency 'eur'"), r.text
    assert p.balance == 0 and topup_credits(db, short["id"]) == [] and topup_credits(db, foreign["id"]) == []

    shown = p.get(f"/partners/{p.name}/topups/{short['id']}").json()
    assert shown["status"] == "pending" and "3000" in shown["flag"] and shown["paidTS"] is None
    flagged = pay_admin.get("/admin/payments", params={"partner": p.name, "flagged": "true"}).json()
    assert {x["id"] for x in flagged["payments"]} == {short["id"], foreign["id"]}, flagged
    assert all(x["flag"] and x["partner"] == p.name and x["kind"] == "topup" for x in flagged["payments"])
    assert pay_admin.get("/admin/payments", params={"partner": p.name, "flagged": "false"}).json()["total"] == 0
    events = pay_admin.get("/admin/stripe/events", params={"outcome": "flagged: currency 'eur'"}).json()
    assert any(e["type"] == "checkout.session.completed" for e in events["events"]), events
    assert_ledger_sound()


def test_an_expired_session_marks_the_topup_expired(make_payer, stripe_env, send_event, standin_session,
                                                    assert_ledger_sound):
    p = make_payer(currency="USD", pricePerMonth="30")
    t = create(p, days=30)
    kept = create(p, days=60)
    r = httpx.post(f"{stripe_env.standin_url}/v1/checkout/sessions/{session_id(t)}/expire",
                   headers={"Authorization": f"Bearer {stripe_env.secret_key}"})  # the stand-in sends the event
    assert r.status_code == 200, r.text
    # The stand-in sends the event after answering, as Stripe does.
    shown = wait_for(lambda: (x := p.get(f"/partners/{p.name}/topups/{t['id']}").json())["status"] == "expired" and x)
    assert p.balance == 0
    expired = p.get(f"/partners/{p.name}/topups", params={"status": "expired"}).json()
    assert [x["id"] for x in expired["topups"]] == [t["id"]] and expired["total"] == 1
    assert p.get(f"/partners/{p.name}/topups/{kept['id']}").json()["status"] == "pending"
    # A second expiry event (another id) finds nothing pending.
    again = send_event("checkout.session.expired", standin_session(session_id(t)))
    assert again.json()["outcome"] == "ignored: top-up is expired", again.text
    assert_ledger_sound()


def test_events_that_are_not_a_topups_are_left_alone(make_payer, standin_session, send_event, assert_ledger_sound):
    p = make_payer(currency="USD", pricePerMonth="30")
    t = create(p, days=30)
    obj = paid_session(standin_session, t)
    unknown = dict(obj, client_reference_id="top_" + "A" * 20, metadata={"topup_id": "top_" + "A" * 20})
    assert send_event("checkout.session.completed", unknown).json()["outcome"] == f"ignored: no top-up top_{'A' * 20}"
    for other in (dict(obj, mode="subscription"), dict(obj, client_reference_id=None, metadata={}),
                  dict(obj, client_reference_id="csub_x", metadata={"channel_subscription_id": "csub_x"})):
        r = send_event("checkout.session.completed", other)  # another road may say more after "ignored"
        assert r.status_code == 200 and r.json()["outcome"].startswith("ignored"), r.text
    # A session that is not the one this top-up opened is flagged, not credited.
    r = send_event("checkout.session.completed", dict(obj, id="cs_test_someone_else"))
    assert r.json()["outcome"].startswith("flagged: checkout session 'cs_test_someone_else'"), r.text
    assert p.balance == 0
    assert_ledger_sound()


def test_listing_paging_and_who_may_see_or_buy(make_payer, pay_admin, pay_url, clock, assert_ledger_sound):
    p = make_payer(currency="USD", pricePerMonth="30")
    other = make_payer(currency="USD", pricePerMonth="30")
    made = []
    for days in (1, 2, 3):
        made.append(create(p, days=days))
        clock.advance(seconds=1)
    mine = create(other, days=5)

    page = p.get(f"/partners/{p.name}/topups", params={"count": 2}).json()
    assert page["total"] == 3 and page["count"] == 2 and page["offset"] == 0
    assert [x["id"] for x in page["topups"]] == [made[2]["id"], made[1]["id"]]  # newest first
    rest = p.get(f"/partners/{p.name}/topups", params={"count": 2, "offset": 2}).json()
    assert [x["id"] for x in rest["topups"]] == [made[0]["id"]]
    assert p.get(f"/partners/{p.name}/topups", params={"status": "paid"}).json()["total"] == 0
    check_error(p.get(f"/partners/{p.name}/topups", params={"status": "lost"}), 422)

    # Another partner's top-up is not found through one's own account; another's account is refused.
    check_error(p.get(f"/partners/{p.name}/topups/{mine['id']}"), 404)
    check_error(p.get(f"/partners/{p.name}/topups/top_{'B' * 20}"), 404)
    check_error(p.get(f"/partners/{other.name}/topups/{mine['id']}"), 403)
    check_error(p.get(f"/partners/{other.name}/topups"), 403)
    check_error(p.post(f"/partners/{other.name}/topups", json={"days": 1}), 403)
    check_error(p.get(f"/partners/{p.name}/topups/not-an-id"), 422)
    # The operator reads any partner's top-ups.
    assert pay_admin.get(f"/partners/{other.name}/topups/{mine['id']}").json() == \
        other.get(f"/partners/{other.name}/topups/{mine['id']}").json()
    assert pay_admin.get(f"/partners/{p.name}/topups").json() == p.get(f"/partners/{p.name}/topups").json()
    check_error(pay_admin.get(f"/partners/nobody-here/topups"), 404)

    # A read token reads but cannot buy; a billing token can.
    for scope, status in (("read", 403), ("billing", 201)):
        token = pay_admin.post(f"/admin/partners/{p.name}/tokens", json={"name": scope, "scope": scope}).json()
        with new_client(pay_url, token["token"]) as c:
            assert c.get(f"/partners/{p.name}/topups").status_code == 200
            r = c.post(f"/partners/{p.name}/topups", json={"days": 7})
            assert r.status_code == status, r.text
    assert p.get(f"/partners/{p.name}/topups").json()["total"] == 4
    assert_ledger_sound()


def test_bad_requests_change_nothing(make_payer, make_partner, base_url, assert_ledger_sound):
    p = make_payer(currency="USD", pricePerMonth="30")
    for body in ({}, {"days": 30, "channels": 1}, {"days": "5"}, {"days": 0}, {"days": -2}, {"days": 1_000_001},
                 {"channels": 33_334}, {"days": 30.0}, {"days": 30, "extra": 1}, {"channels": True}):
        check_error(p.post(f"/partners/{p.name}/topups", json=body), 422)
    free = make_payer(currency="USD", pricePerMonth="0")
    check_error(free.post(f"/partners/{free.name}/topups", json={"days": 30}), 409, message="ask the operator")
    cheap = make_payer(currency="USD", pricePerMonth="0.01")  # one day: 0.000333 USD, nothing to charge
    check_error(cheap.post(f"/partners/{cheap.name}/topups", json={"days": 1}), 409)
    for who in (p, free, cheap):
        assert who.get(f"/partners/{who.name}/topups").json()["total"] == 0
    # The server without Stripe keys says what to set.
    q = make_partner(currency="USD", pricePerMonth="30")
    check_error(q.post(f"/partners/{q.name}/topups", json={"days": 30}), 503, message="DAYLEDGER_STRIPE_SECRET_KEY")
    assert q.get(f"/partners/{q.name}/topups").json()["total"] == 0
    assert_ledger_sound()


def test_concurrent_purchases_share_one_customer_and_a_replayed_request_buys_once(make_payer, pay_admin, db,
                                                                                   standin_session,
                                                                                   assert_ledger_sound):
    p = make_payer(currency="USD", pricePerMonth="30")
    start = threading.Barrier(4)

    def buy(days):
        start.wait()
        return p.post(f"/partners/{p.name}/topups", json={"days": days})
    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(buy, (10, 20, 30, 40)))
    assert [r.status_code for r in replies] == [201] * 4, [r.text for r in replies]
    customers = {standin_session(session_id(r.json()))["customer"] for r in replies}
    stored = db.scalar("SELECT stripe_customer_id FROM partners WHERE id = :p", p=p.id)
    assert customers == {stored} and stored.startswith("cus_")

    key = {"Idempotency-Key": "buy-once-" + secrets.token_hex(4)}
    first = p.post(f"/partners/{p.name}/topups", json={"days": 7}, headers=key)
    again = p.post(f"/partners/{p.name}/topups", json={"days": 7}, headers=key)
    assert first.status_code == again.status_code == 201 and again.json() == first.json(), again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    check_error(p.post(f"/partners/{p.name}/topups", json={"days": 8}, headers=key), 422)
    assert p.get(f"/partners/{p.name}/topups").json()["total"] == 5
    assert_ledger_sound()


def test_a_payment_intent_that_already_pays_another_topup_is_flagged_not_credited(make_payer, standin_session,
                                                                                  send_event, db,
                                                                                  assert_ledger_sound):
    """One PaymentIntent pays one payment: an event naming another top-up's is flagged
    (acknowledged, nothing credited), not a 500 that Stripe would retry for days."""
    p = make_payer(currency="USD", pricePerMonth="30")
    first, second = create(p, days=30), create(p, days=30)
    paid = paid_session(standin_session, first)
    assert send_event("checkout.session.completed", paid).json()["outcome"] == "credited 30 days"
    reused = paid_session(standin_session, second, payment_intent=paid["payment_intent"])
    r = send_event("checkout.session.completed", reused)
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == f"flagged: payment intent {paid['payment_intent']!r} already pays {first['id']}"
    assert p.balance == 30 and topup_credits(db, second["id"]) == []
    assert p.get(f"/partners/{p.name}/topups/{second['id']}").json()["flag"].startswith("payment intent")
    assert_ledger_sound()
