"""Form bodies (``application/x-www-form-urlencoded``) read without extra dependencies, and
the conversions every form needs, each failing with a message for the field."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from starlette.requests import Request


WHOLE = re.compile(r"-?[0-9]+")


class FieldError(Exception):
    """A form field is wrong: shown next to it, nothing changed."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


async def read(request: Request) -> dict[str, str]:
    """The form's fields (the last value of a repeated one); bad encodings are dropped."""
    body = await request.body()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return {}
    return dict(parse_qsl(text, keep_blank_values=True, max_num_fields=200))


def whole(form: dict[str, str], field: str, label: str, *, low: int = 1, high: int = 1_000_000,
          required: bool = True) -> int | None:
    raw = form.get(field, "").strip()
    if not raw:
        if required:
            raise FieldError(field, f"{label} is required")
        return None
    # ASCII digits only ("²" is a digit to str.isdigit but not to int); a number too long
    # for int() (4,300 digits) is out of range, not a crash.
    if not WHOLE.fullmatch(raw):
        raise FieldError(field, f"{label} must be a whole number")
    if len(raw.lstrip("-").lstrip("0")) > 30:
        raise FieldError(field, f"{label} must be from {low:,} to {high:,}")
    value = int(raw)
    if not low <= value <= high:
        raise FieldError(field, f"{label} must be from {low:,} to {high:,}")
    return value


def text(form: dict[str, str], field: str, label: str, *, required: bool = True, max_length: int = 1000) -> str:
    value = form.get(field, "").strip()
    if required and not value:
        raise FieldError(field, f"{label} is required")
    if len(value) > max_length:
        raise FieldError(field, f"{label} must be at most {max_length:,} characters")
    if "\x00" in value:
        raise FieldError(field, f"{label} must not contain the NUL character")
    return value


async def read_lists(request: Request) -> dict[str, list[str]]:
    """The form's fields with every value of a repeated one (checkboxes), in order."""
    body = await request.body()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return {}
    found: dict[str, list[str]] = {}
    for name, value in parse_qsl(text, keep_blank_values=True, max_num_fields=200):
        found.setdefault(name, []).append(value)
    return found
