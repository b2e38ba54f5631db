"""The allocation file of ``dayledger remote extend-many``: a CSV with an ``id,days``
header, one channel per row; and naming a file's rows in the server's errors."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from ..ids import CHANNEL_ID_PATTERN

CHANNEL_ID = re.compile(CHANNEL_ID_PATTERN)
# A channel id inside a sentence (the server's details name the channels at fault).
CHANNEL_ID_IN_TEXT = re.compile(r"(?<![A-Za-z0-9-])(?:[A-Z]{6}-[A-Z0-9]{5}|[A-Z0-9]{12})(?![A-Za-z0-9-])")
MAX_DAYS = 36_500
MAX_LISTED = 20  # bad rows named in one message; the rest are counted


@dataclass(frozen=True)
class Row:
    number: int  # 1 for the first row after the header
    line: int  # the line of the file it ends on
    id: str
    days: int

    def where(self) -> str:
        return f"row {self.number} (line {self.line}, channel {self.id})"


class AllocationError(Exception):
    """The file cannot be sent; the message names every row at fault."""


def read(path: Path) -> list[Row]:
    """The rows of an allocation file, checked: each id a channel id and there once, each
    days a whole number from 1 to 36,500. Raises AllocationError naming the bad rows."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM from a spreadsheet's export is not part of "id"
    except (OSError, UnicodeDecodeError) as exc:
        raise AllocationError(f"cannot read {path}: {exc}") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    columns = [c.strip().lower() for c in header or []]
    if "id" not in columns or "days" not in columns:
        raise AllocationError(f"{path}: the first line must be the header 'id,days' (got {','.join(header or [])!r})")
    id_at, days_at = columns.index("id"), columns.index("days")
    rows: list[Row] = []
    problems: list[str] = []
    first_row_of: dict[str, Row] = {}
    number = 0
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue  # blank lines (a trailing newline, a spreadsheet's empty rows)
        number += 1
        line = reader.line_num
        raw_id = cells[id_at].strip() if id_at < len(cells) else ""
        raw_days = cells[days_at].strip() if days_at < len(cells) else ""
        where = f"row {number} (line {line})"
        if not CHANNEL_ID.fullmatch(raw_id):
            problems.append(f"{where}: {raw_id!r} is not a channel id")
            continue
        if not (raw_days.isascii() and raw_days.isdigit()) or not 1 <= int(raw_days) <= MAX_DAYS:
            problems.append(f"{where}: days must be a whole number from 1 to {MAX_DAYS} (got {raw_days!r})")
            continue
        row = Row(number, line, raw_id, int(raw_days))
        if raw_id in first_row_of:
            problems.append(f"{where}: channel {raw_id} is also on {first_row_of[raw_id].where()}; "
                            "each channel may appear once (sum its days)")
            continue
        first_row_of[raw_id] = row
        rows.append(row)
    if problems:
        raise AllocationError(summary(f"{path}: {len(problems)} bad row(s), nothing was sent", problems))
    if not rows:
        raise AllocationError(f"{path}: no rows after the header")
    return rows


def summary(headline: str, problems: list[str]) -> str:
    shown = problems[:MAX_LISTED]
    more = len(problems) - len(shown)
    return "\n  ".join([headline + ":", *shown] + ([f"... and {more} more"] if more else []))


def rows_named(rows: list[Row], text: str) -> list[Row]:
    """The rows whose channel the server's ``text`` names."""
    named = set(CHANNEL_ID_IN_TEXT.findall(text))
    return [r for r in rows if r.id in named]
