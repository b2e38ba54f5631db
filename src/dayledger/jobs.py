"""What a background job is. Each domain declares its jobs in ``tasks.py`` (``JOBS``);
the worker runs every declared job each round."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from .context import Services


@dataclass(frozen=True)
class Job:
    name: str
    # One unit of work in its own transaction: how many items it handled. The worker calls
    # it again while it returns ``batch`` items, so a backlog is worked off in one round.
    step: Callable[[Services, int], Awaitable[int]]
    batch: Callable[[Services], int] | None = None
    # How many items are due now and what the job does to them, for progress bars
    # (``dayledger worker --once``), if the job can tell.
    pending: Callable[[AsyncSession, int], Awaitable[int]] | None = None
    doing: str = ""
