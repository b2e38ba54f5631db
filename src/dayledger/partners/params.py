"""Path and query parameters of the partner routes (also used by the operator's routes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from ..ids import PARTNER_NAME_PATTERN

# The path parameter is named as in the reference ({PartnerName}); handlers call it ``name``.
PartnerName = Annotated[str, Path(alias="PartnerName", pattern=PARTNER_NAME_PATTERN, max_length=64,
                                  description="Partner Name")]
ChannelFilter = Annotated[str | None, Query(alias="channel", pattern=r"^(?:[A-Z]{6}-[A-Z0-9]{5}|[A-Z0-9]{12})$")]
TokenID = Annotated[str, Path(pattern=r"^tok_[A-Za-z0-9]{16}$")]
