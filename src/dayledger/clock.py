"""Time source. Every rule reads time from a Clock so tests can move it."""

from __future__ import annotations

import time

DAY_MS = 86_400_000


class Clock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class ManualClock(Clock):
    """A clock tests set and advance; it does not move by itself."""

    def __init__(self, start_ms: int | None = None) -> None:
        self._now = start_ms if start_ms is not None else Clock().now_ms()

    def now_ms(self) -> int:
        return self._now

    def set(self, ms: int) -> None:
        self._now = ms

    def advance(self, *, days: float = 0, seconds: float = 0, ms: int = 0) -> int:
        self._now += int(days * DAY_MS) + int(seconds * 1000) + ms
        return self._now
