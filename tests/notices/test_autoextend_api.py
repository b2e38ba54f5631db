"""PUT, GET and DELETE of auto-extend policies, on a channel and on a project: the shapes,
which policy applies, and bad input (one error shape; another partner's ids are 404)."""

from __future__ import annotations

import pytest

from conftest import check_error

from .autoextend_support import date_of

POLICY = {"belowDays": 2, "extendDays": 5}


def channel(p) -> str:
    r = p.put("/channels", json={"name": "ax", "projectId": "default"})
    assert r.status_code == 200, r.text
    return r.json()["id"]


def test_a_channel_policy_is_set_shown_changed_and_removed(make_partner, clock):
    p = make_partner(balance=50)
    cid = channel(p)
    r = p.put(f"/channels/{cid}/autoextend", json={**POLICY, "until": "2099-12-31", "budgetDays": 20})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["id"].startswith("ax_") and len(got["id"]) == 23
    assert got == {"id": got["id"], "scope": "channel", "channelId": cid, "projectId": None, "belowDays": 2,
                   "extendDays": 5, "until": "2099-12-31", "budgetDays": 20, "budgetLeftDays": 20, "paused": False,
                   "state": "active", "spentDays": 0, "lastExtendedTS": None, "lastFailure": None,
                   "createdTS": clock.now_ms(), "updatedTS": clock.now_ms()}
    shown = p.get(f"/channels/{cid}/autoextend").json()
    assert shown == {**got, "cycles": 0}

    # Set again: changed in place (same id, spent days kept), paused.
    clock.advance(seconds=5)
    r = p.put(f"/channels/{cid}/autoextend", json={"belowDays": 1, "extendDays": 1, "paused": True})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == got["id"] and r.json()["state"] == "paused" and r.json()["until"] is None
    assert r.json()["budgetDays"] is None and r.json()["budgetLeftDays"] is None
    assert r.json()["updatedTS"] == clock.now_ms() and r.json()["createdTS"] == got["createdTS"]

    r = p.delete(f"/channels/{cid}/autoextend")
    assert r.status_code == 200 and r.json()["id"] == got["id"]
    check_error(p.get(f"/channels/{cid}/autoextend"), 404, message="no auto-extend policy")
    check_error(p.delete(f"/channels/{cid}/autoextend"), 404, message="no auto-extend policy")


def test_a_channels_own_policy_wins_over_its_projects(make_partner):
    p = make_partner(balance=50)
    cid = channel(p)
    check_error(p.get(f"/projects/{p.project_id}/autoextend"), 404)
    r = p.put("/projects/default/autoextend", json=POLICY)  # "default" names the default project
    assert r.status_code == 200, r.text
    project_policy = r.json()
    assert project_policy["scope"] == "project" and project_policy["projectId"] == p.project_id
    assert project_policy["channelId"] is None
    assert p.get(f"/projects/{p.project_id}/autoextend").json() == project_policy

    applied = p.get(f"/channels/{cid}/autoextend").json()
    assert applied["id"] == project_policy["id"] and applied["scope"] == "project" and applied["cycles"] == 0
    own = p.put(f"/channels/{cid}/autoextend", json={**POLICY, "paused": True}).json()
    applied = p.get(f"/channels/{cid}/autoextend").json()
    assert applied["id"] == own["id"] and applied["scope"] == "channel" and applied["state"] == "paused"
    # The channel route removes only the channel's own policy: the project's applies again.
    assert p.delete(f"/channels/{cid}/autoextend").status_code == 200
    assert p.get(f"/channels/{cid}/autoextend").json()["id"] == project_policy["id"]
    assert p.delete(f"/projects/{p.project_id}/autoextend").status_code == 200
    check_error(p.get(f"/channels/{cid}/autoextend"), 404)
    check_error(p.delete(f"/projects/{p.project_id}/autoextend"), 404)


def test_an_until_date_in_the_past_is_ended(make_partner, clock):
    p = make_partner()
    cid = channel(p)
    yesterday = date_of(clock.now_ms() - 86_400_000)
    r = p.put(f"/channels/{cid}/autoextend", json={**POLICY, "until": yesterday})
    assert r.status_code == 200 and r.json()["state"] == "ended" and r.json()["until"] == yesterday
    today = date_of(clock.now_ms())
    assert p.put(f"/channels/{cid}/autoextend", json={**POLICY, "until": today}).json()["state"] == "active"


@pytest.mark.parametrize("body, field", [
    ({"belowDays": 0, "extendDays": 1}, "belowDays"),
    ({"belowDays": -1, "extendDays": 1}, "belowDays"),
    ({"belowDays": 1, "extendDays": 0}, "extendDays"),
    ({"belowDays": 1, "extendDays": -5}, "extendDays"),
    ({"belowDays": 1, "extendDays": 5, "budgetDays": 4}, "budgetDays"),
    ({"belowDays": 1, "extendDays": 5, "budgetDays": 0}, "budgetDays"),
    ({"belowDays": "1", "extendDays": 1}, "belowDays"),
    ({"belowDays": 1.5, "extendDays": 1}, "belowDays"),
    ({"belowDays": True, "extendDays": 1}, "belowDays"),
    ({"belowDays": 1, "extendDays": 1, "paused": "yes"}, "paused"),
    ({"belowDays": 1, "extendDays": 1, "until": "2026-02-30"}, "until"),
    ({"belowDays": 1, "extendDays": 1, "until": "31.12.2026"}, "until"),
    ({"belowDays": 1, "extendDays": 1, "until": 1798761600000}, "until"),
    ({"belowDays": 1, "extendDays": 1, "unknown": 1}, "unknown"),
    ({"extendDays": 1}, "belowDays"),
    ({"belowDays": 1_000_001, "extendDays": 1}, "belowDays"),
])
def test_bad_input_is_refused(make_partner, body, field):
    p = make_partner()
    cid = channel(p)
    for path in (f"/channels/{cid}/autoextend", f"/projects/{p.project_id}/autoextend"):
        err = check_error(p.put(path, json=body), 422)
        assert field in err["details"], err
        check_error(p.get(path), 404)  # nothing was stored


def test_another_partners_channel_or_project_is_404(make_partner):
    a, b = make_partner(balance=10), make_partner(balance=10)
    cid = channel(a)
    assert a.put(f"/channels/{cid}/autoextend", json=POLICY).status_code == 200
    assert a.put(f"/projects/{a.project_id}/autoextend", json=POLICY).status_code == 200
    for path in (f"/channels/{cid}/autoextend", f"/projects/{a.project_id}/autoextend"):
        check_error(b.put(path, json=POLICY), 404)
        check_error(b.get(path), 404)
        check_error(b.delete(path), 404)
    assert a.get(f"/channels/{cid}/autoextend").json()["belowDays"] == 2  # untouched
    check_error(a.put("/channels/ZZZZZZ-00000/autoextend", json=POLICY), 404)
    check_error(a.put("/projects/aaaaaaaaaaaaaaaaaaaa/autoextend", json=POLICY), 404)


def test_a_read_only_token_reads_but_does_not_set(make_partner, admin, base_url):
    from conftest import new_client
    p = make_partner()
    cid = channel(p)
    assert p.put(f"/channels/{cid}/autoextend", json=POLICY).status_code == 200
    token = admin.post(f"/admin/partners/{p.name}/tokens", json={"name": "ro", "scope": "read"}).json()["token"]
    with new_client(base_url, token) as ro:
        assert ro.get(f"/channels/{cid}/autoextend").status_code == 200
        check_error(ro.put(f"/channels/{cid}/autoextend", json=POLICY), 403)
        check_error(ro.delete(f"/channels/{cid}/autoextend"), 403)
