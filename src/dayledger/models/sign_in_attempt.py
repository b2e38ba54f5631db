from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class SignInAttempt(Base):
    """A failed sign-in, by lower-cased email and client address: what the sign-in rate
    limit counts (users/service.py). Old rows are purged by the worker."""

    __tablename__ = "sign_in_attempts"
    __table_args__ = (Index("ix_sign_in_attempts_email", "email", "at_ms"),
                      Index("ix_sign_in_attempts_address", "address", "at_ms"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    email: Mapped[str] = mapped_column(String(254))
    address: Mapped[str] = mapped_column(String(64))
    at_ms: Mapped[int] = mapped_column(BigInteger)
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)
