"""API tokens are stored only as their SHA-256 and shown once (SPEC 5)."""

from __future__ import annotations

import hashlib
import secrets

import pytest

from .conftest import new_client

TOKEN_TABLES = ("api_tokens", "idempotency_keys", "ledger_entries", "partners", "events")


def sha256(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def rows_containing(db, table: str, raw: str) -> list:
    """Rows of ``table`` with ``raw`` anywhere in any column (compared as text in Python,
    so no column type can hide it)."""
    return [row for row in db.rows(f"SELECT * FROM {table}") if any(raw in str(v) for v in row if v is not None)]


@pytest.fixture
def created(make_partner):
    p = make_partner()
    r = p.post(f"/partners/{p.name}/tokens", json={"name": "deploy bot", "scope": "channels"})
    assert r.status_code == 201, r.text
    return p, r.json()


def test_token_is_stored_only_as_its_sha256(created, db):
    p, token = created
    raw = token["token"]
    assert raw and len(raw) >= 32
    row = db.rows("SELECT id, partner_id, token_hash, prefix, scope FROM api_tokens WHERE id = :id", id=token["id"])
    assert len(row) == 1
    _, partner_id, token_hash, prefix, scope = row[0]
    assert (partner_id, scope) == (p.id, "channels")
    assert token_hash == sha256(raw)
    assert len(prefix) < len(raw) // 2  # a recognisable prefix only, never enough to use
    for raw_token in (raw, p.token):  # the new token and the one the operator created
        assert rows_containing(db, "api_tokens", raw_token) == []
        assert db.scalar("SELECT COUNT(*) FROM api_tokens WHERE token_hash = :h", h=sha256(raw_token)) == 1


def test_the_operator_token_is_hashed_too(db, operator_token):
    assert rows_containing(db, "api_tokens", operator_token) == []
    assert db.rows("SELECT kind FROM api_tokens WHERE token_hash = :h", h=sha256(operator_token)) == [("operator",)]


def test_the_stored_token_works_and_only_its_hash_is_looked_up(created, base_url):
    p, token = created
    with new_client(base_url, token["token"]) as c:
        assert c.get(f"/partners/{p.name}").status_code == 200
    with new_client(base_url, sha256(token["token"])) as c:
        assert c.get(f"/partners/{p.name}").status_code == 401  # the stored hash is not a credential


def test_list_never_returns_secrets(created, admin):
    p, token = created
    r = p.get(f"/partners/{p.name}/tokens")
    assert r.status_code == 200, r.text
    listed = r.json()["tokens"]
    assert token["id"] in {t["id"] for t in listed}
    for t in listed:
        assert "token" not in t and "tokenHash" not in t, t
    for secret in (token["token"], p.token, sha256(token["token"]), sha256(p.token)):
        assert secret not in r.text
    mine = next(t for t in listed if t["id"] == token["id"])
    assert mine["scope"] == "channels" and mine["name"] == "deploy bot" and mine["revokedAt"] is None
    assert token["token"].startswith(mine["prefix"])


def test_a_token_created_with_an_idempotency_key_is_not_kept_anywhere(make_partner, db):
    """The stored answer of a keyed request must not become a plain-text copy of the secret,
    and a repeat must not show the secret a second time."""
    p = make_partner()
    key = f"tok-{secrets.token_hex(6)}"
    body = {"name": "ci", "scope": "read"}
    first = p.post(f"/partners/{p.name}/tokens", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    raw = first.json()["token"]
    assert raw
    for table in TOKEN_TABLES:
        assert rows_containing(db, table, raw) == [], table

    again = p.post(f"/partners/{p.name}/tokens", json=body, headers={"Idempotency-Key": key})
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]  # the same token, not a second one
    assert raw not in again.text
    assert again.json()["token"] is None  # shown once: the replay names the token but not its secret
    assert len(p.get(f"/partners/{p.name}/tokens").json()["tokens"]) == 2


def test_revoked_token_stays_listed_as_revoked(created, clock):
    p, token = created
    r = p.delete(f"/partners/{p.name}/tokens/{token['id']}")
    assert r.status_code == 200, r.text
    assert r.json()["revokedAt"] == clock.now_ms()
    assert "token" not in r.json()
    listed = {t["id"]: t for t in p.get(f"/partners/{p.name}/tokens").json()["tokens"]}
    assert listed[token["id"]]["revokedAt"] == clock.now_ms()
