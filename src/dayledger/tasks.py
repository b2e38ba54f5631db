"""Worker jobs of the shared infrastructure: purging old idempotency keys."""

from __future__ import annotations

from . import idempotency
from .context import Services
from .jobs import Job


async def _purge_step(svc: Services, now_ms: int) -> int:
    cutoff = now_ms - svc.settings.idempotency_retention_hours * 3_600_000
    return await svc.db.run(idempotency.purge, cutoff)


JOBS = [Job("idempotencyKeysPurged", _purge_step)]
