"""Reply shapes of the token routes, each defined once."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..replies import Reply


class MeReply(Reply):
    """Who the token of the request is: what a script needs besides a URL and a token."""
    tokenId: str
    kind: Literal["partner", "operator"]
    scope: str = Field(description="read, channels, billing or full (partner tokens); full or gateway (operator)")
    partner: str | None = Field(description="the partner's name (the {PartnerName} of the partner routes); "
                                            "null for an operator token")
    partnerId: str | None = Field(description="the partner's id (ownerId of its channels); null for an operator "
                                              "token")
    suspended: bool = Field(description="true: the partner is suspended (reads work, changes are refused)")
