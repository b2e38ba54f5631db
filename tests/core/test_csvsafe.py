"""CSV cells: no formula a spreadsheet would run, no control character, numbers untouched."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from dayledger.api.csvsafe import cell, row, writer_row

FORMULAS = [
    '=HYPERLINK("http://x","y")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "=cmd|' /C calc'!A0",
    "\tx=1",             # a leading TAB: becomes a space, the cell is text either way
    "\r=1+1",            # CR then a formula: the CR becomes a space, the formula is still caught
    " =1+1",             # leading spaces are looked past
    "\uff1d1+1",         # full-width equals sign
    "-",
    "@",
]


@pytest.mark.parametrize("text", FORMULAS)
def test_formula_like_text_gets_a_leading_apostrophe(text):
    out = cell(text)
    stripped = out.lstrip(" ")
    if text.lstrip(" \t\r")[:1] in set("=+-@\uff1d"):
        assert out.startswith("'"), out
        assert out[1:] == text.replace("\t", " ").replace("\r", " ")
    assert stripped[:1] not in set("=+-@\uff1d\t\r"), out


@pytest.mark.parametrize("text", ["hello", "a=b", "x+1", "mail@example.com", "", " ", "'quoted", "1e5"])
def test_ordinary_text_is_unchanged(text):
    assert cell(text) == text


@pytest.mark.parametrize("value, expected", [
    (-5, "-5"), (0, "0"), (12, "12"), (Decimal("-3.50"), "-3.50"), (Decimal("24.1234"), "24.1234"),
    (-1.5, "-1.5"), ("-12", "-12"), ("-3.50", "-3.50"), ("+7", "+7"), ("30.00", "30.00"),
])
def test_numbers_stay_numbers(value, expected):
    assert cell(value) == expected


def test_none_is_an_empty_cell_and_other_types_are_text():
    assert cell(None) == ""
    assert cell(True) == "True"


@pytest.mark.parametrize("text, expected", [
    ("line one\nline two", "line one line two"),
    ("a\r\nb", "a  b"),
    ("tab\there", "tab here"),
    ("bell\x07 esc\x1b[31m del\x7f nul\x00", "bell  esc [31m del  nul "),
    ("".join(chr(c) for c in range(32)) + "\x7f", " " * 33),
])
def test_control_characters_become_spaces(text, expected):
    assert cell(text) == expected


def test_no_control_character_reaches_the_csv():
    values = [1, "=1+1", "a\nb", "\x01\x02x", Decimal("-2.00"), None, "-2+3"]
    buf = io.StringIO()
    csv.writer(buf).writerow(writer_row(values))
    line = buf.getvalue()
    assert line.endswith("\r\n") and line.count("\n") == 1  # one record, one line
    assert not any(ord(c) < 32 or c == "\x7f" for c in line[:-2]), repr(line)
    assert next(csv.reader(io.StringIO(line))) == ["1", "'=1+1", "a b", "  x", "-2.00", "", "'-2+3"]


def test_row_is_writer_row():
    assert row(iter(["@x", 3])) == writer_row(["@x", 3]) == ["'@x", "3"]
