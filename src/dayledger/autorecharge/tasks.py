"""Worker jobs of auto-recharge: arm rules whose balance recovered, then charge the saved
card of every rule whose balance fell below its threshold (see charging.py)."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from ..context import Services
from ..jobs import Job
from . import charging, repository

log = logging.getLogger("dayledger.autorecharge")


async def _rearm_step(svc: Services, now_ms: int) -> int:
    return await svc.db.run(repository.rearm, now_ms)


async def _charge_step(svc: Services, now_ms: int) -> int:
    if not svc.settings.stripe_secret_key:
        return 0  # payments not configured: nothing to charge with (PUT refuses rules then)
    charges = await svc.db.run(charging.claim, now_ms, charging.BATCH)
    for c in charges:
        answer = await charging.ask_stripe(svc.settings, c, now_ms)  # no transaction open while Stripe answers
        outcome = await svc.db.run(charging.record, c, answer, now_ms)
        log.info("auto-recharge %s of partner %s: %s", c.payment_id, c.partner_id, outcome)
    return len(charges)


async def _due(session: AsyncSession, now_ms: int) -> int:
    return await repository.count_due(session)


JOBS = [Job("autorechargesRearmed", _rearm_step),
        Job("autorechargesCharged", _charge_step, batch=lambda svc: charging.BATCH, pending=_due,
            doing="charging saved cards")]
