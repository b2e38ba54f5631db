"""The dashboard's channel pages in a real browser: the table (search, filters, paging, CSV,
Add channel) and one channel's page (Extend, Mode, Stop/Start, Restart, Delete with its
preview, the token, the statement, the auto-extend policy); roles, CSRF and other
partners' channels."""

from __future__ import annotations

import csv
import io
import re

from web.conftest import in_thread, sign_in

DAY_MS = 86_400_000


def balance_in_header(web) -> str:
    return web.page.locator("[data-balance]").inner_text()


def csrf_of(web) -> str:
    """The session's CSRF token, as every form of the page carries it (the sign-out form)."""
    return web.page.locator("header input[name=csrf]").first.input_value()


def new_channel(p, name: str = "api channel", **fields) -> dict:
    r = p.put("/channels", json={"name": name, "projectId": p.project_id, **fields})
    assert r.status_code == 200, r.text
    return r.json()


def submit(web, button: str, *, form=None) -> None:
    scope = form if form is not None else web.page
    with web.page.expect_navigation():
        scope.get_by_role("button", name=button, exact=True).click()


def test_add_a_channel_extend_it_by_3_days_and_the_history_shows_the_comment(web, make_partner, make_user):
    p = make_partner(balance=10, timezone="Europe/Berlin")
    sign_in(web, make_user(p, "owner"))
    assert balance_in_header(web) == "10"
    assert web.page.get_by_test_id("balance").inner_text() == "10 days"

    web.goto("/dashboard/channels")
    web.check_page()
    assert web.page.title() == "Channels · dayledger"
    web.page.get_by_label("Name").fill("Shop front")
    submit(web, "Add channel")
    assert re.search(r"/dashboard/channels/[A-Z]{6}-[A-Z0-9]{5}$", web.page.url), web.page.url
    channel_id = web.page.url.rsplit("/", 1)[1]
    assert "Channel Shop front" in web.page.get_by_role("status").inner_text()
    web.check_page()
    assert web.page.title() == "Channel Shop front · dayledger"
    assert web.page.get_by_test_id("days-left").inner_text() == "0"

    web.page.get_by_label("Days", exact=True).fill("3")
    web.page.get_by_label("Comment", exact=True).fill("three days for the shop front")
    submit(web, "Extend")
    assert "Extended by 3 days" in web.page.get_by_role("status").inner_text()
    assert balance_in_header(web) == "7"
    assert web.page.get_by_test_id("days-left").inner_text() == "3"
    assert "three days for the shop front" in web.page.locator("#statement + .table-wrap").inner_text()

    web.goto("/dashboard/")
    assert web.page.get_by_test_id("balance").inner_text() == "7 days"
    assert balance_in_header(web) == "7"

    web.goto("/dashboard/history")
    web.check_page()
    assert web.page.title() == "Billing history · dayledger"
    row = web.page.locator("tbody tr").first
    assert "three days for the shop front" in row.inner_text()
    assert channel_id in row.inner_text() and "-3" in row.inner_text()

    # The same state through the API: the page called the same services.
    assert p.balance == 7
    assert p.get(f"/channels/{channel_id}").json()["daysLeft"] == 3
    entry = p.get(f"/partners/{p.name}/history", params={"type": "extend"}).json()["history"][0]
    assert entry["comment"] == "three days for the shop front" and entry["actor"]["type"] == "user"


def test_another_partners_channel_is_a_404_page(web, make_partner, make_user):
    mine, theirs = make_partner(balance=5), make_partner(balance=5)
    other = new_channel(theirs, "not yours")
    sign_in(web, make_user(mine, "owner"))
    token = csrf_of(web)
    web.allowed_statuses = {404}
    response = web.goto(f"/dashboard/channels/{other['id']}")
    assert response.status == 404
    assert web.page.title() == "Channel not found · dayledger"
    assert web.page.get_by_role("button", name="Extend").count() == 0
    for path in ("extend", "delete", "stop", "token", "mode"):
        r = web.page.request.post(f"{web.base_url}/dashboard/channels/{other['id']}/{path}",
                                  form={"csrf": token, "days": "1", "comment": "steal", "mode": "dev"})
        assert r.status == 404, (path, r.status)
        assert other["token"] not in r.text()
    assert web.goto(f"/dashboard/channels/{other['id']}/delete").status == 404
    assert theirs.balance == 5
    after = theirs.get(f"/channels/{other['id']}").json()
    assert after["activeTill"] == other["activeTill"] and after["stopped"] is False and after["mode"] == "trial"


def test_a_viewer_has_no_mutating_control_and_a_forged_post_is_403(web, make_partner, make_user):
    p = make_partner(balance=10)
    ch = new_channel(p, "watched")
    sign_in(web, make_user(p, "viewer"))
    web.goto(f"/dashboard/channels/{ch['id']}")
    web.check_page()
    for name in ("Extend", "Change mode", "Stop", "Start", "Restart", "Reveal token", "Save policy"):
        assert web.page.get_by_role("button", name=name, exact=True).count() == 0, name
    assert web.page.get_by_label("Days", exact=True).count() == 0
    assert web.page.get_by_role("link", name="Delete…").count() == 0
    web.goto("/dashboard/channels")
    web.check_page()
    assert web.page.get_by_role("button", name="Add channel").count() == 0

    web.allowed_statuses = {403}
    token = csrf_of(web)  # a valid token: the role alone refuses
    base = f"{web.base_url}/dashboard/channels"
    for url, form in ((f"{base}/{ch['id']}/extend", {"days": "3", "comment": "forged"}),
                      (f"{base}/{ch['id']}/delete", {}), (f"{base}/{ch['id']}/stop", {}),
                      (f"{base}/{ch['id']}/token", {}), (f"{base}/{ch['id']}/mode", {"mode": "dev"}),
                      (f"{base}/{ch['id']}/autoextend", {"below_days": "1", "extend_days": "1"}),
                      (base, {"name": "forged", "project": p.project_id})):
        r = web.page.request.post(url, form={"csrf": token, **form})
        assert r.status == 403, (url, r.status)
        assert ch["token"] not in r.text()
    assert web.goto(f"/dashboard/channels/{ch['id']}/delete").status == 403
    assert p.balance == 10
    after = p.get(f"/channels/{ch['id']}").json()
    assert after["activeTill"] == ch["activeTill"] and after["mode"] == "trial" and after["stopped"] is False
    assert p.get("/channels/list").json()["total"] == 1
    assert p.get(f"/channels/{ch['id']}/autoextend").status_code == 404


def test_a_form_without_its_csrf_token_is_403_and_changes_nothing(web, make_partner, make_user):
    p = make_partner(balance=10)
    ch = new_channel(p)
    sign_in(web, make_user(p, "owner"))
    web.allowed_statuses = {403}
    for form in ({"days": "3", "comment": "no token"}, {"csrf": "not-the-token", "days": "3", "comment": "x"}):
        r = web.page.request.post(f"{web.base_url}/dashboard/channels/{ch['id']}/extend", form=form)
        assert r.status == 403 and "CSRF" in r.text()
    r = web.page.request.post(f"{web.base_url}/dashboard/channels", form={"name": "x", "project": p.project_id})
    assert r.status == 403
    assert p.balance == 10
    assert p.get("/channels/list").json()["total"] == 1


def test_an_extension_beyond_the_balance_shows_the_shortfall_next_to_days(web, make_partner, make_user):
    p = make_partner(balance=2)
    ch = new_channel(p, "short")
    sign_in(web, make_user(p, "member"))
    web.goto(f"/dashboard/channels/{ch['id']}")
    web.allowed_statuses = {402, 422}
    web.page.get_by_label("Days", exact=True).fill("5")
    web.page.get_by_label("Comment", exact=True).fill("more than we have")
    with web.page.expect_navigation() as nav:
        web.page.get_by_role("button", name="Extend", exact=True).click()
    assert nav.value.status == 402
    error = web.page.locator("#days-error")
    assert "insufficient" in error.inner_text().lower(), error.inner_text()
    # next to the field: in the Days field's own box, the form keeps what was typed
    assert web.page.locator(".field", has=web.page.get_by_label("Days", exact=True)).locator(".error").count() == 1
    assert web.page.get_by_label("Days", exact=True).input_value() == "5"
    assert web.page.get_by_label("Comment", exact=True).input_value() == "more than we have"
    web.check_page()
    assert balance_in_header(web) == "2"
    assert p.balance == 2 and p.get(f"/channels/{ch['id']}").json()["activeTill"] == ch["activeTill"]

    # bad input: the message next to its field, status 422, nothing changed
    web.page.get_by_label("Days", exact=True).fill("0")
    web.page.get_by_label("Comment", exact=True).fill("zero")
    web.page.locator("#days").evaluate("e => e.removeAttribute('min')")
    with web.page.expect_navigation() as nav:
        web.page.get_by_role("button", name="Extend", exact=True).click()
    assert nav.value.status == 422
    assert "Days must be from 1" in web.page.locator("#days-error").inner_text()
    assert p.balance == 2


def test_search_filters_paging_and_csv(web, make_partner, make_user, insert_channels, clock):
    p = make_partner(balance=100, timezone="America/New_York")
    a = new_channel(p, "Alpha shop", phone="4915112345678")
    b = new_channel(p, "Beta office")
    c = new_channel(p, "Gamma sandbox")
    assert p.post(f"/channels/{b['id']}/extend", json={"days": 4, "comment": "four"}).status_code == 200
    assert p.patch(f"/channels/{b['id']}/mode", json={"mode": "live"}).status_code == 200
    assert p.patch(f"/channels/{c['id']}/mode", json={"mode": "dev"}).status_code == 200
    assert p.post(f"/channels/{a['id']}/stop").status_code == 200
    sign_in(web, make_user(p, "viewer"))  # reading, searching and downloading need no more

    def shown() -> set[str]:
        return {t.strip() for t in web.page.locator("tbody td:first-child a").all_inner_texts()}

    web.goto("/dashboard/channels")
    assert shown() == {a["id"], b["id"], c["id"]}
    web.page.get_by_label("Search").fill("beta")
    submit(web, "Search")
    assert shown() == {b["id"]}
    row = web.page.locator("tbody tr").first.inner_text()
    through = p.get(f"/channels/{b['id']}").json()["validThrough"]  # in the partner's zone
    assert "4" in row and through in row and "Live" in row
    assert "Valid through (America/New_York)" in web.page.locator("thead").inner_text()

    for q, expected in ((a["id"].lower(), {a["id"]}), ("5112345", {a["id"]}), ("zzz", set())):
        web.goto(f"/dashboard/channels?q={q}")
        assert shown() == expected, q
    web.goto("/dashboard/channels")
    web.page.get_by_label("Mode", exact=True).select_option("dev")
    submit(web, "Search")
    assert shown() == {c["id"]}
    web.page.get_by_label("Mode", exact=True).select_option("")
    web.page.get_by_label("Status").select_option("stopped")
    submit(web, "Search")
    assert shown() == {a["id"]}
    web.check_page()

    # the CSV link carries the filters; the API's export writes it
    link = web.page.get_by_role("link", name="Download CSV")
    assert link.get_attribute("href") == "/dashboard/channels.csv?state=stopped"
    r = web.page.request.get(web.base_url + link.get_attribute("href"))
    assert r.status == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text())))
    assert rows[0][:2] == ["Name", "ID"] and [row[1] for row in rows[1:]] == [a["id"]]
    whole = web.page.request.get(f"{web.base_url}/dashboard/channels.csv").text()
    api = p.get("/channels/export.csv").text
    assert whole == api and len(list(csv.reader(io.StringIO(whole)))) == 4
    web.goto("/dashboard/channels")
    web.screenshot("dashboard-channels")
    web.page.set_viewport_size({"width": 390, "height": 844})
    web.goto("/dashboard/channels")
    assert web.page.locator("th.hide-narrow").first.is_hidden()
    width = web.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width  # the table scrolls inside its box; the page does not
    web.screenshot("dashboard-channels-phone")
    web.page.set_viewport_size({"width": 1280, "height": 900})

    # paging: 50 a page, the filters kept on the next page's link
    in_thread(lambda: insert_channels(p, 55, created_ms=clock.now_ms() - DAY_MS,
                                      active_till_ms=clock.now_ms() + 9 * DAY_MS, name="bulk"))
    web.goto("/dashboard/channels?q=bulk")
    assert len(shown()) == 50
    assert "1–50 of 55" in web.page.locator(".pager").inner_text()
    with web.page.expect_navigation():
        web.page.get_by_role("link", name="Next →").click()
    assert "q=bulk" in web.page.url and "offset=50" in web.page.url
    assert len(shown()) == 5 and "51–55 of 55" in web.page.locator(".pager").inner_text()


def test_the_channel_page_acts_through_the_services(web, make_partner, make_user):
    p = make_partner(balance=40, timezone="Asia/Tokyo")
    ch = new_channel(p, "Front desk")
    assert p.post(f"/channels/{ch['id']}/extend", json={"days": 10, "comment": "ten to start"}).status_code == 200
    sign_in(web, make_user(p, "member"))
    web.goto(f"/dashboard/channels/{ch['id']}")
    web.check_page()

    # the token: on request, with a copy button
    assert ch["token"] not in web.page.content()
    submit(web, "Reveal token")
    assert web.page.locator("#channel-token").inner_text() == ch["token"]
    assert web.page.locator("[data-copy='#channel-token']").is_visible()

    # the auto-extend policy: a wrong budget is named next to its field
    web.allowed_statuses = {409, 422}
    web.page.get_by_label("Extend when fewer days are left than").fill("2")
    web.page.get_by_label("Days to add each time").fill("7")
    web.page.get_by_label("Budget in days (optional)").fill("5")
    submit(web, "Save policy")
    assert "at least extendDays" in web.page.locator("#budget_days-error").inner_text()
    assert p.get(f"/channels/{ch['id']}/autoextend").status_code == 404
    web.page.get_by_label("Budget in days (optional)").fill("70")
    submit(web, "Save policy")
    assert "Auto-extend policy saved (active)" in web.page.get_by_role("status").inner_text()
    policy = p.get(f"/channels/{ch['id']}/autoextend").json()
    assert (policy["belowDays"], policy["extendDays"], policy["budgetDays"], policy["paused"]) == (2, 7, 70, False)
    submit(web, "Pause")
    assert p.get(f"/channels/{ch['id']}/autoextend").json()["paused"] is True
    assert "paused" in web.page.locator("#autoextend + .card").inner_text()
    web.screenshot("dashboard-channel")
    web.page.set_viewport_size({"width": 390, "height": 844})
    web.goto(f"/dashboard/channels/{ch['id']}")
    assert web.page.evaluate("document.documentElement.scrollWidth") <= 390
    web.screenshot("dashboard-channel-phone")
    web.page.set_viewport_size({"width": 1280, "height": 900})
    submit(web, "Resume")
    assert p.get(f"/channels/{ch['id']}/autoextend").json()["paused"] is False
    web.page.once("dialog", lambda d: d.accept())
    submit(web, "Remove policy")
    assert p.get(f"/channels/{ch['id']}/autoextend").status_code == 404
    assert "No policy" in web.page.locator("#autoextend + .card").inner_text()

    # mode: live, then trial is refused (only a sandbox returns to trial), next to the field
    web.page.get_by_label("Mode", exact=True).select_option("live")
    submit(web, "Change mode")
    assert "Mode is Live" in web.page.get_by_role("status").inner_text()
    web.allowed_statuses = {403, 409, 422}
    web.page.get_by_label("Mode", exact=True).select_option("trial")
    with web.page.expect_navigation() as nav:
        web.page.get_by_role("button", name="Change mode").click()
    assert nav.value.status == 403
    assert "only a sandbox" in web.page.locator("#mode-error").inner_text()
    assert p.get(f"/channels/{ch['id']}").json()["mode"] == "live"

    # stop, start, restart
    submit(web, "Stop")
    assert p.get(f"/channels/{ch['id']}").json()["stopped"] is True
    submit(web, "Start")
    assert p.get(f"/channels/{ch['id']}").json()["stopped"] is False
    submit(web, "Restart")
    assert "Restart requested" in web.page.get_by_role("status").inner_text()

    # the statement: the channel's entries with their comments, times in the partner's zone
    statement = web.page.locator("#statement + .table-wrap").inner_text()
    assert "ten to start" in statement and "Time (Asia/Tokyo)" in statement

    # delete: the preview first, computed by the rule the delete uses, then what came back
    preview = int(web.page.get_by_test_id("refundable").inner_text())
    assert preview == 10  # the test clock stands still: ten whole paid days are left
    with web.page.expect_navigation():
        web.page.get_by_role("link", name="Delete…").click()
    web.check_page()
    assert web.page.title() == "Delete channel Front desk · dayledger"
    assert web.page.get_by_test_id("delete-preview").inner_text() == "10 days"
    submit(web, "Delete channel")
    assert web.page.url.endswith("/dashboard/channels")
    assert "10 days returned to the balance" in web.page.get_by_role("status").inner_text()
    assert balance_in_header(web) == "40" and p.balance == 40
    assert p.get(f"/channels/{ch['id']}").status_code == 404


def test_the_same_extend_or_add_form_sent_twice_is_done_once(web, make_partner, make_user):
    p = make_partner(balance=10)
    ch = new_channel(p, "double click")
    sign_in(web, make_user(p, "owner"))
    web.goto(f"/dashboard/channels/{ch['id']}")
    once = web.page.locator("[data-testid=extend] input[name=once]").input_value()
    form = {"csrf": csrf_of(web), "once": once, "days": "3", "comment": "sent twice"}
    for _ in range(2):
        r = web.page.request.post(f"{web.base_url}/dashboard/channels/{ch['id']}/extend", form=form)
        assert r.status == 200 and r.url.endswith(f"/dashboard/channels/{ch['id']}")
    assert p.balance == 7
    assert len(p.get(f"/channels/{ch['id']}/history", params={"type": "extend"}).json()["history"]) == 1
    # the same key with other fields is refused, nothing changes
    web.allowed_statuses = {422}
    r = web.page.request.post(f"{web.base_url}/dashboard/channels/{ch['id']}/extend", form={**form, "days": "4"})
    assert r.status == 422 and p.balance == 7
    web.page.reload()
    assert web.page.locator("[data-testid=extend] input[name=once]").input_value() != once  # a new page, a new key

    web.goto("/dashboard/channels")
    form = {"csrf": csrf_of(web), "once": web.page.locator("input[name=once]").input_value(), "name": "twice",
            "project": p.project_id}
    urls = {web.page.request.post(f"{web.base_url}/dashboard/channels", form=form).url for _ in range(2)}
    assert len(urls) == 1
    assert p.get("/channels/list", params={"q": "twice"}).json()["total"] == 1


def test_a_suspended_partners_owner_reads_but_changes_nothing(web, make_partner, make_user, admin):
    p = make_partner(balance=10)
    ch = new_channel(p, "frozen")
    assert admin.post(f"/admin/partners/{p.name}/suspend").status_code == 200
    sign_in(web, make_user(p, "owner"))
    web.goto(f"/dashboard/channels/{ch['id']}")
    web.check_page()
    assert web.page.get_by_role("button", name="Extend", exact=True).count() == 0
    submit(web, "Reveal token")  # reading is allowed, as with the API's tokens
    assert web.page.locator("#channel-token").inner_text() == ch["token"]
    web.allowed_statuses = {403}
    r = web.page.request.post(f"{web.base_url}/dashboard/channels/{ch['id']}/extend",
                              form={"csrf": csrf_of(web), "days": "1", "comment": "while suspended"})
    assert r.status == 403 and p.balance == 10
