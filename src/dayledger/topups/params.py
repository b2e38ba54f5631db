"""Path and query parameters of the top-up routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from ..partners.schemas import MAX_DAYS
from ..payments.pricing import DAYS_PER_UNIT

TOPUP_STATUSES = ("pending", "paid", "expired", "failed", "refunded", "disputed")
MAX_CHANNELS = MAX_DAYS // DAYS_PER_UNIT  # 33,333 channels x 30 days stay within 1,000,000 days

TopupID = Annotated[str, Path(alias="TopupID", pattern=r"^top_[A-Za-z0-9]{20}$", description="Top-up ID")]
QuoteDays = Annotated[int | None, Query(ge=1, le=MAX_DAYS, description="days to buy, 1 to 1,000,000")]
QuoteChannels = Annotated[int | None, Query(ge=1, le=MAX_CHANNELS,
                                            description=f"channels to buy 30 days each (1 to {MAX_CHANNELS:,})")]
TopupStatus = Annotated[str | None, Query(pattern="^(" + "|".join(TOPUP_STATUSES) + ")$",
                                          description="only top-ups in this status")]
