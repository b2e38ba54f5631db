"""Stripe events this payment road handles (see payments/webhook.py)."""

from __future__ import annotations

from ..payments.handlers import Handler

HANDLERS: dict[str, Handler] = {}
