from __future__ import annotations

from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, Numeric, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base

# The entries of auto-extend policies: written by the worker as this actor, each with its
# cycle's key (``autoextend:<policy>:<channel>:<cycle>``).
AUTOEXTEND_WHERE = "actor_type = 'system' AND actor_id = 'autoextend'"


class LedgerEntry(Base):
    """One movement of days. Append-only: database triggers refuse UPDATE and DELETE."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("balance_after >= 0", name="balance_after_not_negative"),
        CheckConstraint("days >= 0", name="days_not_negative"),
        Index("ix_ledger_partner_time", "partner_id", "id"),
        Index("ix_ledger_channel", "channel_id", "id"),
        # Exactly one credit per payment, whatever Stripe retries: the database refuses a second.
        Index("uq_ledger_payment_credit", "payment_id", unique=True,
              sqlite_where=text("type IN ('topup', 'invoice', 'subscription')"),
              postgresql_where=text("type IN ('topup', 'invoice', 'subscription')")),
        # One extension per auto-extend cycle: the worker's key names the policy, the channel
        # and the cycle, so a retried cycle can never debit twice (only the system writes them).
        Index("uq_ledger_autoextend_key", "idempotency_key", unique=True,
              sqlite_where=text(AUTOEXTEND_WHERE), postgresql_where=text(AUTOEXTEND_WHERE)),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(24))
    # Size of the movement as the caller asked for it (always >= 0).
    days: Mapped[int] = mapped_column(BigInteger)
    # Signed effect on the partner balance; the stored balance is their sum.
    balance_delta: Mapped[int] = mapped_column(BigInteger)
    balance_after: Mapped[int] = mapped_column(BigInteger)
    # Signed effect on the channel's time, in days (trial grants and paid days).
    channel_id: Mapped[str | None] = mapped_column(String(12), nullable=True)
    channel_days: Mapped[int] = mapped_column(BigInteger, default=0)
    comment: Mapped[str] = mapped_column(Text, default="")
    amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 4), nullable=True)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # The channel's activeTill after this entry, for entries that change or record channel
    # time (the channel's twin of balance_after; verify recomputes channel time from it).
    active_till_after_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # The payment this entry credits, claws back or gives back (payments.id).
    payment_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # Signed effect on the partner's debt: a clawback's shortfall (+), a credit paying it (-).
    debt_delta: Mapped[int] = mapped_column(BigInteger, default=0)
