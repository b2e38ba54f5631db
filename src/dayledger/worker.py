"""The loop that runs due jobs. Any number of worker processes may run at once: they
coordinate only through the database."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from . import idempotency
from .channels.tasks import expire_due
from .context import Services

log = logging.getLogger("dayledger.worker")


async def run_once(svc: Services, on_expired: Callable[[int], None] | None = None) -> dict[str, int]:
    """Run every job until nothing is due; return how much each did. ``on_expired`` hears
    each committed batch's count (the CLI's progress bar)."""
    now = svc.clock.now_ms()
    expired = 0
    while True:
        n = await svc.db.run(expire_due, now, svc.settings.expiry_batch_size)
        expired += n
        if on_expired:
            on_expired(n)
        if n < svc.settings.expiry_batch_size:
            break
    cutoff = now - svc.settings.idempotency_retention_hours * 3_600_000
    purged = await svc.db.run(idempotency.purge, cutoff)
    return {"expired": expired, "idempotencyKeysPurged": purged}


async def run_forever(svc: Services) -> None:
    while True:
        try:
            done = await run_once(svc)
            if any(done.values()):
                log.info("worker: %s", done)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - keep the loop alive; the next round retries
            log.exception("worker round failed")
        await asyncio.sleep(svc.settings.worker_interval_seconds)
