"""dayledger's contract for its Whapi-compatible API: the 18 operations of the Whapi.Cloud
Partner API (v0.1.1) as dayledger serves them, written here so the conformance tests run
from this repository alone.

What each part states:

- ``body``: the request shape a Whapi client may send. It matches the published API
  (same fields, types and required lists); the conformance tests check that every body
  they send fits it. Values dayledger refuses although they fit this shape (half days, an
  empty comment, unknown id formats) are documented differences (docs/compatibility.md).
- ``responses``: for each status code the published API lists, the body dayledger
  sends. These are dayledger's promises: at least the published fields and required
  lists, often more required fields, and typed additions of dayledger's own (``daysLeft``,
  ``daysReturned``...). Objects accept further properties, as the published API does.
  Statuses dayledger adds (401, 402, 409, 422, 429) are not here: the tests keep them in
  ``EXTRA_STATUSES`` and they all use ``ERROR``.
- ``path_params`` / ``query_params``: the parameters, with the patterns the tests rely on.

The schemas are JSON Schema (draft 2020-12), built with the small constructors below;
``nullable`` becomes ``"type": [T, "null"]``. tests/conformance/test_contract_matches_reference.py
compares this file with the published document whenever ../shared/reference holds it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Schema = dict[str, Any]

# ---------------------------------------------------------------- constructors


def _typed(name: str, nullable: bool, **keywords: Any) -> Schema:
    schema: Schema = {"type": [name, "null"] if nullable else name}
    schema.update({k: v for k, v in keywords.items() if v is not None})
    return schema


def string(*, pattern: str | None = None, enum: Iterable[str] | None = None, nullable: bool = False) -> Schema:
    values: list[str | None] | None = None
    if enum is not None:
        values = [*enum, *([None] if nullable else [])]  # an enum must list null to allow it
    return _typed("string", nullable, pattern=pattern, enum=values)


def integer(*, nullable: bool = False, minimum: int | None = None) -> Schema:
    return _typed("integer", nullable, minimum=minimum)


def number(*, minimum: float | None = None, maximum: float | None = None) -> Schema:
    return _typed("number", False, minimum=minimum, maximum=maximum)


def boolean(*, nullable: bool = False) -> Schema:
    return _typed("boolean", nullable)


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def obj(*, props: Mapping[str, Schema], required: Iterable[str] = (), closed: bool = False) -> Schema:
    """An object with ``props``; ``closed`` refuses properties not listed."""
    names = sorted(set(required))
    undeclared = [name for name in names if name not in props]
    if undeclared:  # a typo here would make a promise no response could keep
        raise ValueError(f"required but not declared: {undeclared}")
    schema: Schema = {"type": "object", "properties": dict(props), "required": names}
    if closed:
        schema["additionalProperties"] = False
    return schema


def merged(base: Schema, *, props: Mapping[str, Schema] | None = None, required: Iterable[str] = ()) -> Schema:
    """``base`` with more properties and required names (dayledger's additions)."""
    return obj(props={**base["properties"], **(props or {})}, required=[*base["required"], *required],
               closed=base.get("additionalProperties") is False)


# ---------------------------------------------------------------- identifiers

CHANNEL_ID = r"^(?:[A-Z]{6}-[A-Z0-9]{5}|[A-Z0-9]{12})$"  # dayledger issues the first form only
PROJECT_ID = r"^(?:[a-zA-Z0-9]{20}|default)$"  # "default": the partner's default project
USER_ID = r"^(?:[a-zA-Z0-9]{28}|me)$"  # a partner's id; "me": the token's own partner
# The published pattern ends in "*"; an empty name cannot route, so dayledger states "+".
PARTNER_NAME = r"^[a-zA-Z0-9_-]+$"
CHANNEL_TOKEN = r"^[a-zA-Z0-9]{32}$"
PHONE = r"^([\d]{7,15})?$"  # digits only, or empty for "no number"
MODES = ("trial", "dev", "dev_archive", "live")

# ---------------------------------------------------------------- shapes

ERROR = obj(required=["error"], closed=True, props={
    "error": obj(required=["code", "message", "details"], closed=True, props={
        "code": integer(),  # the HTTP status again
        "message": string(),
        "details": string(),
        "href": string(),  # published, never sent by dayledger
        "support": string(),  # published, never sent by dayledger
    }),
})

# The published success body requires "result" without declaring it; dayledger sends both.
SUCCESS = obj(required=["success", "result"], props={"success": boolean(), "result": boolean()})

CHANNEL_FIELDS = obj(required=["name", "projectId"], props={
    "name": string(),
    "phone": string(pattern=PHONE),
    "projectId": string(),
    "recurrentPaymentId": string(),
    "prevRecurrentPaymentId": string(),
})

CHANNEL = merged(CHANNEL_FIELDS, required=[
    "id", "apiUrl", "token", "ownerId", "server", "stopped", "activeTill", "creationTS", "trial", "mode",
    "status", "phone", "daysLeft", "paidDaysLeft", "validThrough", "billingStatus",
], props={
    "id": string(pattern=CHANNEL_ID),
    "apiUrl": string(),
    "token": string(pattern=CHANNEL_TOKEN),
    "ownerId": string(pattern=USER_ID),
    "server": integer(),
    "stopped": boolean(),
    "activeTill": integer(),  # milliseconds since the epoch, exclusive
    "creationTS": integer(),
    "trial": integer(nullable=True),  # end of the free trial; null: never had one
    "mode": string(enum=MODES),
    "status": string(),  # connection status from the gateway, or "expired"; never null here
    "blocked": boolean(nullable=True),  # published, never sent by dayledger
    "proxy": obj(required=["host", "port"], props={  # published, never sent by dayledger
        "host": string(), "port": integer(), "auth": string()}),
    # dayledger's additions
    "daysLeft": integer(nullable=True, minimum=0),  # null for sandboxes, which never end
    "paidDaysLeft": integer(minimum=0),
    "validThrough": string(nullable=True),
    "billingStatus": string(),
})

PAGE = {"count": integer(), "total": integer(), "offset": integer()}
CHANNEL_LIST = obj(required=["channels", *PAGE], props={"channels": array(CHANNEL), **PAGE})

PROJECT = obj(required=["id", "name", "ownerId", "creationTS", "users", "isDefault"], props={
    "id": string(pattern=PROJECT_ID),
    "name": string(),
    "ownerId": string(pattern=USER_ID),
    "creationTS": integer(),
    "users": array(string(pattern=USER_ID)),
    "isDefault": boolean(),
    "channels": array(CHANNEL),  # published, never sent by dayledger (list them per project instead)
})
PROJECT_LIST = obj(required=["projects", *PAGE], props={"projects": array(PROJECT), **PAGE})
PROJECT_FIELDS = obj(required=["name"], props={"name": string()})


def _webhook(*, answer: bool) -> Schema:
    """One webhook of the partner settings; in answers the defaults are filled in."""
    event = obj(required=["type", "method"] if answer else [],
                props={"type": string(enum=["days"]), "method": string(enum=["post"])})
    return obj(required=["url", "events", "mode"] if answer else ["url"], props={
        "url": string(), "events": array(event), "mode": string(enum=["body", "path", "method"])})


SETTINGS_CHANGE = obj(props={
    "webhooks": array(_webhook(answer=False)),
    "days_limit": number(),
    "noChat": boolean(),
})
SETTINGS = obj(required=["webhooks", "days_limit", "noChat"], props={
    "webhooks": array(_webhook(answer=True)),
    "days_limit": integer(minimum=0),  # whole days
    "noChat": boolean(),
})

STOP = obj(props={"saveDays": boolean()})
EXTEND = obj(required=["days", "comment"], props={
    "days": number(),
    "comment": string(),
    "amount": number(),
    # The published list is USD, RUB, BRL, MXN, INR; dayledger takes any ISO 4217 form.
    "currency": string(pattern=r"^[A-Z]{3}$"),
})
MODE_CHANGE = obj(props={"mode": string(enum=MODES)})  # no mode: "live"

DAYS_RETURNED = {"daysReturned": integer(minimum=0)}
DELETED = merged(SUCCESS, required=["daysReturned", "balance"], props={**DAYS_RETURNED, "balance": integer()})
STOPPED = merged(SUCCESS, required=["daysReturned"], props=DAYS_RETURNED)
EXTENDED = merged(SUCCESS, required=["daysAdded", "balance", "activeTill", "transactionId"], props={
    "daysAdded": integer(minimum=1), "balance": integer(minimum=0), "activeTill": integer(),
    "transactionId": integer()})
MODE_CHANGED = merged(SUCCESS, required=["mode", "daysReturned"], props={"mode": string(enum=MODES),
                                                                         **DAYS_RETURNED})

LIST_QUERY = {"count": number(minimum=1, maximum=500), "offset": number(minimum=0)}
OWNER_QUERY = {"uid": string(pattern=USER_ID), **LIST_QUERY}

# ---------------------------------------------------------------- operations


@dataclass(frozen=True)
class Operation:
    operation_id: str
    responses: Mapping[int, Schema]
    path_params: Mapping[str, str] = field(default_factory=dict)  # name -> pattern
    query_params: Mapping[str, Schema] = field(default_factory=dict)
    body: Schema | None = None

    def response(self, status: int) -> Schema | None:
        return self.responses.get(status)


def answers(ok: Schema, *errors: int) -> dict[int, Schema]:
    """200 with ``ok``, and the published error statuses, all in the one error shape."""
    return {200: ok, **{status: ERROR for status in errors}}


CHANNEL_PARAM = {"ChannelID": CHANNEL_ID}
PROJECT_PARAM = {"ProjectID": PROJECT_ID}
PARTNER_PARAM = {"PartnerName": PARTNER_NAME}

OPERATIONS: dict[str, Operation] = {
    "PUT /channels": Operation(
        "createChannel", answers(CHANNEL, 400, 404, 500, 503), body=CHANNEL_FIELDS),
    "GET /channels/list": Operation(
        "getChannels", answers(CHANNEL_LIST, 400, 500), query_params=OWNER_QUERY),
    "GET /channels/list/{ProjectID}": Operation(
        "getChannelsByProjectID", answers(CHANNEL_LIST, 400, 404, 500), PROJECT_PARAM, LIST_QUERY),
    "GET /channels/{ChannelID}": Operation(
        "getChannel", answers(CHANNEL, 400, 404, 500), CHANNEL_PARAM),
    "PATCH /channels/{ChannelID}": Operation(
        "updateChannel", answers(SUCCESS, 400, 404, 500), CHANNEL_PARAM, body=CHANNEL_FIELDS),
    "DELETE /channels/{ChannelID}": Operation(
        "deleteChannel", answers(DELETED, 400, 404, 500), CHANNEL_PARAM),
    "POST /channels/{ChannelID}/start": Operation(
        "startChannel", answers(SUCCESS, 400, 404, 500, 503), CHANNEL_PARAM),
    "POST /channels/{ChannelID}/stop": Operation(
        "stopChannel", answers(STOPPED, 400, 404, 500, 503), CHANNEL_PARAM, body=STOP),
    "POST /channels/{ChannelID}/restart": Operation(
        "restartChannel", answers(SUCCESS, 400, 404, 500, 503), CHANNEL_PARAM),
    "POST /channels/{ChannelID}/extend": Operation(
        "extendChannel", answers(EXTENDED, 400, 404, 500, 503), CHANNEL_PARAM, body=EXTEND),
    "PATCH /channels/{ChannelID}/mode": Operation(
        "changeChannelMode", answers(MODE_CHANGED, 400, 403, 404, 500), CHANNEL_PARAM, body=MODE_CHANGE),
    "GET /projects": Operation(
        "getProjects", answers(PROJECT_LIST, 400, 500), query_params=OWNER_QUERY),
    "PUT /projects": Operation(
        "createProject", answers(PROJECT, 400, 500), body=PROJECT_FIELDS),
    "GET /projects/{ProjectID}": Operation(
        "getProject", answers(PROJECT, 400, 404, 500), PROJECT_PARAM),
    "PATCH /projects/{ProjectID}": Operation(
        "updateProject", answers(SUCCESS, 400, 404, 500), PROJECT_PARAM, body=PROJECT_FIELDS),
    "DELETE /projects/{ProjectID}": Operation(
        "deleteProject", answers(SUCCESS, 400, 404, 500), PROJECT_PARAM),
    "GET /partners/{PartnerName}/settings": Operation(
        "getPartnerSettings", answers(SETTINGS, 400, 403, 500), PARTNER_PARAM),
    "PATCH /partners/{PartnerName}/settings": Operation(
        "setPartnerSettings", answers(SUCCESS, 400, 403, 500), PARTNER_PARAM, body=SETTINGS_CHANGE),
}
