"""GET and PUT /partners/{name}/notices: when channel.expiring and runway.low fire, and
which event types are mailed. The partner and the operator may use it; another partner's
name is 403 (SPEC 4.10), an unknown partner 404, bad input 422 in the one error shape."""

from __future__ import annotations

import pytest

from conftest import check_error, new_client

from dayledger.events import EVENT_TYPES
from dayledger.notices.schemas import DEFAULT_EMAIL_EVENTS


def test_defaults(make_partner):
    p = make_partner()
    r = p.get(f"/partners/{p.name}/notices")
    assert r.status_code == 200, r.text
    assert r.json() == {"email": f"{p.name}@example.com", "expiringNoticeDays": 3, "runwayNoticeDays": None,
                        "emailEvents": list(DEFAULT_EMAIL_EVENTS), "emailEventsDefault": True}
    assert set(DEFAULT_EMAIL_EVENTS) <= set(EVENT_TYPES)


def test_set_and_get(make_partner, db):
    p = make_partner()
    body = {"expiringNoticeDays": 7, "runwayNoticeDays": 14, "emailEvents": ["days", "channel.expiring", "days"]}
    r = p.put(f"/partners/{p.name}/notices", json=body)
    assert r.status_code == 200, r.text
    want = {"email": f"{p.name}@example.com", "expiringNoticeDays": 7, "runwayNoticeDays": 14,
            "emailEvents": ["days", "channel.expiring"], "emailEventsDefault": False}
    assert r.json() == want
    assert p.get(f"/partners/{p.name}/notices").json() == want
    # Stored where the expiring scan and the runway notice read them.
    assert db.rows("SELECT expiring_notice_days, runway_notice_days FROM partners WHERE id = :p", p=p.id) == [(7, 14)]

    # All types, none, and back to the defaults (a PUT: what is left out takes its default).
    r = p.put(f"/partners/{p.name}/notices", json={"emailEvents": ["*"], "runwayNoticeDays": 30})
    assert r.json()["emailEvents"] == ["*"] and r.json()["expiringNoticeDays"] == 3
    assert r.json()["runwayNoticeDays"] == 30
    r = p.put(f"/partners/{p.name}/notices", json={"emailEvents": [], "runwayNoticeDays": None})
    assert r.json()["emailEvents"] == [] and r.json()["runwayNoticeDays"] is None
    assert not r.json()["emailEventsDefault"]
    r = p.put(f"/partners/{p.name}/notices", json={})
    assert r.json()["emailEvents"] == list(DEFAULT_EMAIL_EVENTS) and r.json()["emailEventsDefault"]
    r = p.put(f"/partners/{p.name}/notices", json={"emailEvents": None, "expiringNoticeDays": 30})
    assert r.status_code == 200 and r.json()["emailEventsDefault"] and r.json()["expiringNoticeDays"] == 30


def test_the_operator_may_read_and_set_them(make_partner, admin):
    p = make_partner()
    r = admin.put(f"/partners/{p.name}/notices", json={"expiringNoticeDays": 1, "emailEvents": ["invoice.created"]})
    assert r.status_code == 200, r.text
    assert p.get(f"/partners/{p.name}/notices").json()["emailEvents"] == ["invoice.created"]
    assert admin.get(f"/partners/{p.name}/notices").json()["expiringNoticeDays"] == 1
    check_error(admin.get("/partners/no-such-partner-xyz/notices"), 404)
    check_error(admin.put("/partners/no-such-partner-xyz/notices", json={}), 404)


@pytest.mark.parametrize("body, field", [
    ({"emailEvents": ["channel.exploded"]}, "channel.exploded"),
    ({"emailEvents": ["*", "days"]}, "stands alone"),
    ({"emailEvents": "days"}, "emailEvents"),
    ({"emailEvents": [1]}, "emailEvents"),
    ({"expiringNoticeDays": 0}, "expiringNoticeDays"),
    ({"expiringNoticeDays": 31}, "expiringNoticeDays"),
    ({"expiringNoticeDays": "3"}, "expiringNoticeDays"),
    ({"expiringNoticeDays": 3.0}, "expiringNoticeDays"),
    ({"expiringNoticeDays": None}, "expiringNoticeDays"),
    ({"runwayNoticeDays": 0}, "runwayNoticeDays"),
    ({"runwayNoticeDays": 366}, "runwayNoticeDays"),
    ({"runwayNoticeDays": True}, "runwayNoticeDays"),
    ({"emailTo": "x@example.com"}, "emailTo"),
])
def test_bad_input_is_422_and_changes_nothing(make_partner, body, field):
    p = make_partner()
    before = p.get(f"/partners/{p.name}/notices").json()
    check_error(p.put(f"/partners/{p.name}/notices", json=body), 422, message=field)
    assert p.get(f"/partners/{p.name}/notices").json() == before


def test_another_partner_and_narrow_tokens(make_partner, admin, base_url, gateway):
    a, b = make_partner(), make_partner()
    check_error(a.get(f"/partners/{b.name}/notices"), 403)
    check_error(a.put(f"/partners/{b.name}/notices", json={"emailEvents": []}), 403)
    assert b.get(f"/partners/{b.name}/notices").json()["emailEventsDefault"]  # unchanged
    check_error(gateway.get(f"/partners/{b.name}/notices"), 403)

    t = admin.post(f"/admin/partners/{a.name}/tokens", json={"name": "reader", "scope": "read"})
    with new_client(base_url, t.json()["token"]) as reader:
        assert reader.get(f"/partners/{a.name}/notices").status_code == 200
        check_error(reader.put(f"/partners/{a.name}/notices", json={}), 403)
    check_error(new_client(base_url).get(f"/partners/{a.name}/notices"), 401)


def test_a_suspended_partner_reads_but_cannot_change_them(make_partner, admin):
    p = make_partner()
    assert admin.post(f"/admin/partners/{p.name}/suspend", json={}).status_code == 200
    assert p.get(f"/partners/{p.name}/notices").status_code == 200
    check_error(p.put(f"/partners/{p.name}/notices", json={}), 403)
