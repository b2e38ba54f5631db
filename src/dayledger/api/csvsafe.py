"""Placeholder until the CSV-safety module lands: cells pass through unchanged."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def row(values: Iterable[Any]) -> list[Any]:
    return list(values)
