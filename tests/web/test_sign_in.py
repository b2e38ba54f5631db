"""Signing in and out, wrong passwords, CSRF, sessions and the header's balance."""

from __future__ import annotations

import re

from web.conftest import PASSWORD, sign_in


def test_sign_in_shows_the_balance_and_sign_out_ends_the_session(web, make_partner, make_user):
    p = make_partner(balance=40)
    ann = make_user(p, "owner")
    web.goto("/dashboard/")
    web.page.wait_for_url("**/login?next=/dashboard/")  # not signed in: the sign-in form
    sign_in(web, ann)
    web.check_page()
    assert web.page.title() == "Overview · dayledger"
    assert web.page.locator("[data-balance]").inner_text() == "40"
    assert web.page.get_by_test_id("balance").inner_text() == "40 days"
    web.screenshot("dashboard-overview")

    web.page.get_by_role("button", name="Sign out").click()
    web.page.wait_for_url("**/login")
    web.goto("/dashboard/")
    web.page.wait_for_url(re.compile(r".*/login\?next=/dashboard/$"))


def test_a_wrong_password_or_email_gets_one_message_on_the_form(web, make_partner, make_user):
    p = make_partner()
    ann = make_user(p)
    web.allowed_statuses = {401}
    for email, password in ((ann.email, "not the password"), ("nobody-here@example.com", PASSWORD)):
        web.goto("/login")
        web.page.get_by_label("Email").fill(email)
        web.page.get_by_label("Password").fill(password)
        web.page.get_by_role("button", name="Sign in").click()
        web.page.wait_for_load_state()
        assert web.page.get_by_role("alert").inner_text() == "wrong email or password"
        assert web.page.get_by_label("Email").input_value() == email  # shown on the form again
        web.check_page()


def test_sign_in_attempts_are_rate_limited(web, make_partner, make_user):
    p = make_partner()
    ann = make_user(p)
    web.allowed_statuses = {401, 429}
    for _ in range(5):
        web.goto("/login")
        web.page.get_by_label("Email").fill(ann.email)
        web.page.get_by_label("Password").fill("wrong password!")
        web.page.get_by_role("button", name="Sign in").click()
        web.page.wait_for_load_state()
    web.goto("/login")
    web.page.get_by_label("Email").fill(ann.email)
    web.page.get_by_label("Password").fill(ann.password)  # even the right one, for now
    web.page.get_by_role("button", name="Sign in").click()
    web.page.wait_for_load_state()
    assert "too many sign-in attempts" in web.page.get_by_role("alert").inner_text()


def test_forms_without_their_csrf_token_are_refused(web, make_partner, make_user):
    p = make_partner(balance=10)
    ann = make_user(p)
    sign_in(web, ann)
    # The session cookie alone (what a forged cross-site form would carry) is not enough.
    r = web.page.request.post(web.base_url + "/logout", form={})
    assert r.status == 403 and "CSRF" in r.text()
    r = web.page.request.post(web.base_url + "/login", form={"email": ann.email, "password": ann.password})
    assert r.status == 403
    web.goto("/dashboard/")
    assert web.page.title() == "Overview · dayledger"  # still signed in: nothing changed


def test_cookies_are_http_only_and_same_site(web, make_partner, make_user):
    p = make_partner()
    sign_in(web, make_user(p))
    cookie = next(c for c in web.page.context.cookies() if c["name"] == "dl_session")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"
