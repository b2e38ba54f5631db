"""Invariants of the ledger, checked by ``dayledger verify`` and after concurrency tests."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ..clock import DAY_MS
from ..models.ledger_entry import AUTOEXTEND_WHERE
from .service import PAYMENT_CREDITS

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
        "channel time equals its entries",
        # The activeTill of the channel's last entry that records channel time; a channel
        # without one never had time of its own (activeTill = its creation).
        "SELECT c.id, c.active_till_ms, COALESCE(e.active_till_after_ms, c.created_ms) FROM channels c "
        "LEFT JOIN ledger_entries e ON e.id = (SELECT MAX(x.id) FROM ledger_entries x "
        " WHERE x.channel_id = c.id AND x.active_till_after_ms IS NOT NULL) "
        "WHERE c.active_till_ms <> COALESCE(e.active_till_after_ms, c.created_ms)",
        "channel {0}: stored activeTill {1} differs from its entries' {2}",
    ),
    (
        "channel time entries chain",
        # Each entry's activeTill follows from the one before it (or the channel's creation):
        # an extension adds its days to max(its time, activeTill before), a refund takes
        # them away, an expiry leaves the time as it was.
        "SELECT id, channel_id, type, after_ms, before_ms FROM ("
        " SELECT e.id, e.channel_id, e.type, e.created_ms, e.channel_days, e.active_till_after_ms AS after_ms,"
        "  COALESCE(LAG(e.active_till_after_ms) OVER (PARTITION BY e.channel_id ORDER BY e.id), c.created_ms)"
        "   AS before_ms"
        " FROM ledger_entries e JOIN channels c ON c.id = e.channel_id"
        " WHERE e.active_till_after_ms IS NOT NULL) t "
        f"WHERE (type IN ('extend', 'subscription', 'reinstate') AND after_ms <> "
        f" CASE WHEN before_ms > created_ms THEN before_ms ELSE created_ms END + channel_days * {DAY_MS})"
        f" OR (type = 'refund' AND after_ms <> before_ms + channel_days * {DAY_MS})"
        " OR (type = 'expire' AND after_ms <> before_ms)",
        "entry {0} of channel {1} ({2}): activeTill after it is {3}, which does not follow from {4} before it",
    ),
    (
        "debts equal their entries",
        "SELECT p.name, p.debt_days, COALESCE(SUM(e.debt_delta), 0) FROM partners p "
        "LEFT JOIN ledger_entries e ON e.partner_id = p.id GROUP BY p.id, p.name, p.debt_days "
        "HAVING p.debt_days <> COALESCE(SUM(e.debt_delta), 0) OR p.debt_days < 0",
        "partner {0}: stored debt {1} days differs from the sum of its entries {2}",
    ),
    (
        "every paid payment has exactly one credit",
        f"SELECT p.id, p.kind, COUNT(e.id) FROM payments p LEFT JOIN ledger_entries e "
        f"ON e.payment_id = p.id AND e.type IN {PAYMENT_CREDITS} "
        "GROUP BY p.id, p.kind, p.paid_ms HAVING (p.paid_ms IS NOT NULL AND COUNT(e.id) <> 1) "
        "OR (p.paid_ms IS NULL AND COUNT(e.id) <> 0)",
        "payment {0} ({1}): {2} credits in the ledger (a paid payment has exactly one, an unpaid one none)",
    ),
    (
        "every credit has exactly one paid payment of its days",
        f"SELECT e.id, e.type, e.payment_id FROM ledger_entries e LEFT JOIN payments p ON p.id = e.payment_id "
        f"WHERE e.type IN {PAYMENT_CREDITS} AND (p.id IS NULL OR p.paid_ms IS NULL "
        "OR p.partner_id <> e.partner_id OR p.days <> e.days OR p.kind <> e.type)",
        "entry {0} ({1}): credits payment {2}, which is missing, unpaid, another partner's, or of other days",
    ),
    (
        "clawed-back days equal their payments' record",
        "SELECT p.id, p.clawed_days, COALESCE(SUM(CASE WHEN e.type = 'clawback' THEN e.days "
        "WHEN e.type = 'reinstate' THEN -e.days ELSE 0 END), 0) FROM payments p "
        "LEFT JOIN ledger_entries e ON e.payment_id = p.id GROUP BY p.id, p.clawed_days "
        "HAVING p.clawed_days <> COALESCE(SUM(CASE WHEN e.type = 'clawback' THEN e.days "
        "WHEN e.type = 'reinstate' THEN -e.days ELSE 0 END), 0) OR p.clawed_days > p.days",
        "payment {0}: records {1} days clawed back, its entries {2}",
    ),
    (
        "auto-extend policies' spent days equal their entries",
        # The worker's keys are autoextend:<policy id, 23 characters>:<channel id, 12>:<cycle>.
        f"SELECT a.id, a.spent_days, COALESCE(s.days, 0) FROM autoextend_policies a LEFT JOIN ("
        f" SELECT SUBSTR(idempotency_key, 12, 23) AS policy_id, SUM(days) AS days FROM ledger_entries"
        f" WHERE {AUTOEXTEND_WHERE} GROUP BY SUBSTR(idempotency_key, 12, 23)) s ON s.policy_id = a.id "
        "WHERE a.spent_days <> COALESCE(s.days, 0)",
        "auto-extend policy {0}: spentDays {1}, but its extensions in the ledger total {2} days",
    ),
    (
        "auto-extend cycles equal their entries",
        f"SELECT c.policy_id, c.channel_id, c.cycles, COALESCE(s.n, 0) FROM autoextend_cycles c LEFT JOIN ("
        f" SELECT SUBSTR(idempotency_key, 12, 23) AS policy_id, SUBSTR(idempotency_key, 36, 12) AS channel_id,"
        f"  COUNT(*) AS n FROM ledger_entries WHERE {AUTOEXTEND_WHERE}"
        "  GROUP BY SUBSTR(idempotency_key, 12, 23), SUBSTR(idempotency_key, 36, 12)) s"
        " ON s.policy_id = c.policy_id AND s.channel_id = c.channel_id "
        "WHERE c.cycles <> COALESCE(s.n, 0)",
        "auto-extend policy {0}, channel {1}: {2} cycles recorded, {3} extensions in the ledger",
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
