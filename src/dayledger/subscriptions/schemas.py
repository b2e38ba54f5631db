"""Request and reply shapes of a channel's subscription, each defined once."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from ..models import Subscription
from ..payments.pricing import text
from ..replies import Reply


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    interval: Literal["month", "year"]


class SubscriptionReply(Reply):
    id: str
    channelId: str
    interval: str
    # pending (not paid yet) | active | canceling (runs to the end of the paid period) | canceled
    status: str
    daysPerPeriod: int
    unitPrice: str  # per 30 days
    discountPercent: str
    total: str  # per period
    currency: str
    paymentUrl: str | None
    currentPeriodEnd: int | None
    createdTS: int

    @classmethod
    def of(cls, s: Subscription) -> SubscriptionReply:
        return cls(id=s.id, channelId=s.channel_id, interval=s.interval, status=s.status,
                   daysPerPeriod=s.days_per_period, unitPrice=text(s.unit_price, s.currency),
                   discountPercent=f"{s.discount_percent.normalize():f}", total=text(s.total, s.currency),
                   currency=s.currency, paymentUrl=s.payment_url, currentPeriodEnd=s.current_period_end_ms,
                   createdTS=s.created_ms)
