"""Path parameters of the saved-card routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from .schemas import PAYMENT_METHOD_PATTERN

PaymentMethodID = Annotated[str, Path(alias="PaymentMethodID", pattern=PAYMENT_METHOD_PATTERN,
                                      description="A saved card's Stripe PaymentMethod id (pm_...)")]
