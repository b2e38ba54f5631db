"""Request and reply shapes of webhook endpoints and their delivery log, each defined once."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from ..events import EVENT_TYPES, public_id
from ..models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from ..replies import Reply
from ..text import Plain

ENDPOINT_ID_PATTERN = r"^we_[A-Za-z0-9]{20}$"
TEST_EVENT = "webhook.test"  # sent by POST .../test to that endpoint only


def _known_types(types: list[str]) -> list[str]:
    if "*" in types:
        if len(types) > 1:
            raise ValueError("'*' (every event) stands alone")
        return types
    unknown = sorted(set(types) - set(EVENT_TYPES))
    if unknown:
        raise ValueError(f"unknown event type(s) {', '.join(unknown)}; known: {', '.join(sorted(EVENT_TYPES))}")
    return list(dict.fromkeys(types))


Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), Plain]
EventTypes = Annotated[list[Annotated[str, StringConstraints(max_length=40)]],
                       Field(min_length=1, max_length=len(EVENT_TYPES) + 1,
                             description='event types (see docs/events.md), or ["*"] for every type'),
                       AfterValidator(_known_types)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), Plain]


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Url
    events: EventTypes = ["*"]
    description: Description = ""


class EndpointUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Url | None = None
    events: EventTypes | None = None
    description: Description | None = None
    enabled: StrictBool | None = Field(default=None, description="false stops deliveries (they wait); true "
                                       "sends what waited, also after a 410 or after retries ran out")


class EndpointReply(Reply):
    id: str
    url: str
    events: list[str]
    description: str
    enabled: bool
    disabledReason: str | None
    source: Literal["api", "settings"]  # settings: from the reference shape's webhooks list
    partner: str | None  # None: the operator's endpoint, which hears every partner's events
    createdTS: int
    updatedTS: int

    @classmethod
    def of(cls, ep: WebhookEndpoint, partner_name: str | None) -> EndpointReply:
        return cls(id=ep.id, url=ep.url, events=list(ep.events), description=ep.description, enabled=ep.enabled,
                   disabledReason=ep.disabled_reason, source=ep.source,  # type: ignore[arg-type]
                   partner=partner_name, createdTS=ep.created_ms, updatedTS=ep.updated_ms)


class EndpointCreated(EndpointReply):
    """The endpoint with its signing secret: shown here only (and on rotation)."""
    secret: str


class EndpointList(Reply):
    endpoints: list[EndpointReply]


class AttemptReply(Reply):
    attemptedTS: int
    statusCode: int | None  # None: no answer (``error`` says why)
    error: str | None
    latencyMs: int
    response: str | None  # the start of the answer's body

    @classmethod
    def of(cls, a: WebhookAttempt) -> AttemptReply:
        return cls(attemptedTS=a.attempted_ms, statusCode=a.status_code, error=a.error, latencyMs=a.latency_ms,
                   response=a.response)


class DeliveryReply(Reply):
    id: int
    eventId: str  # also the delivery's webhook-id header
    type: str
    status: Literal["pending", "succeeded", "disabled"]  # disabled: waits for its endpoint to be enabled
    attempts: int
    nextAttemptTS: int | None
    lastAttemptTS: int | None
    createdTS: int
    attemptLog: list[AttemptReply]

    @classmethod
    def of(cls, d: WebhookDelivery, event_type: str, attempts: list[WebhookAttempt]) -> DeliveryReply:
        return cls(id=d.id, eventId=public_id(d.event_id), type=event_type,
                   status=d.status, attempts=d.attempts,  # type: ignore[arg-type]
                   nextAttemptTS=d.next_attempt_ms if d.status == "pending" else None,
                   lastAttemptTS=d.last_attempt_ms, createdTS=d.created_ms,
                   attemptLog=[AttemptReply.of(a) for a in attempts])


class DeliveryPage(Reply):
    deliveries: list[DeliveryReply]
    count: int
    offset: int
    total: int


class TestSent(Reply):
    """The test event is queued for this endpoint only; its outcome is in the delivery log."""
    deliveryId: int
    eventId: str
