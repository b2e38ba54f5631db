"""Invoices by channel count, against real servers on the test database: the operator
invoices N channels (N x 30 days), pays or voids; Stripe's signed events pay them too, and
so does the partner on the Stripe invoice's hosted page; the days are credited exactly once
whoever arrives at the same time; monthly generation bills each invoice-billed partner once
per period; the printable document.

localstripe has no invoices sent to the customer (``collection_method=send_invoice``,
finalize, paid out of band, a hosted page): the Stripe road runs on ``pay_server``, whose
Stripe is the local stand-in of tests/payments/checkout_standin.py (named as such, not
Stripe); it serves those invoice calls and forwards the rest to localstripe (customers and
the hosted page's PaymentIntent are real there)."""

from __future__ import annotations

import json

import secrets
import threading
from typing import Any

import httpx
import pytest

from conftest import check_error, new_client

INVOICE_KEYS = {"id", "partner", "channels", "extraDays", "days", "unitPrice", "subtotal", "discountPercent",
                "discount", "total", "currency", "status", "period", "reference", "hostedInvoiceUrl", "documentUrl",
                "createdTS", "paidTS"}


def invoice_of(client, partner: str, channels: int, extra: int | None = None) -> dict:
    body: dict[str, Any] = {"partner": partner, "channels": channels}
    if extra is not None:
        body["extraDays"] = extra
    r = client.post("/admin/invoices", json=body)
    assert r.status_code == 201, r.text
    assert set(r.json()) == INVOICE_KEYS, r.json()
    return r.json()


def credits_of(db, invoice_id: str) -> int:
    return db.scalar("SELECT count(*) FROM ledger_entries WHERE payment_id = :id AND type = 'invoice'", id=invoice_id)


def paid_event(inv: dict, stripe_id: str, *, amount: int, currency: str = "eur", **extra) -> dict:
    return {"id": stripe_id, "object": "invoice", "metadata": {"invoice_id": inv["id"]}, "amount_paid": amount,
            "currency": currency, "subscription": None, **extra}


@pytest.mark.parametrize("road", ["stripe", "no-stripe"])
def test_75_channels_credit_2250_days_once_when_two_pays_and_invoice_paid_race(
        road, admin, pay_admin, pay_url, operator_token, base_url, make_partner, send_event, standin_invoice, db,
        assert_ledger_sound):
    p = make_partner(pricePerMonth="12.00", currency="EUR")
    r = admin.patch(f"/admin/partners/{p.name}", json={"discounts": [{"fromDays": 900, "percent": "5"}]})
    assert r.status_code == 200, r.text
    operator_url = pay_url if road == "stripe" else base_url
    inv = invoice_of(pay_admin if road == "stripe" else admin, p.name, 75)
    # 75 x 30 days at 12.00 EUR per 30 days = 900.00, less the 5 % tier from 900 days.
    assert (inv["days"], inv["channels"], inv["extraDays"], inv["status"]) == (2250, 75, 0, "open")
    assert (inv["unitPrice"], inv["subtotal"], inv["discountPercent"], inv["discount"], inv["total"],
            inv["currency"]) == ("12.00", "900.00", "5", "45.00", "855.00", "EUR")
    assert inv["period"] is None and inv["paidTS"] is None and inv["reference"] is None
    assert inv["documentUrl"].endswith(f"/partners/{p.name}/invoices/{inv['id']}/document")
    if road == "stripe":
        stripe_id = db.scalar("SELECT stripe_invoice FROM payments WHERE id = :id", id=inv["id"])
        remote = standin_invoice(stripe_id)
        assert (remote["status"], remote["amount_due"], remote["currency"], remote["collection_method"],
                remote["days_until_due"], remote["metadata"]) == (
            "open", 85500, "eur", "send_invoice", 30, {"invoice_id": inv["id"], "partner_id": p.id})
        assert remote["lines"]["data"][0]["description"] == "75 channels x 30 days + 0 days"
        assert inv["hostedInvoiceUrl"] == remote["hosted_invoice_url"] and inv["hostedInvoiceUrl"]
    else:
        stripe_id = "in_madeup_" + secrets.token_hex(6)
        assert inv["hostedInvoiceUrl"] is None

    start = threading.Barrier(3)
    results: dict[str, Any] = {}

    def pay(n: int) -> None:
        with new_client(operator_url, operator_token) as c:
            start.wait()
            results[f"pay{n}"] = c.post(f"/admin/invoices/{inv['id']}/pay", json={"reference": f"bank {n}"})

    def event() -> None:
        start.wait()
        results["event"] = send_event("invoice.paid", paid_event(inv, stripe_id, amount=85500))

    threads = [threading.Thread(target=pay, args=(1,)), threading.Thread(target=pay, args=(2,)),
               threading.Thread(target=event)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    pays = [results["pay1"], results["pay2"]]
    for r in pays:
        assert r.status_code in (200, 409), r.text
        if r.status_code == 409:
            check_error(r, 409, message="already paid")
    assert results["event"].status_code == 200, results["event"].text
    outcome = results["event"].json()["outcome"]
    winners = [r for r in pays if r.status_code == 200] + ([outcome] if outcome.startswith("credited") else [])
    assert len(winners) == 1, (outcome, [r.text for r in pays])
    if not outcome.startswith("credited"):
        assert outcome == f"already paid: invoice {inv['id']}", outcome

    assert p.balance == 2250
    assert credits_of(db, inv["id"]) == 1
    shown = admin.get(f"/admin/invoices/{inv['id']}").json()
    assert shown["status"] == "paid" and shown["paidTS"] is not None
    if road == "stripe" and not outcome.startswith("credited"):
        remote = standin_invoice(stripe_id)
        assert (remote["status"], remote["paid_out_of_band"]) == ("paid", True)  # marked paid out of band
    # Stripe's second event for the same payment, and a late click: nothing more.
    r = send_event("invoice.payment_succeeded", paid_event(inv, stripe_id, amount=85500))
    assert r.json()["outcome"] == f"already paid: invoice {inv['id']}"
    check_error(admin.post(f"/admin/invoices/{inv['id']}/pay"), 409, message="already paid")
    assert p.balance == 2250 and credits_of(db, inv["id"]) == 1
    history = p.get(f"/partners/{p.name}/history", params={"type": "invoice"}).json()
    assert [e["days"] for e in history["history"]] == [2250], history
    assert_ledger_sound()


def test_stripe_events_found_by_the_stored_invoice_credit_once_and_mismatches_are_flagged(
        pay_admin, make_partner, send_event, db, standin_invoice, assert_ledger_sound):
    p = make_partner(pricePerMonth="30.00", currency="USD")
    inv = invoice_of(pay_admin, p.name, 2, 15)  # 75 days x 1.00 USD
    assert (inv["days"], inv["total"]) == (75, "75.00")
    stripe_id = db.scalar("SELECT stripe_invoice FROM payments WHERE id = :id", id=inv["id"])
    assert standin_invoice(stripe_id)["lines"]["data"][0]["description"] == "2 channels x 30 days + 15 days"
    no_metadata = {"id": stripe_id, "object": "invoice", "metadata": {}, "currency": "usd", "subscription": None}

    # A subscription's invoice belongs to the subscriptions road, whatever else it says
    # (what that road answers for a subscription it does not know is its own business).
    send_event("invoice.paid", {**no_metadata, "amount_paid": 7500, "subscription": "sub_" + secrets.token_hex(6)})
    send_event("invoice.paid", {**no_metadata, "amount_paid": 7500, "subscription": None,
                                "parent": {"type": "subscription_details",
                                           "subscription_details": {"subscription": "sub_" + secrets.token_hex(6)}}})
    assert db.rows("SELECT status, paid_ms, flag FROM payments WHERE id = :id", id=inv["id"]) == [("open", None, None)]
    # Too little, or another currency: flagged for the operator, nothing credited.
    r = send_event("invoice.paid", {**no_metadata, "amount_paid": 7499})
    assert r.json()["outcome"].startswith("flagged: amount 7499 but the payment needs 7500"), r.text
    r = send_event("invoice.paid", {**no_metadata, "amount_paid": 7500, "currency": "eur"})
    assert r.json()["outcome"].startswith("flagged: currency 'eur'"), r.text
    assert p.balance == 0 and credits_of(db, inv["id"]) == 0
    flagged = pay_admin.get("/admin/payments", params={"partner": p.name, "flagged": "true"}).json()["payments"]
    assert [f["id"] for f in flagged] == [inv["id"]]

    # Both events of one payment, the second delivered twice: one credit.
    charge, intent = "ch_inv_" + secrets.token_hex(6), "pi_inv_" + secrets.token_hex(6)
    paid = {**no_metadata, "amount_paid": 7500, "charge": charge, "payment_intent": {"id": intent}}
    assert send_event("invoice.payment_succeeded", paid).json()["outcome"] == f"credited 75 days: invoice {inv['id']}"
    assert send_event("invoice.paid", paid, event_id="evt_inv_" + inv["id"]).json()["outcome"].startswith(
        "already paid")
    assert send_event("invoice.paid", paid, event_id="evt_inv_" + inv["id"]).json()["outcome"].startswith(
        "duplicate")
    assert p.balance == 75 and credits_of(db, inv["id"]) == 1
    row = db.rows("SELECT status, stripe_charge, stripe_payment_intent FROM payments WHERE id = :id", id=inv["id"])
    assert row == [("paid", charge, intent)]
    # An unknown Stripe invoice is not this road's.
    r = send_event("invoice.paid", {**no_metadata, "id": "in_unknown_" + secrets.token_hex(4), "amount_paid": 1})
    assert r.json()["outcome"] == "ignored"
    assert_ledger_sound()


def test_an_invoice_paid_on_its_stripe_hosted_page_credits_its_days_once(
        pay_admin, admin, make_partner, stripe_env, standin_invoice, invoice_pay_hosted, db, wait,
        assert_ledger_sound):
    p = make_partner(pricePerMonth="15.00", currency="EUR")
    inv = invoice_of(pay_admin, p.name, 3, 7)  # 3 x 30 + 7 = 97 days x 0.50 EUR
    assert (inv["days"], inv["total"], inv["status"]) == (97, "48.50", "open")
    stripe_id = db.scalar("SELECT stripe_invoice FROM payments WHERE id = :id", id=inv["id"])
    assert inv["hostedInvoiceUrl"] == f"{stripe_env.standin_url}/invoice/{stripe_id}"

    with httpx.Client(timeout=30) as browser:  # the partner, in a browser
        page = browser.get(inv["hostedInvoiceUrl"])
        assert page.status_code == 200 and "4850 EUR" in page.text and ">Pay</button>" in page.text
        # A declined card pays nothing.
        r = browser.post(inv["hostedInvoiceUrl"], data={"card": "4000000000000341"})
        assert r.status_code == 402 and "declined" in r.text, r.text
        assert p.balance == 0 and standin_invoice(stripe_id)["status"] == "open"
        r = browser.post(inv["hostedInvoiceUrl"], data={"card": "4242424242424242"})
        assert r.status_code == 200 and "paid" in r.text and "<button" not in r.text, r.text
    # Paying again: the invoice is paid, nothing more is charged.
    invoice_pay_hosted(stripe_id, expect=400)

    wait(lambda: p.balance == 97)
    remote = standin_invoice(stripe_id)
    assert (remote["status"], remote["amount_paid"], remote["paid_out_of_band"]) == ("paid", 4850, False)
    assert remote["charge"].startswith("ch_") and remote["payment_intent"].startswith("pi_")
    assert stripe_env.stripe.v1.payment_intents.retrieve(remote["payment_intent"]).amount == 4850  # in localstripe
    row = db.rows("SELECT status, stripe_charge, stripe_payment_intent FROM payments WHERE id = :id", id=inv["id"])
    assert row == [("paid", remote["charge"], remote["payment_intent"])]
    # invoice.paid credited, invoice.payment_succeeded found it paid.
    outcomes = db.rows("SELECT type, outcome FROM stripe_events WHERE outcome LIKE :tail ORDER BY type",
                       tail=f"%: invoice {inv['id']}")
    assert outcomes == [("invoice.paid", f"credited 97 days: invoice {inv['id']}"),
                        ("invoice.payment_succeeded", f"already paid: invoice {inv['id']}")], outcomes
    shown = admin.get(f"/admin/invoices/{inv['id']}").json()
    assert shown["status"] == "paid" and shown["paidTS"] is not None
    check_error(pay_admin.post(f"/admin/invoices/{inv['id']}/pay"), 409, message="already paid")
    check_error(pay_admin.post(f"/admin/invoices/{inv['id']}/void"), 409, message="already paid")
    assert p.balance == 97 and credits_of(db, inv["id"]) == 1
    history = p.get(f"/partners/{p.name}/history", params={"type": "invoice"}).json()["history"]
    assert [e["days"] for e in history] == [97], history
    assert_ledger_sound()


def test_void_and_pay_follow_the_invoice_state(admin, pay_admin, make_partner, send_event, db, standin_invoice,
                                               assert_ledger_sound):
    p = make_partner(pricePerMonth="9.99", currency="USD")
    inv = invoice_of(pay_admin, p.name, 3)
    stripe_id = db.scalar("SELECT stripe_invoice FROM payments WHERE id = :id", id=inv["id"])
    r = pay_admin.post(f"/admin/invoices/{inv['id']}/void")
    assert r.status_code == 200 and r.json()["status"] == "void", r.text
    assert standin_invoice(stripe_id)["status"] == "void"
    check_error(pay_admin.post(f"/admin/invoices/{inv['id']}/void"), 409, message="void")
    check_error(pay_admin.post(f"/admin/invoices/{inv['id']}/pay", json={}), 409, message="void")
    assert p.balance == 0 and credits_of(db, inv["id"]) == 0

    # Marked paid with a reference (no body at all works too), then neither pay nor void.
    plain = invoice_of(admin, p.name, 1, 0)
    r = admin.post(f"/admin/invoices/{plain['id']}/pay", json={"reference": "SEPA 2026-0042"})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["reference"]) == ("paid", "SEPA 2026-0042")
    check_error(admin.post(f"/admin/invoices/{plain['id']}/void"), 409, message="already paid")
    other = invoice_of(admin, p.name, 1)
    r = admin.post(f"/admin/invoices/{other['id']}/pay")
    assert r.status_code == 200 and r.json()["reference"] is None, r.text
    assert p.balance == 60
    history = p.get(f"/partners/{p.name}/history", params={"type": "invoice"}).json()["history"]
    assert any("SEPA 2026-0042" in e["comment"] for e in history), history
    assert_ledger_sound()


def test_partners_see_their_own_invoices_and_the_operator_filters_them(admin, make_partner, db, assert_ledger_sound):
    a, b = make_partner(), make_partner()
    ia = invoice_of(admin, a.name, 1)
    ib = invoice_of(admin, b.name, 2, 5)
    admin.post(f"/admin/invoices/{ib['id']}/pay")
    listed = a.get(f"/partners/{a.name}/invoices").json()
    assert [i["id"] for i in listed["invoices"]] == [ia["id"]] and listed["total"] == 1
    assert a.get(f"/partners/{a.name}/invoices/{ia['id']}").json() == admin.get(f"/admin/invoices/{ia['id']}").json()
    told = db.rows("SELECT payload FROM events WHERE partner_id = :p AND type = 'invoice.created'", p=a.id)
    assert [(json_of(e)["invoiceId"], json_of(e)["days"], json_of(e)["total"]) for (e,) in told] == [
        (ia["id"], 30, ia["total"])]
    check_error(a.get(f"/partners/{a.name}/invoices/{ib['id']}"), 404)  # b's, under a's name
    check_error(a.get(f"/partners/{b.name}/invoices/{ib['id']}"), 403)  # another partner's name
    check_error(a.get(f"/partners/{b.name}/invoices"), 403)
    check_error(a.get("/admin/invoices"), 403)
    # The operator may read a partner's own routes too.
    assert admin.get(f"/partners/{b.name}/invoices").json()["invoices"][0]["id"] == ib["id"]
    by_partner = admin.get("/admin/invoices", params={"partner": b.name}).json()
    assert [i["id"] for i in by_partner["invoices"]] == [ib["id"]]
    assert admin.get("/admin/invoices", params={"partner": b.name, "status": "open"}).json()["total"] == 0
    paid = admin.get("/admin/invoices", params={"partner": b.name, "status": "paid", "count": 1}).json()
    assert paid["count"] == 1 and paid["invoices"][0]["status"] == "paid"
    check_error(admin.get("/admin/invoices", params={"partner": "nobody-" + secrets.token_hex(3)}), 404)
    check_error(admin.get("/admin/invoices", params={"period": "2026-13"}), 422)
    check_error(admin.get("/admin/invoices", params={"status": "late"}), 422)
    assert_ledger_sound()


def test_generate_bills_live_channels_once_per_partner_and_period(
        admin, pay_admin, pay_url, operator_token, make_partner, insert_channels, clock, db, standin_invoice, stripe_env,
        assert_ledger_sound):
    now = clock.now_ms()
    day = 86_400_000
    billed, idle, unbilled = make_partner(), make_partner(), make_partner()
    for p in (billed, idle):
        assert admin.patch(f"/admin/partners/{p.name}", json={"invoiceBilling": True}).status_code == 200
    live = insert_channels(billed, 4, created_ms=now - day, active_till_ms=now + 10 * day, name="live")
    insert_channels(billed, 1, created_ms=now - 20 * day, active_till_ms=now - day, name="ran out")  # expired
    insert_channels(billed, 2, created_ms=now - day, active_till_ms=now + 3 * day, mode="trial", trial_ms=now + day)
    insert_channels(billed, 1, created_ms=now - day, active_till_ms=now, mode="dev")
    assert billed.post(f"/channels/{live[0]['id']}/stop").status_code == 200  # stopped: still the partner's
    assert billed.delete(f"/channels/{live[1]['id']}").status_code == 200  # deleted: not counted
    insert_channels(idle, 3, created_ms=now - day, active_till_ms=now + day, mode="trial", trial_ms=now + day)
    insert_channels(unbilled, 5, created_ms=now - day, active_till_ms=now + day)
    period = "2031-0" + str(secrets.choice(range(1, 10)))

    # Two runs at the same time, then a third: one invoice per partner and period.
    start = threading.Barrier(2)
    runs: list[httpx.Response] = []

    def run() -> None:
        with new_client(pay_url, operator_token) as c:
            start.wait()
            runs.append(c.post("/admin/invoices/generate", json={"period": period}))
    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    runs.append(pay_admin.post("/admin/invoices/generate", json={"period": period}))
    for r in runs:
        assert r.status_code == 200, r.text
        assert r.json()["period"] == period
    created = [i for r in runs for i in r.json()["created"] if i["partner"] in (billed.name, idle.name, unbilled.name)]
    assert len(created) == 1, created
    inv = created[0]
    # 3 live channels not deleted (one of them stopped) and the expired one: 4 x 30 days.
    assert (inv["partner"], inv["channels"], inv["extraDays"], inv["days"], inv["period"], inv["status"]) == (
        billed.name, 4, 0, 120, period, "open")
    assert inv["total"] == "120.00" and inv["hostedInvoiceUrl"]  # 30.00 USD per 30 days by default
    stripe_id = db.scalar("SELECT stripe_invoice FROM payments WHERE id = :id", id=inv["id"])
    remote = standin_invoice(stripe_id)
    assert (remote["status"], remote["amount_due"]) == ("open", 12000)
    # One invoice.created, for the one invoice the three runs made (the losing run's is void).
    told = db.rows("SELECT payload FROM events WHERE partner_id = :p AND type = 'invoice.created'", p=billed.id)
    assert [json_of(payload)["invoiceId"] for (payload,) in told] == [inv["id"]]

    def skipped(r: httpx.Response) -> dict[str, str]:
        return {s["partner"]: s["reason"] for s in r.json()["skipped"]}
    last = skipped(runs[-1])
    assert last[billed.name] == f"already invoiced for {period}: {inv['id']} (open)"
    assert all(skipped(r)[idle.name] == "no live channels" for r in runs)
    assert all(unbilled.name not in skipped(r) for r in runs)
    assert db.scalar("SELECT count(*) FROM payments WHERE period = :period AND partner_id IN (:a, :b, :c)",
                     period=period, a=billed.id, b=idle.id, c=unbilled.id) == 1
    # A voided Stripe copy, if the two runs raced, is never the stored one.
    customer = db.scalar("SELECT stripe_customer_id FROM partners WHERE id = :id", id=billed.id)
    issued = httpx.get(f"{stripe_env.standin_url}/_standin/invoices", params={"customer": customer}).json()["data"]
    assert stripe_id in [remote["id"] for remote in issued]
    for remote in issued:
        if remote["id"] != stripe_id:
            assert remote["status"] == "void", remote
    listed = admin.get("/admin/invoices", params={"period": period, "partner": billed.name}).json()
    assert [i["id"] for i in listed["invoices"]] == [inv["id"]]
    assert billed.get(f"/partners/{billed.name}/invoices").json()["invoices"][0]["period"] == period
    assert_ledger_sound()


def test_the_document_shows_both_parties_escaped_and_the_total(admin, make_partner, base_url, assert_ledger_sound):
    issuer = {"company": "Dayledger Operator GmbH", "address": "Hauptstr. 1\n10115 Berlin", "taxId": "DE123456789",
              "email": "billing@operator.example"}
    r = admin.put("/admin/billing-details", json=issuer)
    assert r.status_code == 200 and r.json() == issuer, r.text
    assert admin.get("/admin/billing-details").json() == issuer
    p, other = make_partner(pricePerMonth="10.00", currency="EUR"), make_partner()
    details = {"company": "<script>alert(1)</script>", "address": "1 Rue & Co\n<b>75001</b> Paris",
               "taxId": "FR\"12'345", "email": "ap@partner.example"}
    r = p.put(f"/partners/{p.name}/billing-details", json=details)
    assert r.status_code == 200 and r.json() == details, r.text
    assert p.get(f"/partners/{p.name}/billing-details").json() == details
    assert admin.patch(f"/admin/partners/{p.name}", json={"discounts": [{"fromDays": 90, "percent": "10"}]}
                       ).status_code == 200
    inv = invoice_of(admin, p.name, 3, 4)  # 94 days x 10.00 EUR / 30 = 31.33, less 10 %: 28.20
    assert (inv["subtotal"], inv["discount"], inv["total"]) == ("31.33", "3.13", "28.20")

    r = p.get(f"/partners/{p.name}/invoices/{inv['id']}/document")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert "script-src" not in r.headers["content-security-policy"]
    assert "default-src 'none'" in r.headers["content-security-policy"]
    page = r.text
    assert "<script" not in page.lower() and "src=" not in page and "<link" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "1 Rue &amp; Co" in page and "&lt;b&gt;75001&lt;/b&gt; Paris" in page
    assert "FR&#34;12&#39;345" in page and "ap@partner.example" in page
    for shown in ("Dayledger Operator GmbH", "Hauptstr. 1", "10115 Berlin", "DE123456789", "billing@operator.example",
                  inv["id"], "28.20 EUR", "Discount (10 %)", "-3.13", ">31.33<", "3 channels x 30 days = 90 days",
                  "4 days", f"Account: {p.name}", "@media print"):
        assert shown in page, shown
    # The two lines add up to the subtotal, rounded once: 30.00 + 1.33.
    assert ">30.00<" in page and ">1.33<" in page
    assert '<span class="status open">open</span>' in page and "(UTC)" in page and "<dt>Paid</dt>" not in page

    # The operator's twin, and ?token= for a browser tab.
    assert admin.get(f"/admin/invoices/{inv['id']}/document").text == page
    with httpx.Client(base_url=base_url) as browser:
        r = browser.get(f"/partners/{p.name}/invoices/{inv['id']}/document", params={"token": p.token})
        assert r.status_code == 200 and r.text == page
        check_error(browser.get(f"/partners/{p.name}/invoices/{inv['id']}/document"), 401)
    check_error(other.get(f"/partners/{other.name}/invoices/{inv['id']}/document"), 404)
    check_error(other.get(f"/partners/{p.name}/invoices/{inv['id']}/document"), 403)
    check_error(admin.get(f"/admin/invoices/inv_{'x' * 20}/document"), 404)
    # Paid: the document says so.
    assert admin.post(f"/admin/invoices/{inv['id']}/pay", json={"reference": "SEPA <42>"}).status_code == 200
    page = p.get(f"/partners/{p.name}/invoices/{inv['id']}/document").text
    assert '<span class="status paid">paid</span>' in page and "<dt>Paid</dt>" in page
    assert "SEPA &lt;42&gt;" in page
    assert_ledger_sound()


def test_billing_details_are_checked_and_bad_ones_change_nothing(admin, make_partner):
    p = make_partner()
    good = {"company": "Acme Ltd", "address": "1 Road\nTown", "taxId": "GB1", "email": "a@acme.example"}
    assert p.put(f"/partners/{p.name}/billing-details", json=good).status_code == 200
    for bad in ({"company": "x" * 201}, {"company": "Acme\x1b[2J"}, {"address": "a\rb"}, {"taxId": "t" * 65},
                {"email": "not an email"}, {"company": 5}, {"vat": "x"}, {"company": ""}, []):
        check_error(p.put(f"/partners/{p.name}/billing-details", json=bad), 422)
        check_error(admin.put("/admin/billing-details", json=bad), 422)
    assert p.get(f"/partners/{p.name}/billing-details").json() == good
    # PUT replaces all four; unset ones are null.
    r = p.put(f"/partners/{p.name}/billing-details", json={"company": "Acme Ltd"})
    assert r.json() == {"company": "Acme Ltd", "address": None, "taxId": None, "email": None}
    # Setting them needs billing rights; another partner cannot touch them.
    t = admin.post(f"/admin/partners/{p.name}/tokens", json={"name": "ro", "scope": "read"}).json()["token"]
    with new_client(admin.base_url, t) as ro:
        assert ro.get(f"/partners/{p.name}/billing-details").status_code == 200
        check_error(ro.put(f"/partners/{p.name}/billing-details", json=good), 403)
    other = make_partner()
    check_error(other.put(f"/partners/{p.name}/billing-details", json=good), 403)
    check_error(p.put("/admin/billing-details", json=good), 403)
    check_error(admin.get(f"/partners/nobody-{secrets.token_hex(3)}/billing-details"), 404)


@pytest.mark.parametrize("body", [
    {"channels": 0}, {"channels": -1}, {"channels": 100_001}, {"channels": "5"}, {"channels": 2.5},
    {"channels": None}, {"channels": 1, "extraDays": -1}, {"channels": 1, "extraDays": 1_000_001},
    {"channels": 1, "extraDays": "3"}, {"channels": 1, "note": "x"}, {},
])
def test_bad_invoices_are_refused_and_create_nothing(admin, make_partner, body, db):
    p = make_partner()
    check_error(admin.post("/admin/invoices", json={"partner": p.name, **body}), 422)
    assert db.scalar("SELECT count(*) FROM payments WHERE partner_id = :id", id=p.id) == 0


def test_bad_references_and_states_are_refused(admin, make_partner, db, assert_ledger_sound):
    p = make_partner()
    check_error(admin.post("/admin/invoices", json={"partner": "nobody-" + secrets.token_hex(3), "channels": 1}),
                404, message="partner not found")
    check_error(admin.post(f"/admin/invoices/inv_{'A' * 20}/pay"), 404, message="invoice not found")
    check_error(admin.post(f"/admin/invoices/inv_{'A' * 20}/void"), 404)
    check_error(admin.get(f"/admin/invoices/inv_{'A' * 20}"), 404)
    check_error(admin.post("/admin/invoices/inv_short/pay"), 422)
    for period in ("2026-13", "2026-00", "2026-1", "26-01", "", 202601):
        check_error(admin.post("/admin/invoices/generate", json={"period": period}), 422)
    check_error(admin.post("/admin/invoices/generate", json={}), 422)
    inv = invoice_of(admin, p.name, 1)
    check_error(admin.post(f"/admin/invoices/{inv['id']}/pay", json={"reference": "x" * 201}), 422)
    check_error(admin.post(f"/admin/invoices/{inv['id']}/pay", json={"reference": "a\x00b"}), 422)
    assert admin.get(f"/admin/invoices/{inv['id']}").json()["status"] == "open"
    # A partner whose price is zero has nothing to invoice.
    free = make_partner(pricePerMonth="0")
    check_error(admin.post("/admin/invoices", json={"partner": free.name, "channels": 3}), 409,
                message="nothing to invoice")
    # Partners cannot invoice themselves or mark their invoices paid.
    check_error(p.post("/admin/invoices", json={"partner": p.name, "channels": 1}), 403)
    check_error(p.post(f"/admin/invoices/{inv['id']}/pay"), 403)
    assert db.scalar("SELECT count(*) FROM payments WHERE partner_id IN (:a, :b)", a=p.id, b=free.id) == 1
    assert p.balance == 0
    assert_ledger_sound()


def test_without_stripe_keys_an_invoice_is_still_written_and_marked_paid(admin, make_partner, db,
                                                                        assert_ledger_sound):
    p = make_partner(pricePerMonth="1000", currency="JPY")
    inv = invoice_of(admin, p.name, 100_000, 1_000_000)  # the largest: 4,000,000 days
    assert (inv["days"], inv["total"], inv["currency"], inv["hostedInvoiceUrl"]) == (
        4_000_000, "133333333", "JPY", None)
    assert db.scalar("SELECT stripe_invoice FROM payments WHERE id = :id", id=inv["id"]) is None
    r = admin.post(f"/admin/invoices/{inv['id']}/pay", json={"reference": "wire"})
    assert r.status_code == 200 and r.json()["status"] == "paid", r.text
    assert p.balance == 4_000_000
    assert_ledger_sound()


def json_of(payload) -> dict:
    """An events payload as read back: a dict on PostgreSQL, JSON text on SQLite."""
    return payload if isinstance(payload, dict) else json.loads(payload)
