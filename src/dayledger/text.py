"""Free text from clients, checked once for what a database cannot store and for what no
name or comment should carry.

PostgreSQL refuses the NUL character in text columns and parameters; it must be a 422
naming the field, not a 500 from the driver. (An unpaired surrogate such as JSON's
``"\\ud800"`` is already refused by Pydantic's string validation.)

The other C0 controls (U+0001-U+001F) and DEL (U+007F) are storable but harmful: they end
up in CSV exports, terminals, logs and e-mail headers, where a stray ``\\r`` or escape
sequence rewrites what a reader sees. So:

- ``Plain`` (names, e-mails, ids, token names, time zones, references, URLs): no control
  character at all;
- ``Comment`` (free text a person writes): may keep line breaks (``\\n``) and tabs
  (``\\t``), nothing else; ``\\r`` is refused too, so a comment has one line-break form;
- ``Storable`` (search text and other values that are only compared, never shown): only
  NUL is refused, because the database cannot take it.

Each refusal is a ValueError, which Pydantic turns into a 422 naming the field.
"""

from __future__ import annotations

import re

from pydantic import AfterValidator

# C0 controls and DEL: the characters with no printable form in any client. C1 controls
# (U+0080-U+009F) are left alone: a UTF-8 terminal or spreadsheet does not act on them.
CONTROLS = re.compile(r"[\x00-\x1f\x7f]")
COMMENT_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # all but \t (09) and \n (0a)


def describe(found: re.Match[str]) -> str:
    char = found.group()
    name = " (NUL)" if char == "\x00" else ""
    return f"U+{ord(char):04X}{name} at character {found.start()}"


def storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (\\u0000)")
    return value


def plain(value: str) -> str:
    found = CONTROLS.search(value)
    if found is not None:
        raise ValueError(f"must not contain control characters: {describe(found)}")
    return value


def comment(value: str) -> str:
    found = COMMENT_CONTROLS.search(value)
    if found is not None:
        raise ValueError("must not contain control characters other than line breaks (\\n) and tabs: "
                         f"{describe(found)}")
    return value


Storable = AfterValidator(storable)
Plain = AfterValidator(plain)
Comment = AfterValidator(comment)
