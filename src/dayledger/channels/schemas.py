"""Request bodies (reference shapes, strict types) and reply shapes of the channel routes,
each defined once."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, model_validator

from ..replies import Reply, Success
from ..clock import DAY_MS
from ..ids import CHANNEL_ID_PATTERN, PROJECT_ID_PATTERN
from ..ledger import Extended, unused_paid_days
from ..models import Channel
from ..partners.schemas import Comment, Currency, Days
from ..text import Plain

Mode = Literal["trial", "dev", "dev_archive", "live"]
ChannelName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Plain]
Phone = Annotated[str, StringConstraints(pattern=r"^([\d]{7,15})?$")]
ProjectRef = Annotated[str, StringConstraints(pattern=PROJECT_ID_PATTERN)]
ChannelRef = Annotated[str, StringConstraints(pattern=CHANNEL_ID_PATTERN)]
PaymentRef = Annotated[str, StringConstraints(max_length=100), Plain]


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore")  # the reference lets clients send more fields


class ChannelCreate(Body):
    name: ChannelName
    projectId: ProjectRef
    phone: Phone | None = None
    recurrentPaymentId: PaymentRef | None = None
    prevRecurrentPaymentId: PaymentRef | None = None


class ChannelUpdate(Body):
    """The reference marks name and projectId required; dayledger also accepts either alone."""
    name: ChannelName | None = None
    projectId: ProjectRef | None = None
    phone: Phone | None = None
    recurrentPaymentId: PaymentRef | None = None
    prevRecurrentPaymentId: PaymentRef | None = None


class ExtendRequest(Body):
    days: Days
    comment: Comment
    amount: Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=4)] | None = None
    currency: Currency | None = None  # the reference lists five codes; any three capitals is a superset


class BulkItem(Body):
    id: ChannelRef
    days: Days


MAX_BULK_CHANNELS = 5_000  # one atomic call for a partner's whole fleet (docs/decisions.md)


class BulkExtendRequest(Body):
    channels: Annotated[list[BulkItem], Field(min_length=1, max_length=MAX_BULK_CHANNELS)]
    comment: Comment

    @model_validator(mode="after")
    def _unique(self) -> BulkExtendRequest:
        ids = [c.id for c in self.channels]
        if len(set(ids)) != len(ids):
            raise ValueError("each channel may appear once; sum the days instead")
        return self


class StopRequest(Body):
    saveDays: StrictBool = False


class ModeRequest(Body):
    mode: Mode | None = None  # the reference: "if empty - live"


class StatusReport(Body):
    status: Literal["AUTH", "QR", "INIT", "LAUNCH", "STOP", "SYNC_ERROR"]
    phone: Phone | None = None


class IntrospectRequest(Body):
    token: Annotated[str, StringConstraints(min_length=1, max_length=64), Plain]


def may_run(ch: Channel, now_ms: int) -> bool:
    if ch.deleted_ms is not None or ch.stopped or ch.mode == "dev_archive":
        return False
    return ch.mode == "dev" or ch.active_till_ms > now_ms


def api_status(ch: Channel) -> str:
    return "expired" if ch.expired else ch.connection_status


def billing_status(ch: Channel, now_ms: int) -> str:
    if ch.mode == "dev":
        return "Sandbox"
    if ch.mode == "dev_archive":
        return "Archived"
    if ch.expired or ch.active_till_ms <= now_ms:
        return "Expired" if ch.expired else "Unpaid"
    if ch.trial_ms and ch.trial_ms > now_ms and unused_paid_days(ch, now_ms) == 0:
        return "Trial"
    return "Paid"


def valid_through(ch: Channel, tz: ZoneInfo) -> date | None:
    """The last local date on which the channel runs (activeTill is exclusive)."""
    if ch.mode in ("dev", "dev_archive") or ch.active_till_ms <= ch.created_ms:
        return None  # free sandboxes never end; a channel never paid for never ran
    return datetime.fromtimestamp((ch.active_till_ms - 1) / 1000, tz).date()


class ChannelReply(Reply):
    """The reference Channel plus dayledger's additions (daysLeft ... billingStatus)."""
    id: Annotated[str, Field(pattern=CHANNEL_ID_PATTERN)]
    name: str
    projectId: str
    apiUrl: str
    token: str
    ownerId: str
    server: int
    stopped: bool
    activeTill: int
    creationTS: int
    trial: int | None
    mode: Mode
    status: Literal["INIT", "AUTH", "QR", "LAUNCH", "STOP", "SYNC_ERROR", "expired"]
    phone: str
    daysLeft: int | None
    paidDaysLeft: int
    validThrough: date | None
    billingStatus: Literal["Paid", "Trial", "Unpaid", "Expired", "Sandbox", "Archived"]
    recurrentPaymentId: str | None = None
    prevRecurrentPaymentId: str | None = None

    @classmethod
    def of(cls, ch: Channel, now_ms: int, tz: ZoneInfo) -> ChannelReply:
        extra = {}  # the reference leaves these out when there are none
        if ch.recurrent_payment_id:
            extra["recurrentPaymentId"] = ch.recurrent_payment_id
        if ch.prev_recurrent_payment_id:
            extra["prevRecurrentPaymentId"] = ch.prev_recurrent_payment_id
        return cls(
            id=ch.id, name=ch.name, projectId=ch.project_id, apiUrl=ch.api_url, token=ch.token,
            ownerId=ch.partner_id, server=ch.server, stopped=ch.stopped, activeTill=ch.active_till_ms,
            creationTS=ch.created_ms, trial=ch.trial_ms, mode=ch.mode,  # type: ignore[arg-type]
            status=api_status(ch),  # type: ignore[arg-type]
            phone=ch.phone or "",
            daysLeft=None if ch.mode in ("dev", "dev_archive") else max(0, (ch.active_till_ms - now_ms) // DAY_MS),
            paidDaysLeft=unused_paid_days(ch, now_ms),
            validThrough=valid_through(ch, tz),
            billingStatus=billing_status(ch, now_ms),  # type: ignore[arg-type]
            **extra)


class ChannelList(Reply):
    channels: list[ChannelReply]
    count: int
    offset: int
    total: int

    @classmethod
    def of(cls, rows: list[Channel], total: int, offset: int, now_ms: int, tz: ZoneInfo) -> ChannelList:
        return cls(channels=[ChannelReply.of(ch, now_ms, tz) for ch in rows], count=len(rows), offset=offset,
                   total=total)


class ExtendReply(Success):
    activeTill: int
    daysAdded: int
    balance: int
    transactionId: int

    @classmethod
    def of(cls, done: Extended) -> ExtendReply:
        return cls(activeTill=done.channel.active_till_ms, daysAdded=done.days,
                   balance=done.posted.balance_after, transactionId=done.posted.entry_id)


class BulkExtended(Reply):
    id: str
    daysAdded: int
    activeTill: int
    transactionId: int


class BulkExtendReply(Success):
    days: int
    balance: int
    channels: list[BulkExtended]

    @classmethod
    def of(cls, done: list[Extended]) -> BulkExtendReply:
        return cls(days=sum(d.days for d in done), balance=done[-1].posted.balance_after,
                   channels=[BulkExtended(id=d.channel.id, daysAdded=d.days, activeTill=d.channel.active_till_ms,
                                          transactionId=d.posted.entry_id) for d in done])


class DeleteReply(Success):
    daysReturned: int
    balance: int


class StopReply(Success):
    daysReturned: int


class ModeReply(Success):
    mode: Mode
    daysReturned: int
