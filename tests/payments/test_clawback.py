"""Refunds and disputes take back the days a payment bought: what the balance still holds,
the rest as debt that the next credit pays first; never a negative balance; a won dispute
gives the days back; a channel's paid period gives back the time still ahead. Every step
is a ledger entry and verify holds after each scenario."""

from __future__ import annotations

import json
import secrets

from conftest import check_error

DAY = 86_400_000


def buy(p, checkout_complete, days: int) -> dict:
    """A top-up paid through the stand-in; its row as the operator sees it."""
    r = p.post(f"/partners/{p.name}/topups", json={"days": days})
    assert r.status_code == 201, r.text
    checkout_complete(r.json()["paymentUrl"].rsplit("/", 1)[1])
    return r.json()


def intent_of(db, payment_id: str) -> str:
    return db.scalar("SELECT stripe_payment_intent FROM payments WHERE id = :i", i=payment_id)


def charge(db, payment_id: str, amount: int, refunded: int) -> dict:
    return {"id": "ch_" + payment_id, "object": "charge", "payment_intent": intent_of(db, payment_id),
            "amount": amount, "amount_refunded": refunded, "currency": "usd", "refunded": refunded >= amount}


def profile(p) -> tuple[int, int]:
    body = p.get(f"/partners/{p.name}").json()
    return body["balance"], body["debtDays"]


def spend(p, days: int) -> str:
    cid = p.put("/channels", json={"name": "spender", "projectId": "default"}).json()["id"]
    r = p.post(f"/channels/{cid}/extend", json={"days": days, "comment": "spent"})
    assert r.status_code == 200, r.text
    return cid


def test_a_refund_after_half_was_spent_takes_the_rest_and_records_the_debt(make_payer, checkout_complete, send_event,
                                                                            db, assert_ledger_sound):
    p = make_payer()
    t = buy(p, checkout_complete, 30)
    assert profile(p) == (30, 0)
    spend(p, 20)
    assert profile(p) == (10, 0)

    refund = charge(db, t["id"], 3000, 3000)
    r = send_event("charge.refunded", refund)
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "refund: 30 days taken back (10 from the balance, 20 owed)"
    assert profile(p) == (0, 20)  # never negative: the rest is debt
    assert p.get(f"/partners/{p.name}/topups/{t['id']}").json()["status"] == "refunded"
    r = send_event("charge.refunded", refund)  # Stripe sends it again under a new event id
    assert r.json()["outcome"] == "nothing more to take back" and profile(p) == (0, 20)
    assert_ledger_sound()

    buy(p, checkout_complete, 30)  # the next top-up pays the debt first
    assert profile(p) == (10, 0)
    rows = db.rows("SELECT type, days, balance_delta, debt_delta FROM ledger_entries WHERE partner_id = :p "
                   "AND type IN ('topup', 'clawback') ORDER BY id", p=p.id)
    assert rows == [("topup", 30, 30, 0), ("clawback", 30, -10, 20), ("topup", 30, 10, -20)]
    history = p.get(f"/partners/{p.name}/history", params={"type": "clawback"}).json()["history"]
    assert history[0]["paymentId"] == t["id"] and history[0]["debtDelta"] == 20
    assert_ledger_sound()


def test_partial_refunds_take_their_share_once_each(make_payer, checkout_complete, send_event, db,
                                                    assert_ledger_sound):
    p = make_payer()
    t = buy(p, checkout_complete, 30)  # 30.00 USD
    r = send_event("charge.refunded", charge(db, t["id"], 3000, 1000))  # a third back
    assert r.json()["outcome"].startswith("refund: 10 days taken back"), r.text
    assert profile(p) == (20, 0)
    r = send_event("charge.refunded", charge(db, t["id"], 3000, 1000))
    assert r.json()["outcome"] == "nothing more to take back"
    r = send_event("charge.refunded", charge(db, t["id"], 3000, 3000))  # then the rest
    assert r.json()["outcome"].startswith("refund: 20 days taken back"), r.text
    assert profile(p) == (0, 0)
    assert db.scalar("SELECT clawed_days FROM payments WHERE id = :i", i=t["id"]) == 30
    assert_ledger_sound()


def test_a_dispute_takes_the_days_and_a_won_dispute_gives_them_back(make_payer, checkout_complete, send_event, db,
                                                                   assert_ledger_sound):
    p = make_payer()
    t = buy(p, checkout_complete, 30)
    spend(p, 25)
    dispute = {"id": "du_" + secrets.token_hex(6), "object": "dispute", "charge": "ch_unknown_to_us",
               "payment_intent": intent_of(db, t["id"]), "amount": 3000, "status": "needs_response"}
    r = send_event("charge.dispute.created", dispute)
    assert r.json()["outcome"] == "dispute: 30 days taken back (5 from the balance, 25 owed)", r.text
    assert profile(p) == (0, 25)
    assert p.get(f"/partners/{p.name}/topups/{t['id']}").json()["status"] == "disputed"
    assert_ledger_sound()
    r = send_event("charge.dispute.closed", {**dispute, "status": "won"})
    assert r.json()["outcome"].startswith("dispute won: 30 days"), r.text
    assert profile(p) == (5, 0)  # as before the dispute: the debt paid first
    assert p.get(f"/partners/{p.name}/topups/{t['id']}").json()["status"] == "paid"
    r = send_event("charge.dispute.closed", {**dispute, "status": "won"})
    assert r.json()["outcome"] == "dispute won: nothing to give back" and profile(p) == (5, 0)
    assert_ledger_sound()


def test_a_lost_dispute_keeps_the_days_taken(make_payer, checkout_complete, send_event, db, assert_ledger_sound):
    p = make_payer()
    t = buy(p, checkout_complete, 30)
    dispute = {"id": "du_lost", "object": "dispute", "payment_intent": intent_of(db, t["id"]), "amount": 3000}
    send_event("charge.dispute.created", {**dispute, "status": "needs_response"})
    r = send_event("charge.dispute.closed", {**dispute, "status": "lost"})
    assert r.json()["outcome"] == "dispute lost: the days stay taken back"
    assert profile(p) == (0, 0)
    assert_ledger_sound()


def test_a_refunded_subscription_period_takes_back_the_channel_time_still_ahead(make_payer, send_event, db, clock,
                                                                                  assert_ledger_sound):
    p = make_payer(balance=3)
    cid = p.put("/channels", json={"name": "sub", "projectId": "default"}).json()["id"]
    sub = p.post(f"/channels/{cid}/subscription", json={"interval": "month"}).json()
    stripe_id = "sub_refund_" + sub["id"]
    db.scalar("UPDATE subscriptions SET stripe_subscription = :s WHERE id = :i RETURNING id", s=stripe_id, i=sub["id"])
    invoice = "in_refund_" + sub["id"]
    r = send_event("invoice.paid", {"id": invoice, "subscription": stripe_id, "amount_paid": 3000, "currency": "usd",
                                    "charge": "ch_" + invoice})
    assert "extended by 30 days" in r.json()["outcome"], r.text
    now = clock.now_ms()
    assert p.get(f"/channels/{cid}").json()["activeTill"] == now + 30 * DAY
    clock.advance(days=10)  # ten days used
    r = send_event("charge.refunded", {"id": "ch_" + invoice, "invoice": invoice, "amount": 3000,
                                       "amount_refunded": 3000})
    assert r.json()["outcome"] == "refund: 30 days taken back (20 from the channel's time ahead)", r.text
    assert p.get(f"/channels/{cid}").json()["activeTill"] == now + 10 * DAY  # time used stays used
    assert profile(p) == (3, 0)  # the balance is not touched
    assert_ledger_sound()


def test_charges_that_are_not_ours_change_nothing(send_event):
    r = send_event("charge.refunded", {"id": "ch_nobody", "payment_intent": "pi_nobody", "amount": 100,
                                       "amount_refunded": 100})
    assert r.json()["outcome"] == "ignored: no payment of this charge"
    r = send_event("charge.dispute.created", {"id": "du_nobody", "charge": "ch_nobody", "amount": 100})
    assert r.json()["outcome"] == "ignored: no payment of this charge"
    check_error(send_event("charge.refunded", {"id": "x"}, secret="whsec_forged"), 400)


def test_refund_events_arriving_together_take_once(make_payer, checkout_complete, send_event, db,
                                                   assert_ledger_sound):
    from concurrent.futures import ThreadPoolExecutor
    p = make_payer()
    t = buy(p, checkout_complete, 30)
    refund = charge(db, t["id"], 3000, 3000)
    with ThreadPoolExecutor(5) as pool:
        outcomes = [r.json()["outcome"] for r in pool.map(lambda _: send_event("charge.refunded", refund), range(5))]
    assert sorted(outcomes).count("nothing more to take back") == 4, outcomes
    assert profile(p) == (0, 0)
    assert_ledger_sound()


def paid_period(p, send_event, db, tag: str) -> tuple[str, str, str]:
    """A channel whose subscription's first month was paid (a signed invoice.paid): its id,
    the payment's id and the Stripe invoice's id."""
    cid = p.put("/channels", json={"name": "sub", "projectId": "default"}).json()["id"]
    sub = p.post(f"/channels/{cid}/subscription", json={"interval": "month"}).json()
    stripe_id = f"sub_{tag}_{sub['id']}"
    db.scalar("UPDATE subscriptions SET stripe_subscription = :s WHERE id = :i RETURNING id", s=stripe_id, i=sub["id"])
    invoice = f"in_{tag}_{sub['id']}"
    r = send_event("invoice.paid", {"id": invoice, "subscription": stripe_id, "amount_paid": 3000, "currency": "usd",
                                    "charge": "ch_" + invoice})
    assert "extended by 30 days" in r.json()["outcome"], r.text
    payment = db.scalar("SELECT id FROM payments WHERE stripe_invoice = :i", i=invoice)
    return cid, payment, invoice


def payment_row(db, payment_id: str) -> tuple:
    return db.rows("SELECT status, clawed_days, disputed_days FROM payments WHERE id = :i", i=payment_id)[0]


def test_a_won_dispute_on_a_partly_used_period_gives_the_channel_its_time_back(make_payer, send_event, db, clock,
                                                                                assert_ledger_sound):
    p = make_payer(balance=3)
    cid, payment, invoice = paid_period(p, send_event, db, "won")
    start = clock.now_ms()
    clock.advance(days=10)  # ten days used: the dispute can only take the twenty still ahead
    dispute = {"id": "du_" + secrets.token_hex(6), "object": "dispute", "charge": "ch_" + invoice, "amount": 3000,
               "status": "needs_response"}
    r = send_event("charge.dispute.created", dispute)
    assert r.json()["outcome"] == "dispute: 20 days taken back (20 from the channel's time ahead)", r.text
    assert p.get(f"/channels/{cid}").json()["activeTill"] == start + 10 * DAY
    assert payment_row(db, payment) == ("disputed", 20, 20)
    assert_ledger_sound()

    r = send_event("charge.dispute.closed", {**dispute, "status": "won"})
    assert r.json()["outcome"].startswith("dispute won: 20 days"), r.text
    assert p.get(f"/channels/{cid}").json()["activeTill"] == start + 30 * DAY  # as if never disputed
    assert payment_row(db, payment) == ("paid", 0, 0)  # nothing stays taken: it was not a refund
    assert profile(p) == (3, 0)
    assert_ledger_sound()


def test_a_subscription_period_refunded_in_stripe_shortens_its_channel(make_payer, checkout_complete, send_event,
                                                                        stripe_env, db, clock, wait,
                                                                        assert_ledger_sound):
    """The real objects: localstripe's invoice pays the period; the refund is made in
    localstripe and its charge, as Stripe reports it, is what charge.refunded carries."""
    p = make_payer(balance=2)
    cid = p.put("/channels", json={"name": "sub", "projectId": "default"}).json()["id"]
    sub = p.post(f"/channels/{cid}/subscription", json={"interval": "month"}).json()
    checkout_complete(sub["paymentUrl"].rsplit("/", 1)[1])
    payment, intent = wait(lambda: (db.rows("SELECT id, stripe_payment_intent FROM payments "
                                            "WHERE subscription_id = :s AND paid_ms IS NOT NULL", s=sub["id"])
                                    or [None])[0])
    till = p.get(f"/channels/{cid}").json()["activeTill"]
    assert till >= clock.now_ms() + 30 * DAY - 60_000

    stripe_env.stripe.v1.refunds.create(params={"payment_intent": intent, "amount": 1000})  # a third
    latest = stripe_env.stripe.v1.payment_intents.retrieve(intent).latest_charge
    charge_id = latest if isinstance(latest, str) else latest["id"]
    charge = stripe_env.stripe.v1.charges.retrieve(charge_id).to_dict()
    assert (charge["amount"], charge["amount_refunded"]) == (3000, 1000)
    r = send_event("charge.refunded", charge)
    assert r.json()["outcome"] == "refund: 10 days taken back (10 from the channel's time ahead)", r.text
    assert p.get(f"/channels/{cid}").json()["activeTill"] == till - 10 * DAY
    assert payment_row(db, payment) == ("refunded", 10, 0) and profile(p) == (2, 0)
    assert_ledger_sound()


def test_a_refund_after_a_lost_dispute_takes_nothing_more(make_payer, checkout_complete, send_event, db,
                                                          assert_ledger_sound):
    p = make_payer()
    t = buy(p, checkout_complete, 30)
    dispute = {"id": "du_" + secrets.token_hex(6), "object": "dispute", "payment_intent": intent_of(db, t["id"]),
               "amount": 3000}
    send_event("charge.dispute.created", {**dispute, "status": "needs_response"})
    send_event("charge.dispute.closed", {**dispute, "status": "lost"})
    r = send_event("charge.refunded", charge(db, t["id"], 3000, 3000))
    assert r.json()["outcome"] == "nothing more to take back", r.text
    assert db.scalar("SELECT count(*) FROM ledger_entries WHERE payment_id = :i AND type = 'clawback'",
                     i=t["id"]) == 1
    assert payment_row(db, t["id"]) == ("disputed", 30, 30) and profile(p) == (0, 0)
    assert_ledger_sound()


def test_an_inquiry_closed_without_a_chargeback_gives_the_days_back(make_payer, checkout_complete, send_event, db,
                                                                    assert_ledger_sound):
    """An inquiry (``warning_needs_response``) takes the days like any dispute; when it closes
    without becoming a chargeback (``warning_closed``) the money stayed, so the days return."""
    p = make_payer()
    t = buy(p, checkout_complete, 30)
    spend(p, 10)
    inquiry = {"id": "du_" + secrets.token_hex(6), "object": "dispute", "payment_intent": intent_of(db, t["id"]),
               "amount": 3000}
    r = send_event("charge.dispute.created", {**inquiry, "status": "warning_needs_response"})
    assert r.json()["outcome"] == "dispute: 30 days taken back (20 from the balance, 10 owed)", r.text
    r = send_event("charge.dispute.closed", {**inquiry, "status": "warning_closed"})
    assert r.json()["outcome"].startswith("dispute warning_closed: 30 days"), r.text
    assert profile(p) == (20, 0) and payment_row(db, t["id"]) == ("paid", 0, 0)
    assert_ledger_sound()


def test_the_partner_hears_what_was_taken_and_what_is_owed(make_payer, checkout_complete, send_event, db,
                                                           assert_ledger_sound):
    p = make_payer()
    t = buy(p, checkout_complete, 30)
    spend(p, 20)
    send_event("charge.refunded", charge(db, t["id"], 3000, 3000))
    payloads = db.rows("SELECT payload FROM events WHERE partner_id = :p AND type = 'payment.refunded'", p=p.id)
    assert len(payloads) == 1
    payload = payloads[0][0] if isinstance(payloads[0][0], dict) else json.loads(payloads[0][0])
    assert payload == {"paymentId": t["id"], "kind": "topup", "days": 30, "clawedDays": 30, "status": "refunded",
                       "daysTaken": 10, "daysOwed": 20, "channelDaysTaken": 0}, payload
    assert_ledger_sound()
