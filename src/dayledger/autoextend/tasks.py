"""Worker jobs of auto-extend: apply the policies to the channels due (applying.py), then
tell partners whose runway fell below their threshold (runway.py)."""

from __future__ import annotations

from ..context import Services
from ..jobs import Job
from . import applying, repository, runway


async def _extend_step(svc: Services, now_ms: int) -> int:
    return await svc.db.run(applying.run_due, now_ms, svc.settings.autoextend_batch_size)


async def _rearm_step(svc: Services, now_ms: int) -> int:
    return await svc.db.run(repository.rearm, now_ms)


async def _runway_step(svc: Services, now_ms: int) -> int:
    return await svc.db.run(runway.check, now_ms)


# After the extensions, so a round's runway sees the balance they left.
JOBS = [Job("autoextendRearmed", _rearm_step),
        Job("autoextendChecked", _extend_step, batch=lambda svc: svc.settings.autoextend_batch_size,
            pending=repository.count_due, doing="auto-extending channels"),
        Job("runwayNotices", _runway_step)]
