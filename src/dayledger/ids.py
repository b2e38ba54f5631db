"""Identifier formats of the reference API."""

from __future__ import annotations

import secrets
import string

ALNUM = string.ascii_letters + string.digits
UPPER = string.ascii_uppercase
UPPER_DIGITS = string.ascii_uppercase + string.digits

CHANNEL_ID_PATTERN = r"^(?:[A-Z]{6}-[A-Z0-9]{5}|[A-Z0-9]{12})$"
PROJECT_ID_PATTERN = r"^(?:[a-zA-Z0-9]{20}|default)$"
PARTNER_NAME_PATTERN = r"^[a-zA-Z0-9_-]+$"


def _pick(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def partner_id() -> str:
    return _pick(ALNUM, 28)


def project_id() -> str:
    return _pick(ALNUM, 20)


def channel_id() -> str:
    return f"{_pick(UPPER, 6)}-{_pick(UPPER_DIGITS, 5)}"


def channel_token() -> str:
    return _pick(ALNUM, 32)


def token_id() -> str:
    return "tok_" + _pick(ALNUM, 16)


def api_token(kind: str) -> str:
    return f"dl{kind[0]}_" + _pick(ALNUM, 40)
