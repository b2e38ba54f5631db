"""The days ledger: the only writer of partner balances and of channels' paid time."""

from . import channel_time
from .channel_time import Extended, Op, unused_paid_days
from .service import ENTRY_TYPES, SYSTEM, Actor, Posted, post
from .verify import verify

__all__ = ["Actor", "ENTRY_TYPES", "Extended", "Op", "Posted", "SYSTEM", "channel_time", "post",
           "unused_paid_days", "verify"]
