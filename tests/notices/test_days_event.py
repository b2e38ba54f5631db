"""SPEC 7: the ``days`` event fires once when the balance falls below ``days_limit`` and
re-arms when it rises back to the limit or above; written in the debit's transaction."""

from __future__ import annotations

import json

import pytest


def payloads(db, partner) -> list:
    rows = db.rows("SELECT payload FROM events WHERE partner_id = :p AND type = 'days' ORDER BY id", p=partner.id)
    return [payload if isinstance(payload, dict) else json.loads(payload) for (payload,) in rows]


@pytest.fixture
def partner(make_partner, admin):
    p = make_partner(balance=20)
    assert p.patch(f"/partners/{p.name}/settings", json={"days_limit": 10}).status_code == 200
    return p


def move(admin, p, days: int) -> None:
    path = "credit" if days > 0 else "debit"
    r = admin.post(f"/admin/partners/{p.name}/{path}", json={"days": abs(days), "comment": "notice test"})
    assert r.status_code == 200, r.text


def test_many_debits_below_the_limit_give_one_event_and_a_rise_rearms_it(db, admin, partner, assert_ledger_sound):
    move(admin, partner, -5)   # 15: above the limit
    assert payloads(db, partner) == []
    move(admin, partner, -6)   # 9: below
    for _ in range(4):         # 8, 7, 6, 5: still below, no storm
        move(admin, partner, -1)
    assert payloads(db, partner) == [{"balance": 9, "daysLimit": 10}]
    move(admin, partner, 4)    # 9: a credit that stays below does not re-arm
    move(admin, partner, -1)   # 8
    assert len(payloads(db, partner)) == 1
    move(admin, partner, 2)    # 10: at the limit, no longer below: re-armed
    move(admin, partner, -3)   # 7: a second fall
    assert payloads(db, partner) == [{"balance": 9, "daysLimit": 10}, {"balance": 7, "daysLimit": 10}]
    assert_ledger_sound()


def test_extending_a_channel_below_the_limit_fires_it_once(db, partner, assert_ledger_sound):
    r = partner.put("/channels", json={"name": "notice", "projectId": partner.project_id})
    assert r.status_code in (200, 201), r.text
    cid = r.json()["id"]
    for days in (5, 6, 2):   # 15, 9 (below), 7
        r = partner.post(f"/channels/{cid}/extend", json={"days": days, "comment": "notice"})
        assert r.status_code == 200, r.text
    assert payloads(db, partner) == [{"balance": 9, "daysLimit": 10}]
    assert_ledger_sound()


def test_raising_the_limit_above_the_balance_then_a_debit_fires(db, admin, partner):
    move(admin, partner, -12)  # 8: below 10
    assert len(payloads(db, partner)) == 1
    assert partner.patch(f"/partners/{partner.name}/settings", json={"days_limit": 5}).status_code == 200
    move(admin, partner, -1)   # 7: above the new limit, nothing
    assert partner.patch(f"/partners/{partner.name}/settings", json={"days_limit": 20}).status_code == 200
    move(admin, partner, -1)   # 6: below 20, re-armed by the lower limit in between
    assert payloads(db, partner)[-1] == {"balance": 6, "daysLimit": 20}
    assert len(payloads(db, partner)) == 2


def test_the_operator_setting_the_limit_rearms_it_too(db, admin, partner):
    move(admin, partner, -12)  # 8: below 10, told
    assert admin.patch(f"/admin/partners/{partner.name}", json={"daysLimit": 5}).status_code == 200
    assert admin.patch(f"/admin/partners/{partner.name}", json={"daysLimit": 20}).status_code == 200
    move(admin, partner, -1)   # 7: below 20, re-armed by the lower limit in between
    assert payloads(db, partner) == [{"balance": 8, "daysLimit": 10}, {"balance": 7, "daysLimit": 20}]
