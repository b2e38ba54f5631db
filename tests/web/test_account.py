"""The account pages in a real browser: webhook endpoints (add, test send through a real
local receiver and the worker's webhook jobs, the delivery log, resend, rotate, disable,
delete), API tokens (created, used against the API, revoked), people (invite by link and by
email, roles, the last owner), settings (seen through the API); bad input shown next to its
field with nothing changed; a viewer sees no control and a forged post answers 403."""

from __future__ import annotations

import asyncio
import re
import secrets
from urllib.parse import urlsplit

import pytest

from conftest import new_client
from dayledger.context import Services
from dayledger.db import Database
from dayledger.idempotency import InFlight
from dayledger.webhooks import tasks as webhook_tasks
from dayledger.worker import run_job
from notices.receiver import Receiver
from web.conftest import PASSWORD, Checked, in_thread, sign_in

POST_ROUTES = ["/dashboard/webhooks", "/dashboard/tokens", "/dashboard/users/invite", "/dashboard/settings/billing",
               "/dashboard/settings/account", "/dashboard/settings/notices"]


@pytest.fixture
def receiver():
    started: list[Receiver] = []

    def start() -> Receiver:
        started.append(Receiver().start())
        return started[-1]
    yield start
    for r in started:
        r.stop()


@pytest.fixture
def deliver(db_url, settings, clock):
    """One worker round of the webhook jobs (fan-out, then send), from another thread."""
    def run() -> dict[str, int]:
        s = settings.model_copy(update={"webhook_connect_timeout_seconds": 1.0, "webhook_read_timeout_seconds": 1.0,
                                        "webhook_run_seconds": 5.0})

        async def main() -> dict[str, int]:
            db = Database(db_url, 4)
            try:
                svc = Services(settings=s, db=db, clock=clock, in_flight=InFlight())
                return {job.name: await run_job(svc, job, clock.now_ms()) for job in webhook_tasks.JOBS}
            finally:
                await db.dispose()

        return in_thread(asyncio.run, main())
    return run


def press(web: Checked, button) -> None:
    """Click a form's button and wait for the answer page (which may be the same URL)."""
    with web.page.expect_navigation():
        button.click()


def csrf_of(web: Checked) -> str:
    return web.page.locator('input[name="csrf"]').first.get_attribute("value")


def flash(web: Checked) -> str:
    return web.page.get_by_role("status").first.inner_text()


def mutating_controls(web: Checked) -> list[str]:
    """Forms that post anywhere but /logout, and their buttons."""
    return web.page.evaluate("""() => [...document.querySelectorAll('form[method="post"]')]
        .filter(f => !f.action.endsWith('/logout')).map(f => f.action)""")


# --- webhooks -------------------------------------------------------------------------------------------

def test_webhook_test_send_reaches_a_real_receiver_and_the_log_shows_it(web, make_partner, make_user, receiver,
                                                                          deliver):
    p = make_partner(balance=30)
    rcv = receiver()
    rcv.default, rcv.body = 200, b'{"received": true, "queue": "gateway-1"}'
    sign_in(web, make_user(p, "owner"))
    web.goto("/dashboard/webhooks")
    web.check_page()
    assert web.page.title() == "Webhooks · dayledger"
    assert "No webhook endpoint yet" in web.page.content()

    web.page.get_by_label("URL").fill(rcv.url)
    web.page.get_by_label("Description").fill("our gateway")
    press(web, web.page.get_by_role("button", name="Add endpoint"))
    assert web.page.title() == "Webhook endpoint added · dayledger"
    secret = web.page.get_by_test_id("secret").inner_text().strip()
    assert secret.startswith("whsec_")
    rcv.secret = secret
    web.check_page()
    listed = p.get("/partners/%s/webhooks" % p.name).json()["endpoints"]
    assert [(e["url"], e["events"], e["description"]) for e in listed] == [(rcv.url, ["*"], "our gateway")]
    endpoint_id = listed[0]["id"]

    web.page.get_by_role("link", name="Delivery log").click()
    web.page.wait_for_url(f"**/dashboard/webhooks/{endpoint_id}")
    web.check_page()
    assert web.page.title() == f"Webhook {rcv.url} · dayledger"
    web.page.get_by_role("button", name="Test send").click()
    web.page.wait_for_url(f"**/dashboard/webhooks/{endpoint_id}")
    assert "queued" in flash(web)
    assert web.page.get_by_test_id("delivery-status").inner_text() == "pending"

    assert deliver()["webhooksSent"] >= 1
    web.page.reload()
    assert web.page.get_by_test_id("delivery-status").inner_text() == "succeeded"
    assert web.page.get_by_test_id("last-code").inner_text() == "200"
    assert [r.type for r in rcv.accepted()] == ["webhook.test"]
    assert rcv.forged == []
    web.page.locator("details summary").first.click()
    assert re.search(r"\d+ ms", web.page.locator("ol.attempts").first.inner_text())
    assert web.page.locator("pre.excerpt").first.inner_text() == '{"received": true, "queue": "gateway-1"}'

    # Resend: the same webhook-id again, after a new worker round.
    web.page.get_by_role("button", name="Resend").click()
    web.page.wait_for_url(f"**/dashboard/webhooks/{endpoint_id}")
    assert "sent again" in flash(web)
    assert web.page.get_by_test_id("delivery-status").inner_text() == "pending"
    deliver()
    web.page.reload()
    assert web.page.get_by_test_id("delivery-status").inner_text() == "succeeded"
    ids = rcv.ids()
    assert len(ids) == 2 and ids[0] == ids[1]
    web.page.locator("details summary").first.click()
    assert web.page.locator("ol.attempts li").count() == 2
    web.screenshot("dashboard-webhook-log")
    web.page.set_viewport_size({"width": 390, "height": 844})
    web.screenshot("dashboard-webhook-log-phone")
    web.page.set_viewport_size({"width": 1280, "height": 900})

    # Rotate: the new secret is shown once, and the next delivery is signed with it.
    web.page.once("dialog", lambda d: d.accept())
    press(web, web.page.get_by_role("button", name="Rotate secret"))
    assert web.page.title() == "New signing secret · dayledger"
    new_secret = web.page.get_by_test_id("secret").inner_text().strip()
    assert new_secret.startswith("whsec_") and new_secret != secret
    rcv.secret = new_secret
    web.goto(f"/dashboard/webhooks/{endpoint_id}")
    web.page.get_by_role("button", name="Test send").click()
    web.page.wait_for_url(f"**/dashboard/webhooks/{endpoint_id}")
    deliver()
    assert len(rcv.accepted()) == 3 and rcv.forged == []

    # Disable and enable from the list; the list shows the state.
    web.goto("/dashboard/webhooks")
    web.page.get_by_role("button", name="Disable").click()
    web.page.wait_for_url("**/dashboard/webhooks")
    assert "disabled" in flash(web)
    assert p.get(f"/partners/{p.name}/webhooks/{endpoint_id}").json()["enabled"] is False
    assert web.page.get_by_role("button", name="Test send").count() == 0
    web.page.get_by_role("button", name="Enable").click()
    web.page.wait_for_url("**/dashboard/webhooks")
    assert p.get(f"/partners/{p.name}/webhooks/{endpoint_id}").json()["enabled"] is True
    web.screenshot("dashboard-webhooks")


def test_webhook_endpoints_are_changed_and_deleted_and_bad_input_shows_at_its_field(web, make_partner, make_user,
                                                                                   receiver):
    p = make_partner()
    rcv = receiver()
    sign_in(web, make_user(p, "owner"))
    web.allowed_statuses = {422}

    # Not an http(s) URL: the service's 422, next to the URL field; nothing added.
    web.goto("/dashboard/webhooks")
    web.page.get_by_label("URL").fill("ftp://files.example.com/hooks")
    press(web, web.page.get_by_role("button", name="Add endpoint"))
    assert "webhook URL refused" in web.page.locator("#url-error").inner_text()
    assert web.page.get_by_label("URL").input_value() == "ftp://files.example.com/hooks"  # kept in the form
    web.check_page()
    assert p.get(f"/partners/{p.name}/webhooks").json()["endpoints"] == []

    # Only these events, none ticked: the message is next to the events.
    web.page.get_by_label("URL").fill(rcv.url)
    web.page.get_by_label("Only these:").check()
    press(web, web.page.get_by_role("button", name="Add endpoint"))
    assert "tick at least one event" in web.page.locator("#events-error").inner_text()
    assert p.get(f"/partners/{p.name}/webhooks").json()["endpoints"] == []

    web.page.get_by_label("Only these:").check()
    web.page.get_by_label("channel.created").check()
    web.page.get_by_label("days", exact=True).check()
    press(web, web.page.get_by_role("button", name="Add endpoint"))
    [ep] = p.get(f"/partners/{p.name}/webhooks").json()["endpoints"]
    assert ep["events"] == ["days", "channel.created"]

    # Change it on its page: a bad URL changes nothing, a good one is saved.
    web.goto(f"/dashboard/webhooks/{ep['id']}")
    web.check_page()
    assert web.page.get_by_label("channel.created").is_checked()
    web.page.get_by_label("URL").fill("gopher://old.example/hooks")
    press(web, web.page.get_by_role("button", name="Save changes"))
    assert "webhook URL refused" in web.page.locator("#url-error").inner_text()
    assert p.get(f"/partners/{p.name}/webhooks/{ep['id']}").json()["url"] == rcv.url
    web.page.get_by_label("URL").fill(rcv.url + "/v2")
    web.page.get_by_label("All events").check()
    web.page.get_by_label("Description").fill("second version")
    web.page.get_by_role("button", name="Save changes").click()
    web.page.wait_for_url(f"**/dashboard/webhooks/{ep['id']}")
    now = p.get(f"/partners/{p.name}/webhooks/{ep['id']}").json()
    assert (now["url"], now["events"], now["description"]) == (rcv.url + "/v2", ["*"], "second version")

    web.page.once("dialog", lambda d: d.accept())
    web.page.get_by_role("button", name="Delete endpoint").click()
    web.page.wait_for_url("**/dashboard/webhooks")
    assert "removed" in flash(web)
    assert p.get(f"/partners/{p.name}/webhooks").json()["endpoints"] == []


def test_the_delivery_log_pages_and_filters(web, make_partner, make_user, receiver, deliver):
    p = make_partner()
    rcv = receiver()
    created = p.post(f"/partners/{p.name}/webhooks", json={"url": rcv.url}).json()
    endpoint_id, rcv.secret = created["id"], created["secret"]
    for _ in range(23):
        assert p.post(f"/partners/{p.name}/webhooks/{endpoint_id}/test").status_code == 202
    rcv.default = 500  # the first delivery fails and stays pending; the others wait behind it, in order
    deliver()
    sign_in(web, make_user(p, "viewer"))
    web.goto(f"/dashboard/webhooks/{endpoint_id}")
    web.check_page()
    assert web.page.locator("tr[data-delivery]").count() == 20
    assert "1–20 of 23" in web.page.locator(".pager").inner_text()
    first_page = web.page.locator("tr[data-delivery]").first.get_attribute("data-delivery")
    web.page.get_by_role("link", name="Older ›").click()
    web.page.wait_for_url("**offset=20")
    assert web.page.locator("tr[data-delivery]").count() == 3
    assert "21–23 of 23" in web.page.locator(".pager").inner_text()
    assert int(web.page.locator("tr[data-delivery]").first.get_attribute("data-delivery")) < int(first_page)
    oldest = web.page.locator("tr[data-delivery]").last
    oldest.locator("details summary").click()
    assert "last 500" in oldest.inner_text() and "pending" in oldest.inner_text()
    web.page.get_by_label("Status").select_option("succeeded")
    web.page.get_by_role("button", name="Show").click()
    web.page.wait_for_url("**status=succeeded")
    assert web.page.locator("tr[data-delivery]").count() == 0
    assert "No delivery with status succeeded" in web.page.content()
    web.page.get_by_label("Status").select_option("pending")
    web.page.get_by_role("button", name="Show").click()
    web.page.wait_for_url("**status=pending")
    assert "1–20 of 23" in web.page.locator(".pager").inner_text()


def test_a_private_address_is_refused_next_to_the_url(web, app, settings, make_partner, make_user):
    p = make_partner()
    sign_in(web, make_user(p, "owner"))
    web.allowed_statuses = {422}
    app.state.services.settings = settings.model_copy(update={"webhook_allow_private": False})
    try:
        web.goto("/dashboard/webhooks")
        web.page.get_by_label("URL").fill("http://127.0.0.1:9/hooks")
        press(web, web.page.get_by_role("button", name="Add endpoint"))
        error = web.page.locator("#url-error").inner_text()
    finally:
        app.state.services.settings = settings
    assert "webhook URL refused" in error and "private, loopback or link-local" in error
    assert web.page.get_by_label("URL").get_attribute("aria-invalid") == "true"
    web.check_page()
    assert p.get(f"/partners/{p.name}/webhooks").json()["endpoints"] == []


def test_another_partners_endpoint_is_not_found(web, make_partner, make_user, receiver):
    mine, theirs = make_partner(), make_partner()
    rcv = receiver()
    r = theirs.post(f"/partners/{theirs.name}/webhooks", json={"url": rcv.url})
    assert r.status_code == 201
    endpoint_id = r.json()["id"]
    sign_in(web, make_user(mine, "owner"))
    csrf = csrf_of(web)
    web.allowed_statuses = {404}
    assert web.goto(f"/dashboard/webhooks/{endpoint_id}").status == 404
    assert web.page.title() == "Webhook endpoint not found · dayledger"
    for action in ("test", "disable", "delete", "secret"):
        r = web.page.request.post(f"{web.base_url}/dashboard/webhooks/{endpoint_id}/{action}", form={"csrf": csrf})
        assert r.status == 404, action
    assert theirs.get(f"/partners/{theirs.name}/webhooks/{endpoint_id}").json()["enabled"] is True


# --- API tokens ---------------------------------------------------------------------------------------

def test_a_token_is_shown_once_works_against_the_api_and_revoked_fails(web, make_partner, make_user, base_url):
    p = make_partner(balance=5)
    sign_in(web, make_user(p, "owner"))
    web.goto("/dashboard/tokens")
    web.check_page()
    assert web.page.title() == "API tokens · dayledger"
    web.allowed_statuses = {422}
    web.page.get_by_label("Name").fill("reporting")
    web.page.get_by_label("Scope").select_option("read")
    web.page.get_by_label("Expires after").fill("0")
    press(web, web.page.get_by_role("button", name="Create token"))
    assert "from 1 to 3,650" in web.page.locator("#expires-error").inner_text()
    assert web.page.get_by_label("Name").input_value() == "reporting"
    before = p.get(f"/partners/{p.name}/tokens").json()["tokens"]

    web.page.get_by_label("Expires after").fill("30")
    press(web, web.page.get_by_role("button", name="Create token"))
    assert web.page.title() == "API token created · dayledger"
    raw = web.page.get_by_test_id("token").inner_text().strip()
    web.check_page()
    with new_client(base_url, raw) as c:
        assert c.get(f"/partners/{p.name}").json()["balance"] == 5
        assert c.put("/channels", json={"name": "x", "projectId": p.project_id}).status_code == 403  # scope read
        tokens = p.get(f"/partners/{p.name}/tokens").json()["tokens"]
        assert len(tokens) == len(before) + 1
        made = next(t for t in tokens if t["name"] == "reporting")
        assert made["scope"] == "read" and made["expiresAt"] is not None

        web.page.get_by_role("link", name="Back to API tokens").click()
        row = web.page.locator(f'tr[data-token="{made["id"]}"]')
        assert "active" in row.inner_text()
        assert raw not in web.page.content()  # only its first characters
        web.screenshot("dashboard-tokens")
        web.page.once("dialog", lambda d: d.accept())
        row.get_by_role("button", name="Revoke").click()
        web.page.wait_for_url("**/dashboard/tokens")
        assert "revoked" in flash(web)
        assert "revoked" in web.page.locator(f'tr[data-token="{made["id"]}"]').inner_text()
        r = c.get(f"/partners/{p.name}")
        assert r.status_code == 401 and "revoked" in r.text


# --- people -------------------------------------------------------------------------------------------

def test_an_invited_member_joins_by_the_link_and_sees_no_owner_controls(web, browser, base_url, make_partner,
                                                                          make_user):
    p = make_partner(balance=12)
    who = f"new.member-{secrets.token_hex(4)}@example.com"
    owner = make_user(p, "owner")
    sign_in(web, owner)
    web.goto("/dashboard/users")
    web.check_page()
    assert web.page.title() == "Users · dayledger"
    web.page.get_by_label("Email", exact=True).fill(who.replace("new.member", "New.Member"))
    web.page.get_by_label("Role", exact=True).select_option("member")
    press(web, web.page.get_by_role("button", name="Invite"))
    assert web.page.title() == "Invitation ready · dayledger"
    web.check_page()
    assert "No email was sent" in web.page.content()  # no SMTP in the test settings
    link = web.page.get_by_test_id("invite-link").inner_text().strip()
    path = urlsplit(link).path
    assert re.fullmatch(r"/invite/[A-Za-z0-9_-]{40,}", path)

    context = browser.new_context(viewport={"width": 390, "height": 844})
    other = Checked(context.new_page(), base_url)
    try:
        other.goto(path)
        other.check_page()
        assert who in other.page.content()
        other.page.get_by_label("Password").fill(PASSWORD)
        other.page.get_by_role("button", name="Create account").click()
        other.page.wait_for_url("**/dashboard/")
        assert who in other.page.locator("header").inner_text()
        assert other.page.get_by_role("link", name="Channels").count() == 1
        other.goto("/dashboard/channels")
        assert other.page.title().startswith("Channels")
        for path_ in ("/dashboard/webhooks", "/dashboard/tokens", "/dashboard/users", "/dashboard/settings"):
            other.goto(path_)
            other.check_page()
            assert mutating_controls(other) == [], path_
        other.goto("/dashboard/tokens")
        assert "managed by the account's owners" in other.page.content()
        other.goto("/dashboard/users")
        assert re.fullmatch(re.escape(who) + r" \(you\)\s+member",
                            other.page.locator(f'tr[data-user="{who}"]').inner_text())
    finally:
        context.close()
    assert other.outside == [] and other.errors == []

    web.goto("/dashboard/users")
    row = web.page.locator(f'tr[data-user="{who}"]')
    assert "member" in row.inner_text()
    web.screenshot("dashboard-users")
    # Used once: the link no longer works.
    web.allowed_statuses = {404}
    assert web.goto(path).status == 404


def test_an_invitation_is_emailed_when_smtp_is_configured(web, app, settings, make_partner, make_user):
    from notices.test_email import Inbox, start_smtp

    inbox = Inbox()
    controller, url = start_smtp(inbox)
    app.state.services.settings = settings.model_copy(update={"smtp_url": url,
                                                              "smtp_from": "Acme Days <days@acme.test>"})
    try:
        p = make_partner()
        who = f"viewer-{secrets.token_hex(4)}@example.com"
        sign_in(web, make_user(p, "owner"))
        web.goto("/dashboard/users")
        web.page.get_by_label("Email", exact=True).fill(who)
        web.page.get_by_label("Role", exact=True).select_option("viewer")
        press(web, web.page.get_by_role("button", name="Invite"))
        assert f"An email with this link was sent to {who}" in web.page.content()
        link = web.page.get_by_test_id("invite-link").inner_text().strip()
    finally:
        app.state.services.settings = settings
        controller.stop()
    [mail] = inbox.to(who)
    assert mail["Subject"].startswith("[Acme Days] ") and p.name in mail["Subject"]
    assert link in mail.get_content() and "as viewer" in mail.get_content()


def test_roles_change_and_the_last_owner_stays(web, db, make_partner, make_user):
    p = make_partner()
    owner = make_user(p, "owner")
    viewer = make_user(p, "viewer")
    sign_in(web, owner)
    web.goto("/dashboard/users")
    web.check_page()

    mine = web.page.locator(f'tr[data-user="{owner.email}"]')
    web.allowed_statuses = {403}
    web.page.once("dialog", lambda d: d.accept())
    press(web, mine.get_by_role("button", name="Remove"))
    row_alert = web.page.locator(f'tr[data-user="{owner.email}"]').get_by_role("alert")
    assert "the last owner stays" in row_alert.inner_text()
    mine = web.page.locator(f'tr[data-user="{owner.email}"]')
    mine.get_by_label(f"Role of {owner.email}").select_option("member")
    press(web, mine.get_by_role("button", name="Change role"))
    assert "the last owner stays" in web.page.content()

    # An email that is already a user's: 409 next to Email, nothing sent or stored.
    web.allowed_statuses = {403, 409}
    web.page.get_by_label("Email", exact=True).fill(viewer.email)
    press(web, web.page.get_by_role("button", name="Invite"))
    assert "user exists" in web.page.locator("#email-error").inner_text()
    assert in_thread(lambda: db.scalar("SELECT count(*) FROM invitations WHERE partner_id = :p", p=p.id)) == 0

    theirs = web.page.locator(f'tr[data-user="{viewer.email}"]')
    theirs.get_by_label(f"Role of {viewer.email}").select_option("owner")
    theirs.get_by_role("button", name="Change role").click()
    web.page.wait_for_url("**/dashboard/users")
    assert f"{viewer.email} is now owner" in flash(web)
    assert "owner" in web.page.locator(f'tr[data-user="{viewer.email}"]').inner_text()
    web.page.once("dialog", lambda d: d.accept())
    web.page.locator(f'tr[data-user="{viewer.email}"]').get_by_role("button", name="Remove").click()
    web.page.wait_for_url("**/dashboard/users")
    assert f"{viewer.email} removed" in flash(web)
    assert web.page.locator(f'tr[data-user="{viewer.email}"]').count() == 0


# --- settings -------------------------------------------------------------------------------------------

def test_settings_are_saved_through_the_api_services_and_bad_input_changes_nothing(web, db, make_partner,
                                                                                      make_user):
    p = make_partner(balance=10)
    sign_in(web, make_user(p, "owner"))
    web.goto("/dashboard/settings")
    web.check_page()
    assert web.page.title() == "Settings · dayledger"
    web.allowed_statuses = {422}

    # A bad time zone with a good limit: the message next to the time zone, and neither saved.
    web.page.get_by_label("Time zone").fill("Mars/Olympus_Mons")
    web.page.get_by_label("Low-balance alert (days)").fill("4")
    press(web, web.page.get_by_role("button", name="Save", exact=True))
    assert "unknown time zone" in web.page.locator("#timezone-error").inner_text()
    assert web.page.get_by_label("Time zone").input_value() == "Mars/Olympus_Mons"
    web.check_page()
    assert p.get(f"/partners/{p.name}/settings").json()["days_limit"] != 4
    assert p.get(f"/partners/{p.name}").json()["timezone"] == "UTC"
    web.page.get_by_label("Time zone").fill("Europe/Berlin")
    web.page.get_by_label("Low-balance alert (days)").fill("lots")
    press(web, web.page.get_by_role("button", name="Save", exact=True))
    assert "must be a whole number" in web.page.locator("#days_limit-error").inner_text()
    assert p.get(f"/partners/{p.name}").json()["timezone"] == "UTC"

    # The days notice was told (balance below the limit); a new limit at or below the
    # balance re-arms it, as PATCH /partners/{name}/settings does.
    async def alerted(session):
        from sqlalchemy import text
        await session.execute(text("UPDATE partners SET days_alerted = :t WHERE id = :id"), {"t": True, "id": p.id})
    in_thread(db.run, alerted)
    web.page.get_by_label("Time zone").fill("Europe/Berlin")
    web.page.get_by_label("Low-balance alert (days)").fill("7")
    web.page.get_by_role("button", name="Save", exact=True).click()
    web.page.wait_for_url("**/dashboard/settings")
    assert "saved" in flash(web)
    assert p.get(f"/partners/{p.name}/settings").json()["days_limit"] == 7
    assert p.get(f"/partners/{p.name}").json()["timezone"] == "Europe/Berlin"
    assert not in_thread(lambda: db.scalar("SELECT days_alerted FROM partners WHERE id = :id", id=p.id))

    # Billing details (line breaks kept), then a bad email that changes nothing.
    web.page.get_by_label("Company").fill("Acme Telecom GmbH")
    web.page.get_by_label("Address").fill("Hauptstr. 1\n10115 Berlin")
    web.page.get_by_label("Tax ID").fill("DE123456789")
    web.page.get_by_label("Billing email").fill("billing@acme.example")
    web.page.get_by_role("button", name="Save billing details").click()
    web.page.wait_for_url("**/dashboard/settings")
    details = {"company": "Acme Telecom GmbH", "address": "Hauptstr. 1\n10115 Berlin", "taxId": "DE123456789",
               "email": "billing@acme.example"}
    assert p.get(f"/partners/{p.name}/billing-details").json() == details
    web.page.get_by_label("Company").fill("Other Name")
    web.page.get_by_label("Billing email").evaluate("e => e.type = 'text'")
    web.page.get_by_label("Billing email").fill("no-at-sign")
    press(web, web.page.get_by_role("button", name="Save billing details"))
    assert "Billing email" in web.page.locator("#billing_email-error").inner_text()
    assert p.get(f"/partners/{p.name}/billing-details").json() == details

    # Notices: a runway out of range changes nothing; then chosen events are saved.
    web.goto("/dashboard/settings")
    web.page.get_by_label("Expiring notice").fill("5")
    web.page.get_by_label("Runway notice").fill("400")
    press(web, web.page.get_by_role("button", name="Save notices"))
    assert "from 1 to 365" in web.page.locator("#runway-error").inner_text()
    assert p.get(f"/partners/{p.name}/notices").json()["expiringNoticeDays"] == 3
    web.page.get_by_label("Runway notice").fill("20")
    web.page.get_by_label("Only these").check()
    web.page.get_by_role("checkbox", name="runway.low").check()
    web.page.get_by_role("checkbox", name="invoice.created").check()
    web.page.get_by_role("button", name="Save notices").click()
    web.page.wait_for_url("**/dashboard/settings")
    got = p.get(f"/partners/{p.name}/notices").json()
    assert (got["expiringNoticeDays"], got["runwayNoticeDays"], got["emailEvents"], got["emailEventsDefault"]) == \
        (5, 20, ["runway.low", "invoice.created"], False)
    assert web.page.get_by_role("checkbox", name="runway.low").is_checked()
    assert "Europe/Berlin" in web.page.locator("main").inner_text()
    web.screenshot("dashboard-settings")
    web.page.set_viewport_size({"width": 390, "height": 844})
    web.screenshot("dashboard-settings-phone")


# --- who may change what ---------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["viewer", "member"])
def test_a_viewer_or_member_sees_no_control_and_a_forged_post_is_refused(web, db, make_partner, make_user,
                                                                           receiver, role):
    p = make_partner(balance=10)
    rcv = receiver()
    endpoint_id = p.post(f"/partners/{p.name}/webhooks", json={"url": rcv.url}).json()["id"]
    token_id = p.post(f"/partners/{p.name}/tokens", json={"name": "keep"}).json()["id"]
    tokens_before = p.get(f"/partners/{p.name}/tokens").json()["tokens"]
    owner = make_user(p, "owner")
    owner_id = in_thread(lambda: db.scalar("SELECT id FROM users WHERE email = :e", e=owner.email))
    sign_in(web, make_user(p, role))
    for path in ("/dashboard/webhooks", f"/dashboard/webhooks/{endpoint_id}", "/dashboard/tokens",
                 "/dashboard/users", "/dashboard/settings"):
        web.goto(path)
        web.check_page()
        assert web.page.title().endswith(" · dayledger")
        assert mutating_controls(web) == [], path
    web.goto(f"/dashboard/webhooks/{endpoint_id}")
    assert "Test send" not in web.page.content() and "Resend" not in web.page.content()

    csrf = csrf_of(web)
    web.allowed_statuses = {403}
    forged = {**{path: {"url": rcv.url} for path in POST_ROUTES},
              "/dashboard/settings/account": {"timezone": "Asia/Tokyo", "days_limit": "1"},
              "/dashboard/users/invite": {"email": "x@example.com", "role": "owner"},
              "/dashboard/tokens": {"name": "mine", "scope": "full"},
              "/dashboard/settings/billing": {"company": "Forged"},
              "/dashboard/settings/notices": {"expiring": "9"},
              f"/dashboard/webhooks/{endpoint_id}/test": {}, f"/dashboard/webhooks/{endpoint_id}/disable": {},
              f"/dashboard/webhooks/{endpoint_id}/delete": {}, f"/dashboard/webhooks/{endpoint_id}/secret": {},
              f"/dashboard/webhooks/{endpoint_id}": {"url": rcv.url + "/x"},
              f"/dashboard/tokens/{token_id}/revoke": {},
              f"/dashboard/users/{owner_id}/role": {"role": "viewer"}, f"/dashboard/users/{owner_id}/remove": {}}
    for path, fields in forged.items():
        r = web.page.request.post(web.base_url + path, form={"csrf": csrf, **fields})
        assert r.status == 403, (path, r.status)
        assert "your role is" in r.text(), path
    # Nothing changed.
    assert p.get(f"/partners/{p.name}/webhooks/{endpoint_id}").json()["enabled"] is True
    assert p.get(f"/partners/{p.name}").json()["timezone"] == "UTC"
    assert p.get(f"/partners/{p.name}/billing-details").json()["company"] is None
    assert p.get(f"/partners/{p.name}/notices").json()["expiringNoticeDays"] == 3
    assert p.get(f"/partners/{p.name}/tokens").json()["tokens"] == tokens_before
    owner_row = in_thread(lambda: db.rows("SELECT role, disabled_ms FROM users WHERE id = :i", i=owner_id))
    assert owner_row == [("owner", None)]
    assert in_thread(lambda: db.scalar("SELECT count(*) FROM invitations WHERE partner_id = :p", p=p.id)) == 0


def test_forms_without_the_csrf_token_are_refused(web, make_partner, make_user):
    p = make_partner()
    sign_in(web, make_user(p, "owner"))
    web.goto("/dashboard/settings")
    web.allowed_statuses = {403}
    for path in POST_ROUTES:
        r = web.page.request.post(web.base_url + path, form={"days_limit": "1", "timezone": "Asia/Tokyo"})
        assert r.status == 403 and "CSRF" in r.text(), path
    assert p.get(f"/partners/{p.name}").json()["timezone"] == "UTC"


def test_a_suspended_partners_owner_reads_but_changes_nothing(web, admin, make_partner, make_user):
    p = make_partner(balance=3)
    sign_in(web, make_user(p, "owner"))
    assert admin.patch(f"/admin/partners/{p.name}", json={"status": "suspended"}).status_code == 200
    try:
        for path in ("/dashboard/webhooks", "/dashboard/tokens", "/dashboard/users", "/dashboard/settings"):
            web.goto(path)
            web.check_page()
            assert mutating_controls(web) == [], path
        web.goto("/dashboard/tokens")
        assert "suspended" in web.page.get_by_role("status").inner_text()
        assert web.page.locator("tr[data-token]").count() == 1  # the partner's API token, listed
        csrf = csrf_of(web)
        web.allowed_statuses = {403}
        r = web.page.request.post(web.base_url + "/dashboard/settings/account",
                                  form={"csrf": csrf, "timezone": "Asia/Tokyo", "days_limit": "1"})
        assert r.status == 403 and "suspended" in r.text()
        assert p.get(f"/partners/{p.name}").json()["timezone"] == "UTC"
    finally:
        assert admin.patch(f"/admin/partners/{p.name}", json={"status": "active"}).status_code == 200
