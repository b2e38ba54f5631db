"""The shape of a Stripe event handler, shared by every payment road's ``events.py``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from .service import EventContext

# A handler gets the event's ``data.object`` and answers what it did ("credited", "flagged:
# ...", ...) or None when the object is not its own (another road's checkout session, say).
Handler = Callable[[AsyncSession, dict[str, Any], EventContext], Awaitable[str | None]]
