"""The days ledger: the only writer of partner balances and of channels' paid time."""

from .service import Actor, Posted, post, SYSTEM
from .verify import verify

__all__ = ["Actor", "Posted", "post", "SYSTEM", "verify"]
