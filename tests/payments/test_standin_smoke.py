"""The payment test harness itself: localstripe and the stand-in (Checkout and sent
invoices) run, the pay server verifies their signatures, and the unconfigured server says
what to set."""

import secrets

import httpx
import pytest
import stripe

from conftest import check_error


def test_unconfigured_server_says_what_to_set(http):
    r = http.post("/stripe/webhook", content=b"{}")
    check_error(r, 503, message="DAYLEDGER_STRIPE_SECRET_KEY")


def test_a_signed_unknown_event_is_acknowledged_and_a_forged_one_refused(send_event, db):
    known, forged = "evt_smoke_unknown_" + secrets.token_hex(6), "evt_smoke_forged_" + secrets.token_hex(6)
    r = send_event("radar.early_fraud_warning.created", {"id": "issfr_1", "object": "radar.early_fraud_warning"},
                   event_id=known)
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "ignored"
    r = send_event("radar.early_fraud_warning.created", {"id": "x"}, event_id=forged, secret="whsec_wrong")
    check_error(r, 400)
    assert db.scalar("SELECT count(*) FROM stripe_events WHERE id = :id", id=forged) == 0
    assert db.scalar("SELECT outcome FROM stripe_events WHERE id = :id", id=known) == "ignored"


def test_the_standin_creates_and_pays_a_session_through_localstripe(stripe_env, checkout_complete, standin_session):
    client = stripe_env.stripe
    cus = client.v1.customers.create(params={"email": "smoke@example.com"})
    standin = stripe.StripeClient(stripe_env.secret_key, base_addresses={"api": stripe_env.standin_url},
                                  max_network_retries=0)
    s = standin.v1.checkout.sessions.create(params={
        "mode": "payment", "customer": cus.id, "client_reference_id": "top_x", "metadata": {"topup_id": "top_x"},
        "line_items": [{"price_data": {"currency": "usd", "unit_amount": 1234, "product_data": {"name": "d"}},
                        "quantity": 1}],
        "payment_intent_data": {"metadata": {"topup_id": "top_x"}},
        "success_url": "http://x/ok", "cancel_url": "http://x/no"})
    assert s.url.endswith(s.id) and s.amount_total == 1234
    assert standin_session(s.id)["metadata"] == {"topup_id": "top_x"}
    done = checkout_complete(s.id)
    assert done["payment_status"] == "paid" and done["payment_intent"].startswith("pi_")
    pi = client.v1.payment_intents.retrieve(done["payment_intent"])
    assert pi.amount == 1234 and pi.metadata["topup_id"] == "top_x"


def test_the_standin_issues_an_invoice_and_its_hosted_page_pays_it_through_localstripe(stripe_env, pay_server, db):
    client = stripe_env.stripe
    cus = client.v1.customers.create(params={"email": "invoice-smoke@example.com"})
    standin = stripe.StripeClient(stripe_env.secret_key, base_addresses={"api": stripe_env.standin_url},
                                  max_network_retries=0)
    # Only invoices sent to a customer localstripe knows; nothing is kept of a refusal.
    with pytest.raises(stripe.InvalidRequestError, match="send_invoice"):
        standin.v1.invoices.create(params={"customer": cus.id, "currency": "usd"})
    with pytest.raises(stripe.InvalidRequestError, match="No such customer"):
        standin.v1.invoices.create(params={"customer": "cus_nobody", "collection_method": "send_invoice",
                                           "days_until_due": 30})
    params = {"customer": cus.id, "currency": "usd", "collection_method": "send_invoice", "days_until_due": 30,
              "auto_advance": False, "metadata": {"invoice_id": "inv_smoke"}}
    inv = standin.v1.invoices.create(params=params, options={"idempotency_key": "smoke-" + cus.id})
    again = standin.v1.invoices.create(params=params, options={"idempotency_key": "smoke-" + cus.id})
    assert again.id == inv.id and inv.status == "draft" and inv.hosted_invoice_url is None
    with pytest.raises(stripe.InvalidRequestError, match="currency"):
        standin.v1.invoice_items.create(params={"customer": cus.id, "invoice": inv.id, "amount": 1, "currency": "eur"})
    standin.v1.invoice_items.create(params={"customer": cus.id, "invoice": inv.id, "amount": 2500, "currency": "usd",
                                            "description": "smoke <b>line</b>"})
    final = standin.v1.invoices.finalize_invoice(inv.id, params={"auto_advance": False})
    assert (final.status, final.amount_due) == ("open", 2500)
    assert final.hosted_invoice_url == f"{stripe_env.standin_url}/invoice/{inv.id}"
    with pytest.raises(stripe.InvalidRequestError, match="not a draft"):
        standin.v1.invoice_items.create(params={"customer": cus.id, "invoice": inv.id, "amount": 1, "currency": "usd"})
    with pytest.raises(stripe.InvalidRequestError, match="out of band"):
        standin.v1.invoices.pay(inv.id)

    with httpx.Client(timeout=30) as browser:
        page = browser.get(final.hosted_invoice_url)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "invoice stand-in</strong> (not Stripe)" in page.text and "2500 USD" in page.text
        assert '<button type="submit">Pay</button>' in page.text
        declined = browser.post(final.hosted_invoice_url, data={"card": "4000000000000341"})
        assert declined.status_code == 402 and "declined" in declined.text.lower()
        assert standin.v1.invoices.retrieve(inv.id).status == "open"
        paid = browser.post(final.hosted_invoice_url, data={"card": "4242424242424242"})
        assert paid.status_code == 200 and "paid" in paid.text and "<button" not in paid.text
        assert browser.post(final.hosted_invoice_url).status_code == 400  # paid already
    got = standin.v1.invoices.retrieve(inv.id)
    assert (got.status, got.amount_paid, got.amount_remaining) == ("paid", 2500, 0)
    pi = client.v1.payment_intents.retrieve(got.payment_intent)  # a real one, in localstripe
    assert (pi.status, pi.amount, pi.customer) == ("succeeded", 2500, cus.id)
    assert got.charge.startswith("ch_") and client.v1.charges.retrieve(got.charge).payment_intent == pi.id
    # Both signed events reached the pay server (which knows no invoice inv_smoke) before the page answered.
    events = [(t, payload) for t, payload in db.rows(
        "SELECT type, payload FROM stripe_events WHERE type IN ('invoice.paid', 'invoice.payment_succeeded')")
        if inv.id in str(payload)]
    assert sorted(t for t, _ in events) == ["invoice.paid", "invoice.payment_succeeded"], events
    with pytest.raises(stripe.InvalidRequestError, match="only void an open invoice; this one is paid"):
        standin.v1.invoices.void_invoice(inv.id)
    # An invoice the stand-in did not make is localstripe's.
    with pytest.raises(stripe.InvalidRequestError):
        standin.v1.invoices.retrieve("in_localstripe_" + cus.id)
