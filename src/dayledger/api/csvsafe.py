"""Cells of the CSV exports made safe to open in a spreadsheet.

Names and comments are client text. A spreadsheet that opens a CSV runs a cell starting
with ``=``, ``+``, ``-`` or ``@`` as a formula (``=HYPERLINK(...)`` leaks data, DDE formulas
run programs), and a leading TAB or CR is read the same way by some importers. Following
the OWASP CSV-injection guidance, such a text cell gets a leading apostrophe: every
spreadsheet then shows it as the text it is (with the apostrophe visible in some).

Decisions:

- Only text is neutralised. Numbers (int, Decimal, float) are written as they are, so a
  balance change of -5 stays the number -5. A text cell that is nothing but a decimal
  number (``-12``, ``-3.50``; money goes out as such strings) is left alone too: a
  spreadsheet reads it as that number and nothing else.
- Control characters (U+0000-U+001F, U+007F) never reach a CSV: each becomes one space.
  That includes the line breaks and tabs a comment may hold: CSV quoting could carry
  them, but line-based tools (grep, wc -l, naive importers) then split one row in two.
- The check looks past leading spaces (`` =1+1`` is a formula to an importer that trims
  cells) and also knows the full-width forms of the four signs, which some spreadsheets
  in East Asian locales read as formula starts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

CONTROLS = re.compile(r"[\x00-\x1f\x7f]")
FORMULA_STARTS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")  # \t and \r are spaces by then
PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def cell(value: Any) -> str:
    """The text of one CSV cell: numbers unchanged, None empty, text without control
    characters and with a leading apostrophe if a spreadsheet would run it."""
    if value is None:
        return ""
    if isinstance(value, (int, Decimal, float)) and not isinstance(value, bool):
        return str(value)
    text = CONTROLS.sub(" ", str(value))
    if PLAIN_NUMBER.fullmatch(text):
        return text
    if text.lstrip(" ")[:1] in FORMULA_STARTS:
        return "'" + text
    return text


def writer_row(values: Iterable[Any]) -> list[str]:
    """A row for ``csv.writer.writerow``, every cell through ``cell``."""
    return [cell(v) for v in values]


def row(values: Iterable[Any]) -> list[str]:
    """What the one CSV streamer (api/csv.py) calls for every row."""
    return writer_row(values)
