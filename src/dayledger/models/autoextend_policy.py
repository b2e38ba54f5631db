from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class AutoextendPolicy(Base):
    """"When fewer than ``below_days`` days are left on a running channel, extend it by
    ``extend_days``": a channel's own policy, or its project's default (exactly one of
    ``channel_id`` and ``project_id``). ``spent_days`` is the sum of the policy's
    extensions (``verify`` checks it against the ledger); ``failing`` makes
    ``autoextend.failed`` once per shortfall of the balance."""

    __tablename__ = "autoextend_policies"
    __table_args__ = (
        CheckConstraint("(channel_id IS NULL) <> (project_id IS NULL)", name="one_target"),
        Index("ix_autoextend_policies_partner", "partner_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"))
    channel_id: Mapped[str | None] = mapped_column(ForeignKey("channels.id"), nullable=True, unique=True)
    project_id: Mapped[str | None] = mapped_column(ForeignKey("projects.id"), nullable=True, unique=True)
    below_days: Mapped[int] = mapped_column(BigInteger)
    extend_days: Mapped[int] = mapped_column(BigInteger)
    # The start of the UTC day after the policy's last date (exclusive); None: no end.
    until_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    budget_days: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    spent_days: Mapped[int] = mapped_column(BigInteger, default=0)
    last_extended_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_failure: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    failing: Mapped[bool] = mapped_column(Boolean, default=False)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)
