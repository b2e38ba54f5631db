"""Worker jobs of the webhooks: fan events out to endpoints, then send what is due."""

from __future__ import annotations

from ..context import Services
from ..jobs import Job
from . import delivery


async def _fan_out_step(svc: Services, now_ms: int) -> int:
    return await svc.db.run(delivery.fan_out, now_ms, svc.settings.webhook_batch_size)


async def _send_step(svc: Services, now_ms: int) -> int:
    """Claim (one transaction), send (none), record (one transaction)."""
    runs = await svc.db.run(delivery.claim, svc.clock.now_ms(), svc.settings)
    if not runs:
        return 0
    outcomes = await delivery.send(runs, svc.settings, svc.clock.now_ms)
    await svc.db.run(delivery.record, outcomes, svc.clock.now_ms(), svc.settings)
    return len(outcomes)


async def _purge_step(svc: Services, now_ms: int) -> int:
    return await svc.db.run(delivery.purge, now_ms, svc.settings.webhook_log_retention_days,
                            svc.settings.webhook_batch_size)


JOBS = [Job("webhooksQueued", _fan_out_step, batch=lambda svc: svc.settings.webhook_batch_size,
            doing="queueing events for webhook endpoints"),
        # No ``pending`` count: the round's fan-out adds deliveries that were not due when it
        # began, so a count taken then would not match what the bar advances by.
        Job("webhooksSent", _send_step, batch=lambda svc: svc.settings.webhook_batch_size,
            doing="sending webhooks"),
        Job("webhookLogPurged", _purge_step, batch=lambda svc: svc.settings.webhook_batch_size)]
