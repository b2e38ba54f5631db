"""Worker job of the email notices: each round, read the events not yet handled, in id
order; mark at once those not to be mailed (a type the partner did not choose, older than
a day); gather the rest per partner and send one digest to each partner with an event that
has waited its hold (service.py), marking its events in the transaction that sent it.

Several workers: on PostgreSQL a partner's digest is made under a transaction-scoped
advisory lock held while it is sent, its events re-read under it and marked before commit,
so two workers never mail the same event while sending succeeds (a worker stopped after
the send, before its commit, mails them again: at least once). No event row is locked
while the SMTP server answers: the webhook fan-out updates the same rows. On SQLite (one
connection per process, each transaction holding the database) the events are claimed
first, sent after that commit, and given back if the send fails; a worker stopped in
between loses that one mail.

SMTP down: nothing is marked, the round stops, and the next try waits 1, 2, 4 ... up to 60
minutes; a partner whose message the server refuses (its address) waits the same way
alone. That backoff lives in the worker process."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from ..context import Services
from ..jobs import Job
from ..models import Event
from . import digest, mailer, repository, service
from .repository import Recipient

log = logging.getLogger("dayledger.notices")

BACKOFF_FIRST_MS = 60_000
BACKOFF_MAX_MS = 3_600_000
# A round stops sending after this long (a slow server must not hold the worker's other
# jobs); the partners left are mailed in the next round.
ROUND_SECONDS = 30.0


@dataclass
class Backoff:
    failures: int = 0
    until_ms: int = 0

    def waiting(self, now_ms: int) -> bool:
        return now_ms < self.until_ms

    def failed(self, now_ms: int) -> None:
        self.failures += 1
        self.until_ms = now_ms + min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (self.failures - 1))


@dataclass
class Pacing:
    server: Backoff = field(default_factory=Backoff)
    partners: dict[str, Backoff] = field(default_factory=dict)


_PACING: dict[str, Pacing] = {}  # per SMTP URL, in this process


@dataclass
class Waiting:
    """A partner's chosen events seen this round."""
    first_id: int
    due: bool = False


async def _read(session: AsyncSession, after_id: int, limit: int, now_ms: int,
                waiting: dict[str, Waiting]) -> tuple[int, int]:
    """One page: mark what is not to be mailed, gather the rest per partner. Returns the
    last id read (0: nothing left) and how many events were marked."""
    page = await repository.pending_page(session, after_id, limit)
    if not page:
        return 0, 0
    partners = await repository.recipients(session, [e.partner_id for e in page])
    skip = []
    for e in page:
        partner = partners.get(e.partner_id)
        mailed = service.mailed_types(partner.email_notices) if partner else frozenset()
        if not service.to_mail(e.type, e.created_ms, mailed, now_ms):
            skip.append(e.id)
            continue
        w = waiting.setdefault(e.partner_id, Waiting(e.id))
        w.due = w.due or service.is_due(e.type, e.created_ms, now_ms)
    marked = await repository.mark(session, skip, now_ms)
    return page[-1].id, marked


@dataclass
class Batch:
    partner: Recipient | None
    mail: list[Event]
    read: list[Event]


async def _collect(session: AsyncSession, partner_id: str, first_id: int, now_ms: int) -> Batch:
    """The partner's unhandled events, re-read (new ones since the page was read join)."""
    events = await repository.events_of(session, partner_id, first_id, service.DIGEST_MAX_EVENTS)
    partner = (await repository.recipients(session, [partner_id])).get(partner_id)
    mailed = service.mailed_types(partner.email_notices) if partner else frozenset()
    mail = [e for e in events if service.to_mail(e.type, e.created_ms, mailed, now_ms)]
    return Batch(partner, mail, events)


async def _compose(session: AsyncSession, svc: Services, batch: Batch, now_ms: int):
    assert batch.partner is not None
    names = await repository.channel_names(session, batch.partner.id,
                                           [e.channel_id for e in batch.mail if e.channel_id])
    d = digest.compose(batch.partner, batch.mail, names, now_ms, svc.settings.public_url, svc.settings.smtp_from)
    return digest.message(d, svc.settings.smtp_from, batch.partner.email, now_ms)


async def _send_postgres(svc: Services, conn: mailer.Connection, partner_id: str, first_id: int,
                         now_ms: int) -> int:
    sent: set[int] = set()  # survives a retried transaction: what went out is not sent again

    async def work(session: AsyncSession) -> int:
        if not await repository.lock_partner(session, partner_id):
            return 0  # another worker is mailing this partner now
        batch = await _collect(session, partner_id, first_id, now_ms)
        if batch.mail and not sent.issuperset(e.id for e in batch.mail):
            await conn.send(await _compose(session, svc, batch, now_ms))  # raises: nothing is marked
            sent.update(e.id for e in batch.mail)
        await repository.mark(session, [e.id for e in batch.read], now_ms)
        return len(batch.mail)
    return await svc.db.run(work)


async def _send_sqlite(svc: Services, conn: mailer.Connection, partner_id: str, first_id: int,
                       now_ms: int) -> int:
    async def claim(session: AsyncSession):
        batch = await _collect(session, partner_id, first_id, now_ms)
        await repository.mark(session, [e.id for e in batch.read], now_ms)
        return batch, (await _compose(session, svc, batch, now_ms) if batch.mail else None)
    batch, msg = await svc.db.run(claim)
    if msg is None:
        return 0
    try:
        await conn.send(msg)
    except Exception:
        await svc.db.run(repository.unmark, [e.id for e in batch.mail], now_ms)
        raise
    return len(batch.mail)


async def send_notices(svc: Services, now_ms: int) -> int:
    """One round; how many events it handled (mailed, or marked as not to be mailed)."""
    settings = svc.settings
    if not settings.smtp_url:
        # No mail: mark them, so that turning SMTP on does not mail what is already old,
        # and the pending index stays small.
        done = 0
        while (n := await svc.db.run(repository.mark_next, now_ms, settings.email_batch_size)) > 0:
            done += n
            if n < settings.email_batch_size:
                break
        return done

    pacing = _PACING.setdefault(settings.smtp_url, Pacing())
    if pacing.server.waiting(now_ms):
        return 0
    waiting: dict[str, Waiting] = {}
    handled, after = 0, 0
    while True:
        after, marked = await svc.db.run(_read, after, settings.email_batch_size, now_ms, waiting)
        handled += marked
        if after == 0:
            break

    conn = mailer.Connection(mailer.parse(settings.smtp_url), settings.smtp_timeout_seconds)
    send = _send_postgres if svc.db.is_postgres else _send_sqlite
    stop_at = time.monotonic() + ROUND_SECONDS
    try:
        for partner_id, w in sorted(waiting.items(), key=lambda item: item[1].first_id):
            if time.monotonic() > stop_at:
                break
            backoff = pacing.partners.get(partner_id) or Backoff()
            if not w.due or backoff.waiting(now_ms):
                continue
            pacing.partners[partner_id] = backoff  # kept while it fails; dropped on success
            try:
                handled += await send(svc, conn, partner_id, w.first_id, now_ms)
            except mailer.MessageRefused as exc:
                backoff.failed(now_ms)
                log.warning("email to partner %s refused (retry after %d s): %s", partner_id,
                            (backoff.until_ms - now_ms) // 1000, exc)
                continue
            except mailer.ServerFailed as exc:
                pacing.server.failed(now_ms)
                log.warning("SMTP server failed (retry after %d s): %s", (pacing.server.until_ms - now_ms) // 1000,
                            exc)
                break
            except Exception:  # noqa: BLE001 - one partner's digest that cannot be made must not stop the others
                backoff.failed(now_ms)
                log.exception("email digest of partner %s failed (retry after %d s)", partner_id,
                              (backoff.until_ms - now_ms) // 1000)
                continue
            pacing.partners.pop(partner_id, None)
            pacing.server = Backoff()
    finally:
        await conn.close()
    return handled


# No ``pending`` count for the progress bar: held events are pending but not due.
JOBS = [Job("noticesEmailed", send_notices)]
