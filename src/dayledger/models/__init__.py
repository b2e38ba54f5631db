"""ORM tables, one file per table."""

from .api_token import ApiToken
from .base import Base
from .channel import Channel
from .event import Event
from .idempotency_key import IdempotencyKey
from .ledger_entry import LedgerEntry
from .partner import Partner
from .project import Project

__all__ = ["ApiToken", "Base", "Channel", "Event", "IdempotencyKey", "LedgerEntry", "Partner", "Project"]
