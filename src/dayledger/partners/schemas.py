"""Request bodies (strict types: "5" is not 5 days) and reply shapes of the partner and
operator routes, each defined once."""

from __future__ import annotations

from datetime import datetime, UTC
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints

from .. import money
from ..autoextend.runway import runway
from ..ids import PARTNER_NAME_PATTERN
from ..models import LedgerEntry, Partner
from ..replies import Reply, Success
from ..text import Comment as CommentText, Plain

MAX_DAYS = 1_000_000
Days = Annotated[StrictInt, Field(ge=1, le=MAX_DAYS, description="Whole days, 1 to 1,000,000")]
Comment = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000), CommentText]
Name = Annotated[str, StringConstraints(pattern=PARTNER_NAME_PATTERN, min_length=1, max_length=64), Plain]
Email = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[^@\s]+@[^@\s]+$", max_length=254),
                  Plain]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Price = Annotated[Decimal, Field(ge=0, le=Decimal("1000000"), max_digits=14, decimal_places=4)]
Timezone = Annotated[str, StringConstraints(min_length=1, max_length=64), Plain]


Percent = Annotated[Decimal, Field(ge=0, le=100, max_digits=7, decimal_places=4)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DiscountTier(Strict):
    fromDays: Annotated[StrictInt, Field(ge=1, le=MAX_DAYS, description="the tier applies from this many days")]
    percent: Percent


def _distinct_tiers(tiers: list[DiscountTier] | None) -> list[DiscountTier] | None:
    if tiers is not None and len({t.fromDays for t in tiers}) != len(tiers):
        raise ValueError("each tier needs its own fromDays")
    return tiers


Discounts = Annotated[list[DiscountTier], Field(max_length=20), AfterValidator(_distinct_tiers)]


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
    discounts: Discounts | None = Field(default=None, description="volume discounts of top-ups and invoices, "
                                        'e.g. [{"fromDays": 900, "percent": "5"}]; [] removes them')
    annualDiscountPercent: Percent | None = Field(default=None, description="discount of yearly subscriptions")
    invoiceBilling: StrictBool | None = Field(default=None, description="billed by POST /admin/invoices/generate")


class DaysChange(Strict):
    days: Days
    comment: Comment
    amount: Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=4)] | None = None
    currency: Currency | None = None


class TokenCreate(Strict):
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100), Plain] = ""
    scope: Annotated[str, StringConstraints(pattern=r"^(read|channels|billing|full)$")] = "full"
    expiresInDays: Annotated[StrictInt, Field(ge=1, le=3650)] | None = None


class WebhookEvent(BaseModel):
    type: Annotated[str, StringConstraints(pattern=r"^days$")] = "days"
    method: Annotated[str, StringConstraints(pattern=r"^post$")] = "post"


class Webhook(BaseModel):
    url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=2000), Plain]
    events: list[WebhookEvent] = Field(default_factory=lambda: [WebhookEvent()], max_length=10)
    mode: Annotated[str, StringConstraints(pattern=r"^(body|path|method)$")] = "body"


class PartnerSettings(BaseModel):
    """The reference's partner settings: webhooks, days_limit (low-balance alert), noChat."""
    model_config = ConfigDict(extra="ignore")
    webhooks: Annotated[list[Webhook], Field(max_length=20)] | None = None
    days_limit: Annotated[StrictInt, Field(ge=0, le=MAX_DAYS)] | None = None
    noChat: StrictBool | None = None


# ---------------------------------------------------------------- replies, each defined once

class ChannelCounts(Reply):
    total: int
    byMode: dict[str, int]
    byState: dict[str, int]
    paidRunning: int  # running trial/live channels with paid time
    burning: int = Field(description="running trial or live channels the balance pays for, one day a day each: "
                                     "those with paid time and those with an active auto-extend policy; "
                                     "runwayDays divides by it")


class DiscountTierReply(Reply):
    fromDays: int
    percent: str


def percent_text(value: Decimal | None) -> str:
    return f"{(value or Decimal(0)).normalize():f}"


class PartnerProfile(Reply):
    id: str
    name: str
    email: str
    balance: int
    currency: str
    pricePerMonth: str | None
    trialEligible: bool
    trialDays: int
    daysLimit: int
    sandboxLimit: int
    timezone: str
    status: Literal["active", "suspended"]
    creationTS: int
    channels: ChannelCounts
    runwayDays: int | None = Field(description=(
        "whole days the balance lasts at the current burn: floor(balance ÷ channels.burning). The balance is "
        "spent only by extensions, and each running trial or live channel that has paid time (renewed by hand "
        "or by a policy) or an active auto-extend policy (which will pay for it when its free time ends) takes "
        "one day a day from it, whatever the policy's K and L; null when nothing burns"))
    runwayUntil: str | None = Field(description="the UTC date (YYYY-MM-DD) the balance runs out at that burn: "
                                                "now + runwayDays days; null when nothing burns")
    debtDays: int  # owed after a refund or dispute took back more than the balance held
    discounts: list[DiscountTierReply]
    annualDiscountPercent: str
    invoiceBilling: bool

    @classmethod
    def fields_of(cls, partner: Partner, counts: dict[str, Any], now_ms: int) -> dict[str, Any]:
        r = runway(partner.balance, counts["burning"], now_ms)
        return dict(
            id=partner.id, name=partner.name, email=partner.email, balance=partner.balance,
            currency=partner.currency, pricePerMonth=money.text(partner.price_per_month),
            trialEligible=partner.trial_eligible, trialDays=partner.trial_days, daysLimit=partner.days_limit,
            sandboxLimit=partner.sandbox_limit, timezone=partner.timezone, status=partner.status,
            creationTS=partner.created_ms, channels=ChannelCounts(**counts),
            # docs/decisions.md, "Runway" (and autoextend/runway.py, which tells runway.low).
            runwayDays=r.days, runwayUntil=r.until,
            debtDays=partner.debt_days or 0,
            discounts=[DiscountTierReply(fromDays=int(d["fromDays"]), percent=str(d["percent"]))
                       for d in partner.discounts or []],
            annualDiscountPercent=percent_text(partner.annual_discount_percent),
            invoiceBilling=bool(partner.invoice_billing))

    @classmethod
    def of(cls, partner: Partner, counts: dict[str, Any], now_ms: int) -> PartnerProfile:
        return cls(**cls.fields_of(partner, counts, now_ms))


class ActorReply(Reply):
    type: str
    id: str


class HistoryEntry(Reply):
    id: int
    time: int
    type: str
    days: int
    balanceDelta: int
    balanceAfter: int
    channelId: str | None
    channelDays: int
    comment: str
    amount: str | None
    currency: str | None
    actor: ActorReply
    idempotencyKey: str | None
    paymentId: str | None = None  # the payment this entry credits, claws back or gives back
    debtDelta: int = 0  # change of the partner's debt (a clawback's shortfall +, a credit paying it -)

    @classmethod
    def of(cls, e: LedgerEntry) -> HistoryEntry:
        return cls(id=e.id, time=e.created_ms, type=e.type, days=e.days, balanceDelta=e.balance_delta,
                   balanceAfter=e.balance_after, channelId=e.channel_id, channelDays=e.channel_days,
                   comment=e.comment, amount=money.text(e.amount), currency=e.currency,
                   actor=ActorReply(type=e.actor_type, id=e.actor_id), idempotencyKey=e.idempotency_key,
                   paymentId=e.payment_id, debtDelta=e.debt_delta or 0)


class HistoryPage(Reply):
    history: list[HistoryEntry]
    count: int
    offset: int
    total: int

    @classmethod
    def of(cls, rows: list[LedgerEntry], total: int, offset: int) -> HistoryPage:
        return cls(history=[HistoryEntry.of(e) for e in rows], count=len(rows), offset=offset, total=total)


HISTORY_CSV_COLUMNS = ["ID", "Time (UTC)", "Type", "Days", "Balance Change", "Balance After", "Channel",
                       "Comment", "Amount", "Currency", "Actor", "Payment", "Debt Change"]


def history_csv_row(e: LedgerEntry) -> list[Any]:
    when = datetime.fromtimestamp(e.created_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
    return [e.id, when, e.type, e.days, e.balance_delta, e.balance_after, e.channel_id or "",
            e.comment, money.text(e.amount) or "", e.currency or "", f"{e.actor_type}:{e.actor_id}",
            e.payment_id or "", e.debt_delta or 0]


class IssuedTokenReply(Reply):
    id: str
    token: str | None  # null only in an Idempotency-Key replay: the secret is shown once
    scope: str
    name: str
    createdAt: int
    expiresAt: int | None


class TokenInfo(Reply):
    id: str
    name: str
    scope: str
    prefix: str
    kind: str
    partner: str | None = None  # in the operator's lists
    createdAt: int
    expiresAt: int | None
    revokedAt: int | None


class TokenList(Reply):
    tokens: list[TokenInfo]


class TokenPage(TokenList):
    """The operator's list of every token, paged."""
    count: int
    offset: int
    total: int


class WebhookEventReply(Reply):
    type: str
    method: str


class WebhookReply(Reply):
    url: str
    events: list[WebhookEventReply]
    mode: str


class SettingsReply(Reply):
    webhooks: list[WebhookReply]
    days_limit: int
    noChat: bool

    @classmethod
    def of(cls, partner: Partner) -> SettingsReply:
        stored = partner.settings or {}
        return cls(webhooks=[WebhookReply(**w) for w in stored.get("webhooks", [])], days_limit=partner.days_limit,
                   noChat=bool(stored.get("noChat", False)))


class DaysChanged(Success):
    transactionId: int
    days: int
    balance: int


class CreatedPartner(PartnerProfile):
    projectId: str


class PartnerList(Reply):
    partners: list[PartnerProfile]
    count: int
    offset: int
    total: int
