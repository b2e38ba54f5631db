"""Queries of the email notices: the events not yet handled (the partial index
``ix_events_email_pending``), what a digest reads, and marking events handled."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Channel, Event, Partner

CHUNK = 1000  # ids per IN list: far below every driver's parameter limit


@dataclass(frozen=True)
class Pending:
    id: int
    partner_id: str
    type: str
    created_ms: int


@dataclass(frozen=True)
class Recipient:
    id: str
    name: str
    email: str
    timezone: str
    email_notices: list | None


async def pending_page(session: AsyncSession, after_id: int, limit: int) -> list[Pending]:
    """The next ``limit`` unhandled events after ``after_id``, in id order (no lock: the
    digest re-reads them under the partner's lock)."""
    rows = await session.execute(
        select(Event.id, Event.partner_id, Event.type, Event.created_ms)
        .where(Event.emailed_ms.is_(None), Event.id > after_id).order_by(Event.id).limit(limit))
    return [Pending(*row) for row in rows.tuples()]


async def recipients(session: AsyncSession, partner_ids: Sequence[str]) -> dict[str, Recipient]:
    out: dict[str, Recipient] = {}
    ids = list(dict.fromkeys(partner_ids))
    for i in range(0, len(ids), CHUNK):
        rows = await session.execute(
            select(Partner.id, Partner.name, Partner.email, Partner.timezone, Partner.email_notices)
            .where(Partner.id.in_(ids[i:i + CHUNK])))
        out.update((r[0], Recipient(*r)) for r in rows.tuples())
    return out


async def mark(session: AsyncSession, ids: Sequence[int], now_ms: int) -> int:
    """Mark events handled by the email notices (mailed or not to be mailed)."""
    done = 0
    ordered = sorted(ids)  # one lock order for every worker
    for i in range(0, len(ordered), CHUNK):
        result: Any = await session.execute(
            update(Event).where(Event.id.in_(ordered[i:i + CHUNK]), Event.emailed_ms.is_(None))
            .values(emailed_ms=now_ms).execution_options(synchronize_session=False))
        done += result.rowcount or 0
    return done


async def unmark(session: AsyncSession, ids: Sequence[int], marked_ms: int) -> None:
    """Give back events claimed at ``marked_ms`` whose mail could not be sent (SQLite)."""
    ordered = sorted(ids)
    for i in range(0, len(ordered), CHUNK):
        await session.execute(
            update(Event).where(Event.id.in_(ordered[i:i + CHUNK]), Event.emailed_ms == marked_ms)
            .values(emailed_ms=None).execution_options(synchronize_session=False))


async def mark_next(session: AsyncSession, now_ms: int, limit: int) -> int:
    """Without SMTP: the next ``limit`` unhandled events are marked handled, unmailed
    (other workers skip the rows this one holds)."""
    ids = list((await session.execute(
        select(Event.id).where(Event.emailed_ms.is_(None)).order_by(Event.id).limit(limit)
        .with_for_update(skip_locked=True))).scalars())
    await mark(session, ids, now_ms)
    return len(ids)


# Two keys: a namespace for the email digests, and the partner (hashtext's int4). A
# collision only makes a partner wait for the next round.
_LOCK = text("SELECT pg_try_advisory_xact_lock(1835100524, hashtext(:partner_id))")


async def lock_partner(session: AsyncSession, partner_id: str) -> bool:
    """PostgreSQL: hold the partner's digest lock until this transaction ends; False when
    another worker holds it (that worker is mailing this partner's events)."""
    return bool((await session.execute(_LOCK, {"partner_id": partner_id})).scalar())


async def events_of(session: AsyncSession, partner_id: str, from_id: int, limit: int) -> list[Event]:
    """The partner's unhandled events from ``from_id`` on, in order (a range of the index
    on ``(partner_id, id)``)."""
    return list((await session.execute(
        select(Event).where(Event.partner_id == partner_id, Event.id >= from_id, Event.emailed_ms.is_(None))
        .order_by(Event.id).limit(limit))).scalars())


async def channel_names(session: AsyncSession, partner_id: str, ids: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    unique = list(dict.fromkeys(ids))
    for i in range(0, len(unique), CHUNK):
        rows = await session.execute(select(Channel.id, Channel.name).where(
            Channel.partner_id == partner_id, Channel.id.in_(unique[i:i + CHUNK])))
        out.update((cid, name) for cid, name in rows.tuples())
    return out
