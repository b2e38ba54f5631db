"""The money pages in a real browser: the top-up total follows what is typed and matches the
API's quote; Pay creates a pending top-up and sends the browser to Stripe Checkout (the
local stand-in of tests/payments, in front of localstripe, with a second server configured
for payments); invoices and their documents, one's own only; roles: members and viewers
see no billing control and a forged post is 403."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from conftest import new_client
from payments.conftest import checkout_complete, pay_server, pay_settings, pay_url, stripe_env  # noqa: F401
from web.conftest import Checked, sign_in


@pytest.fixture
def pay_web(browser, pay_url, stripe_env):  # noqa: F811
    """A checked page on the server configured with Stripe; the stand-in's Checkout page is
    the one place outside the app it may reach."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    checked = Checked(page, pay_url)
    theirs: list[str] = []  # the stand-in's page logs its own missing favicon

    def on_console(message) -> None:
        if message.type == "error" and (message.location or {}).get("url", "").startswith(stripe_env.standin_url):
            theirs.append(message.text)
    page.on("console", on_console)
    yield checked
    context.close()
    outside = [u for u in checked.outside if not u.startswith(stripe_env.standin_url + "/")]
    assert outside == [], f"requests outside the app: {outside}"
    errors = list(checked.errors)
    for text in theirs:
        errors.remove(text)
    assert errors == [], f"browser console errors: {errors}"


def quote(p, **params) -> dict:
    r = p.get(f"/partners/{p.name}/topups/quote", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def priced(make_partner, admin, **fields):
    p = make_partner(currency="USD", pricePerMonth="45.50", **fields)
    r = admin.patch(f"/admin/partners/{p.name}", json={"discounts": [{"fromDays": 90, "percent": "10"},
                                                                     {"fromDays": 900, "percent": "15"}]})
    assert r.status_code == 200, r.text
    return p


def test_the_topup_total_follows_the_days_typed_and_matches_the_quote(web, make_partner, make_user, admin):
    p = priced(make_partner, admin, balance=12)
    sign_in(web, make_user(p, "owner"))
    web.goto("/dashboard/topup")
    web.check_page()
    assert web.page.title() == "Top up · dayledger"
    # No Stripe on this server: said plainly, no Pay button, and the price still works.
    expect(web.page.get_by_test_id("no-stripe")).to_contain_text("not configured")
    assert web.page.get_by_role("button", name="Pay").count() == 0
    total = web.page.get_by_test_id("total")
    q30 = quote(p, days=30)
    expect(total).to_have_text(f"{q30['total']} USD")  # the server's first price, before any typing

    amount = web.page.get_by_label("Number of days or channels")
    amount.fill("")
    for typed, days in (("8", 8), ("89", 89), ("890", 890), ("8900", 8900)):
        amount.press_sequentially(typed[-1], delay=30)
        q = quote(p, days=days)
        expect(total).to_have_text(f"{q['total']} {q['currency']}")
        expect(web.page.locator("[data-quote-part=subtotal]")).to_have_text(f"{q['subtotal']} USD")
    assert quote(p, days=8900)["discountPercent"] == "15"
    expect(web.page.locator("[data-quote-part=discount]")).to_contain_text("15% volume discount: −")

    # Channels: 30 days each, the same quote as the API's ?channels=.
    web.page.get_by_label("Channels (30 days each)").check()
    amount.fill("3")
    q = quote(p, channels=3)
    assert q["days"] == 90 and q["discountPercent"] == "10"
    expect(total).to_have_text(f"{q['total']} USD")
    expect(web.page.locator("[data-quote-part=text]")).to_have_text(f"90 days: {q['total']} USD")

    # A bad number is said where the total stands (no failed request: nothing in the console).
    amount.fill("0")
    expect(total).to_contain_text("must be from 1")
    r = web.page.request.get(web.base_url + "/dashboard/topup/quote?days=0")
    assert r.json() == {"error": "Days must be from 1 to 1,000,000"}
    for odd, error in (("²", "Days must be a whole number"), ("9" * 5000, "Days must be from 1 to 1,000,000"),
                       ("4.5", "Days must be a whole number")):
        r = web.page.request.get(web.base_url + "/dashboard/topup/quote", params={"days": odd})
        assert r.ok and r.json() == {"error": error}, odd
    r = web.page.request.get(web.base_url + "/dashboard/topup?offset=²&status=nonsense")
    assert r.ok
    r = web.page.request.get(web.base_url + "/dashboard/topup/quote?days=45")
    assert r.ok and r.json()["total"] == f"{quote(p, days=45)['total']} USD"
    amount.fill("120")
    web.page.get_by_label("Days", exact=True).check()
    expect(total).to_have_text(f"{quote(p, days=120)['total']} USD")
    expect(web.page.get_by_text("from 90 days: 10%")).to_be_visible()


def test_the_quote_route_needs_a_session(web):
    r = web.page.request.get(web.base_url + "/dashboard/topup/quote?days=30")
    assert r.status == 401


def test_pay_creates_a_pending_topup_and_opens_checkout(pay_web, make_partner, make_user, admin, stripe_env,
                                                        checkout_complete):  # noqa: F811
    p = priced(make_partner, admin)
    sign_in(pay_web, make_user(p, "owner"))
    pay_web.goto("/dashboard/topup")
    pay_web.check_page()
    assert pay_web.page.get_by_test_id("no-stripe").count() == 0
    pay_web.page.get_by_label("Number of days or channels").fill("31")
    expect(pay_web.page.get_by_test_id("total")).to_have_text(f"{quote(p, days=31)['total']} USD")
    pay_web.page.get_by_role("button", name="Pay").click()
    pay_web.page.wait_for_url(re.compile(re.escape(stripe_env.standin_url) + r"/pay/cs_test_\w+"))

    topups = p.get(f"/partners/{p.name}/topups").json()["topups"]
    assert len(topups) == 1
    t = topups[0]
    assert (t["status"], t["days"], t["total"], t["source"]) == ("pending", 31, "47.02", "checkout")
    assert t["paymentUrl"] == pay_web.page.url
    assert p.balance == 0  # nothing credited before Stripe confirms

    # Back on the dashboard: the top-up is listed as pending, with its return notice.
    pay_web.goto(f"/dashboard/topup?topup={t['id']}")
    expect(pay_web.page.get_by_test_id("returned")).to_contain_text("waiting for Stripe")
    expect(pay_web.page.get_by_test_id("topups")).to_contain_text(t["id"])
    expect(pay_web.page.get_by_test_id("topups")).to_contain_text("pending")
    pay_web.page.get_by_label("Number of days or channels").fill("120")
    expect(pay_web.page.get_by_test_id("total")).to_have_text(f"{quote(p, days=120)['total']} USD")
    pay_web.screenshot("dashboard-topup")
    pay_web.page.set_viewport_size({"width": 390, "height": 844})
    pay_web.screenshot("dashboard-topup-phone")

    # Stripe confirms the payment: the page Stripe returns to says so, and the days are there.
    checkout_complete(t["paymentUrl"].rsplit("/", 1)[1])
    pay_web.page.set_viewport_size({"width": 1280, "height": 900})
    pay_web.goto(f"/dashboard/topup?topup={t['id']}")
    expect(pay_web.page.get_by_test_id("returned")).to_contain_text("paid, the days are on your balance")
    expect(pay_web.page.locator("[data-balance]")).to_have_text("31")
    assert p.balance == 31

    # Another partner's top-up: its checkout page is 404 here, its URL never shown.
    other = priced(make_partner, admin)
    with new_client(pay_web.base_url, other.token) as theirs:
        r = theirs.post(f"/partners/{other.name}/topups", json={"days": 30})
        assert r.status_code == 201, r.text
    pay_web.allowed_statuses = {404}
    page = pay_web.goto(f"/dashboard/topup/{r.json()['id']}/checkout")
    assert page.status == 404 and r.json()["paymentUrl"] not in pay_web.page.content()
    assert pay_web.page.get_by_role("link", name="Continue to payment").count() == 0


def test_a_bad_amount_is_shown_next_to_the_field_and_buys_nothing(pay_web, make_partner, make_user, admin):
    p = priced(make_partner, admin)
    sign_in(pay_web, make_user(p, "owner"))
    pay_web.goto("/dashboard/topup")
    pay_web.allowed_statuses = {422}
    pay_web.page.get_by_label("Channels (30 days each)").check()
    amount = pay_web.page.get_by_label("Number of days or channels")
    amount.evaluate("e => { e.removeAttribute('min'); e.removeAttribute('required'); }")
    amount.fill("40000")  # more than 33,333 channels
    pay_web.page.get_by_role("button", name="Pay").click()
    pay_web.page.wait_for_load_state()
    expect(pay_web.page.get_by_test_id("amount-error")).to_contain_text("Channels must be from 1 to 33,333")
    assert pay_web.page.get_by_label("Channels (30 days each)").is_checked()  # the form as it was sent
    assert p.get(f"/partners/{p.name}/topups").json()["total"] == 0


def test_invoices_are_listed_and_only_ones_own_document_opens(web, make_partner, make_user, admin):
    p, other = priced(make_partner, admin), priced(make_partner, admin)
    mine = admin.post("/admin/invoices", json={"partner": p.name, "channels": 3, "extraDays": 5})
    assert mine.status_code == 201, mine.text
    theirs = admin.post("/admin/invoices", json={"partner": other.name, "channels": 1})
    assert theirs.status_code == 201, theirs.text
    paid = admin.post("/admin/invoices", json={"partner": p.name, "channels": 1})
    assert admin.post(f"/admin/invoices/{paid.json()['id']}/pay", json={"reference": "bank 1"}).status_code == 200

    sign_in(web, make_user(p, "viewer"))  # reading needs no more than the viewer role
    web.goto("/dashboard/invoices")
    web.check_page()
    table = web.page.get_by_test_id("invoices")
    expect(table).to_contain_text(mine.json()["id"])
    expect(table).to_contain_text(f"{mine.json()['total']} USD")
    expect(table).to_contain_text("paid")
    assert theirs.json()["id"] not in table.inner_text()
    web.page.get_by_label("Status").select_option("open")
    web.page.get_by_role("button", name="Show").click()
    web.page.wait_for_url("**/dashboard/invoices?status=open")
    assert paid.json()["id"] not in web.page.get_by_test_id("invoices").inner_text()
    web.goto("/dashboard/invoices")
    web.screenshot("dashboard-invoices")

    web.page.get_by_role("link", name=mine.json()["id"]).click()
    web.page.wait_for_url(f"**/dashboard/invoices/{mine.json()['id']}")
    assert web.page.title() == f"Invoice {mine.json()['id']}"
    assert f"{mine.json()['total']} USD" in web.page.content() or mine.json()["total"] in web.page.content()
    assert p.name in web.page.content()

    web.allowed_statuses = {404}
    r = web.goto(f"/dashboard/invoices/{theirs.json()['id']}")
    assert r.status == 404 and web.page.title() == "Invoice not found · dayledger"
    assert other.name not in web.page.content()  # nothing of theirs is shown
    r = web.goto("/dashboard/invoices/inv_nothing")
    assert r.status == 404


def test_members_and_viewers_get_no_billing_control_and_a_forged_post_is_refused(pay_web, make_partner, make_user,
                                                                                 admin):
    p = priced(make_partner, admin)
    for role in ("member", "viewer"):
        pay_web.page.context.clear_cookies()
        sign_in(pay_web, make_user(p, role))
        pay_web.goto("/dashboard/topup")
        pay_web.check_page()
        expect(pay_web.page.get_by_test_id("total")).to_have_text(f"{quote(p, days=30)['total']} USD")  # reads
        assert pay_web.page.get_by_role("button", name="Pay").count() == 0
        expect(pay_web.page.get_by_text("Only the account's owner can buy days")).to_be_visible()
        pay_web.goto("/dashboard/payment-methods")
        pay_web.check_page()
        for button in ("Save a card", "Save rule", "Remove rule"):
            assert pay_web.page.get_by_role("button", name=button).count() == 0
        csrf = pay_web.page.locator("input[name=csrf]").first.input_value()  # the sign-out form's
        for path, form in (("/dashboard/topup", {"unit": "days", "amount": "30"}),
                           ("/dashboard/payment-methods", {}),
                           ("/dashboard/autorecharge", {"belowDays": "5", "buyDays": "30", "enabled": "on"}),
                           ("/dashboard/autorecharge/remove", {})):
            r = pay_web.page.request.post(pay_web.base_url + path, form={"csrf": csrf, **form})
            assert r.status == 403, (role, path, r.status)
            assert "owner role" in r.text()
    assert p.get(f"/partners/{p.name}/topups").json()["total"] == 0
    # Without the CSRF token even the owner is refused.
    pay_web.page.context.clear_cookies()
    sign_in(pay_web, make_user(p, "owner"))
    r = pay_web.page.request.post(pay_web.base_url + "/dashboard/topup", form={"unit": "days", "amount": "30"})
    assert r.status == 403 and "CSRF" in r.text()
    assert p.get(f"/partners/{p.name}/topups").json()["total"] == 0


def test_the_owner_sets_and_removes_the_auto_recharge_rule(pay_web, make_partner, make_user, admin, db, clock,
                                                           stripe_env):  # noqa: F811
    p = priced(make_partner, admin)
    sign_in(pay_web, make_user(p, "owner"))
    pay_web.goto("/dashboard/payment-methods")
    pay_web.check_page()
    pay_web.allowed_statuses = {409}
    # No saved card yet: the service's 409 is shown on the form and nothing is stored.
    pay_web.page.get_by_role("button", name="Save rule").click()
    pay_web.page.wait_for_load_state()
    expect(pay_web.page.get_by_role("alert")).to_contain_text("no saved card")
    assert p.get(f"/partners/{p.name}/autorecharge").status_code == 404

    # Save a card: on to Stripe's setup page (the stand-in), through a page of the site.
    pay_web.page.get_by_role("button", name="Save a card").click()
    pay_web.page.wait_for_url(re.compile(re.escape(stripe_env.standin_url) + r"/pay/cs_test_\w+"))
    _store_card(db, p, clock)  # as Stripe's setup webhook would (that road is tested in tests/payments)
    pay_web.goto("/dashboard/payment-methods")
    expect(pay_web.page.get_by_test_id("cards")).to_contain_text("visa ···· 4242")
    pay_web.page.get_by_label("When the balance falls below (days)").fill("10")
    pay_web.page.get_by_label("Buy (days)").fill("90")
    pay_web.page.get_by_role("button", name="Save rule").click()
    pay_web.page.wait_for_url("**/dashboard/payment-methods")
    expect(pay_web.page.get_by_test_id("rule")).to_contain_text("below 10 days")
    rule = p.get(f"/partners/{p.name}/autorecharge").json()
    assert (rule["belowDays"], rule["buyDays"], rule["enabled"]) == (10, 90, True)
    expect(pay_web.page.get_by_test_id("rule")).to_contain_text(f"{rule['quote']['total']} USD")
    pay_web.screenshot("dashboard-cards")

    pay_web.page.once("dialog", lambda d: d.accept())
    pay_web.page.get_by_role("button", name="Remove rule").click()
    pay_web.page.wait_for_url("**/dashboard/payment-methods")
    expect(pay_web.page.get_by_test_id("rule")).to_have_text("No auto-recharge rule.")
    assert p.get(f"/partners/{p.name}/autorecharge").status_code == 404

    pay_web.page.once("dialog", lambda d: d.accept())
    pay_web.page.get_by_role("button", name="Remove", exact=True).click()
    pay_web.page.wait_for_url("**/dashboard/payment-methods")
    expect(pay_web.page.get_by_role("status")).to_contain_text("removed")
    assert p.get(f"/partners/{p.name}/payment-methods").json()["paymentMethods"] == []


def _store_card(db, p, clock) -> None:
    """A saved card as the setup webhook stores it (that road is tested in tests/payments)."""
    from web.conftest import in_thread

    from dayledger.autorecharge import repository

    async def fn(session):
        await repository.store_card(session, id="pm_web" + p.id[-8:], partner_id=p.id, brand="visa", last4="4242",
                                    exp_month=12, exp_year=2031, created_ms=clock.now_ms())
    in_thread(db.run, fn)


def test_a_suspended_partners_owner_reads_but_buys_nothing(pay_web, make_partner, make_user, admin):
    p = priced(make_partner, admin)
    owner = make_user(p, "owner")
    assert admin.patch(f"/admin/partners/{p.name}", json={"status": "suspended"}).status_code == 200
    sign_in(pay_web, owner)
    pay_web.goto("/dashboard/topup")
    expect(pay_web.page.get_by_test_id("total")).to_have_text(f"{quote(p, days=30)['total']} USD")
    assert pay_web.page.get_by_role("button", name="Pay").count() == 0
    expect(pay_web.page.get_by_text("This account is suspended")).to_be_visible()
    csrf = pay_web.page.locator("input[name=csrf]").first.input_value()
    r = pay_web.page.request.post(pay_web.base_url + "/dashboard/topup",
                                  form={"csrf": csrf, "unit": "days", "amount": "30"})
    assert r.status == 403 and "suspended" in r.text()
    r = pay_web.page.request.post(f"{pay_web.base_url}/dashboard/automation/projects/{p.project_id}",
                                  form={"csrf": csrf, "belowDays": "3", "extendDays": "30"})
    assert r.status == 403 and "suspended" in r.text()
    assert p.get(f"/partners/{p.name}/topups").json()["total"] == 0
