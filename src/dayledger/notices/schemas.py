"""Request and reply shapes of the partner's notice settings, each defined once."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt

from ..channels.repository import MAX_EXPIRING_NOTICE_DAYS
from ..events import EVENT_TYPES
from ..models import Partner
from ..replies import Reply

ALL = "*"
MAX_RUNWAY_NOTICE_DAYS = 365
DEFAULT_EXPIRING_NOTICE_DAYS = 3
# Mailed when the partner has chosen nothing: what asks the partner to act (top up, extend,
# fix a card, pay an invoice), not the lifecycle chatter a gateway hears through webhooks.
DEFAULT_EMAIL_EVENTS: tuple[str, ...] = ("days", "runway.low", "autorecharge.failed", "autoextend.failed",
                                         "channel.expiring", "channel.expired", "invoice.created")


def _known_type(value: str) -> str:
    if value != ALL and value not in EVENT_TYPES:
        raise ValueError(f"unknown event type '{value}'; known: {', '.join(EVENT_TYPES)}, or '*' for all")
    return value


def _alone_and_distinct(types: list[str] | None) -> list[str] | None:
    if types is None:
        return None
    if ALL in types and len(set(types)) > 1:
        raise ValueError("'*' (every type) stands alone")
    return list(dict.fromkeys(types))  # each once, in the order given


EventType = Annotated[str, Field(json_schema_extra={"enum": [*EVENT_TYPES, ALL]}), AfterValidator(_known_type)]
EmailEvents = Annotated[list[EventType], Field(max_length=len(EVENT_TYPES) + 1),
                        AfterValidator(_alone_and_distinct)]


class NoticeSettingsBody(BaseModel):
    """All three settings; a field left out takes its default (this is a PUT)."""
    model_config = ConfigDict(extra="forbid")
    expiringNoticeDays: Annotated[StrictInt, Field(
        ge=1, le=MAX_EXPIRING_NOTICE_DAYS,
        description="channel.expiring fires when a trial or live channel ends within this many days")
    ] = DEFAULT_EXPIRING_NOTICE_DAYS
    runwayNoticeDays: Annotated[StrictInt, Field(
        ge=1, le=MAX_RUNWAY_NOTICE_DAYS, description="runway.low fires when the runway falls below this many "
                                                     "days; null: never")] | None = None
    emailEvents: EmailEvents | None = Field(
        default=None, description="event types mailed to the partner's email; ['*']: every type; []: none; "
                                  "null or left out: the defaults")


class NoticeSettingsReply(Reply):
    email: str  # where the notices are mailed (the operator sets it: PATCH /admin/partners/{name})
    expiringNoticeDays: int
    runwayNoticeDays: int | None
    emailEvents: list[str]  # the types mailed now: the partner's choice, or the defaults
    emailEventsDefault: bool  # true: the partner chose nothing, emailEvents are the defaults

    @classmethod
    def of(cls, partner: Partner) -> NoticeSettingsReply:
        chosen = partner.email_notices
        return cls(email=partner.email, expiringNoticeDays=partner.expiring_notice_days,
                   runwayNoticeDays=partner.runway_notice_days,
                   emailEvents=list(DEFAULT_EMAIL_EVENTS) if chosen is None else list(chosen),
                   emailEventsDefault=chosen is None)
