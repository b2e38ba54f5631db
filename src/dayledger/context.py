"""What a running process shares: settings, the database, the clock and the in-flight
idempotency registry. The HTTP app, the worker and the CLI each build one."""

from __future__ import annotations

from dataclasses import dataclass

from .clock import Clock
from .config import Settings
from .db import Database
from .idempotency import InFlight


@dataclass
class Services:
    settings: Settings
    db: Database
    clock: Clock
    in_flight: InFlight
