"""The schema itself defends the ledger: entries are append-only (database triggers) and
a partner's balance can never be stored negative (CHECK constraint), whatever writes."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError


def execute(db, sql: str, **params):
    async def fn(session):
        await session.execute(text(sql), params)
    return db.run(fn)


def entries(db, partner_id: str) -> list[tuple]:
    return db.rows("SELECT id, type, days, balance_delta, balance_after, comment FROM ledger_entries "
                   "WHERE partner_id = :p ORDER BY id", p=partner_id)


@pytest.fixture
def partner(make_partner, admin):
    p = make_partner(balance=10)
    assert admin.post(f"/admin/partners/{p.name}/debit", json={"days": 4, "comment": "original"}).status_code == 200
    return p


@pytest.mark.parametrize("sql", [
    "UPDATE ledger_entries SET days = 400, balance_delta = 400 WHERE partner_id = :p",
    "UPDATE ledger_entries SET comment = 'rewritten' WHERE partner_id = :p",
    "DELETE FROM ledger_entries WHERE partner_id = :p",
    "DELETE FROM ledger_entries WHERE id = (SELECT MAX(id) FROM ledger_entries WHERE partner_id = :p)",
])
def test_ledger_entries_are_append_only(db, partner, sql, assert_ledger_sound):
    before = entries(db, partner.id)
    assert len(before) == 2
    with pytest.raises(DBAPIError, match="append-only"):
        execute(db, sql, p=partner.id)
    assert entries(db, partner.id) == before
    assert_ledger_sound()


def test_appending_is_still_allowed(db, partner, admin):
    """The triggers refuse edits only: a correction is a new entry."""
    assert admin.post(f"/admin/partners/{partner.name}/credit", json={"days": 4, "comment": "correction"}).status_code == 200
    assert [e[1:] for e in entries(db, partner.id)][-1] == ("adjustment", 4, 4, 10, "correction")


@pytest.mark.parametrize("value", [-1, -1000])
def test_a_negative_balance_is_refused_by_the_database(db, partner, value):
    with pytest.raises(DBAPIError, match="(?i)check|constraint"):
        execute(db, "UPDATE partners SET balance = :v WHERE id = :p", v=value, p=partner.id)
    assert db.scalar("SELECT balance FROM partners WHERE id = :p", p=partner.id) == 6


def test_a_negative_balance_after_is_refused_by_the_database(db, partner):
    with pytest.raises(DBAPIError, match="(?i)check|constraint"):
        execute(db, "INSERT INTO ledger_entries (partner_id, created_ms, type, days, balance_delta, balance_after, "
                    "channel_days, comment, actor_type, actor_id) "
                    "VALUES (:p, 0, 'adjustment', 1, -1, -1, 0, 'x', 'operator', 't')", p=partner.id)
    assert len(entries(db, partner.id)) == 2


def test_the_migrated_schema_matches_the_models(db_url):
    """Alembic's own comparison of the migrated test database with the ORM models: a model
    changed without a migration (or the reverse) fails here, on both engines."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine

    from dayledger.models import Base

    engine = create_engine(db_url.replace("+aiosqlite", "").replace("+asyncpg", "+psycopg"))
    try:
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    finally:
        engine.dispose()
