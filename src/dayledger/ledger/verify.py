"""Invariants of the ledger, checked by ``dayledger verify`` and after concurrency tests."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# Each check: what it checks, one query returning the rows that violate it, and how to
# describe such a row.
CHECKS: list[tuple[str, str, str]] = [
    (
        "balances equal their entries",
        "SELECT p.name, p.balance, COALESCE(SUM(e.balance_delta), 0) FROM partners p "
        "LEFT JOIN ledger_entries e ON e.partner_id = p.id GROUP BY p.id, p.name, p.balance "
        "HAVING p.balance <> COALESCE(SUM(e.balance_delta), 0)",
        "partner {0}: stored balance {1} differs from the sum of its entries {2}",
    ),
    (
        "no negative balance",
        "SELECT name, balance FROM partners WHERE balance < 0",
        "partner {0}: negative balance {1}",
    ),
    (
        "balance_after chains",
        "SELECT id, partner_id, balance_after, running FROM ("
        " SELECT id, partner_id, balance_after, SUM(balance_delta) OVER ("
        "  PARTITION BY partner_id ORDER BY id ROWS UNBOUNDED PRECEDING) AS running"
        " FROM ledger_entries) t WHERE balance_after <> running OR balance_after < 0",
        "entry {0} of partner {1}: balance_after {2} but the running sum is {3}",
    ),
    (
        "no entry without its partner",
        "SELECT e.id, e.partner_id FROM ledger_entries e "
        "LEFT JOIN partners p ON p.id = e.partner_id WHERE p.id IS NULL",
        "entry {0}: orphan, partner {1} does not exist",
    ),
    (
        "no entry without its channel",
        "SELECT e.id, e.channel_id FROM ledger_entries e "
        "LEFT JOIN channels c ON c.id = e.channel_id "
        "WHERE e.channel_id IS NOT NULL AND (c.id IS NULL OR c.partner_id <> e.partner_id)",
        "entry {0}: orphan, channel {1} does not exist for that partner",
    ),
    (
        "no negative days",
        "SELECT id, days FROM ledger_entries WHERE days < 0",
        "entry {0}: negative days {1}",
    ),
]


async def verify(session: AsyncSession, on_check: Callable[[str], None] | None = None) -> list[str]:
    """Every violated invariant, one sentence each; empty when the ledger is sound.
    ``on_check`` hears the label of each check as it finishes (the CLI's progress bar)."""
    problems: list[str] = []
    for label, sql, message in CHECKS:
        for row in (await session.execute(text(sql))).all():
            problems.append(message.format(*row))
        if on_check:
            on_check(label)
    return problems
