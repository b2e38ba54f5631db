"""The loop that runs due jobs: every job each domain declares in its ``tasks.py``. Any
number of worker processes may run at once: they coordinate only through the database."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from . import tasks as infrastructure
from .autoextend import tasks as autoextend
from .autorecharge import tasks as autorecharge
from .channels import tasks as channels
from .invoices import tasks as invoices
from .notices import tasks as notices
from .subscriptions import tasks as subscriptions
from .topups import tasks as topups
from .users import tasks as users
from .webhooks import tasks as webhooks
from .context import Services
from .jobs import Job
from .ops.metrics import record_job

log = logging.getLogger("dayledger.worker")

# The domains with background work; a new domain adds its tasks module here.
JOBS: list[Job] = [*channels.JOBS, *topups.JOBS, *autorecharge.JOBS, *invoices.JOBS, *subscriptions.JOBS,
                   *autoextend.JOBS,
                   # after every job that writes events, so a round sends what it caused
                   *webhooks.JOBS, *notices.JOBS, *users.JOBS, *infrastructure.JOBS]


async def run_job(svc: Services, job: Job, now_ms: int, on_step: Callable[[str, int], None] | None = None) -> int:
    """Run ``job`` until it has nothing more due at ``now_ms``; how many items it handled."""
    done, started = 0, time.monotonic()
    batch = job.batch(svc) if job.batch else None
    while True:
        n = await job.step(svc, now_ms)
        done += n
        if on_step:
            on_step(job.name, n)
        if batch is None or n < batch:
            break
    record_job(job.name, done, time.monotonic() - started)  # /metrics: dayledger_worker_job_*
    return done


async def run_once(svc: Services, on_step: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Run every job until nothing is due; return how much each did. ``on_step`` hears
    each committed step's count (the CLI's progress bar)."""
    now = svc.clock.now_ms()
    return {job.name: await run_job(svc, job, now, on_step) for job in JOBS}


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
