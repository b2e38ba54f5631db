"""Sending events to webhook endpoints (SPEC 7), in three short steps per worker step:

1. **Fan-out** (``fan_out``): events not yet fanned out become one delivery per endpoint
   that wants their type (the partner's own endpoints and the operator's): ``pending``, or
   ``disabled`` for a disabled endpoint, where it waits until the endpoint is enabled.
   One fan-out runs at a time (a PostgreSQL advisory lock), so delivery ids follow the order
   in which events were committed.
2. **Claim** (``claim``): an endpoint's oldest pending delivery is its *head* (the first entry
   of a partial index of pending deliveries); only a due head is claimed (``FOR UPDATE SKIP
   LOCKED``, re-checked under the lock), and claiming leases it (``next_attempt_ms`` moves
   past the time a run may take). A later delivery of the endpoint is never a head while an
   earlier one waits, so each endpoint hears its events in order, from one worker at a time.
3. **Send, then record** (``send``, ``record``): outside any transaction the claimed runs are
   POSTed, each endpoint's deliveries one after another, stopping at its first failure;
   one transaction then stores every attempt and moves each delivery on: ``succeeded``; a
   retry after exponential backoff with jitter; or, on 410 Gone or after
   ``webhook_retry_hours`` without success, the endpoint is disabled and its undelivered
   deliveries wait (``disabled``) until it is enabled again.

A worker that dies between sending and recording leaves its lease to expire: those events
are sent again (at least once; receivers deduplicate by ``webhook-id``, which is the event's
and never changes)."""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import httpx
from sqlalchemy import Table, delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from .. import __version__
from ..config import Settings
from ..events import public_id
from ..models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from . import addresses, repository, signing
from .schemas import TEST_EVENT

FANOUT_LOCK = 0x64_6c_77_68  # "dlwh": the advisory lock that serializes fan-outs
FIRST_RETRY_SECONDS = 5.0
RETRY_FACTOR = 3.0
MAX_RETRY_SECONDS = 12 * 3600.0
JITTER = 0.2  # each wait is drawn within ±20 %
RESPONSE_CHARS = 2000
ERROR_CHARS = 500
USER_AGENT = f"dayledger-webhooks/{__version__}"


def retry_delay_ms(attempts: int, rng: random.Random | None = None) -> int:
    """The wait after the ``attempts``-th failed attempt: 5 s, 15 s, 45 s, … ×3 each time,
    at most 12 h, with jitter so that endpoints failing together do not retry together."""
    base = min(FIRST_RETRY_SECONDS * RETRY_FACTOR ** (attempts - 1), MAX_RETRY_SECONDS)
    return int(base * 1000 * (rng or random).uniform(1 - JITTER, 1 + JITTER))


def lease_ms(settings: Settings) -> int:
    """How long a claimed head is held: a run's time budget plus one more attempt."""
    one = settings.webhook_connect_timeout_seconds + settings.webhook_read_timeout_seconds
    return int((settings.webhook_run_seconds + one + 2) * 1000)


# --- 1. fan-out ------------------------------------------------------------------------------

_DELIVERY_INSERT = cast(Table, WebhookDelivery.__table__).insert()


def _wants(ep_events: list, type_: str) -> bool:
    return "*" in ep_events or type_ in ep_events


async def fan_out(session: AsyncSession, now_ms: int, batch: int) -> int:
    """Turn up to ``batch`` events into deliveries; how many events it read."""
    if session.get_bind().dialect.name == "postgresql" and not (await session.execute(
            text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": FANOUT_LOCK})).scalar():
        return 0  # another worker is fanning out; it will take these too
    events = (await session.execute(
        select(Event.id, Event.partner_id, Event.type).where(Event.webhooks_ms.is_(None))
        .order_by(Event.id).limit(batch))).all()
    if not events:
        return 0
    partner_ids = {e.partner_id for e in events}
    endpoints = (await session.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.partner_id, WebhookEndpoint.events, WebhookEndpoint.enabled)
        .where(WebhookEndpoint.partner_id.in_(partner_ids) | WebhookEndpoint.partner_id.is_(None))
        .order_by(WebhookEndpoint.id))).all()
    # A disabled endpoint's deliveries wait for it (``disabled``): enabling it sends them.
    rows = [{"endpoint_id": ep.id, "event_id": ev.id, "status": "pending" if ep.enabled else "disabled",
             "attempts": 0,
             "next_attempt_ms": now_ms, "created_ms": now_ms}
            for ev in events if ev.type != TEST_EVENT
            for ep in endpoints if ep.partner_id in (None, ev.partner_id) and _wants(ep.events, ev.type)]
    if rows:
        await session.execute(_DELIVERY_INSERT, rows)
    await session.execute(update(Event).where(Event.id.in_([e.id for e in events])).values(webhooks_ms=now_ms))
    return len(events)


# --- 2. claim --------------------------------------------------------------------------------

@dataclass
class Item:
    delivery_id: int
    msg_id: str
    body: bytes


@dataclass
class Run:
    endpoint_id: str
    url: str
    secret: str
    items: list[Item]


def body_of(type_: str, created_ms: int, payload: dict, partner: str | None) -> bytes:
    """The Standard Webhooks payload; ``data`` is the event's payload plus the partner's
    name (what an operator's endpoint needs to tell partners apart)."""
    data = dict(payload or {})
    if partner is not None:
        data["partner"] = partner
    stamp = datetime.fromtimestamp(created_ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return json.dumps({"type": type_, "timestamp": stamp, "data": data}, separators=(",", ":")).encode()


async def claim(session: AsyncSession, now_ms: int, settings: Settings) -> list[Run]:
    """Lease the due heads of at most ``webhook_concurrency`` endpoints (what one worker sends
    to at once, so other workers find the rest) and load each one's run: its pending
    deliveries in order, together about ``webhook_batch_size``. ``now_ms`` is the time of the
    claim (not of the round's start: the lease must outlast the run from now)."""
    limit = settings.webhook_concurrency
    # Each enabled endpoint's head, one probe of the partial index of pending deliveries per
    # endpoint (a plan that does not depend on statistics), then the due ones locked by key.
    head_of = (select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == WebhookEndpoint.id,
                                                WebhookDelivery.status == "pending")
               .order_by(WebhookDelivery.id).limit(1).correlate(WebhookEndpoint).scalar_subquery())
    candidates = [h for (h,) in (await session.execute(
        select(head_of).where(WebhookEndpoint.enabled.is_(True)))).all() if h is not None]
    if not candidates:
        return []
    heads = (await session.execute(
        select(WebhookDelivery.id, WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.id.in_(candidates), WebhookDelivery.status == "pending",
               WebhookDelivery.next_attempt_ms <= now_ms)
        .order_by(WebhookDelivery.next_attempt_ms, WebhookDelivery.id).limit(limit)
        .with_for_update(skip_locked=True))).all()
    if not heads:
        return []
    await session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_([h.id for h in heads]))
                          .values(next_attempt_ms=now_ms + lease_ms(settings)))
    per_endpoint = -(-settings.webhook_batch_size // len(heads))  # a full step sends at least a batch
    runs: list[Run] = []
    names: dict[str, str] = {}
    for head in heads:
        ep = (await session.execute(select(WebhookEndpoint.url, WebhookEndpoint.secret)
                                    .where(WebhookEndpoint.id == head.endpoint_id))).one()
        rows = (await session.execute(
            select(WebhookDelivery.id, Event.id.label("event_id"), Event.type, Event.created_ms, Event.payload,
                   Event.partner_id)
            .join(Event, Event.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.endpoint_id == head.endpoint_id, WebhookDelivery.status == "pending",
                   WebhookDelivery.id >= head.id)
            .order_by(WebhookDelivery.id).limit(per_endpoint))).all()
        missing = {r.partner_id for r in rows if r.partner_id and r.partner_id not in names}
        names.update(await repository.partner_names(session, missing))
        runs.append(Run(head.endpoint_id, ep.url, ep.secret, [
            Item(r.id, public_id(r.event_id), body_of(r.type, r.created_ms, r.payload, names.get(r.partner_id)))
            for r in rows]))
    return runs


# --- 3. send and record ----------------------------------------------------------------------

@dataclass
class Outcome:
    delivery_id: int
    attempted_ms: int
    status_code: int | None
    error: str | None
    latency_ms: int
    response: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def new_client(settings: Settings) -> httpx.AsyncClient:
    """Explicit timeouts; redirects are not followed (a 3xx is a failure: a redirect could
    lead to an address that registration would refuse)."""
    timeout = httpx.Timeout(connect=settings.webhook_connect_timeout_seconds,
                            read=settings.webhook_read_timeout_seconds,
                            write=settings.webhook_read_timeout_seconds,
                            pool=settings.webhook_connect_timeout_seconds)
    return httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False,
                             limits=httpx.Limits(max_connections=settings.webhook_concurrency * 2))


async def _post(client: httpx.AsyncClient, url: httpx.URL, item: Item, secret: str, extra: dict[str, str],
                extensions: dict, cap: float) -> tuple[int | None, str | None, str | None]:
    # The signature's timestamp is the wall clock's: receivers compare it with theirs.
    headers = {**signing.headers(secret, item.msg_id, int(time.time()), item.body),
               "user-agent": USER_AGENT, **extra}
    try:
        async with asyncio.timeout(cap):
            async with client.stream("POST", url, content=item.body, headers=headers,
                                     extensions=extensions) as resp:
                start = bytearray()
                async for part in resp.aiter_raw():
                    start += part
                    if len(start) >= RESPONSE_CHARS:
                        break
        return resp.status_code, None, start.decode("utf-8", "replace")[:RESPONSE_CHARS] or None
    except TimeoutError:
        return None, f"no answer within {cap:g} s", None
    except httpx.TimeoutException as exc:
        return None, f"timed out: {type(exc).__name__}", None
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:ERROR_CHARS], None


async def send_run(client: httpx.AsyncClient, run: Run, settings: Settings, now_ms: Any) -> list[Outcome]:
    """POST the run's deliveries in order until one fails or the run's time is up."""
    outcomes: list[Outcome] = []
    cap = settings.webhook_connect_timeout_seconds + settings.webhook_read_timeout_seconds
    try:
        url, extra, extensions = await addresses.pinned(run.url, settings.webhook_allow_private)
    except addresses.Refused as exc:
        return [Outcome(run.items[0].delivery_id, now_ms(), None, f"refused: {exc}"[:ERROR_CHARS], 0, None)]
    deadline = time.monotonic() + settings.webhook_run_seconds
    for item in run.items:
        if outcomes and time.monotonic() > deadline:
            break
        attempted, started = now_ms(), time.perf_counter()
        code, error, response = await _post(client, url, item, run.secret, extra, extensions, cap)
        outcome = Outcome(item.delivery_id, attempted, code, error, int((time.perf_counter() - started) * 1000),
                          response)
        outcomes.append(outcome)
        if not outcome.ok:
            break
    return outcomes


async def send(runs: list[Run], settings: Settings, now_ms: Any) -> list[Outcome]:
    """Every run at once, at most ``webhook_concurrency`` endpoints at a time."""
    gate = asyncio.Semaphore(settings.webhook_concurrency)

    async def one(client: httpx.AsyncClient, run: Run) -> list[Outcome]:
        async with gate:
            return await send_run(client, run, settings, now_ms)
    async with new_client(settings) as client:
        done = await asyncio.gather(*(one(client, run) for run in runs))
    return [o for outcomes in done for o in outcomes]


_ATTEMPT_INSERT = cast(Table, WebhookAttempt.__table__).insert()


async def record(session: AsyncSession, outcomes: list[Outcome], now_ms: int, settings: Settings) -> None:
    """Store the attempts and move each delivery on (see the module's docstring). A
    delivery deleted with its endpoint meanwhile is skipped."""
    if not outcomes:
        return
    found = {d.id: d for d in (await session.execute(
        select(WebhookDelivery).where(WebhookDelivery.id.in_([o.delivery_id for o in outcomes]))
        .order_by(WebhookDelivery.id).with_for_update())).scalars()}
    attempts = []
    for o in outcomes:
        d = found.get(o.delivery_id)
        if d is None:
            continue
        attempts.append({"delivery_id": d.id, "attempted_ms": o.attempted_ms, "status_code": o.status_code,
                         "error": o.error, "latency_ms": o.latency_ms, "response": o.response})
        d.attempts += 1
        d.last_attempt_ms = o.attempted_ms
        if o.ok:
            d.status, d.next_attempt_ms = "succeeded", None
            continue
        if d.status != "pending":  # disabled or resent meanwhile: the log has the attempt
            continue
        if o.status_code == 410:
            reason = "the endpoint answered 410 Gone"
        elif now_ms - d.created_ms >= settings.webhook_retry_hours * 3_600_000:
            reason = f"no delivery succeeded for {settings.webhook_retry_hours:g} hours"
        else:
            d.next_attempt_ms = now_ms + retry_delay_ms(d.attempts)
            continue
        await _disable(session, d.endpoint_id, reason, now_ms)
    if attempts:
        await session.execute(_ATTEMPT_INSERT, attempts)
    await session.flush()


async def _disable(session: AsyncSession, endpoint_id: str, reason: str, now_ms: int) -> None:
    await session.flush()
    await session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
                          .values(enabled=False, disabled_reason=reason, updated_ms=now_ms))
    await repository.set_waiting(session, endpoint_id, frm="pending", to="disabled", now_ms=now_ms)



async def purge(session: AsyncSession, now_ms: int, retention_days: int, batch: int) -> int:
    """Forget delivered deliveries (and their attempts) older than ``retention_days``; the
    events stay. What is pending or waiting for its endpoint is kept however old."""
    old = (await session.execute(
        select(WebhookDelivery.id).where(WebhookDelivery.status == "succeeded",
                                         WebhookDelivery.last_attempt_ms < now_ms - retention_days * 86_400_000)
        .order_by(WebhookDelivery.id).limit(batch))).scalars().all()
    if old:
        await session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(old)))
        await session.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(old)))
    return len(old)
