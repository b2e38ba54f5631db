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


# ---------------------------------------------------------------- end to end, both exports

FORMULA_TEXTS = ['=HYPERLINK("http://x","y")', "+1+1", "@SUM(A1)", "-2+3"]


def read_csv(client, path: str) -> list[dict]:
    r = client.get(path)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    text = r.text
    assert not any(ord(c) < 32 and c not in "\r\n" for c in text), "a control character reached the CSV"
    return list(csv.DictReader(io.StringIO(text)))


def test_formula_like_comments_are_neutralised_in_the_history_csv(admin, make_partner):
    p = make_partner(balance=10)
    channel = p.put("/channels", json={"name": "plain", "projectId": "default"}).json()
    for text in FORMULA_TEXTS:
        r = admin.post(f"/admin/partners/{p.name}/credit", json={"days": 2, "comment": text})
        assert r.status_code == 200, r.text
        r = admin.post(f"/admin/partners/{p.name}/debit", json={"days": 1, "comment": text})
        assert r.status_code == 200, r.text
    r = p.post(f"/channels/{channel['id']}/extend", json={"days": 1, "comment": FORMULA_TEXTS[0]})
    assert r.status_code == 200, r.text
    r = admin.post(f"/admin/partners/{p.name}/credit", json={"days": 1, "comment": "line one\n\tline two"})
    assert r.status_code == 200, r.text

    for client, path in ((p.client, f"/partners/{p.name}/history.csv"),
                         (admin, f"/admin/partners/{p.name}/history.csv")):
        rows = read_csv(client, path)
        comments = [row["Comment"] for row in rows]
        for text in FORMULA_TEXTS:
            assert comments.count("'" + text) >= 2, (text, comments)  # the credit and the debit
        assert not [c for c in comments if c[:1] in "=+-@"], comments
        assert "line one  line two" in comments  # the line break and the tab became spaces
        # Four debits and the extension took a day each: negative numbers stay numbers.
        taken = [row["Balance Change"] for row in rows if row["Balance Change"].lstrip("'").startswith("-")]
        assert taken == ["-1"] * 5, taken
        extension = next(row for row in rows if row["Channel"] == channel["id"])
        assert extension["Comment"] == "'" + FORMULA_TEXTS[0]
        assert extension["Balance Change"] == "-1"


def test_formula_like_channel_names_are_neutralised_in_the_channel_export(make_partner):
    p = make_partner()
    made = {}
    for text in [*FORMULA_TEXTS, "=1+1 safe?", "ordinary name"]:
        r = p.put("/channels", json={"name": text, "projectId": "default"})
        assert r.status_code == 200, r.text
        made[r.json()["id"]] = text
    rows = read_csv(p.client, "/channels/export.csv")
    names = {row["ID"]: row["Name"] for row in rows}
    assert set(names) == set(made)
    for channel_id, text in made.items():
        expected = text if text == "ordinary name" else "'" + text
        assert names[channel_id] == expected, (text, names[channel_id])
