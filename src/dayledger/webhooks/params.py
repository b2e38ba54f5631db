"""Path and query parameters of the webhook routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from .schemas import ENDPOINT_ID_PATTERN

EndpointID = Annotated[str, Path(alias="EndpointID", pattern=ENDPOINT_ID_PATTERN,
                                 description="A webhook endpoint's id (we_...)")]
DeliveryID = Annotated[int, Path(alias="DeliveryID", ge=1, le=2**63 - 1, description="A delivery's id")]
DeliveryStatus = Annotated[str | None, Query(alias="status", pattern="^(pending|succeeded|disabled)$",
                                             description="only deliveries in this state")]
