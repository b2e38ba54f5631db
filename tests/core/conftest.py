"""Helpers for the core tests: the one error shape, and a partner's state read straight
from the database (so a test never trusts the API it is checking)."""

from __future__ import annotations

import pytest

from conftest import check_error, new_client  # noqa: F401 - re-exported for the core tests


@pytest.fixture
def ledger_state(db):
    """(stored balance, number of ledger entries) of a partner, read from the database."""
    def state(partner) -> tuple[int, int]:
        row = db.rows("SELECT p.balance, (SELECT COUNT(*) FROM ledger_entries e WHERE e.partner_id = p.id) "
                      "FROM partners p WHERE p.id = :id", id=partner.id)
        assert len(row) == 1, row
        return int(row[0][0]), int(row[0][1])
    return state
