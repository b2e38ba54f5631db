"""Bad input on the channel and project routes: every request below is refused with a
clear error in the one shape ``{"error": {"code", "message", "details"}}`` (saying what was
wrong), and nothing of the partner's state changes."""

from __future__ import annotations

import json

import pytest

from dayledger.channels.schemas import MAX_BULK_CHANNELS

from .conftest import check_error, create_channel, extend_ok

LONG = "x" * 201
VALID_CHANNEL = "QQQQQQ-00000"


@pytest.fixture
def setup(make_partner, partner_state):
    """A partner with balance and one paid channel; returns (partner, channel id, state before)."""
    p = make_partner(balance=20, trial=True)
    cid = create_channel(p, "target")["id"]
    extend_ok(p, cid, 3)
    return p, cid, partner_state(p)


def expect_unchanged(p, before, partner_state):
    assert partner_state(p) == before


def bulk_ids(n: int) -> list[str]:
    return [f"BULKAA-{i:05d}" for i in range(n)]


# (method, path template, body or raw bytes, expected status, text expected in message+details)
CASES = {
    "unknown mode": ("PATCH", "/channels/{cid}/mode", {"mode": "production"}, 422, "mode"),
    "mode not a string": ("PATCH", "/channels/{cid}/mode", {"mode": 1}, 422, "mode"),
    "days 0": ("POST", "/channels/{cid}/extend", {"days": 0, "comment": "c"}, 422, "days"),
    "days -1": ("POST", "/channels/{cid}/extend", {"days": -1, "comment": "c"}, 422, "days"),
    "days 1.5": ("POST", "/channels/{cid}/extend", {"days": 1.5, "comment": "c"}, 422, "days"),
    "days '5'": ("POST", "/channels/{cid}/extend", {"days": "5", "comment": "c"}, 422, "days"),
    "days true": ("POST", "/channels/{cid}/extend", {"days": True, "comment": "c"}, 422, "days"),
    "days null": ("POST", "/channels/{cid}/extend", {"days": None, "comment": "c"}, 422, "days"),
    "days 10**6+1": ("POST", "/channels/{cid}/extend", {"days": 10**6 + 1, "comment": "c"}, 422, "days"),
    "days missing": ("POST", "/channels/{cid}/extend", {"comment": "c"}, 422, "days"),
    "blank comment": ("POST", "/channels/{cid}/extend", {"days": 1, "comment": "   "}, 422, "comment"),
    "empty comment": ("POST", "/channels/{cid}/extend", {"days": 1, "comment": ""}, 422, "comment"),
    "missing comment": ("POST", "/channels/{cid}/extend", {"days": 1}, 422, "comment"),
    "negative amount": ("POST", "/channels/{cid}/extend", {"days": 1, "comment": "c", "amount": -1}, 422, "amount"),
    "malformed currency": ("POST", "/channels/{cid}/extend", {"days": 1, "comment": "c", "currency": "euro"}, 422,
                         "currency"),
    "malformed JSON extend": ("POST", "/channels/{cid}/extend", b'{"days": 1, "comment": ', 422, "JSON"),
    "JSON array body": ("POST", "/channels/{cid}/extend", [1, "c"], 422, None),
    "malformed JSON create": ("PUT", "/channels", b"{name: 'x'}", 422, "JSON"),
    "empty body create": ("PUT", "/channels", b"", 422, None),
    "create without name": ("PUT", "/channels", {"projectId": "default"}, 422, "name"),
    "create without projectId": ("PUT", "/channels", {"name": "x"}, 422, "projectId"),
    "create blank name": ("PUT", "/channels", {"name": "  ", "projectId": "default"}, 422, "name"),
    "create oversized name": ("PUT", "/channels", {"name": LONG, "projectId": "default"}, 422, "name"),
    "create malformed projectId": ("PUT", "/channels", {"name": "x", "projectId": "abc"}, 422, "projectId"),
    "create projectId too long": ("PUT", "/channels", {"name": "x", "projectId": "a" * 21}, 422, "projectId"),
    "create bad phone letters": ("PUT", "/channels", {"name": "x", "projectId": "default", "phone": "12ab567"}, 422,
                                 "phone"),
    "create bad phone short": ("PUT", "/channels", {"name": "x", "projectId": "default", "phone": "123456"}, 422,
                               "phone"),
    "create bad phone long": ("PUT", "/channels", {"name": "x", "projectId": "default", "phone": "1" * 16}, 422,
                              "phone"),
    "create phone with plus": ("PUT", "/channels", {"name": "x", "projectId": "default", "phone": "+14155550123"},
                               422, "phone"),
    "patch oversized name": ("PATCH", "/channels/{cid}", {"name": LONG}, 422, "name"),
    "patch bad phone": ("PATCH", "/channels/{cid}", {"phone": "call me"}, 422, "phone"),
    "patch malformed projectId": ("PATCH", "/channels/{cid}", {"projectId": "abc"}, 422, "projectId"),
    "project oversized name": ("PUT", "/projects", {"name": LONG}, 422, "name"),
    "project blank name": ("PUT", "/projects", {"name": " "}, 422, "name"),
    "project rename oversized": ("PATCH", "/projects/default", {"name": LONG}, 422, "name"),
    "stop saveDays 'yes'": ("POST", "/channels/{cid}/stop", {"saveDays": "yes"}, 422, "saveDays"),
    "stop saveDays 1": ("POST", "/channels/{cid}/stop", {"saveDays": 1}, 422, "saveDays"),
    "stop malformed JSON": ("POST", "/channels/{cid}/stop", b"{saveDays: true", 422, "JSON"),
    "bulk duplicate ids": ("POST", "/channels/extend",
                           {"channels": [{"id": "{cid}", "days": 1}, {"id": "{cid}", "days": 2}], "comment": "c"},
                           422, "once"),
    "bulk empty list": ("POST", "/channels/extend", {"channels": [], "comment": "c"}, 422, "channels"),
    "bulk too many": ("POST", "/channels/extend",
                      {"channels": [{"id": i, "days": 1} for i in bulk_ids(MAX_BULK_CHANNELS + 1)], "comment": "c"}, 422,
                      "channels"),
    "bulk missing comment": ("POST", "/channels/extend", {"channels": [{"id": "{cid}", "days": 1}]}, 422, "comment"),
    "bulk days 0": ("POST", "/channels/extend", {"channels": [{"id": "{cid}", "days": 0}], "comment": "c"}, 422,
                    "days"),
    "bulk malformed id": ("POST", "/channels/extend", {"channels": [{"id": "abc", "days": 1}], "comment": "c"}, 422,
                          "id"),
    "bulk channels not a list": ("POST", "/channels/extend", {"channels": "{cid}", "comment": "c"}, 422, "channels"),
}


def fill(value, cid: str):
    if isinstance(value, str):
        return value.replace("{cid}", cid)
    if isinstance(value, dict):
        return {k: fill(v, cid) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, cid) for v in value]
    return value


@pytest.mark.parametrize("case", list(CASES))
def test_bad_body_is_refused_and_changes_nothing(case, setup, partner_state):
    p, cid, before = setup
    method, path, body, status, words = CASES[case]
    path = path.format(cid=cid)
    if isinstance(body, bytes):
        r = p.client.request(method, path, content=body, headers={"Content-Type": "application/json"})
    else:
        r = p.client.request(method, path, json=fill(body, cid))
    check_error(r, status, message=words)
    expect_unchanged(p, before, partner_state)


@pytest.mark.parametrize("bad_id", ["abc", "ABCDEF-1234", "abcdef-12345", "ABCDEF-123456", "ABCDE1-12345",
                                    "ABCDEF_12345", "ABCDEF-1234a"])
def test_malformed_channel_ids(bad_id, setup, partner_state):
    p, _, before = setup
    for method, path, body in [
        ("GET", f"/channels/{bad_id}", None),
        ("PATCH", f"/channels/{bad_id}", {"name": "x"}),
        ("DELETE", f"/channels/{bad_id}", None),
        ("POST", f"/channels/{bad_id}/start", None),
        ("POST", f"/channels/{bad_id}/stop", None),
        ("POST", f"/channels/{bad_id}/restart", None),
        ("POST", f"/channels/{bad_id}/extend", {"days": 1, "comment": "c"}),
        ("PATCH", f"/channels/{bad_id}/mode", {"mode": "live"}),
        ("GET", f"/channels/{bad_id}/history", None),
    ]:
        r = p.client.request(method, path, json=body) if body is not None else p.client.request(method, path)
        check_error(r, 422, message="ChannelID")
    expect_unchanged(p, before, partner_state)


@pytest.mark.parametrize("bad_id", ["abc", "a" * 19, "a" * 21, "aaaaaaaaaa-aaaaaaaaa", "DEFAULT"])
def test_malformed_project_ids(bad_id, setup, partner_state):
    p, _, before = setup
    for method, path, body in [
        ("GET", f"/projects/{bad_id}", None),
        ("PATCH", f"/projects/{bad_id}", {"name": "x"}),
        ("DELETE", f"/projects/{bad_id}", None),
        ("GET", f"/channels/list/{bad_id}", None),
    ]:
        r = p.client.request(method, path, json=body) if body is not None else p.client.request(method, path)
        check_error(r, 422, message="ProjectID")
    expect_unchanged(p, before, partner_state)


@pytest.mark.parametrize("params, name", [
    ({"count": 0}, "count"), ({"count": 501}, "count"), ({"count": "ten"}, "count"),
    ({"offset": -1}, "offset"), ({"offset": "x"}, "offset"),
    ({"mode": "prod"}, "mode"), ({"state": "sleeping"}, "state"), ({"status": "ONLINE"}, "status"),
    ({"expiringWithin": -1}, "expiringWithin"), ({"q": "x" * 201}, "q"), ({"uid": "nope"}, "uid"),
])
def test_bad_query_parameters(params, name, setup):
    p, cid, _ = setup
    for path in ("/channels/list", "/channels/list/default"):
        if name == "uid" and path != "/channels/list":
            continue
        check_error(p.get(path, params=params), 422, message=name)
    if name in ("count", "offset"):
        check_error(p.get("/projects", params=params), 422, message=name)
        check_error(p.get(f"/channels/{cid}/history", params=params), 422, message=name)
    # A valid page still works.
    assert p.get("/channels/list", params={"count": 500, "offset": 0}).status_code == 200


def test_well_formed_unknown_ids_are_404(setup, partner_state):
    p, _, before = setup
    check_error(p.get(f"/channels/{VALID_CHANNEL}"), 404, message="channel")
    check_error(p.post(f"/channels/{VALID_CHANNEL}/extend", json={"days": 1, "comment": "c"}), 404)
    check_error(p.post("/channels/extend", json={"channels": [{"id": VALID_CHANNEL, "days": 1}], "comment": "c"}),
                404, message=VALID_CHANNEL)
    check_error(p.put("/channels", json={"name": "x", "projectId": "A" * 20}), 404, message="project")
    check_error(p.get("/channels/export.json"), 422)  # no such route shape: export.json is not a channel id
    check_error(p.get("/no/such/route"), 404)
    expect_unchanged(p, before, partner_state)


def test_insufficient_balance_is_402_and_changes_nothing(make_partner, partner_state):
    p = make_partner(balance=2)
    cid = create_channel(p)["id"]
    before = partner_state(p)
    err = check_error(p.post(f"/channels/{cid}/extend", json={"days": 3, "comment": "too much"}), 402)
    assert "3" in err["details"] and "2" in err["details"]
    assert partner_state(p) == before


# Text no database column can hold: PostgreSQL refuses NUL, neither engine encodes an
# unpaired surrogate. Bodies are encoded by hand (ensure_ascii) so the escapes reach the server.
NUL, SURROGATE = "a\x00b", "a\ud800b"
UNSTORABLE = [
    ("PUT", "/channels", {"name": "{text}", "projectId": "default"}, "name"),
    ("PUT", "/channels", {"name": "x", "projectId": "default", "recurrentPaymentId": "{text}"}, "recurrentPaymentId"),
    ("PATCH", "/channels/{cid}", {"name": "{text}"}, "name"),
    ("POST", "/channels/{cid}/extend", {"days": 1, "comment": "{text}"}, "comment"),
    ("POST", "/channels/extend", {"channels": [{"id": "{cid}", "days": 1}], "comment": "{text}"}, "comment"),
    ("PUT", "/projects", {"name": "{text}"}, "name"),
    ("PATCH", "/projects/default", {"name": "{text}"}, "name"),
]


@pytest.mark.parametrize("text", [NUL, SURROGATE], ids=["NUL", "surrogate"])
@pytest.mark.parametrize("method,path,body,field", UNSTORABLE, ids=[f"{m} {p} {f}" for m, p, _, f in UNSTORABLE])
def test_unstorable_text_is_422_not_500(method, path, body, field, text, setup, partner_state):
    p, cid, before = setup
    raw = json.dumps(fill(body, cid)).replace("{text}", json.dumps(text)[1:-1])
    r = p.client.request(method, path.format(cid=cid), content=raw.encode(),
                         headers={"Content-Type": "application/json"})
    check_error(r, 422, message=field)
    expect_unchanged(p, before, partner_state)


def test_unstorable_search_text_is_422(setup):
    p, _, _ = setup
    check_error(p.get("/channels/list", params={"q": NUL}), 422, message="q")
    # A URL cannot carry a surrogate: its UTF-8 bytes are invalid and decode to U+FFFD.
    r = p.get("/channels/list?q=%ED%A0%80")
    assert r.status_code == 200 and r.json()["total"] == 0, r.text
