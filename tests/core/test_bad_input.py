"""Bad input and bad credentials: each gets a clear error in the one error shape
(SPEC 5) and changes nothing."""

from __future__ import annotations

import secrets

import pytest

from .conftest import check_error, new_client as client

MISSING = object()

BAD_DAYS = [
    pytest.param(0, id="zero"),
    pytest.param(-1, id="negative"),
    pytest.param(1.5, id="fraction"),
    pytest.param(2.0, id="float-whole"),
    pytest.param("5", id="string"),
    pytest.param(True, id="boolean"),
    pytest.param(10**6 + 1, id="over-maximum"),
    pytest.param(10**30, id="huge"),
    pytest.param(None, id="null"),
    pytest.param(MISSING, id="missing"),
]
BAD_COMMENTS = [
    pytest.param(MISSING, id="missing"),
    pytest.param("", id="empty"),
    pytest.param("   ", id="blank"),
    pytest.param("\t\n", id="whitespace"),
    pytest.param(None, id="null"),
    pytest.param(5, id="number"),
]


@pytest.fixture
def funded(make_partner):
    return make_partner(balance=10)


@pytest.mark.parametrize("op", ["credit", "debit"])
@pytest.mark.parametrize("days", BAD_DAYS)
def test_bad_days_are_refused(admin, funded, ledger_state, op, days):
    body = {"comment": "bad days"} if days is MISSING else {"days": days, "comment": "bad days"}
    err = check_error(admin.post(f"/admin/partners/{funded.name}/{op}", json=body), 422)
    assert "days" in err["details"], err
    assert ledger_state(funded) == (10, 1)


@pytest.mark.parametrize("comment", BAD_COMMENTS)
def test_a_comment_is_mandatory(admin, funded, ledger_state, comment):
    body = {"days": 1} if comment is MISSING else {"days": 1, "comment": comment}
    for op in ("credit", "debit"):
        err = check_error(admin.post(f"/admin/partners/{funded.name}/{op}", json=body), 422)
        assert "comment" in err["details"], err
    assert ledger_state(funded) == (10, 1)


def test_the_limits_themselves_are_accepted(admin, funded, ledger_state):
    """The bounds refused above are the right ones: 1 and 1,000,000 days are fine."""
    assert admin.post(f"/admin/partners/{funded.name}/credit", json={"days": 10**6, "comment": "max"}).status_code == 200
    assert admin.post(f"/admin/partners/{funded.name}/debit", json={"days": 1, "comment": " min "}).status_code == 200
    assert ledger_state(funded) == (10 + 10**6 - 1, 3)
    entry = funded.get(f"/partners/{funded.name}/history").json()["history"][0]
    assert entry["comment"] == "min"  # stored trimmed


def test_unknown_fields_are_refused(admin, funded, ledger_state):
    err = check_error(admin.post(f"/admin/partners/{funded.name}/credit",
                                 json={"days": 1, "comment": "x", "balance": 999}), 422)
    assert "balance" in err["details"]
    assert ledger_state(funded) == (10, 1)


def test_unknown_partner_is_404(admin):
    name = f"nobody-{secrets.token_hex(4)}"
    for op in ("credit", "debit"):
        check_error(admin.post(f"/admin/partners/{name}/{op}", json={"days": 1, "comment": "x"}), 404,
                    message="not found")
    check_error(admin.get(f"/admin/partners/{name}"), 404)


def test_an_invalid_partner_name_is_422(admin):
    check_error(admin.post("/admin/partners/bad.name!/credit", json={"days": 1, "comment": "x"}), 422)


@pytest.mark.parametrize("raw", ['{"days": 1, "comment": "x"', "days=1&comment=x", "{'days': 1}", "\x00\xff"])
def test_malformed_json_is_422_and_says_so(admin, funded, ledger_state, raw):
    r = admin.post(f"/admin/partners/{funded.name}/credit", content=raw.encode("latin-1"),
                   headers={"Content-Type": "application/json"})
    check_error(r, 422, message="malformed")
    assert ledger_state(funded) == (10, 1)


@pytest.mark.parametrize("path,body,field", [
    ("/admin/partners/{name}/credit", {"days": 1, "comment": "a\x00b"}, "comment"),
    ("/admin/partners/{name}/debit", {"days": 1, "comment": "a\x00b"}, "comment"),
    ("/admin/partners", {"name": "nul-test", "email": "a\x00@b.example"}, "email"),
    ("/admin/partners", {"name": "nul-test", "email": "a@b.example", "timezone": "UTC\x00"}, "timezone"),
    ("/admin/partners/{name}/tokens", {"name": "a\x00b", "scope": "read"}, "name"),
], ids=["credit comment", "debit comment", "email", "timezone", "token name"])
def test_the_nul_character_is_422_not_a_database_error(admin, funded, ledger_state, path, body, field):
    """PostgreSQL cannot store NUL in text; it is refused as a malformed payload on both engines."""
    err = check_error(admin.post(path.format(name=funded.name), json=body), 422)
    assert field in err["details"] and "NUL" in err["details"], err
    assert ledger_state(funded) == (10, 1)
    check_error(admin.get("/admin/partners/nul-test"), 404)


@pytest.mark.parametrize("body", [b"", b"[]", b'"5"', b"null", b"5"])
def test_a_body_that_is_not_an_object_is_422(admin, funded, ledger_state, body):
    r = admin.post(f"/admin/partners/{funded.name}/credit", content=body, headers={"Content-Type": "application/json"})
    check_error(r, 422)
    assert ledger_state(funded) == (10, 1)


# --- credentials ---------------------------------------------------------------------

def test_no_token_is_401(base_url, funded, ledger_state):
    with client(base_url) as anon:
        check_error(anon.get(f"/partners/{funded.name}"), 401, message="token")
        check_error(anon.post(f"/admin/partners/{funded.name}/credit", json={"days": 5, "comment": "x"}), 401)
        check_error(anon.get("/admin/partners"), 401)
    for header in ("Bearer", f"Basic {funded.token}", funded.token):
        with client(base_url, Authorization=header) as c:
            check_error(c.get(f"/partners/{funded.name}"), 401)
    assert ledger_state(funded) == (10, 1)


def test_wrong_token_is_401(base_url, funded, ledger_state, operator_token):
    for wrong in ("dlp_" + "x" * 40, funded.token[:-1], funded.token + "x", operator_token.upper()):
        with client(base_url, wrong) as c:
            check_error(c.get(f"/partners/{funded.name}"), 401, message="invalid")
            check_error(c.post(f"/admin/partners/{funded.name}/credit", json={"days": 5, "comment": "x"}), 401)
    assert ledger_state(funded) == (10, 1)


def test_revoked_token_is_401(base_url, funded):
    t = funded.post(f"/partners/{funded.name}/tokens", json={"name": "short-lived", "scope": "full"}).json()
    with client(base_url, t["token"]) as c:
        assert c.get(f"/partners/{funded.name}").status_code == 200
        assert funded.delete(f"/partners/{funded.name}/tokens/{t['id']}").status_code == 200
        check_error(c.get(f"/partners/{funded.name}"), 401, message="revoked")
        check_error(c.post(f"/partners/{funded.name}/tokens", json={"name": "x"}), 401)
    assert funded.get(f"/partners/{funded.name}").status_code == 200  # other tokens still work


def test_expired_token_is_401(base_url, funded, clock):
    t = funded.post(f"/partners/{funded.name}/tokens", json={"name": "day pass", "expiresInDays": 1})
    assert t.status_code == 201, t.text
    assert t.json()["expiresAt"] == clock.now_ms() + 86_400_000
    with client(base_url, t.json()["token"]) as c:
        clock.advance(days=1, ms=-1)
        assert c.get(f"/partners/{funded.name}").status_code == 200
        clock.advance(ms=1)
        check_error(c.get(f"/partners/{funded.name}"), 401, message="expired")
        assert funded.get(f"/partners/{funded.name}").status_code == 200  # a token without expiry still works


def test_under_scoped_token_is_403(base_url, funded, admin, ledger_state):
    t = admin.post(f"/admin/partners/{funded.name}/tokens", json={"name": "viewer", "scope": "read"}).json()
    before = len(funded.get(f"/partners/{funded.name}/tokens").json()["tokens"])
    with client(base_url, t["token"]) as viewer:
        assert viewer.get(f"/partners/{funded.name}").status_code == 200
        assert viewer.get(f"/partners/{funded.name}/history").status_code == 200
        check_error(viewer.post(f"/partners/{funded.name}/tokens", json={"name": "escalate", "scope": "full"}),
                    403, message="scope")
        check_error(viewer.get(f"/partners/{funded.name}/tokens"), 403)
        check_error(viewer.delete(f"/partners/{funded.name}/tokens/{t['id']}"), 403)
    assert len(funded.get(f"/partners/{funded.name}/tokens").json()["tokens"]) == before
    assert ledger_state(funded) == (10, 1)


def test_another_partners_name_is_403(funded, make_partner, ledger_state):
    other = make_partner(balance=3)
    check_error(funded.get(f"/partners/{other.name}"), 403)
    check_error(funded.get(f"/partners/{other.name}/history"), 403)
    check_error(funded.get(f"/partners/{other.name}/history.csv"), 403)
    check_error(funded.get(f"/partners/{other.name}/tokens"), 403)
    check_error(funded.post(f"/partners/{other.name}/tokens", json={"name": "steal"}), 403)
    other_token_id = other.get(f"/partners/{other.name}/tokens").json()["tokens"][0]["id"]
    check_error(funded.delete(f"/partners/{other.name}/tokens/{other_token_id}"), 403)
    # Through its own name, another partner's token id is simply not found.
    check_error(funded.delete(f"/partners/{funded.name}/tokens/{other_token_id}"), 404)
    assert other.get(f"/partners/{other.name}").status_code == 200  # still valid
    assert len(other.get(f"/partners/{other.name}/tokens").json()["tokens"]) == 1
    assert ledger_state(other) == (3, 1)


def test_a_partner_token_cannot_use_the_operator_api(funded, ledger_state):
    check_error(funded.post(f"/admin/partners/{funded.name}/credit", json={"days": 100, "comment": "free days"}),
                403, message="operator")
    check_error(funded.get("/admin/partners"), 403)
    check_error(funded.post("/admin/partners", json={"name": f"x{secrets.token_hex(3)}", "email": "a@b.c"}), 403)
    assert ledger_state(funded) == (10, 1)


def test_an_operator_token_is_not_a_partner_token(admin, funded):
    check_error(admin.get(f"/partners/{funded.name}"), 403, message="partner")


def test_token_in_the_query_string_works(base_url, funded, operator_token, ledger_state):
    with client(base_url) as anon:
        r = anon.get(f"/partners/{funded.name}", params={"token": funded.token})
        assert r.status_code == 200 and r.json()["balance"] == 10
        r = anon.post(f"/admin/partners/{funded.name}/credit", params={"token": operator_token},
                      json={"days": 2, "comment": "via query"})
        assert r.status_code == 200, r.text
        check_error(anon.get(f"/partners/{funded.name}", params={"token": "nope"}), 401)
    assert ledger_state(funded) == (12, 2)


def test_a_suspended_partner_may_read_but_not_change(admin, funded):
    # Issue 7 defined suspension: reads work, every change is refused (tests/core/test_suspension.py
    # covers every mutating route). Before, every request of a suspended partner was refused.
    assert admin.patch(f"/admin/partners/{funded.name}", json={"status": "suspended"}).status_code == 200
    assert funded.get(f"/partners/{funded.name}").json()["status"] == "suspended"
    check_error(funded.put("/projects", json={"name": "x"}), 403, message="suspended")
    assert admin.patch(f"/admin/partners/{funded.name}", json={"status": "active"}).status_code == 200
    assert funded.get(f"/partners/{funded.name}").status_code == 200


# --- routes ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/nope", "/partners", "/admin/partners/x/nothing", "/admin"])
def test_unknown_route_is_404_in_the_error_shape(admin, path):
    check_error(admin.get(path), 404)
    with client(admin.base_url) as anon:
        check_error(anon.post(path, json={}), 404)


def test_wrong_method_is_405_in_the_error_shape(admin, funded, ledger_state):
    r = admin.get(f"/admin/partners/{funded.name}/credit")
    check_error(r, 405)
    assert "POST" in r.headers.get("allow", "")
    check_error(admin.put(f"/admin/partners/{funded.name}/debit", json={"days": 1, "comment": "x"}), 405)
    check_error(admin.delete(f"/admin/partners/{funded.name}/credit"), 405)
    check_error(funded.post(f"/partners/{funded.name}/history", json={}), 405)
    assert ledger_state(funded) == (10, 1)
