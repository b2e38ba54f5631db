"""Worker jobs of the channel domain: the expiring notice, and expiry (a ledger operation, see
``ledger.channel_time.expire_due``)."""

from __future__ import annotations

from ..context import Services
from ..jobs import Job
from ..ledger.channel_time import count_due, expire_due
from .repository import notify_expiring

__all__ = ["JOBS", "count_due", "expire_due"]


async def _expire_step(svc: Services, now_ms: int) -> int:
    return await svc.db.run(expire_due, now_ms, svc.settings.expiry_batch_size)


async def _expiring_step(svc: Services, now_ms: int) -> int:
    return await svc.db.run(notify_expiring, now_ms, svc.settings.expiry_batch_size)


JOBS = [Job("expired", _expire_step, batch=lambda svc: svc.settings.expiry_batch_size, pending=count_due,
            doing="expiring channels"),
        Job("expiringNotified", _expiring_step, batch=lambda svc: svc.settings.expiry_batch_size,
            doing="telling of channels about to expire")]
