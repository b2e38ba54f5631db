"""Helpers for the core tests: the one error shape, and a partner's state read straight
from the database (so a test never trusts the API it is checking)."""

from __future__ import annotations

import ssl

import httpx
import pytest

_SSL = ssl.create_default_context()  # shared: building one per client costs ~0.1 s


def new_client(base_url: str, token: str | None = None, **headers: str) -> httpx.Client:
    """A plain HTTP client, with ``token`` as its bearer credential if given."""
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.Client(base_url=base_url, timeout=30, verify=_SSL, headers=headers)


def check_error(r, status: int, *, message: str | None = None) -> dict:
    """``r`` answers ``status`` in the one error shape; returns the error object."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"code", "message", "details"}, err
    assert err["code"] == status, err
    assert isinstance(err["message"], str) and err["message"].strip(), err
    assert isinstance(err["details"], str), err
    if message is not None:
        assert message.lower() in (err["message"] + " " + err["details"]).lower(), err
    return err


@pytest.fixture
def ledger_state(db):
    """(stored balance, number of ledger entries) of a partner, read from the database."""
    def state(partner) -> tuple[int, int]:
        row = db.rows("SELECT p.balance, (SELECT COUNT(*) FROM ledger_entries e WHERE e.partner_id = p.id) "
                      "FROM partners p WHERE p.id = :id", id=partner.id)
        assert len(row) == 1, row
        return int(row[0][0]), int(row[0][1])
    return state
