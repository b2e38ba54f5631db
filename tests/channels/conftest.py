"""Helpers for the channel tests: the one error shape, creating and reading channels through
the API, a partner's whole state read straight from the database (so "nothing changed" is
checked against storage, not against the API under test), and the expiry job."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import text

from dayledger.channels.tasks import expire_due
from dayledger.db import Database
from conftest import check_error  # noqa: F401 - re-exported for the channel tests

DAY = 86_400_000
MINUTE = 60_000


def create_channel(p, name: str = "channel", project: str = "default", **fields) -> dict:
    r = p.put("/channels", json={"name": name, "projectId": project, **fields})
    assert r.status_code == 200, r.text
    return r.json()


def get_channel(p, channel_id: str) -> dict:
    r = p.get(f"/channels/{channel_id}")
    assert r.status_code == 200, r.text
    return r.json()


def extend(p, channel_id: str, days, comment: str = "test extension") -> httpx.Response:
    return p.post(f"/channels/{channel_id}/extend", json={"days": days, "comment": comment})


def extend_ok(p, channel_id: str, days: int, comment: str = "test extension") -> dict:
    r = extend(p, channel_id, days, comment)
    assert r.status_code == 200, r.text
    return r.json()


def set_mode(p, channel_id: str, mode: str | None) -> httpx.Response:
    return p.patch(f"/channels/{channel_id}/mode", json={} if mode is None else {"mode": mode})


def listed_ids(p, path: str = "/channels/list") -> list[str]:
    r = p.get(path, params={"count": 500})
    assert r.status_code == 200, r.text
    return [c["id"] for c in r.json()["channels"]]


def history(p, channel_id: str | None = None, **params) -> list[dict]:
    path = f"/channels/{channel_id}/history" if channel_id else f"/partners/{p.name}/history"
    r = p.get(path, params={"count": 500, **params})
    assert r.status_code == 200, r.text
    return r.json()["history"]


async def _partner_state(session, partner_id: str) -> dict:
    async def rows(sql: str):
        return [tuple(r) for r in (await session.execute(text(sql), {"id": partner_id})).all()]
    return {
        "partner": await rows("SELECT balance, sandbox_limit, trial_eligible, timezone, settings "
                              "FROM partners WHERE id = :id"),
        "ledger": await rows("SELECT id, type, balance_delta, balance_after, channel_id, channel_days "
                             "FROM ledger_entries WHERE partner_id = :id ORDER BY id"),
        "channels": await rows("SELECT id, project_id, name, mode, stopped, expired, active_till_ms, trial_ms, "
                               "phone, connection_status, deleted_ms FROM channels WHERE partner_id = :id "
                               "ORDER BY id"),
        "projects": await rows("SELECT id, name, deleted_ms FROM projects WHERE partner_id = :id ORDER BY id"),
        "events": await rows("SELECT COUNT(*) FROM events WHERE partner_id = :id"),
    }


@pytest.fixture
def partner_state(db):
    """Everything a partner owns (balance, entries, channels, projects, events), from the database."""
    def state(p) -> dict:
        return db.run(_partner_state, p.id)
    return state


@pytest.fixture
def channel_row(db):
    """One channel's stored columns, by name."""
    def row(channel_id: str) -> dict:
        async def fn(session):
            r = (await session.execute(text("SELECT * FROM channels WHERE id = :id"), {"id": channel_id})).mappings()
            found = r.first()
            return dict(found) if found else None
        return db.run(fn)
    return row


async def expire_all(database: Database, now_ms: int, batch_size: int) -> int:
    """Run the expiry job at ``now`` in batches until a batch finds nothing; returns how
    many channels this caller expired."""
    total = 0
    while True:
        n = await database.run(expire_due, now_ms, batch_size)
        total += n
        if n == 0:
            return total


@pytest.fixture
def expire(db):
    """Run the expiry job at ``now`` until nothing is due (it is global: other tests'
    channels may expire too); returns how many it expired."""
    def run(now_ms: int, batch_size: int = 500) -> int:
        async def main():
            database = Database(db.url, pool_size=1)
            try:
                return await expire_all(database, now_ms, batch_size)
            finally:
                await database.dispose()
        return asyncio.run(main())
    return run


@pytest.fixture
def token_with_scope(admin):
    """A second API token for a partner, with the given scope."""
    def issue(p, scope: str) -> str:
        r = admin.post(f"/admin/partners/{p.name}/tokens", json={"name": f"{scope} token", "scope": scope})
        assert r.status_code == 201, r.text
        return r.json()["token"]
    return issue
