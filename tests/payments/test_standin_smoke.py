"""The payment test harness itself: localstripe and the Checkout stand-in run, the pay
server verifies their signatures, and the unconfigured server says what to set."""

from conftest import check_error


def test_unconfigured_server_says_what_to_set(http):
    r = http.post("/stripe/webhook", content=b"{}")
    check_error(r, 503, message="DAYLEDGER_STRIPE_SECRET_KEY")


def test_a_signed_unknown_event_is_acknowledged_and_a_forged_one_refused(send_event, db):
    r = send_event("radar.early_fraud_warning.created", {"id": "issfr_1", "object": "radar.early_fraud_warning"},
                   event_id="evt_smoke_unknown")
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "ignored"
    r = send_event("radar.early_fraud_warning.created", {"id": "x"}, event_id="evt_smoke_forged", secret="whsec_wrong")
    check_error(r, 400)
    assert db.scalar("SELECT count(*) FROM stripe_events WHERE id = 'evt_smoke_forged'") == 0
    assert db.scalar("SELECT outcome FROM stripe_events WHERE id = 'evt_smoke_unknown'") == "ignored"


def test_the_standin_creates_and_pays_a_session_through_localstripe(stripe_env, checkout_complete, standin_session):
    client = stripe_env.stripe
    cus = client.v1.customers.create(params={"email": "smoke@example.com"})
    import stripe
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
