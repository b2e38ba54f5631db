"""The auto-extend page in a real browser: a project's default policy set, paused and deleted
through the forms is what the API reads; bad input is shown next to its field and changes
nothing; channels with their own policy are listed; the runway and its burn are shown; a
viewer has no control and a forged post is 403."""

from __future__ import annotations

from playwright.sync_api import expect

from web.conftest import sign_in


def policy(p):
    return p.get(f"/projects/{p.project_id}/autoextend")


def new_channel(p, name: str) -> str:
    r = p.put("/channels", json={"name": name, "projectId": "default"})
    assert r.status_code == 200, r.text
    return r.json()["id"]


def test_a_project_policy_set_through_the_form_is_what_the_api_reads(web, make_partner, make_user):
    p = make_partner(balance=300)
    ch = new_channel(p, "shop front")
    assert p.post(f"/channels/{ch}/extend", json={"days": 10, "comment": "first month"}).status_code == 200, \
        "extend"
    own = p.put(f"/channels/{ch}/autoextend", json={"belowDays": 2, "extendDays": 7, "budgetDays": 70})
    assert own.status_code == 200, own.text
    sign_in(web, make_user(p, "member"))  # the API's channels permission: members may set policies
    web.goto("/dashboard/automation")
    web.check_page()
    assert web.page.title() == "Automation · dayledger"
    # The runway and the burn it is divided by (the profile's numbers).
    profile = p.get(f"/partners/{p.name}").json()
    burn = profile["channels"]["burning"]
    assert burn == 1
    expect(web.page.get_by_test_id("burn")).to_have_text("1 day a day")
    expect(web.page.get_by_test_id("runway")).to_contain_text(f"{profile['runwayDays']} days")
    # The channel's own policy, linked to its page.
    table = web.page.get_by_test_id("channel-policies")
    expect(table).to_contain_text("shop front")
    assert table.get_by_role("link", name=ch).get_attribute("href") == f"/dashboard/channels/{ch}"
    assert policy(p).status_code == 404

    box = web.page.get_by_test_id(f"project-{p.project_id}")
    box.get_by_label("Below (L days)").fill("3")
    box.get_by_label("Extend by (K days)").fill("30")
    box.get_by_label("Until (UTC date, optional)").fill("2031-06-30")
    box.get_by_label("Budget (days, optional)").fill("300")
    box.get_by_role("button", name="Save policy").click()
    web.page.wait_for_url("**/dashboard/automation")
    expect(web.page.get_by_role("status")).to_have_text("Auto-extend policy saved.")
    body = policy(p).json()
    assert (body["belowDays"], body["extendDays"], body["until"], body["budgetDays"], body["paused"],
            body["state"]) == (3, 30, "2031-06-30", 300, False, "active")
    expect(web.page.get_by_test_id(f"project-{p.project_id}").get_by_test_id("policy")).to_contain_text(
        "below 3 days, extend by 30 days, until 2031-06-30")
    web.screenshot("dashboard-automation")

    box = web.page.get_by_test_id(f"project-{p.project_id}")
    box.get_by_role("button", name="Pause").click()
    web.page.wait_for_url("**/dashboard/automation")
    assert policy(p).json()["paused"] is True and policy(p).json()["id"] == body["id"]
    expect(web.page.get_by_test_id(f"project-{p.project_id}").get_by_test_id("policy")).to_contain_text("paused")
    web.page.get_by_test_id(f"project-{p.project_id}").get_by_role("button", name="Resume").click()
    web.page.wait_for_url("**/dashboard/automation")
    assert policy(p).json()["paused"] is False

    web.page.once("dialog", lambda d: d.accept())
    web.page.get_by_test_id(f"project-{p.project_id}").get_by_role("button", name="Delete policy").click()
    web.page.wait_for_url("**/dashboard/automation")
    expect(web.page.get_by_role("status")).to_have_text("Auto-extend policy removed.")
    assert policy(p).status_code == 404


def test_bad_input_is_shown_next_to_its_field_and_changes_nothing(web, make_partner, make_user):
    p = make_partner(balance=50)
    before = p.put(f"/projects/{p.project_id}/autoextend", json={"belowDays": 2, "extendDays": 5})
    assert before.status_code == 200, before.text
    sign_in(web, make_user(p, "owner"))
    web.allowed_statuses = {422}
    for field, value, error_of, message in (
            ("Extend by (K days)", "0", "extendDays", "Extend by (K) must be from 1 to 1,000,000"),
            ("Below (L days)", "", "belowDays", "Below (L) is required"),
            ("Budget (days, optional)", "10", "budgetDays", "budgetDays (10) must be at least extendDays (30)")):
        web.goto("/dashboard/automation")
        box = web.page.get_by_test_id(f"project-{p.project_id}")
        box.get_by_label("Below (L days)").fill("4")
        box.get_by_label("Extend by (K days)").fill("30")
        box.get_by_label(field).fill(value)
        box.locator("form").first.evaluate("f => { f.noValidate = true; }")  # past the browser's own check
        box.get_by_role("button", name="Save policy").click()
        web.page.wait_for_load_state()
        box = web.page.get_by_test_id(f"project-{p.project_id}")
        expect(box.get_by_test_id(f"error-{error_of}")).to_contain_text(message)
        assert box.get_by_label(field).input_value() == value  # the form as it was sent
        assert box.get_by_label(field).get_attribute("aria-invalid") == "true"
        web.check_page()
        assert policy(p).json() == before.json()  # nothing changed


def test_a_viewer_has_no_control_and_a_forged_post_is_refused(web, make_partner, make_user):
    p = make_partner(balance=5)
    sign_in(web, make_user(p, "viewer"))
    web.goto("/dashboard/automation")
    web.check_page()
    for button in ("Save policy", "Pause", "Delete policy"):
        assert web.page.get_by_role("button", name=button).count() == 0
    csrf = web.page.locator("input[name=csrf]").first.input_value()
    for suffix in ("", "/pause", "/remove"):
        r = web.page.request.post(f"{web.base_url}/dashboard/automation/projects/{p.project_id}{suffix}",
                                  form={"csrf": csrf, "belowDays": "3", "extendDays": "30"})
        assert r.status == 403, (suffix, r.status)
    assert policy(p).status_code == 404


def test_another_partners_project_is_not_found(web, make_partner, make_user):
    p, other = make_partner(), make_partner()
    sign_in(web, make_user(p, "owner"))
    web.goto("/dashboard/automation")
    csrf = web.page.locator("input[name=csrf]").first.input_value()
    r = web.page.request.post(f"{web.base_url}/dashboard/automation/projects/{other.project_id}",
                              form={"csrf": csrf, "belowDays": "3", "extendDays": "30"})
    assert r.status == 404
    assert policy(other).status_code == 404
