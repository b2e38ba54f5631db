"""The dashboard's billing history in a real browser: comments, filters by type, by a range
of dates in the partner's time zone and by channel, paging, and the CSV download (the
API's history CSV with the same filters)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from web.conftest import sign_in


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def comments(web) -> list[str]:
    return [t.strip() for t in web.page.locator("tbody td.comment").all_inner_texts()]


def test_history_filters_paging_and_csv_in_the_partners_time_zone(web, make_partner, make_user, clock):
    # New York is UTC-5 in January: 03:30 UTC on the 12th is still the 11th there.
    clock.set(ms("2027-01-11T12:00:00"))
    p = make_partner(balance=50, timezone="America/New_York")
    a = p.put("/channels", json={"name": "A", "projectId": p.project_id}).json()["id"]
    b = p.put("/channels", json={"name": "B", "projectId": p.project_id}).json()["id"]
    assert p.post(f"/channels/{a}/extend", json={"days": 2, "comment": "first of A"}).status_code == 200
    clock.set(ms("2027-01-12T03:30:00"))
    assert p.post(f"/channels/{b}/extend", json={"days": 1, "comment": "late evening for B"}).status_code == 200
    clock.set(ms("2027-01-12T14:00:00"))
    assert p.post(f"/channels/{a}/extend", json={"days": 3, "comment": "next morning for A"}).status_code == 200
    sign_in(web, make_user(p, "viewer"))

    web.goto("/dashboard/history")
    web.check_page()
    assert comments(web) == ["next morning for A", "late evening for B", "first of A", "test funds"]
    assert "Time (America/New_York)" in web.page.locator("thead").inner_text()
    late = web.page.locator("tbody tr", has_text="late evening for B").inner_text()
    assert "2027-01-11 22:30" in late and "-1" in late and "47" in late
    web.screenshot("dashboard-history")

    # the dates are whole days in the partner's zone
    web.page.get_by_label("From (America/New_York)").fill("2027-01-11")
    web.page.get_by_label("To (America/New_York)").fill("2027-01-11")
    with web.page.expect_navigation():
        web.page.get_by_role("button", name="Filter").click()
    assert comments(web) == ["late evening for B", "first of A", "test funds"]
    web.goto("/dashboard/history?from=2027-01-12")
    assert comments(web) == ["next morning for A"]

    web.goto("/dashboard/history")
    web.page.get_by_label("Type").select_option("extend")
    web.page.get_by_label("Channel").fill(a)
    with web.page.expect_navigation():
        web.page.get_by_role("button", name="Filter").click()
    assert comments(web) == ["next morning for A", "first of A"]
    web.check_page()

    # the CSV carries the same filters and is the API's CSV
    link = web.page.get_by_role("link", name="Download CSV")
    assert link.get_attribute("href") == f"/dashboard/history.csv?type=extend&channel={a}"
    r = web.page.request.get(web.base_url + link.get_attribute("href"))
    assert r.status == 200 and r.headers["content-type"].startswith("text/csv")
    assert f'filename="{p.name}-history.csv"' in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.text())))
    assert [row[7] for row in rows[1:]] == ["first of A", "next morning for A"]
    assert r.text() == p.get(f"/partners/{p.name}/history.csv", params={"type": "extend", "channel": a}).text
    dated = web.page.request.get(f"{web.base_url}/dashboard/history.csv?from=2027-01-11&to=2027-01-11").text()
    since, until = ms("2027-01-11T05:00:00"), ms("2027-01-12T05:00:00")  # midnights in New York
    assert dated == p.get(f"/partners/{p.name}/history.csv", params={"since": since, "until": until}).text
    assert [row[7] for row in list(csv.reader(io.StringIO(dated)))[1:]] == [
        "test funds", "first of A", "late evening for B"]

    # paging, the filters kept
    web.goto("/dashboard/history?count=2")
    assert comments(web) == ["next morning for A", "late evening for B"]
    assert "1–2 of 4" in web.page.locator(".pager").inner_text()
    with web.page.expect_navigation():
        web.page.get_by_role("link", name="Next →").click()
    assert comments(web) == ["first of A", "test funds"]
    assert "3–4 of 4" in web.page.locator(".pager").inner_text()

    # the channel's own history from its page
    web.goto(f"/dashboard/channels/{b}")
    with web.page.expect_navigation():
        web.page.get_by_role("link", name="This channel in the billing history").click()
    assert comments(web) == ["late evening for B"]


def test_wrong_history_filters_are_named_next_to_their_field(web, make_partner, make_user):
    p = make_partner(balance=5)
    sign_in(web, make_user(p, "owner"))
    web.allowed_statuses = {422}
    response = web.goto("/dashboard/history?from=2027-01-12&to=2027-01-11&channel=nope")
    assert response.status == 422
    web.check_page()
    assert "To must not be before From" in web.page.locator(".field", has=web.page.locator("#to")).inner_text()
    assert "channel id" in web.page.locator(".field", has=web.page.locator("#channel")).inner_text()
    assert web.page.locator("table").count() == 0  # not shown unfiltered
    assert web.page.get_by_role("link", name="Download CSV").count() == 0
    r = web.page.request.get(f"{web.base_url}/dashboard/history.csv?type=nothing")
    assert r.status == 422
