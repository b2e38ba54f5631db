"""The channel list's filters (mode, state, status, expiringWithin, q) and the CSV export,
which takes the same filters without paging."""

from __future__ import annotations

import csv
import io

import pytest

from .conftest import create_channel, extend_ok, set_mode


def listed(p, **params) -> list[str]:
    r = p.get("/channels/list", params={"count": 500, **params})
    assert r.status_code == 200, r.text
    return [c["id"] for c in r.json()["channels"]]


def exported(p, **params) -> list[str]:
    r = p.get("/channels/export.csv", params=params)
    assert r.status_code == 200, r.text
    return [row["ID"] for row in csv.DictReader(io.StringIO(r.text))]


@pytest.fixture
def fleet(make_partner, gateway, clock):
    """One partner's channels in every state the filters tell apart."""
    p = make_partner(balance=100, sandboxLimit=2)
    other = make_partner(balance=10)
    c = {}
    for key, name, fields in [("soon", "Shop 100% north", {"phone": "14155550100"}),
                              ("later", "shop_south", {"phone": "14155550200"}),
                              ("unpaid", "Warehouse", {}), ("sandbox", "sandbox", {}), ("stopped", "paused", {})]:
        c[key] = create_channel(p, name, **fields)
        clock.advance(ms=1)  # lists are ordered by creation
    extend_ok(p, c["soon"]["id"], 2)
    extend_ok(p, c["later"]["id"], 20)
    extend_ok(p, c["stopped"]["id"], 5)
    assert set_mode(p, c["later"]["id"], "live").status_code == 200
    assert set_mode(p, c["sandbox"]["id"], "dev").status_code == 200
    assert p.post(f"/channels/{c['stopped']['id']}/stop").status_code == 200
    r = gateway.post(f"/gateway/channels/{c['soon']['id']}/status", json={"status": "AUTH"})
    assert r.status_code == 200, r.text
    create_channel(other, "Shop 100% north")  # never in p's results
    return p, {k: v["id"] for k, v in c.items()}


FILTERS = [
    ({"mode": "live"}, ["later"]),
    ({"mode": "dev"}, ["sandbox"]),
    ({"state": "stopped"}, ["unpaid", "stopped"]),  # not running: stopped by hand, archived or without time
    ({"state": "running"}, ["soon", "later", "sandbox"]),
    ({"status": "AUTH"}, ["soon"]),
    ({"status": "INIT"}, ["later", "unpaid", "sandbox", "stopped"]),
    ({"expiringWithin": 3}, ["soon"]),
    ({"expiringWithin": 30}, ["soon", "later", "stopped"]),
    ({"q": "shop"}, ["soon", "later"]),
    ({"q": "SHOP"}, ["soon", "later"]),
    ({"q": "0200"}, ["later"]),
    # % and _ are literal characters, not LIKE wildcards.
    ({"q": "100%"}, ["soon"]),
    ({"q": "%"}, ["soon"]),
    ({"q": "_"}, ["later"]),
    ({"q": "p_u"}, []),  # as a wildcard it would match "paused"
    ({"mode": "trial", "q": "shop"}, ["soon"]),
]


@pytest.mark.parametrize("params,expected", FILTERS, ids=[str(f) for f, _ in FILTERS])
def test_list_and_export_filter_alike(params, expected, fleet):
    p, ids = fleet
    want = [ids[name] for name in expected]
    assert listed(p, **params) == want
    assert exported(p, **params) == want


def test_search_by_channel_id(fleet):
    p, ids = fleet
    assert listed(p, q=ids["unpaid"].lower()) == [ids["unpaid"]]


def test_expiring_within_counts_from_now(fleet, clock):
    p, ids = fleet
    clock.advance(days=1)
    assert listed(p, expiringWithin=1) == [ids["soon"]]
    clock.advance(days=1)  # "soon" has run out: nothing left to expire
    assert ids["soon"] not in listed(p, expiringWithin=30)
    assert listed(p, expiringWithin=0) == []


def test_profile_counts_match_the_state_filters(fleet, expire, clock):
    p, ids = fleet
    clock.advance(days=3)  # "soon" runs out and is expired; "unpaid" never ran
    expire(clock.now_ms())
    counts = p.get(f"/partners/{p.name}").json()["channels"]
    by_filter = {state: len(listed(p, state=state)) for state in ("running", "stopped", "expired")}
    assert counts["byState"] == by_filter == {"running": 2, "stopped": 2, "expired": 1}
    assert counts["total"] == sum(by_filter.values()) == 5
