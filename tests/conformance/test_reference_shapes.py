"""Black-box conformance to the Whapi.Cloud Partner API, through dayledger's own contract
of it (``whapi_contract.py``; test_contract_matches_reference.py keeps that contract in
line with the published document whenever the document is at hand).

For every operation these tests send real requests whose bodies fit the contract's request
shape (the published one), and validate each real response body against the contract's
schema for that status code. Status codes the contract does not list for an operation are
validated against the one error shape (``ERROR``) and must be one of the differences
written down in ``docs/compatibility.md`` (see ``EXTRA_STATUSES``).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from conformance.whapi_contract import CHANNEL, ERROR, OPERATIONS, Operation, Schema
from conftest import REPO

COMPAT_DOC = REPO / "docs" / "compatibility.md"

# Every operation of the published API; if the contract grows, the guard test fails.
REFERENCE_OPERATIONS = [
    "PUT /channels", "GET /channels/list", "GET /channels/list/{ProjectID}",
    "GET /channels/{ChannelID}", "PATCH /channels/{ChannelID}", "DELETE /channels/{ChannelID}",
    "POST /channels/{ChannelID}/start", "POST /channels/{ChannelID}/stop",
    "POST /channels/{ChannelID}/restart", "POST /channels/{ChannelID}/extend",
    "PATCH /channels/{ChannelID}/mode",
    "GET /projects", "PUT /projects", "GET /projects/{ProjectID}", "PATCH /projects/{ProjectID}",
    "DELETE /projects/{ProjectID}",
    "GET /partners/{PartnerName}/settings", "PATCH /partners/{PartnerName}/settings",
]

# Status codes dayledger answers that the reference does not list for the operation
# (all of them in the reference error shape). docs/compatibility.md explains each one.
COMMON_EXTRA = {401, 422}  # every route: missing/invalid token; validation errors are 422, not 400
WRITE_EXTRA = COMMON_EXTRA | {403, 409}  # mutations: token scope too narrow; Idempotency-Key in flight
EXTRA_STATUSES: dict[str, set[int]] = {
    "PUT /channels": WRITE_EXTRA | {429},
    "GET /channels/list": COMMON_EXTRA | {403},  # uid of another partner
    "GET /channels/list/{ProjectID}": COMMON_EXTRA,
    "GET /channels/{ChannelID}": COMMON_EXTRA,
    "PATCH /channels/{ChannelID}": WRITE_EXTRA,
    "DELETE /channels/{ChannelID}": WRITE_EXTRA,
    "POST /channels/{ChannelID}/start": WRITE_EXTRA,  # 409: no time left / archived
    "POST /channels/{ChannelID}/stop": WRITE_EXTRA,
    "POST /channels/{ChannelID}/restart": WRITE_EXTRA,
    "POST /channels/{ChannelID}/extend": WRITE_EXTRA | {402},
    "PATCH /channels/{ChannelID}/mode": WRITE_EXTRA,
    "GET /projects": COMMON_EXTRA | {403},  # uid of another partner
    "PUT /projects": WRITE_EXTRA,
    "GET /projects/{ProjectID}": COMMON_EXTRA,
    "PATCH /projects/{ProjectID}": WRITE_EXTRA,
    "DELETE /projects/{ProjectID}": WRITE_EXTRA,  # 409: default project / project has channels
    "GET /partners/{PartnerName}/settings": COMMON_EXTRA,
    "PATCH /partners/{PartnerName}/settings": WRITE_EXTRA,
}


# ---------------------------------------------------------------- the contract

def contract_operation(op: str) -> Operation:
    return OPERATIONS[op]


def response_schema(op: str, status: int) -> Schema:
    schema = contract_operation(op).response(status)
    assert schema is not None, f"the contract lists no {status} for {op}"
    return schema


def schema_errors(schema: Schema, instance: Any) -> list[str]:
    """JSON Schema validation of ``instance``; one readable line per problem."""
    return sorted(f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
                  for e in Draft202012Validator(schema).iter_errors(instance))


def compatible_body(op: str, body: dict) -> dict:
    """``body``, after asserting it fits the contract's request shape of ``op``."""
    schema = contract_operation(op).body
    assert schema is not None, f"test bug: {op} takes no body"
    problems = schema_errors(schema, body)
    assert problems == [], f"test bug: {op} body does not fit the published request shape: {problems}"
    return body


def param_pattern(name: str) -> re.Pattern:
    for operation in OPERATIONS.values():
        if name in operation.path_params:
            return re.compile(operation.path_params[name])
    raise KeyError(name)


def channel_field_pattern(field: str) -> re.Pattern:
    return re.compile(CHANNEL["properties"][field]["pattern"])


def check(op: str, r: httpx.Response, status: int | None = None):
    """``r`` (of ``op``) validates against the contract's schema for its status; returns
    the JSON body. An unlisted status must be a documented difference and validates
    against the one error shape."""
    if status is not None:
        assert r.status_code == status, (op, r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json"), (op, r.headers)
    body = r.json()
    schema = contract_operation(op).response(r.status_code)
    if schema is None:
        assert r.status_code in EXTRA_STATUSES[op], \
            f"{op} answered {r.status_code}, neither listed by the reference nor documented: {r.text}"
        schema = ERROR
    problems = schema_errors(schema, body)
    assert problems == [], f"{op} {r.status_code} breaks the contract: {problems}\n{body}"
    if r.status_code >= 400:
        # dayledger's own promise on top of the reference: code mirrors the status, details always there
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
        assert body["error"]["code"] == r.status_code and body["error"]["message"], body
    return body


# ---------------------------------------------------------------- test context

UNKNOWN_CHANNEL = "ZZZZZZ-00000"
UNKNOWN_PROJECT = "Zz" * 10


class Ctx:
    def __init__(self, make_partner, admin: httpx.Client, *, balance: int = 100, trial: bool = True) -> None:
        self.make_partner = make_partner
        self.admin = admin
        self.p = make_partner(balance=balance, trial=trial)

    def channel(self, partner=None, name: str = "Shop") -> dict:
        partner = partner or self.p
        r = partner.put("/channels", json={"name": name, "projectId": partner.project_id})
        assert r.status_code == 200, r.text
        return r.json()

    def project(self, name: str = "Side") -> dict:
        r = self.p.put("/projects", json={"name": name})
        assert r.status_code == 200, r.text
        return r.json()

    def token(self, scope: str) -> httpx.Client:
        t = self.admin.post(f"/admin/partners/{self.p.name}/tokens", json={"name": scope, "scope": scope})
        assert t.status_code == 201, t.text
        return httpx.Client(base_url=str(self.p.client.base_url), timeout=30,
                            headers={"Authorization": f"Bearer {t.json()['token']}"})


@pytest.fixture
def ctx(make_partner, admin) -> Ctx:
    return Ctx(make_partner, admin)


def url(op: str, **params) -> str:
    return op.split(" ", 1)[1].format(**params)


def send(client, op: str, body: dict | None = None, **params) -> httpx.Response:
    method = op.split(" ", 1)[0]
    kwargs = {} if body is None else {"json": compatible_body(op, body)}
    return client.request(method, url(op, **params), **kwargs) if isinstance(client, httpx.Client) \
        else client.client.request(method, url(op, **params), **kwargs)


# ---------------------------------------------------------------- the contract itself

def test_contract_has_the_operations_we_test():
    assert sorted(OPERATIONS) == sorted(REFERENCE_OPERATIONS)
    assert set(EXTRA_STATUSES) == set(REFERENCE_OPERATIONS)


def test_validator_rejects_what_the_contract_forbids(ctx):
    """Negative controls: the same validation that passes our responses fails broken ones."""
    channel = ctx.channel()
    get_schema = response_schema("GET /channels/{ChannelID}", 200)
    assert schema_errors(get_schema, channel) == []
    for field in ("token", "activeTill", "name", "projectId", "stopped"):  # required fields
        broken = {k: v for k, v in channel.items() if k != field}
        assert any(field in e for e in schema_errors(get_schema, broken)), field
    assert schema_errors(get_schema, {**channel, "id": "abc"}), "ChannelID pattern not enforced"
    assert schema_errors(get_schema, {**channel, "server": "1"}), "integer type not enforced"
    assert schema_errors(get_schema, {**channel, "mode": "gold"}), "mode enum not enforced"
    assert schema_errors(get_schema, {**channel, "trial": "soon"}), "nullable integer accepts a string"
    assert schema_errors(get_schema, {**channel, "trial": None}) == [], "nullable not honoured"
    assert schema_errors(get_schema, {**channel, "stopped": None}), "non-nullable field accepts null"
    assert schema_errors(get_schema, {**channel, "activeTill": 1.5}), "a fraction passes as an integer"

    success = response_schema("POST /channels/{ChannelID}/start", 200)
    assert schema_errors(success, {"success": True, "result": True}) == []
    assert schema_errors(success, {"success": True}), "ResponseSuccess requires 'result'"
    assert schema_errors(ERROR, {"error": {"code": 404, "message": "x", "details": ""}}) == []
    assert schema_errors(ERROR, {"error": {"code": 404}}), "Error requires 'message'"
    assert schema_errors(ERROR, {"detail": "not found"}), "Error requires 'error'"
    assert schema_errors(ERROR, {"error": {"code": 404, "message": "x", "details": "", "trace": "..."}}), \
        "the error object is closed"
    listing = response_schema("GET /channels/list", 200)
    bad = copy.deepcopy({"channels": [channel], "count": 1, "offset": 0, "total": 1})
    del bad["channels"][0]["apiUrl"]
    assert schema_errors(listing, bad), "list items are not validated"
    with pytest.raises(AssertionError, match="test bug"):
        compatible_body("PUT /channels", {"name": "no project"})


def test_our_openapi_exposes_every_reference_operation(http):
    ours = http.get("/openapi.json").json()
    for op in REFERENCE_OPERATIONS:
        method, path = op.split(" ", 1)
        assert path in ours["paths"], f"{path} missing from our /openapi.json"
        assert method.lower() in ours["paths"][path], f"{op} missing from our /openapi.json"
        promised, our_op = contract_operation(op), ours["paths"][path][method.lower()]
        assert our_op.get("operationId") == promised.operation_id, op
        promised_params = {("path", name) for name in promised.path_params} | \
            {("query", name) for name in promised.query_params}
        our_params = {(p["in"], p["name"]): p for p in our_op.get("parameters", [])}
        assert promised_params <= set(our_params), (op, promised_params - set(our_params))
        for name, pattern in promised.path_params.items():
            assert our_params[("path", name)]["schema"].get("pattern") == pattern, op
        if promised.body is not None:
            assert "requestBody" in our_op, op


def test_our_ids_match_the_reference_patterns(ctx):
    channel = ctx.channel()
    project = ctx.project()
    assert param_pattern("ChannelID").fullmatch(channel["id"]), channel["id"]
    assert re.fullmatch(r"[A-Z]{6}-[A-Z0-9]{5}", channel["id"]), "SPEC: AAAAAA-XXXXX"
    assert param_pattern("ProjectID").fullmatch(project["id"]), project["id"]
    assert param_pattern("ProjectID").fullmatch(ctx.p.project_id)
    assert param_pattern("PartnerName").fullmatch(ctx.p.name)
    assert channel_field_pattern("ownerId").fullmatch(channel["ownerId"]), channel["ownerId"]
    assert channel_field_pattern("token").fullmatch(channel["token"])
    assert channel["ownerId"] == project["ownerId"] == ctx.p.id
    # the ids of the reference's own examples are refused only where they break its patterns
    assert not param_pattern("ChannelID").fullmatch("abc")


# ---------------------------------------------------------------- 200 for every operation

def ok_create_channel(c: Ctx):
    body = {"name": "Shop", "projectId": c.p.project_id, "phone": "15551234567",
            "recurrentPaymentId": "1z5dc43s4d6", "prevRecurrentPaymentId": "asd65465465"}
    got = check("PUT /channels", send(c.p, "PUT /channels", body), 200)
    assert {k: got[k] for k in body} == body
    assert got["mode"] == "trial" and got["stopped"] is False and got["trial"] == got["activeTill"]
    alias = check("PUT /channels", send(c.p, "PUT /channels", {"name": "Alias", "projectId": "default"}), 200)
    assert alias["projectId"] == c.p.project_id


def ok_list_channels(c: Ctx):
    made = c.channel()
    got = check("GET /channels/list", c.p.get("/channels/list", params={"count": 500, "offset": 0}), 200)
    assert [ch["id"] for ch in got["channels"]] == [made["id"]] and got["total"] == 1
    got = check("GET /channels/list", c.p.get("/channels/list", params={"uid": "me"}), 200)
    assert got["total"] == 1
    got = check("GET /channels/list", c.p.get("/channels/list", params={"uid": c.p.id}), 200)
    assert got["total"] == 1


def ok_list_project_channels(c: Ctx):
    made = c.channel()
    for pid in (c.p.project_id, "default"):
        got = check("GET /channels/list/{ProjectID}", send(c.p, "GET /channels/list/{ProjectID}", ProjectID=pid), 200)
        assert [ch["id"] for ch in got["channels"]] == [made["id"]]
    other = c.project()
    got = check("GET /channels/list/{ProjectID}", send(c.p, "GET /channels/list/{ProjectID}",
                                                       ProjectID=other["id"]), 200)
    assert got["channels"] == [] and got["total"] == 0


def ok_get_channel(c: Ctx):
    made = c.channel()
    got = check("GET /channels/{ChannelID}", send(c.p, "GET /channels/{ChannelID}", ChannelID=made["id"]), 200)
    assert got["id"] == made["id"] and got["token"] == made["token"]


def ok_update_channel(c: Ctx):
    made = c.channel()
    other = c.project()
    body = {"name": "Renamed", "projectId": other["id"], "phone": "4915112345678"}
    check("PATCH /channels/{ChannelID}", send(c.p, "PATCH /channels/{ChannelID}", body, ChannelID=made["id"]), 200)
    got = c.p.get(f"/channels/{made['id']}").json()
    assert (got["name"], got["projectId"], got["phone"]) == ("Renamed", other["id"], "4915112345678")


def ok_delete_channel(c: Ctx):
    made = c.channel()
    c.p.post(f"/channels/{made['id']}/extend", json={"days": 3, "comment": "paid"}).raise_for_status()
    got = check("DELETE /channels/{ChannelID}", send(c.p, "DELETE /channels/{ChannelID}", ChannelID=made["id"]), 200)
    assert got["daysReturned"] == 3 and got["balance"] == 100
    assert c.p.get(f"/channels/{made['id']}").status_code == 404


def ok_start_channel(c: Ctx):
    made = c.channel()
    c.p.post(f"/channels/{made['id']}/stop").raise_for_status()
    check("POST /channels/{ChannelID}/start", send(c.p, "POST /channels/{ChannelID}/start", ChannelID=made["id"]), 200)
    assert c.p.get(f"/channels/{made['id']}").json()["stopped"] is False


def ok_stop_channel(c: Ctx):
    made = c.channel()
    c.p.post(f"/channels/{made['id']}/extend", json={"days": 2, "comment": "paid"}).raise_for_status()
    got = check("POST /channels/{ChannelID}/stop",
                send(c.p, "POST /channels/{ChannelID}/stop", {"saveDays": True}, ChannelID=made["id"]), 200)
    assert got["daysReturned"] == 2
    check("POST /channels/{ChannelID}/stop", send(c.p, "POST /channels/{ChannelID}/stop", {}, ChannelID=made["id"]), 200)
    check("POST /channels/{ChannelID}/stop", send(c.p, "POST /channels/{ChannelID}/stop", ChannelID=made["id"]), 200)
    assert c.p.get(f"/channels/{made['id']}").json()["stopped"] is True


def ok_restart_channel(c: Ctx):
    made = c.channel()
    check("POST /channels/{ChannelID}/restart",
          send(c.p, "POST /channels/{ChannelID}/restart", ChannelID=made["id"]), 200)


def ok_extend_channel(c: Ctx):
    made = c.channel()
    body = {"days": 3, "comment": "March", "amount": 9.5, "currency": "USD"}
    got = check("POST /channels/{ChannelID}/extend",
                send(c.p, "POST /channels/{ChannelID}/extend", body, ChannelID=made["id"]), 200)
    assert got["daysAdded"] == 3 and got["balance"] == 97
    assert got["activeTill"] == made["activeTill"] + 3 * 86_400_000


def ok_change_mode(c: Ctx):
    made = c.channel()
    c.p.post(f"/channels/{made['id']}/extend", json={"days": 3, "comment": "paid"}).raise_for_status()
    op = "PATCH /channels/{ChannelID}/mode"
    got = check(op, send(c.p, op, {"mode": "live"}, ChannelID=made["id"]), 200)
    assert got["mode"] == "live"
    got = check(op, send(c.p, op, {"mode": "dev"}, ChannelID=made["id"]), 200)
    assert got["mode"] == "dev" and got["daysReturned"] == 3
    check(op, send(c.p, op, {"mode": "dev_archive"}, ChannelID=made["id"]), 200)
    check(op, send(c.p, op, {"mode": "trial"}, ChannelID=made["id"]), 200)
    c.p.post(f"/channels/{made['id']}/extend", json={"days": 1, "comment": "paid"}).raise_for_status()
    got = check(op, send(c.p, op, {}, ChannelID=made["id"]), 200)  # "if empty - live"
    assert got["mode"] == "live"


def ok_list_projects(c: Ctx):
    made = c.project()
    got = check("GET /projects", c.p.get("/projects", params={"uid": "me", "count": 10}), 200)
    assert {p["id"]: p["isDefault"] for p in got["projects"]} == {c.p.project_id: True, made["id"]: False}
    assert got["total"] == 2


def ok_create_project(c: Ctx):
    got = check("PUT /projects", send(c.p, "PUT /projects", {"name": "My Project"}), 200)
    assert got["name"] == "My Project" and got["isDefault"] is False and got["users"] == [c.p.id]


def ok_get_project(c: Ctx):
    made = c.project()
    got = check("GET /projects/{ProjectID}", send(c.p, "GET /projects/{ProjectID}", ProjectID=made["id"]), 200)
    assert got == made
    got = check("GET /projects/{ProjectID}", send(c.p, "GET /projects/{ProjectID}", ProjectID="default"), 200)
    assert got["id"] == c.p.project_id


def ok_update_project(c: Ctx):
    made = c.project()
    check("PATCH /projects/{ProjectID}", send(c.p, "PATCH /projects/{ProjectID}", {"name": "Renamed"},
                                              ProjectID=made["id"]), 200)
    assert c.p.get(f"/projects/{made['id']}").json()["name"] == "Renamed"


def ok_delete_project(c: Ctx):
    made = c.project()
    check("DELETE /projects/{ProjectID}", send(c.p, "DELETE /projects/{ProjectID}", ProjectID=made["id"]), 200)
    assert c.p.get(f"/projects/{made['id']}").status_code == 404


def ok_get_settings(c: Ctx):
    op = "GET /partners/{PartnerName}/settings"
    got = check(op, send(c.p, op, PartnerName=c.p.name), 200)
    assert got == {"webhooks": [], "days_limit": 7, "noChat": False}


def ok_set_settings(c: Ctx):
    op = "PATCH /partners/{PartnerName}/settings"
    body = {"webhooks": [{"url": "https://example.com/hook", "events": [{"type": "days", "method": "post"}],
                          "mode": "body"}], "days_limit": 5, "noChat": True}
    check(op, send(c.p, op, body, PartnerName=c.p.name), 200)
    got = check("GET /partners/{PartnerName}/settings",
                send(c.p, "GET /partners/{PartnerName}/settings", PartnerName=c.p.name), 200)
    assert got == body
    check(op, send(c.p, op, {"webhooks": [{"url": "https://example.com/other"}]}, PartnerName=c.p.name), 200)
    got = c.p.get(f"/partners/{c.p.name}/settings").json()
    assert got["webhooks"] == [{"url": "https://example.com/other", "events": [{"type": "days", "method": "post"}],
                                "mode": "body"}], "the reference's defaults are applied"
    assert got["days_limit"] == 5


OK_SCENARIOS: dict[str, Callable[[Ctx], None]] = {
    "PUT /channels": ok_create_channel,
    "GET /channels/list": ok_list_channels,
    "GET /channels/list/{ProjectID}": ok_list_project_channels,
    "GET /channels/{ChannelID}": ok_get_channel,
    "PATCH /channels/{ChannelID}": ok_update_channel,
    "DELETE /channels/{ChannelID}": ok_delete_channel,
    "POST /channels/{ChannelID}/start": ok_start_channel,
    "POST /channels/{ChannelID}/stop": ok_stop_channel,
    "POST /channels/{ChannelID}/restart": ok_restart_channel,
    "POST /channels/{ChannelID}/extend": ok_extend_channel,
    "PATCH /channels/{ChannelID}/mode": ok_change_mode,
    "GET /projects": ok_list_projects,
    "PUT /projects": ok_create_project,
    "GET /projects/{ProjectID}": ok_get_project,
    "PATCH /projects/{ProjectID}": ok_update_project,
    "DELETE /projects/{ProjectID}": ok_delete_project,
    "GET /partners/{PartnerName}/settings": ok_get_settings,
    "PATCH /partners/{PartnerName}/settings": ok_set_settings,
}


@pytest.mark.parametrize("op", REFERENCE_OPERATIONS)
def test_success_response_matches_the_reference(op, ctx, assert_ledger_sound):
    OK_SCENARIOS[op](ctx)
    assert_ledger_sound()


# ---------------------------------------------------------------- the errors the reference lists

CHANNEL_OPS = [op for op in REFERENCE_OPERATIONS if "{ChannelID}" in op]
PROJECT_OPS = [op for op in REFERENCE_OPERATIONS if "{ProjectID}" in op]
BODIES = {
    "PUT /channels": {"name": "Shop", "projectId": UNKNOWN_PROJECT},
    "PATCH /channels/{ChannelID}": {"name": "Shop", "projectId": "default"},
    "POST /channels/{ChannelID}/stop": {"saveDays": False},
    "POST /channels/{ChannelID}/extend": {"days": 1, "comment": "x"},
    "PATCH /channels/{ChannelID}/mode": {"mode": "live"},
    "PUT /projects": {"name": "P"},
    "PATCH /projects/{ProjectID}": {"name": "P"},
    "PATCH /partners/{PartnerName}/settings": {"noChat": True},
}


@pytest.mark.parametrize("op", CHANNEL_OPS)
def test_unknown_and_foreign_channels_are_404(op, ctx):
    theirs = ctx.channel(ctx.make_partner(trial=True))
    for channel_id in (UNKNOWN_CHANNEL, theirs["id"]):
        body = check(op, send(ctx.p, op, BODIES.get(op), ChannelID=channel_id), 404)
        assert channel_id in body["error"]["details"]


@pytest.mark.parametrize("op", PROJECT_OPS + ["PUT /channels"])
def test_unknown_and_foreign_projects_are_404(op, ctx):
    theirs = ctx.make_partner()
    for project_id in (UNKNOWN_PROJECT, theirs.project_id):
        if op == "PUT /channels":
            r = send(ctx.p, op, {"name": "Shop", "projectId": project_id})
        else:
            r = send(ctx.p, op, BODIES.get(op), ProjectID=project_id)
        check(op, r, 404)
    assert theirs.get("/channels/list").json()["total"] == 0


@pytest.mark.parametrize("op", ["GET /partners/{PartnerName}/settings", "PATCH /partners/{PartnerName}/settings"])
def test_another_partners_settings_are_403(op, ctx):
    other = ctx.make_partner()
    body = check(op, send(ctx.p, op, BODIES.get(op), PartnerName=other.name), 403)
    assert ctx.p.name in body["error"]["details"]
    check(op, send(ctx.p, op, BODIES.get(op), PartnerName="no-such-partner"), 403)
    assert other.get(f"/partners/{other.name}/settings").json()["noChat"] is False


def test_mode_live_without_paid_time_is_403(ctx):
    made = ctx.channel()
    body = check("PATCH /channels/{ChannelID}/mode",
                 send(ctx.p, "PATCH /channels/{ChannelID}/mode", {"mode": "live"}, ChannelID=made["id"]), 403)
    assert "extend" in body["error"]["details"]
    assert ctx.p.get(f"/channels/{made['id']}").json()["mode"] == "trial"


def test_sandbox_beyond_the_limit_is_403(ctx):
    first, second = ctx.channel(name="a"), ctx.channel(name="b")
    op = "PATCH /channels/{ChannelID}/mode"
    check(op, send(ctx.p, op, {"mode": "dev"}, ChannelID=first["id"]), 200)
    check(op, send(ctx.p, op, {"mode": "dev"}, ChannelID=second["id"]), 403)


# ---------------------------------------------------------------- statuses the reference does not list

def invalid_request(op: str, c: Ctx) -> httpx.Response:
    """A request dayledger refuses as malformed (the reference would say 400)."""
    method = op.split(" ", 1)[0]
    if "{ChannelID}" in op:
        return c.p.client.request(method, url(op, ChannelID="not-a-channel"), json=BODIES.get(op))
    if "{ProjectID}" in op:
        return c.p.client.request(method, url(op, ProjectID="short"), json=BODIES.get(op))
    if op == "PUT /channels":
        return c.p.put("/channels", json={"name": "no project"})
    if op == "PUT /projects":
        return c.p.put("/projects", json={})
    if op == "PATCH /partners/{PartnerName}/settings":
        return c.p.patch(f"/partners/{c.p.name}/settings", json={"noChat": "yes"})
    if op == "GET /partners/{PartnerName}/settings":
        return c.p.get("/partners/bad%20name/settings")
    return c.p.get(url(op), params={"count": 0})  # the list operations


@pytest.mark.parametrize("op", REFERENCE_OPERATIONS)
def test_malformed_requests_are_422_in_the_error_shape(op, ctx):
    assert 400 in contract_operation(op).responses, "the reference lists 400 for every operation"
    check(op, invalid_request(op, ctx), 422)


@pytest.mark.parametrize("op", REFERENCE_OPERATIONS)
def test_missing_or_bad_token_is_401_in_the_error_shape(op, ctx):
    method = op.split(" ", 1)[0]
    path = url(op, ChannelID=UNKNOWN_CHANNEL, ProjectID="default", PartnerName=ctx.p.name)
    anonymous = httpx.Client(base_url=str(ctx.p.client.base_url), timeout=30)
    with anonymous:
        check(op, anonymous.request(method, path, json=BODIES.get(op)), 401)
        check(op, anonymous.request(method, path, json=BODIES.get(op), params={"token": "nope"}), 401)


@pytest.mark.parametrize("op", [op for op in REFERENCE_OPERATIONS if not op.startswith("GET")])
def test_read_only_token_may_not_change_anything_403(op, ctx):
    made = ctx.channel()
    reader = ctx.token("read")
    with reader:
        body = check(op, send(reader, op, BODIES.get(op), ChannelID=made["id"], ProjectID="default",
                              PartnerName=ctx.p.name), 403)
    assert "scope" in body["error"]["message"]
    after = ctx.p.get(f"/channels/{made['id']}").json()
    assert {k: after[k] for k in made} == made, "a refused request changed the channel"
    assert ctx.p.balance == 100


@pytest.mark.parametrize("op", ["GET /channels/list", "GET /projects"])
def test_uid_of_another_partner_is_403(op, ctx):
    other = ctx.make_partner()
    check(op, ctx.p.get(url(op), params={"uid": other.id}), 403)


def test_extend_beyond_the_balance_is_402(ctx, assert_ledger_sound):
    made = ctx.channel()
    op = "POST /channels/{ChannelID}/extend"
    body = check(op, send(ctx.p, op, {"days": 101, "comment": "too much"}, ChannelID=made["id"]), 402)
    assert "balance" in body["error"]["message"]
    assert ctx.p.balance == 100
    assert ctx.p.get(f"/channels/{made['id']}").json()["activeTill"] == made["activeTill"]
    assert_ledger_sound()


def test_start_without_time_is_409(make_partner, admin):
    c = Ctx(make_partner, admin, balance=5, trial=False)
    made = c.channel()  # not trial-eligible: created with activeTill = now
    op = "POST /channels/{ChannelID}/start"
    body = check(op, send(c.p, op, ChannelID=made["id"]), 409)
    assert "extend" in body["error"]["details"]


def test_deleting_the_default_or_a_non_empty_project_is_409(ctx):
    op = "DELETE /projects/{ProjectID}"
    check(op, send(ctx.p, op, ProjectID="default"), 409)
    check(op, send(ctx.p, op, ProjectID=ctx.p.project_id), 409)
    side = ctx.project()
    r = ctx.p.put("/channels", json={"name": "in side", "projectId": side["id"]})
    assert r.status_code == 200, r.text
    body = check(op, send(ctx.p, op, ProjectID=side["id"]), 409)
    assert "1 channel" in body["error"]["details"]
    assert ctx.p.get(f"/projects/{side['id']}").status_code == 200


def test_create_rate_limit_is_429_with_retry_after(ctx, clock):
    for i in range(20):
        ctx.channel(name=f"c{i}")
    r = send(ctx.p, "PUT /channels", {"name": "one too many", "projectId": "default"})
    check("PUT /channels", r, 429)
    assert 1 <= int(r.headers["Retry-After"]) <= 1800
    assert ctx.p.get("/channels/list").json()["total"] == 20
    clock.advance(seconds=1801)
    check("PUT /channels", send(ctx.p, "PUT /channels", {"name": "later", "projectId": "default"}), 200)


def test_idempotency_key_in_flight_is_409_in_the_error_shape(ctx, app):
    """A duplicate arriving while the first is still running answers 409 (SPEC 4.9). The
    first is held open by entering its key in the server's in-process registry."""
    from dayledger.idempotency import hash_token_key
    made = ctx.channel()
    in_flight = app.state.services.in_flight
    ident = hash_token_key(ctx.p.token, "held-open")
    in_flight.enter(ident)
    try:
        op = "POST /channels/{ChannelID}/restart"
        check(op, ctx.p.post(url(op, ChannelID=made["id"]), headers={"Idempotency-Key": "held-open"}), 409)
    finally:
        in_flight.leave(ident)


# ---------------------------------------------------------------- reference-valid bodies we refuse

REFUSED_REFERENCE_VALID = [
    ("PUT /channels", {"name": "", "projectId": "default"}, "name"),
    ("PUT /channels", {"name": "Shop", "projectId": "project123"}, "projectId"),
    ("PUT /channels", {"name": "x" * 201, "projectId": "default"}, "name"),
    ("POST /channels/{ChannelID}/extend", {"days": 1.5, "comment": "x"}, "days"),
    ("POST /channels/{ChannelID}/extend", {"days": 0, "comment": "x"}, "days"),
    ("POST /channels/{ChannelID}/extend", {"days": 1, "comment": ""}, "comment"),
    ("PATCH /partners/{PartnerName}/settings", {"days_limit": 2.5}, "days_limit"),
    ("PATCH /partners/{PartnerName}/settings", {"webhooks": [{"url": "not a url"}]}, "url"),
]


@pytest.mark.parametrize("op,body,field", REFUSED_REFERENCE_VALID,
                         ids=[f"{op} {field}" for op, _, field in REFUSED_REFERENCE_VALID])
def test_reference_valid_bodies_dayledger_refuses(op, body, field, ctx, assert_ledger_sound):
    """Documented differences: values the reference's schema allows but SPEC forbids
    (whole days >= 1, a non-empty comment, known id formats, integer day limits)."""
    made = ctx.channel()
    got = check(op, send(ctx.p, op, body, ChannelID=made["id"], PartnerName=ctx.p.name), 422)
    assert field in got["error"]["details"], got
    assert ctx.p.balance == 100
    assert_ledger_sound()


def test_partial_channel_update_is_accepted(ctx):
    """A superset: the reference requires name and projectId on PATCH; dayledger takes either."""
    made = ctx.channel()
    op = "PATCH /channels/{ChannelID}"
    check(op, ctx.p.patch(url(op, ChannelID=made["id"]), json={"name": "only the name"}), 200)
    got = ctx.p.get(f"/channels/{made['id']}").json()
    assert got["name"] == "only the name" and got["projectId"] == made["projectId"]


# ---------------------------------------------------------------- the compatibility page

def test_compatibility_page_lists_every_operation_and_its_extra_statuses():
    text = COMPAT_DOC.read_text()
    for op in REFERENCE_OPERATIONS:
        rows = [line for line in text.splitlines() if line.startswith(f"| `{op}`")]
        assert len(rows) == 1, f"docs/compatibility.md needs one table row for {op}"
        for status in sorted(EXTRA_STATUSES[op]):
            assert str(status) in rows[0], f"docs/compatibility.md: {op} row does not mention {status}"
