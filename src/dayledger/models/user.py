from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class User(Base):
    """A person who signs in to the dashboard (``kind`` partner, with a ``role``) or the
    console (``kind`` operator). ``email`` is stored lower-cased; only a memory-hard hash of
    the password is kept (users/passwords.py)."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("(kind = 'operator' AND partner_id IS NULL AND role = 'operator') OR "
                        "(kind = 'partner' AND partner_id IS NOT NULL AND role IN ('owner', 'member', 'viewer'))",
                        name="kind_matches_role"),
        Index("ix_users_partner", "partner_id"),
    )

    id: Mapped[str] = mapped_column(String(20), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # partner | operator
    partner_id: Mapped[str | None] = mapped_column(ForeignKey("partners.id"), nullable=True)
    role: Mapped[str] = mapped_column(String(16))  # owner | member | viewer | operator
    created_ms: Mapped[int] = mapped_column(BigInteger)
    password_changed_ms: Mapped[int] = mapped_column(BigInteger)
    disabled_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
