"""Worker job of people's accounts: forget expired sessions and old failed sign-ins."""

from __future__ import annotations

from ..context import Services
from ..jobs import Job
from . import service


async def _purge_step(svc: Services, now_ms: int) -> int:
    return await svc.db.run(service.purge, now_ms)


JOBS = [Job("webSessionsPurged", _purge_step)]
