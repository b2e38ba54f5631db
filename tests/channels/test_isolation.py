"""Isolation (SPEC 4.10): a partner's token sees and touches only its own projects, channels
and history. Another partner's channel or project id answers 404 exactly like an unknown
one, on every route, and nothing of theirs changes; another partner's account answers 403;
token scopes and kinds are enforced."""

from __future__ import annotations

import httpx
import pytest

from conftest import new_client

from .conftest import check_error, create_channel, extend_ok


@pytest.fixture
def victim(make_partner, clock):
    """A partner with a paid channel in a second project, a trial channel and a sandbox."""
    v = make_partner(balance=50, trial=True)
    r = v.put("/projects", json={"name": "their project"})
    assert r.status_code == 200, r.text
    project = r.json()["id"]
    paid = create_channel(v, "their paid channel", project=project)
    extend_ok(v, paid["id"], 10)
    trial = create_channel(v, "their trial channel")
    v.project = project  # type: ignore[attr-defined]
    v.channel = paid["id"]  # type: ignore[attr-defined]
    v.trial_channel = trial["id"]  # type: ignore[attr-defined]
    return v


def channel_routes(cid: str, own_project: str) -> list[tuple[str, str, dict | None]]:
    return [
        ("GET", f"/channels/{cid}", None),
        ("PATCH", f"/channels/{cid}", {"name": "hijacked"}),
        ("PATCH", f"/channels/{cid}", {"projectId": own_project}),
        ("POST", f"/channels/{cid}/start", None),
        ("POST", f"/channels/{cid}/stop", {"saveDays": True}),
        ("POST", f"/channels/{cid}/stop", None),
        ("POST", f"/channels/{cid}/restart", None),
        ("POST", f"/channels/{cid}/extend", {"days": 1, "comment": "not mine"}),
        ("PATCH", f"/channels/{cid}/mode", {"mode": "dev"}),
        ("PATCH", f"/channels/{cid}/mode", {"mode": "live"}),
        ("PATCH", f"/channels/{cid}/mode", {"mode": "dev_archive"}),
        ("GET", f"/channels/{cid}/history", None),
        ("DELETE", f"/channels/{cid}", None),
    ]


def project_routes(pid: str) -> list[tuple[str, str, dict | None]]:
    return [
        ("GET", f"/channels/list/{pid}", None),
        ("GET", f"/projects/{pid}", None),
        ("PATCH", f"/projects/{pid}", {"name": "hijacked"}),
        ("DELETE", f"/projects/{pid}", None),
        ("PUT", "/channels", {"name": "in their project", "projectId": pid}),
    ]


def send(p, method: str, path: str, body) -> httpx.Response:
    return p.client.request(method, path, json=body) if body is not None else p.client.request(method, path)


def test_other_partners_ids_are_404_everywhere(make_partner, victim, partner_state, assert_ledger_sound):
    intruder = make_partner(balance=50, trial=True)
    own = create_channel(intruder, "mine")
    before_victim, before_intruder = partner_state(victim), partner_state(intruder)

    routes = []
    for cid in (victim.channel, victim.trial_channel):
        routes += channel_routes(cid, intruder.project_id)
    routes += project_routes(victim.project) + project_routes(victim.project_id)
    routes.append(("POST", "/channels/extend", {"channels": [{"id": own["id"], "days": 1},
                                                             {"id": victim.channel, "days": 1}], "comment": "both"}))
    routes.append(("PATCH", f"/channels/{own['id']}", {"projectId": victim.project}))
    for method, path, body in routes:
        r = send(intruder, method, path, body)
        err = check_error(r, 404)
        assert victim.name not in err["details"] and victim.id not in err["details"], (path, err)

    # The answers are the same as for ids that exist nowhere.
    check_error(intruder.get("/channels/QQQQQQ-00000"), 404)
    check_error(intruder.get("/projects/" + "Q" * 20), 404)

    assert partner_state(victim) == before_victim
    assert partner_state(intruder) == before_intruder
    # The victim still sees everything of theirs, unchanged, and nothing of the intruder's.
    ids = [c["id"] for c in victim.get("/channels/list").json()["channels"]]
    assert sorted(ids) == sorted([victim.channel, victim.trial_channel])
    assert [c["id"] for c in intruder.get("/channels/list").json()["channels"]] == [own["id"]]
    assert {x["id"] for x in intruder.get("/projects").json()["projects"]} == {intruder.project_id}
    assert_ledger_sound()


def test_listings_and_history_show_only_own_things(make_partner, victim):
    intruder = make_partner(balance=5)
    assert intruder.get("/channels/list").json()["total"] == 0
    assert intruder.get("/channels/list/default").json()["total"] == 0
    assert intruder.get("/channels/list", params={"q": victim.channel}).json()["total"] == 0
    history = intruder.get(f"/partners/{intruder.name}/history").json()["history"]
    assert [e["type"] for e in history] == ["adjustment"]
    r = intruder.get(f"/partners/{intruder.name}/history", params={"channel": victim.channel})
    assert r.status_code == 200 and r.json()["total"] == 0
    export = intruder.get("/channels/export.csv")
    assert export.status_code == 200 and victim.channel not in export.text


def test_other_uid_and_other_partner_account_are_403(make_partner, victim, partner_state):
    intruder = make_partner()
    before = partner_state(victim)
    for path in ("/channels/list", "/projects"):
        check_error(intruder.get(path, params={"uid": victim.id}), 403)
        assert intruder.get(path, params={"uid": intruder.id}).status_code == 200
        assert intruder.get(path, params={"uid": "me"}).status_code == 200
    for path in (f"/partners/{victim.name}/settings", f"/partners/{victim.name}",
                 f"/partners/{victim.name}/history", f"/partners/{victim.name}/history.csv",
                 f"/partners/{victim.name}/tokens"):
        check_error(intruder.get(path), 403)
    check_error(intruder.patch(f"/partners/{victim.name}/settings", json={"days_limit": 1}), 403)
    check_error(intruder.post(f"/partners/{victim.name}/tokens", json={"scope": "full"}), 403)
    # A partner name that does not exist is refused the same way (no probing for names).
    check_error(intruder.get("/partners/nobody-by-this-name/settings"), 403)
    assert partner_state(victim) == before


def test_read_scope_token_reads_but_never_mutates(make_partner, base_url, token_with_scope, partner_state,
                                                  assert_ledger_sound):
    p = make_partner(balance=20, trial=True)
    ch = create_channel(p)
    extend_ok(p, ch["id"], 5)
    read = token_with_scope(p, "read")
    before = partner_state(p)
    with new_client(base_url, read) as c:
        for path in ("/channels/list", f"/channels/{ch['id']}", f"/channels/{ch['id']}/history",
                     "/channels/list/default", "/projects", f"/projects/{p.project_id}",
                     f"/partners/{p.name}", f"/partners/{p.name}/settings", f"/partners/{p.name}/history"):
            r = c.get(path)
            assert r.status_code == 200, (path, r.text)
        assert c.get("/channels/export.csv").status_code == 200
        assert c.get("/channels/list", params={"token": read}).status_code == 200

        for method, path, body in [
            ("PUT", "/channels", {"name": "new", "projectId": "default"}),
            ("PATCH", f"/channels/{ch['id']}", {"name": "renamed"}),
            ("DELETE", f"/channels/{ch['id']}", None),
            ("POST", f"/channels/{ch['id']}/start", None),
            ("POST", f"/channels/{ch['id']}/stop", {"saveDays": True}),
            ("POST", f"/channels/{ch['id']}/restart", None),
            ("POST", f"/channels/{ch['id']}/extend", {"days": 1, "comment": "read only"}),
            ("PATCH", f"/channels/{ch['id']}/mode", {"mode": "dev"}),
            ("POST", "/channels/extend", {"channels": [{"id": ch["id"], "days": 1}], "comment": "read only"}),
            ("PUT", "/projects", {"name": "new project"}),
            ("PATCH", f"/projects/{p.project_id}", {"name": "renamed"}),
            ("DELETE", f"/projects/{p.project_id}", None),
            ("PATCH", f"/partners/{p.name}/settings", {"days_limit": 3}),
        ]:
            r = c.request(method, path, json=body) if body is not None else c.request(method, path)
            check_error(r, 403, message="scope")
    assert partner_state(p) == before
    assert_ledger_sound()


def test_billing_scope_cannot_manage_channels(make_partner, base_url, token_with_scope, partner_state):
    p = make_partner(balance=5)
    ch = create_channel(p)
    billing = token_with_scope(p, "billing")
    before = partner_state(p)
    with new_client(base_url, billing) as c:
        check_error(c.post(f"/channels/{ch['id']}/extend", json={"days": 1, "comment": "x"}), 403)
        check_error(c.delete(f"/channels/{ch['id']}"), 403)
        assert c.get(f"/channels/{ch['id']}").status_code == 200
    assert partner_state(p) == before


def test_operator_and_gateway_tokens_are_refused_on_partner_routes(make_partner, admin, base_url, gateway_token,
                                                                   partner_state):
    p = make_partner(balance=5)
    ch = create_channel(p)
    before = partner_state(p)
    with new_client(base_url, gateway_token) as gw:
        for client in (admin, gw):
            for method, path, body in [
                ("GET", "/channels/list", None),
                ("GET", f"/channels/{ch['id']}", None),
                ("PUT", "/channels", {"name": "operator's", "projectId": "default"}),
                ("POST", f"/channels/{ch['id']}/extend", {"days": 1, "comment": "operator"}),
                ("DELETE", f"/channels/{ch['id']}", None),
                ("GET", "/projects", None),
                ("PUT", "/projects", {"name": "operator's"}),
                ("GET", f"/partners/{p.name}/settings", None),
                ("GET", "/channels/export.csv", None),
            ]:
                r = client.request(method, path, json=body) if body is not None else client.request(method, path)
                check_error(r, 403)
    assert partner_state(p) == before


def test_missing_and_unknown_tokens_are_401(base_url, make_partner):
    p = make_partner()
    ch = create_channel(p)
    with new_client(base_url) as anon:
        check_error(anon.get("/channels/list"), 401)
        check_error(anon.get(f"/channels/{ch['id']}"), 401)
        check_error(anon.delete(f"/channels/{ch['id']}", headers={"Authorization": "Bearer nope"}), 401)
    assert p.get(f"/channels/{ch['id']}").status_code == 200
