"""The operator's console in a real browser: partners (list, search, create), one partner
(credit and debit, price, limits, suspend and resume), invoices (create, mark paid, void),
events and failing webhook deliveries, operator users; CSRF, bad input, who may enter."""

from __future__ import annotations

import re
import secrets

import pytest

from web.conftest import Checked, in_thread, sign_in

ERROR_PAGES = {402, 403, 404, 409, 422}


@pytest.fixture(scope="module", autouse=True)
def _operator_token_first(operator_token):
    """The session's operator token is made with asyncio.run, which cannot start once the
    module's browser runs Playwright's loop in this thread: make it before, whichever test
    (or -k selection) comes first."""


def operator_in(web, make_user):
    op = make_user(None)
    sign_in(web, op, home="/console/")
    return op


def no_browser_checks(web) -> None:
    """Let the server judge the input: the browser's own checks (required, min) are off."""
    web.page.evaluate("() => document.querySelectorAll('form').forEach(f => f.noValidate = true)")


def accept_confirmations(web) -> None:
    web.page.on("dialog", lambda dialog: dialog.accept())


def test_the_operator_credits_days_and_the_partners_page_shows_the_new_balance(web, browser, base_url,
                                                                               make_partner, make_user):
    p = make_partner(balance=10)
    ann = make_user(p, "owner")
    # The partner's user, in a browser of its own.
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    partner_side = Checked(context.new_page(), base_url)
    try:
        sign_in(partner_side, ann)
        assert partner_side.page.locator("[data-balance]").inner_text() == "10"

        op = operator_in(web, make_user)
        web.goto(f"/console/partners/{p.name}")
        web.check_page()
        assert web.page.title() == f"Partner {p.name} · dayledger"
        web.page.get_by_label("Days", exact=True).fill("25")
        web.page.get_by_label("Comment", exact=True).fill("goodwill for the outage")
        web.page.get_by_role("button", name="Credit").click()
        web.page.wait_for_load_state()
        assert web.page.get_by_role("status").inner_text() == "Credited 25 days. The balance is 35 days."
        assert web.page.get_by_test_id("balance").inner_text() == "35 days"
        row = web.page.locator("tbody tr").filter(has_text="goodwill for the outage")
        assert "+25" in row.inner_text() and "adjustment" in row.inner_text() and op.email in row.inner_text()
        web.screenshot("console-partner")

        partner_side.page.reload()
        assert partner_side.page.locator("[data-balance]").inner_text() == "35"
        partner_side.goto("/dashboard/")
        assert partner_side.page.get_by_test_id("balance").inner_text() == "35 days"
        assert partner_side.outside == [] and partner_side.errors == []
    finally:
        context.close()

    # Debit with a comment, through the same form.
    web.page.get_by_label("Days", exact=True).fill("5")
    web.page.get_by_label("Comment", exact=True).fill("correction")
    web.page.get_by_role("button", name="Debit").click()
    web.page.wait_for_load_state()
    assert web.page.get_by_role("status").inner_text() == "Debited 5 days. The balance is 30 days."
    assert p.get("/partners/" + p.name).json()["balance"] == 30


def test_create_a_partner_and_find_it_by_name(web, make_user, admin):
    operator_in(web, make_user)
    assert web.page.title() == "Partners · dayledger"
    web.check_page()
    name = f"acme-{secrets.token_hex(4)}"
    web.page.get_by_label("Name", exact=True).fill(name)
    web.page.get_by_label("Email", exact=True).fill(f"billing@{name}.example")
    web.page.get_by_label("Price per 30 days").fill("12.5")
    web.page.get_by_label("Currency", exact=True).fill("eur")
    web.page.get_by_label("Trial days").fill("5")
    web.page.get_by_label("Time zone").fill("Europe/Berlin")
    web.page.get_by_label("Eligible for trials").check()
    web.page.get_by_role("button", name="Create partner").click()
    web.page.wait_for_url(f"**/console/partners/{name}")
    assert web.page.get_by_role("status").inner_text() == f"Partner {name} created."
    body = admin.get(f"/admin/partners/{name}").json()
    assert (body["pricePerMonth"], body["currency"], body["trialEligible"], body["trialDays"], body["timezone"]) \
        == ("12.50", "EUR", True, 5, "Europe/Berlin")

    web.goto("/console/?q=" + name[:9].upper())  # case-insensitive, part of the name
    web.check_page()
    rows = web.page.locator("tbody tr")
    assert rows.count() >= 1
    mine = rows.filter(has_text=name)
    assert "active" in mine.inner_text() and "12.50 EUR" in mine.inner_text()
    for nothing in (secrets.token_hex(8), "%25"):  # "%" is a letter here, not LIKE's wildcard
        web.goto("/console/?q=" + nothing)
        assert "No partner's name contains" in web.page.locator("main").inner_text()
    web.goto("/console/")
    web.screenshot("console-partners")


def test_change_price_discounts_and_limits(web, make_partner, make_user, admin):
    p = make_partner()
    operator_in(web, make_user)
    web.goto(f"/console/partners/{p.name}")
    web.page.get_by_label("Price per 30 days").fill("20")
    web.page.get_by_label("Currency", exact=True).fill("GBP")
    web.page.get_by_label("Volume discounts").fill("3000: 10\n900 5%")
    web.page.get_by_label("Annual discount (%)").fill("15")
    web.page.get_by_label("Invoice billing").check()
    web.page.get_by_role("button", name="Save pricing").click()
    web.page.wait_for_load_state()
    assert web.page.get_by_role("status").inner_text() == "Pricing saved."
    body = admin.get(f"/admin/partners/{p.name}").json()
    assert body["pricePerMonth"] == "20.00" and body["currency"] == "GBP" and body["invoiceBilling"] is True
    assert body["discounts"] == [{"fromDays": 900, "percent": "5"}, {"fromDays": 3000, "percent": "10"}]
    assert body["annualDiscountPercent"] == "15"
    assert web.page.get_by_label("Volume discounts").input_value() == "900: 5\n3000: 10"

    web.page.get_by_label("Eligible for trials").check()
    web.page.get_by_label("Trial days").fill("7")
    web.page.get_by_label("Low-balance alert (days)").fill("50")
    web.page.get_by_label("Sandbox limit").fill("3")
    web.page.get_by_role("button", name="Save limits").click()
    web.page.wait_for_load_state()
    assert web.page.get_by_role("status").inner_text() == "Trial and limits saved."
    body = admin.get(f"/admin/partners/{p.name}").json()
    assert (body["trialEligible"], body["trialDays"], body["daysLimit"], body["sandboxLimit"]) == (True, 7, 50, 3)


def test_suspend_and_resume(web, make_partner, make_user, admin):
    p = make_partner(balance=5)
    operator_in(web, make_user)
    accept_confirmations(web)
    web.goto(f"/console/partners/{p.name}")
    web.page.get_by_role("button", name="Suspend").click()
    web.page.wait_for_load_state()
    assert web.page.get_by_role("status").inner_text() == f"{p.name} is suspended: it may only read."
    assert admin.get(f"/admin/partners/{p.name}").json()["status"] == "suspended"
    # Its token may only read.
    assert p.put("/channels", json={"name": "refused", "projectId": p.project_id}).status_code == 403
    web.page.get_by_role("button", name="Resume").click()
    web.page.wait_for_load_state()
    assert web.page.get_by_role("status").inner_text() == f"{p.name} is active again."
    assert admin.get(f"/admin/partners/{p.name}").json()["status"] == "active"
    web.goto(f"/console/?q={p.name}")
    assert "active" in web.page.locator("tbody tr").filter(has_text=p.name).inner_text()


def test_the_partners_channels_and_history_download(web, make_partner, make_user, clock, insert_channels):
    p = make_partner(balance=3)
    now = clock.now_ms()
    in_thread(lambda: insert_channels(p, 3, created_ms=now - 1000, active_till_ms=now + 10 * 86_400_000,
                                      name="shop"))
    operator_in(web, make_user)
    web.goto(f"/console/partners/{p.name}")
    web.page.get_by_role("link", name="Channels", exact=True).click()
    web.page.wait_for_url(f"**/console/partners/{p.name}/channels")
    web.check_page()
    assert web.page.title() == f"Channels of {p.name} · dayledger"
    assert web.page.locator("tbody tr").count() == 3
    web.page.get_by_label("Search by id, name or phone").fill("shop 1")
    web.page.get_by_role("button", name="Search").click()
    web.page.wait_for_load_state()
    assert web.page.locator("tbody tr").count() == 1
    r = web.page.request.get(f"{web.base_url}/console/partners/{p.name}/history.csv")
    assert r.status == 200 and r.headers["content-type"].startswith("text/csv")
    assert "test funds" in r.text()


def test_invoice_create_mark_paid_and_void(web, make_partner, make_user, admin):
    p = make_partner()
    operator_in(web, make_user)
    web.goto("/console/invoices")
    web.check_page()
    assert web.page.title() == "Invoices · dayledger"
    web.page.get_by_label("Partner", exact=True).fill(p.name)
    web.page.get_by_label("Channels").fill("2")
    web.page.get_by_label("Extra days").fill("4")
    web.page.get_by_role("button", name="Create invoice").click()
    web.page.wait_for_load_state()
    flash = web.page.get_by_role("status").inner_text()
    m = re.match(rf"Invoice (inv_\w+) for {p.name}: 64 days, [0-9.]+ USD\.", flash)
    assert m, flash
    invoice_id = m.group(1)
    row = web.page.locator("tbody tr").filter(has_text=invoice_id)
    assert "open" in row.inner_text()
    row.get_by_label(f"Reference of {invoice_id}").fill("bank transfer 42")
    row.get_by_role("button", name="Mark paid").click()
    web.page.wait_for_load_state()
    assert web.page.get_by_role("status").inner_text() == \
        f"Invoice {invoice_id} marked paid: 64 days credited to {p.name}."
    assert p.get(f"/partners/{p.name}").json()["balance"] == 64
    row = web.page.locator("tbody tr").filter(has_text=invoice_id)
    assert "paid" in row.inner_text() and "bank transfer 42" in row.inner_text()
    assert row.get_by_role("button", name="Mark paid").count() == 0

    # Its document opens.
    r = web.page.request.get(f"{web.base_url}/console/invoices/{invoice_id}/document")
    assert r.status == 200 and invoice_id in r.text()

    # A second one, voided.
    other = admin.post("/admin/invoices", json={"partner": p.name, "channels": 1}).json()["id"]
    accept_confirmations(web)
    web.goto(f"/console/invoices?partner={p.name}")
    web.page.locator("tbody tr").filter(has_text=other).get_by_role("button", name="Void").click()
    web.page.wait_for_load_state()
    assert web.page.get_by_role("status").inner_text() == f"Invoice {other} is void."
    assert admin.get(f"/admin/invoices/{other}").json()["status"] == "void"
    web.goto(f"/console/invoices?partner={p.name}")
    web.check_page()
    web.screenshot("console-invoices")


def test_generate_invoices_for_a_period(web, make_partner, make_user, admin, clock, insert_channels):
    p = make_partner()
    assert admin.patch(f"/admin/partners/{p.name}", json={"invoiceBilling": True}).status_code == 200
    now = clock.now_ms()
    in_thread(lambda: insert_channels(p, 2, created_ms=now - 1000, active_till_ms=now + 86_400_000))
    operator_in(web, make_user)
    web.goto("/console/invoices")
    web.page.get_by_label("Period", exact=True).fill("2031-07")
    web.page.get_by_role("button", name="Generate invoices").click()
    web.page.wait_for_load_state()
    assert web.page.get_by_role("status").inner_text().startswith("2031-07: ")
    mine = admin.get("/admin/invoices", params={"partner": p.name, "period": "2031-07"}).json()["invoices"]
    assert [(i["channels"], i["status"]) for i in mine] == [(2, "open")]


def test_bad_input_shows_the_form_again_with_the_message_and_changes_nothing(web, make_partner, make_user, admin):
    p = make_partner(balance=4)
    operator_in(web, make_user)
    web.allowed_statuses = ERROR_PAGES

    def at(field: str) -> str:
        return web.page.locator(f"#e-{field}").inner_text()

    # Debit more than the balance: 402, next to Days.
    web.goto(f"/console/partners/{p.name}")
    web.page.get_by_label("Days", exact=True).fill("9")
    web.page.get_by_label("Comment", exact=True).fill("too much")
    with web.page.expect_navigation() as nav:
        web.page.get_by_role("button", name="Debit").click()
    assert nav.value.status == 402
    assert "insufficient balance" in at("days").lower()
    assert web.page.get_by_label("Comment", exact=True).input_value() == "too much"  # what was sent, shown again
    web.check_page()

    # No days, no comment: 422, next to the field.
    no_browser_checks(web)
    web.page.get_by_label("Days", exact=True).fill("0")
    with web.page.expect_navigation() as nav:
        web.page.get_by_role("button", name="Credit").click()
    assert nav.value.status == 422 and "Days" in at("days")
    no_browser_checks(web)
    web.page.get_by_label("Days", exact=True).fill("3")
    web.page.get_by_label("Comment", exact=True).fill("   ")
    with web.page.expect_navigation() as nav:
        web.page.get_by_role("button", name="Credit").click()
    assert nav.value.status == 422 and "Comment" in at("comment")

    # Pricing: a price that is not a number, discounts that are not tiers, an unknown zone.
    no_browser_checks(web)
    web.page.get_by_label("Price per 30 days").fill("cheap")
    with web.page.expect_navigation() as nav:
        web.page.get_by_role("button", name="Save pricing").click()
    assert nav.value.status == 422 and "must be a number" in at("pricePerMonth")
    web.page.get_by_label("Price per 30 days").fill("10")
    web.page.get_by_label("Volume discounts").fill("lots off")
    with web.page.expect_navigation() as nav:
        web.page.get_by_role("button", name="Save pricing").click()
    assert nav.value.status == 422 and "from days: percent" in at("discounts")
    web.page.get_by_label("Volume discounts").fill("900: 500")
    with web.page.expect_navigation() as nav:
        web.page.get_by_role("button", name="Save pricing").click()
    assert nav.value.status == 422 and "Volume discounts" in at("discounts")
    web.page.get_by_label("Time zone").fill("Mars/Olympus")
    with web.page.expect_navigation() as nav:
        web.page.get_by_role("button", name="Save limits").click()
    assert nav.value.status == 422 and "unknown time zone" in at("timezone").lower()
    body = admin.get(f"/admin/partners/{p.name}").json()
    assert (body["balance"], body["pricePerMonth"], body["discounts"], body["timezone"]) == (4, "30.00", [], "UTC")

    # A partner's name that is taken: 409, next to Name.
    web.goto("/console/")
    web.page.get_by_label("Name", exact=True).fill(p.name)
    web.page.get_by_label("Email", exact=True).fill("x@example.com")
    with web.page.expect_navigation() as nav:
        web.page.get_by_role("button", name="Create partner").click()
    assert nav.value.status == 409 and "already exists" in at("name")
    assert web.page.get_by_label("Email", exact=True).input_value() == "x@example.com"

    # An invoice for nobody, or for no channels.
    web.goto("/console/invoices")
    no_browser_checks(web)
    web.page.get_by_label("Partner", exact=True).fill("nobody-" + secrets.token_hex(3))
    web.page.get_by_label("Channels").fill("1")
    with web.page.expect_navigation() as nav:
        web.page.get_by_role("button", name="Create invoice").click()
    assert nav.value.status == 404 and "no partner named" in at("partner")
    no_browser_checks(web)
    web.page.get_by_label("Partner", exact=True).fill(p.name)
    web.page.get_by_label("Channels").fill("0")
    with web.page.expect_navigation() as nav:
        web.page.get_by_role("button", name="Create invoice").click()
    assert nav.value.status == 422 and "Channels" in at("channels")
    no_browser_checks(web)
    web.page.get_by_label("Period", exact=True).fill("2026-13")
    with web.page.expect_navigation() as nav:
        web.page.get_by_role("button", name="Generate invoices").click()
    assert nav.value.status == 422 and at("period") == "Period is not in the expected form (see the hint under it)"
    assert admin.get("/admin/invoices", params={"partner": p.name}).json()["total"] == 0


def test_forms_without_the_csrf_token_are_refused(web, make_partner, make_user, admin):
    p = make_partner(balance=10)
    operator_in(web, make_user)
    for path, form in ((f"/console/partners/{p.name}/days", {"days": "5", "comment": "x", "direction": "credit"}),
                       (f"/console/partners/{p.name}/suspend", {}),
                       (f"/console/partners/{p.name}/pricing", {"pricePerMonth": "1", "currency": "USD"}),
                       ("/console/partners", {"name": "forged-" + secrets.token_hex(3), "email": "f@example.com"}),
                       ("/console/invoices", {"partner": p.name, "channels": "1"}),
                       ("/console/users", {"email": "forged@example.com", "password": "long enough pass"})):
        r = web.page.request.post(web.base_url + path, form=form)
        assert r.status == 403 and "CSRF" in r.text(), path
        r = web.page.request.post(web.base_url + path, form={**form, "csrf": "not-the-token"})
        assert r.status == 403, path
    body = admin.get(f"/admin/partners/{p.name}").json()
    assert (body["balance"], body["status"], body["pricePerMonth"]) == (10, "active", "30.00")
    assert admin.get("/admin/invoices", params={"partner": p.name}).json()["total"] == 0


def test_console_addresses_without_a_page_lead_to_the_partners(web, make_user):
    operator_in(web, make_user)
    for path in ("/console", "/console/partners"):
        web.goto(path)
        web.page.wait_for_url(re.compile(r".*/console/$"))
        assert web.page.title() == "Partners · dayledger"


def test_who_may_enter_the_console(web, make_partner, make_user):
    # Nobody signed in: the sign-in form, which comes back to the console.
    web.goto("/console/invoices")
    web.page.wait_for_url("**/login?next=/console/invoices")
    # A partner's owner: 403, on every page and every form.
    p = make_partner(balance=3)
    ann = make_user(p, "owner")
    sign_in(web, ann)
    web.allowed_statuses = {403}
    for path in ("/console/", f"/console/partners/{p.name}", "/console/invoices", "/console/events",
                 "/console/users"):
        r = web.goto(path)
        assert r.status == 403, path
        assert web.page.title() == "Operators only · dayledger"
    r = web.page.request.post(f"{web.base_url}/console/partners/{p.name}/days",
                              form={"days": "500", "comment": "mine", "direction": "credit"})
    assert r.status == 403
    assert p.get(f"/partners/{p.name}").json()["balance"] == 3


def test_an_unknown_partner_or_invoice_is_404(web, make_user):
    operator_in(web, make_user)
    web.allowed_statuses = {404}
    assert web.goto("/console/partners/nobody-" + secrets.token_hex(4)).status == 404
    assert web.page.title() == "Partner not found · dayledger"
    assert web.goto("/console/invoices/inv_" + "x" * 20 + "/document").status == 404


def _failing_delivery(db, partner_id: str, now_ms: int, *, disabled: bool = False) -> tuple[str, int]:
    """An endpoint of the partner and a delivery of one of its events that failed twice
    (``disabled``: the endpoint was disabled after that, the delivery waits)."""
    from dayledger.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint

    endpoint_id = "we_" + secrets.token_hex(10)

    async def fn(session):
        session.add(WebhookEndpoint(id=endpoint_id, partner_id=partner_id, url="https://hooks.example/in",
                                    events=["*"], description="", secret="whsec_x", enabled=not disabled, source="api",
                                    disabled_reason="the endpoint answered 410 Gone" if disabled else None,
                                    created_ms=now_ms, updated_ms=now_ms))
        event = Event(partner_id=partner_id, type="channel.created", channel_id=None, payload={"note": "x"},
                      created_ms=now_ms, webhooks_ms=now_ms, emailed_ms=now_ms)
        session.add(event)
        await session.flush()
        d = WebhookDelivery(endpoint_id=endpoint_id, event_id=event.id,
                            status="disabled" if disabled else "pending", attempts=2,
                            next_attempt_ms=now_ms + 3_600_000, last_attempt_ms=now_ms - 1000, created_ms=now_ms)
        session.add(d)
        await session.flush()
        session.add(WebhookAttempt(delivery_id=d.id, attempted_ms=now_ms - 1000, status_code=500, error=None,
                                   latency_ms=12, response="oops"))
        return d.id
    return endpoint_id, db.run(fn)


def test_events_list_recent_events_and_failing_deliveries_are_resent(web, make_partner, make_user, admin, db,
                                                                     clock):
    p = make_partner()
    created = admin.post("/admin/invoices", json={"partner": p.name, "channels": 3}).json()
    endpoint_id, delivery_id = in_thread(_failing_delivery, db, p.id, clock.now_ms())
    operator_in(web, make_user)
    web.goto("/console/events")
    web.check_page()
    assert web.page.title() == "Events · dayledger"
    recent = web.page.locator("tbody tr").filter(has_text="invoice.created").filter(has_text=p.name)
    assert recent.count() >= 1 and created["id"] in recent.first.inner_text()
    failing = web.page.locator("tbody tr").filter(has_text=endpoint_id)
    assert "HTTP 500" in failing.inner_text() and "retrying" in failing.inner_text()
    web.screenshot("console-events")

    # Filters: by type and partner.
    web.page.get_by_label("Filter by type").select_option("invoice.created")
    web.page.get_by_label("Filter by partner").fill(p.name)
    web.page.get_by_role("button", name="Filter").click()
    web.page.wait_for_url(re.compile(r".*/console/events\?type=invoice\.created&partner="))
    assert web.page.locator("h2:has-text('Recent events') ~ .table-wrap tbody tr").count() == 1

    failing = web.page.locator("tbody tr").filter(has_text=endpoint_id)
    failing.get_by_role("button", name="Resend").click()
    web.page.wait_for_load_state()
    assert web.page.get_by_role("status").inner_text() == f"Delivery {delivery_id} will be sent again now."
    assert db_next_attempt(db, delivery_id) <= clock.now_ms()


def db_next_attempt(db, delivery_id: int) -> int:
    return in_thread(lambda: db.scalar("SELECT next_attempt_ms FROM webhook_deliveries WHERE id = :i", i=delivery_id))


def test_operator_users_are_listed_added_and_removed(web, make_user):
    me = operator_in(web, make_user)
    web.goto("/console/users")
    web.check_page()
    assert web.page.title() == "Operator users · dayledger"
    mine = web.page.locator("tbody tr").filter(has_text=me.email)
    assert "you" in mine.inner_text() and mine.get_by_role("button", name="Remove").count() == 0

    web.allowed_statuses = {409, 422}
    email = f"ops-{secrets.token_hex(4)}@example.com"
    web.page.get_by_label("Email", exact=True).fill(email)
    web.page.get_by_label("Password", exact=True).fill("short")
    no_browser_checks(web)
    with web.page.expect_navigation() as nav:
        web.page.get_by_role("button", name="Add user").click()
    assert nav.value.status == 422 and web.page.locator("#e-password").inner_text()
    assert web.page.get_by_label("Email", exact=True).input_value() == email
    web.page.get_by_label("Password", exact=True).fill("a long enough password")
    web.page.get_by_role("button", name="Add user").click()
    web.page.wait_for_load_state()
    assert web.page.get_by_role("status").inner_text().startswith(f"Operator user {email} created")
    web.page.get_by_label("Email", exact=True).fill(email.upper())
    web.page.get_by_label("Password", exact=True).fill("a long enough password")
    with web.page.expect_navigation() as nav:
        web.page.get_by_role("button", name="Add user").click()
    assert nav.value.status == 409 and "already exists" in web.page.locator("#e-email").inner_text()

    accept_confirmations(web)
    web.page.locator("tbody tr").filter(has_text=email).get_by_role("button", name="Remove").click()
    web.page.wait_for_load_state()
    assert web.page.get_by_role("status").inner_text().startswith(f"{email} removed")
    assert web.page.locator("tbody tr").filter(has_text=email).count() == 0


def test_console_on_a_phone(web, make_partner, make_user):
    p = make_partner(balance=12)
    operator_in(web, make_user)
    web.page.set_viewport_size({"width": 390, "height": 844})
    web.goto(f"/console/partners/{p.name}")
    web.check_page()
    width = web.page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, width  # nothing wider than the phone: tables scroll in their own box
    web.page.screenshot(path="/tmp/console-partner-phone.png", full_page=True)


def test_a_disabled_endpoint_is_enabled_again_and_its_deliveries_wait_no_more(web, make_partner, make_user, db,
                                                                               clock, admin):
    p = make_partner()
    endpoint_id, delivery_id = in_thread(lambda: _failing_delivery(db, p.id, clock.now_ms(), disabled=True))
    operator_in(web, make_user)
    accept_confirmations(web)
    web.goto("/console/events")
    row = web.page.locator("tbody tr").filter(has_text=endpoint_id)
    assert "endpoint disabled" in row.inner_text() and "410 Gone" in row.inner_text()
    assert row.get_by_role("button", name="Resend", exact=True).count() == 0  # resending needs an enabled endpoint
    row.get_by_role("button", name="Enable and resend").click()
    web.page.wait_for_load_state()
    assert web.page.get_by_role("status").inner_text().startswith(f"Endpoint {endpoint_id} enabled")
    assert admin.get(f"/partners/{p.name}/webhooks/{endpoint_id}").json()["enabled"] is True
    status = in_thread(lambda: db.scalar("SELECT status FROM webhook_deliveries WHERE id = :i", i=delivery_id))
    assert status == "pending" and db_next_attempt(db, delivery_id) <= clock.now_ms()
    # Pending with its attempts from before: still listed until it is delivered, now as retrying.
    assert "retrying" in web.page.locator("tbody tr").filter(has_text=endpoint_id).inner_text()
