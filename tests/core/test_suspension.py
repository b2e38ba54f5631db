"""Suspension (docs/api.md): a suspended partner's tokens may read, every change answers
403 with a clear message, its channels keep the time they have; resuming restores it."""

from __future__ import annotations

import pytest

from conftest import check_error

MUTATING = ("post", "put", "patch", "delete")


def partner_mutations(http) -> list[tuple[str, str]]:
    """Every mutating operation a partner token may call, from our own OpenAPI document
    (Stripe's webhook is called by Stripe, signed, with no token)."""
    doc = http.get("/openapi.json").json()
    ops = [(method.upper(), path) for path, item in doc["paths"].items() for method in item
           if method in MUTATING and not path.startswith(("/admin", "/gateway", "/stripe/"))]
    assert len(ops) >= 15, ops
    return ops


@pytest.fixture
def suspended(make_partner, admin):
    p = make_partner(balance=30)
    r = p.put("/channels", json={"name": "kept", "projectId": p.project_id})
    assert r.status_code == 200, r.text
    p.channel = r.json()["id"]
    assert p.post(f"/channels/{p.channel}/extend", json={"days": 10, "comment": "before"}).status_code == 200
    p.token_id = p.get(f"/partners/{p.name}/tokens").json()["tokens"][0]["id"]
    r = admin.post(f"/admin/partners/{p.name}/suspend")
    assert r.status_code == 200 and r.json()["status"] == "suspended", r.text
    return p


def fill(path: str, p) -> str:
    return (path.replace("{ChannelID}", p.channel).replace("{ProjectID}", p.project_id)
            .replace("{PartnerName}", p.name).replace("{token_id}", p.token_id))


def test_reads_work_and_every_change_is_refused(http, suspended, db, assert_ledger_sound):
    p = suspended
    before = db.rows("SELECT active_till_ms, stopped, mode FROM channels WHERE id = :id", id=p.channel)
    entries = db.scalar("SELECT COUNT(*) FROM ledger_entries WHERE partner_id = :id", id=p.id)
    for path in (f"/partners/{p.name}", f"/partners/{p.name}/history", "/channels/list", f"/channels/{p.channel}",
                 "/projects", f"/partners/{p.name}/settings", f"/partners/{p.name}/tokens"):
        assert p.get(path).status_code == 200, path
    assert p.get(f"/partners/{p.name}/history.csv").status_code == 200
    for method, path in partner_mutations(http):
        for body in ({}, {"days": 1, "comment": "x", "name": "n", "projectId": p.project_id}):
            r = p.client.request(method, fill(path, p), json=body)
            check_error(r, 403, message="suspended")
    # Nothing changed: the channel keeps its time, no entry was written.
    assert db.rows("SELECT active_till_ms, stopped, mode FROM channels WHERE id = :id", id=p.channel) == before
    assert db.scalar("SELECT COUNT(*) FROM ledger_entries WHERE partner_id = :id", id=p.id) == entries
    assert_ledger_sound()


def test_resuming_restores_changes(admin, suspended):
    p = suspended
    check_error(p.post(f"/channels/{p.channel}/extend", json={"days": 1, "comment": "x"}), 403, message="suspended")
    r = admin.post(f"/admin/partners/{p.name}/resume")
    assert r.status_code == 200 and r.json()["status"] == "active", r.text
    assert p.post(f"/channels/{p.channel}/extend", json={"days": 1, "comment": "x"}).status_code == 200


def test_the_operator_still_acts_on_a_suspended_partner(admin, suspended):
    p = suspended
    r = admin.post(f"/admin/partners/{p.name}/credit", json={"days": 5, "comment": "goodwill"})
    assert r.status_code == 200 and r.json()["balance"] == 25, r.text
    assert admin.get(f"/admin/partners/{p.name}/channels").json()["total"] == 1


def test_unknown_partner_cannot_be_suspended(admin):
    check_error(admin.post("/admin/partners/nobody-here/suspend"), 404)
