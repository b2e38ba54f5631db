"""Request and reply shapes of auto-extend policies, each defined once."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StringConstraints, model_validator

from ..clock import DAY_MS
from ..models import AutoextendPolicy
from ..partners.schemas import Days
from ..replies import Reply


def _a_date(value: str) -> str:
    date.fromisoformat(value)  # ValueError (422) for 2026-02-30
    return value


Until = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$"), AfterValidator(_a_date)]


def until_ms(until: str | None) -> int | None:
    """The policy runs through its ``until`` date (UTC): it stops at the next midnight."""
    if until is None:
        return None
    day = date.fromisoformat(until)
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000) + DAY_MS


def until_text(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp((ms - DAY_MS) / 1000, tz=UTC).date().isoformat()


class PolicyBody(BaseModel):
    """When fewer than ``belowDays`` days of paid or trial time are left on a running
    channel, extend it by ``extendDays`` days from the balance."""
    model_config = ConfigDict(extra="forbid")
    belowDays: Annotated[Days, Field(description="L: extend when less than L × 24 hours are left (≥ 1)")]
    extendDays: Annotated[Days, Field(description="K: days added by each extension (≥ 1)")]
    until: Until | None = Field(default=None, description="last date (YYYY-MM-DD, UTC) on which it extends; "
                                                           "null: no end")
    budgetDays: Days | None = Field(default=None, description="total days it may spend (≥ extendDays); "
                                                              "null: no limit")
    paused: StrictBool = False

    @model_validator(mode="after")
    def _budget_pays_one_cycle(self) -> PolicyBody:
        if self.budgetDays is not None and self.budgetDays < self.extendDays:
            raise ValueError(f"budgetDays ({self.budgetDays}) must be at least extendDays ({self.extendDays}): "
                             "a budget that cannot pay one extension would never extend")
        return self


class FailureReply(Reply):
    code: str
    message: str
    time: int  # UTC ms
    channelId: str | None

    @classmethod
    def of(cls, failure: dict[str, Any] | None) -> FailureReply | None:
        if not failure:
            return None
        return cls(code=str(failure.get("code", "")), message=str(failure.get("message", "")),
                   time=int(failure.get("time", 0)), channelId=failure.get("channelId"))


State = Literal["active", "paused", "ended", "spent"]


def state_of(p: AutoextendPolicy, now_ms: int) -> State:
    if p.paused:
        return "paused"
    if p.until_ms is not None and now_ms >= p.until_ms:
        return "ended"
    if p.budget_days is not None and p.spent_days + p.extend_days > p.budget_days:
        return "spent"
    return "active"


class PolicyReply(Reply):
    id: str
    scope: Literal["channel", "project"] = Field(
        description="whose policy this is: the channel's own or its project's default; on GET "
                    "/channels/{id}/autoextend it is the one that applies (a channel's own policy wins)")
    channelId: str | None
    projectId: str | None
    belowDays: int
    extendDays: int
    until: str | None
    budgetDays: int | None
    budgetLeftDays: int | None
    paused: bool
    state: State = Field(description="active; paused; ended (its until date is past); spent (what is left of "
                                     "the budget cannot pay extendDays)")
    spentDays: int
    lastExtendedTS: int | None
    lastFailure: FailureReply | None
    createdTS: int
    updatedTS: int
    cycles: int | None = Field(default=None, description="on GET /channels/{id}/autoextend: the extensions this "
                                                         "policy has made of the channel")

    @classmethod
    def of(cls, p: AutoextendPolicy, now_ms: int, **extra: Any) -> PolicyReply:
        return cls(id=p.id, scope="channel" if p.channel_id else "project", channelId=p.channel_id,
                   projectId=p.project_id, belowDays=p.below_days, extendDays=p.extend_days,
                   until=until_text(p.until_ms), budgetDays=p.budget_days,
                   budgetLeftDays=None if p.budget_days is None else max(0, p.budget_days - p.spent_days),
                   paused=p.paused, state=state_of(p, now_ms), spentDays=p.spent_days,
                   lastExtendedTS=p.last_extended_ms, lastFailure=FailureReply.of(p.last_failure),
                   createdTS=p.created_ms, updatedTS=p.updated_ms, **extra)
