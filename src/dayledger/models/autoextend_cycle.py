from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class AutoextendCycle(Base):
    """One channel under one auto-extend policy: how many cycles (extensions) the policy
    has made of it, and when a worker round last tried it (each channel is tried at most
    once a round). The next cycle's number names its ledger idempotency key."""

    __tablename__ = "autoextend_cycles"

    policy_id: Mapped[str] = mapped_column(ForeignKey("autoextend_policies.id"), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(12), primary_key=True)
    cycles: Mapped[int] = mapped_column(BigInteger, default=0)
    tried_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
