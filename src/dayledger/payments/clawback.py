"""Refunds and disputes: Stripe events that take days back (see docs/payments.md)."""

from __future__ import annotations

from .handlers import Handler

HANDLERS: dict[str, Handler] = {}
