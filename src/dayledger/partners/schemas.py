"""Request bodies for partner and operator routes. Strict types: "5" is not 5 days."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints

from ..ids import PARTNER_NAME_PATTERN
from ..text import Storable

MAX_DAYS = 1_000_000
Days = Annotated[StrictInt, Field(ge=1, le=MAX_DAYS, description="Whole days, 1 to 1,000,000")]
Comment = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000), Storable]
Name = Annotated[str, StringConstraints(pattern=PARTNER_NAME_PATTERN, min_length=1, max_length=64)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[^@\s]+@[^@\s]+$", max_length=254),
                  Storable]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Price = Annotated[Decimal, Field(ge=0, le=Decimal("1000000"), max_digits=14, decimal_places=4)]
Timezone = Annotated[str, StringConstraints(min_length=1, max_length=64), Storable]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PartnerCreate(Strict):
    name: Name
    email: Email
    trialEligible: StrictBool = False
    pricePerMonth: Price | None = None
    currency: Currency | None = None
    trialDays: Annotated[StrictInt, Field(ge=1, le=365)] | None = None
    daysLimit: Annotated[StrictInt, Field(ge=0, le=MAX_DAYS)] | None = None
    sandboxLimit: Annotated[StrictInt, Field(ge=0, le=1000)] | None = None
    timezone: Timezone = "UTC"


class PartnerUpdate(Strict):
    email: Email | None = None
    trialEligible: StrictBool | None = None
    pricePerMonth: Price | None = None
    currency: Currency | None = None
    trialDays: Annotated[StrictInt, Field(ge=1, le=365)] | None = None
    daysLimit: Annotated[StrictInt, Field(ge=0, le=MAX_DAYS)] | None = None
    sandboxLimit: Annotated[StrictInt, Field(ge=0, le=1000)] | None = None
    timezone: Timezone | None = None
    status: Annotated[str, StringConstraints(pattern=r"^(active|suspended)$")] | None = None


class DaysChange(Strict):
    days: Days
    comment: Comment
    amount: Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=4)] | None = None
    currency: Currency | None = None


class TokenCreate(Strict):
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100), Storable] = ""
    scope: Annotated[str, StringConstraints(pattern=r"^(read|channels|billing|full)$")] = "full"
    expiresInDays: Annotated[StrictInt, Field(ge=1, le=3650)] | None = None


class WebhookEvent(BaseModel):
    type: Annotated[str, StringConstraints(pattern=r"^days$")] = "days"
    method: Annotated[str, StringConstraints(pattern=r"^post$")] = "post"


class Webhook(BaseModel):
    url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=2000), Storable]
    events: list[WebhookEvent] = Field(default_factory=lambda: [WebhookEvent()], max_length=10)
    mode: Annotated[str, StringConstraints(pattern=r"^(body|path|method)$")] = "body"


class PartnerSettings(BaseModel):
    """The reference's partner settings: webhooks, days_limit (low-balance alert), noChat."""
    model_config = ConfigDict(extra="ignore")
    webhooks: Annotated[list[Webhook], Field(max_length=20)] | None = None
    days_limit: Annotated[StrictInt, Field(ge=0, le=MAX_DAYS)] | None = None
    noChat: StrictBool | None = None
