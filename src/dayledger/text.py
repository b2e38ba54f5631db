"""Free text from clients, checked once for what a database cannot store.

PostgreSQL refuses the NUL character in text columns and parameters; it must be a 422
naming the field, not a 500 from the driver. (An unpaired surrogate such as JSON's
``"\\ud800"`` is already refused by Pydantic's string validation.) Every client-supplied
string that is stored or compared in SQL without a pattern carries ``Storable``.
"""

from __future__ import annotations

from pydantic import AfterValidator


def storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (\\u0000)")
    return value


Storable = AfterValidator(storable)
