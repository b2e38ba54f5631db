"""Worker jobs of channel subscriptions: end the Stripe subscription of a channel that was
deleted or became a sandbox (its further periods could only be flagged, never applied).
Channel routes do not call Stripe; this job does, outside any transaction."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from ..context import Services
from ..jobs import Job
from ..payments import stripe_api
from . import repository

log = logging.getLogger("dayledger.subscriptions")
BATCH = 100


async def _end_orphans(svc: Services, now_ms: int) -> int:
    if not svc.settings.stripe_secret_key:
        return 0
    due = await svc.db.run(lambda session: repository.orphaned(session, BATCH))
    client = stripe_api.client(svc.settings)
    ended = 0
    for sub in due:
        assert sub.stripe_subscription
        try:
            await stripe_api.call(client.v1.subscriptions.cancel, sub.stripe_subscription)
        except stripe_api.NotAtStripe:
            pass  # gone at Stripe already: ours ends too
        except stripe_api.PaymentProviderError as exc:
            log.warning("could not end subscription %s at Stripe (next round retries): %s", sub.id, exc.details)
            continue

        async def mark(session: AsyncSession, sub_id: str = sub.id) -> None:
            row = await repository.by_id(session, sub_id)
            if row is not None and row.status == "active":
                row.status, row.updated_ms = "canceled", now_ms
        await svc.db.run(mark)
        ended += 1
    return ended


JOBS = [Job("subscriptionsEnded", _end_orphans, batch=lambda svc: BATCH,
            doing="ending subscriptions of deleted or sandbox channels")]
