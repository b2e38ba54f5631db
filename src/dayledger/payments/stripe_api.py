"""The official ``stripe`` library, configured from settings; its blocking calls run in
a thread so the event loop keeps serving.

Without ``DAYLEDGER_STRIPE_SECRET_KEY`` every payment route answers 503 with what to set;
``DAYLEDGER_STRIPE_API_BASE`` points the library at a local emulator (localstripe)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, TypeVar

import stripe

from ..config import Settings
from ..errors import DayledgerError

T = TypeVar("T")


class PaymentsNotConfigured(DayledgerError):
    status = 503


class PaymentProviderError(DayledgerError):
    status = 502


class NotAtStripe(PaymentProviderError):
    """Stripe answered 404: the object named does not exist (in this account)."""


def not_configured(what: str) -> PaymentsNotConfigured:
    return PaymentsNotConfigured(
        "payments are not configured",
        f"set {what} (and DAYLEDGER_STRIPE_API_BASE to use a local emulator), then restart dayledger")


def require_stripe(settings: Settings) -> None:
    if not settings.stripe_secret_key:
        raise not_configured("DAYLEDGER_STRIPE_SECRET_KEY and DAYLEDGER_STRIPE_WEBHOOK_SECRET")


@functools.lru_cache(maxsize=8)
def _client(secret_key: str, api_base: str | None, timeout: float) -> stripe.StripeClient:
    bases: Any = {"api": api_base.rstrip("/")} if api_base else {}
    # Retries with Stripe's own idempotency keys are safe; every create below sends one.
    return stripe.StripeClient(secret_key, base_addresses=bases, max_network_retries=2,
                               http_client=stripe.new_default_http_client(timeout=timeout))


def client(settings: Settings) -> stripe.StripeClient:
    require_stripe(settings)
    assert settings.stripe_secret_key
    return _client(settings.stripe_secret_key, settings.stripe_api_base, settings.stripe_timeout_seconds)


async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one Stripe call off the event loop. A card declined (``stripe.CardError``)
    reaches the caller as is; any other failure of Stripe is a 502."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except stripe.CardError:
        raise
    except stripe.InvalidRequestError as exc:
        error = NotAtStripe if exc.http_status == 404 else PaymentProviderError
        raise error("the payment provider refused or did not answer", f"Stripe said: {exc.user_message or exc}") \
            from exc
    except stripe.StripeError as exc:
        raise PaymentProviderError("the payment provider refused or did not answer",
                                   f"Stripe said: {exc.user_message or exc}") from exc


def return_url(settings: Settings, path: str) -> str:
    return settings.public_url.rstrip("/") + path
