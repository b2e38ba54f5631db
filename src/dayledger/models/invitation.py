from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Invitation(Base):
    """An owner's invitation of a person to its partner account: the link carries a secret
    whose SHA-256 is ``token_hash``; accepting it creates the user with ``role``."""

    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(String(20), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"))
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(16))
    invited_by: Mapped[str | None] = mapped_column(String(20), nullable=True)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    expires_ms: Mapped[int] = mapped_column(BigInteger)
    accepted_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
